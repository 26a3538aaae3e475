/**
 * The benchmark suite's maths and its report: medians, percentiles, targets, the machine the run
 * happened on, and the Markdown written to `BENCHMARKS.md`. Everything here but {@link machineInfo}
 * is pure, so `tests/bench_report_test.ts` can check it.
 * @module
 */

/** A target a figure should meet: `>=` (at least) or `<` (under). */
export interface Target {
  op: ">=" | "<";
  value: number;
}

/** One measured figure: the value of every repeated run, its unit and its target. */
export interface Figure {
  /** Benchmark it belongs to, e.g. `Ingest`. */
  group: string;
  /** What was measured, e.g. `500 channels: bot ÷ bare tmi.js`. */
  name: string;
  /** `lines/s`, `ratio`, `ms`, `MB`, `%`, `calls/s`. */
  unit: string;
  /** One value per repeated run, in run order. */
  runs: number[];
  target?: Target;
  /** A short remark shown under the table. */
  note?: string;
}

/** The machine a run happened on. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryBytes: number;
  os: string;
  kernel: string;
  deno: string;
  v8: string;
  typescript: string;
}

/** The median of `values` (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("Median of no values: pass at least one value");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The `p`-th percentile of `values` by the nearest-rank method: the smallest value with at least
 * `p` % of the values at or below it. `p` is 0..100; 0 gives the minimum, 100 the maximum.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError("Percentile of no values: pass at least one value");
  if (!(p >= 0 && p <= 100)) throw new RangeError(`Percentile ${p} is out of range 0..100`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** The arithmetic mean of `values`. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("Mean of no values: pass at least one value");
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** True when `value` meets `target`. */
export function meetsTarget(value: number, target: Target): boolean {
  return target.op === ">=" ? value >= target.value : value < target.value;
}

/**
 * A number for a table: grouped thousands from 1000 up, whole numbers from 100 up, otherwise three
 * significant digits (so 0.00123 and 4.56 both stay readable).
 */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return "0";
  if (Math.abs(value) < 100) return Number(value.toPrecision(3)).toString();
  const whole = Math.round(value).toString();
  const sign = whole.startsWith("-") ? "-" : "";
  return sign + whole.slice(sign.length).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** A value with its unit, e.g. `12,345 lines/s`, `0.91×`, `93.2 %`. */
export function formatValue(value: number, unit: string): string {
  if (unit === "ratio") return `${formatNumber(value)}×`;
  if (unit === "%") return `${formatNumber(value)} %`;
  return `${formatNumber(value)} ${unit}`;
}

/** A target as text, e.g. `≥ 0.8×`, `< 5 ms`. */
export function formatTarget(target: Target, unit: string): string {
  return `${target.op === ">=" ? "≥" : "<"} ${formatValue(target.value, unit)}`;
}

/** Escapes the characters that would break a Markdown table cell. */
function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

/** The Markdown table of `figures`: median, every run, target and whether the median meets it. */
export function renderTable(figures: readonly Figure[]): string {
  const rows = [
    "| Benchmark | Figure | Median | Runs | Target | Met |",
    "|---|---|--:|---|---|:-:|",
  ];
  for (const f of figures) {
    const mid = f.runs.length > 0 ? median(f.runs) : NaN;
    const runs = f.runs.map(formatNumber).join(", ");
    const target = f.target ? formatTarget(f.target, f.unit) : "—";
    const met = f.runs.length === 0
      ? "no data"
      : f.target
      ? (meetsTarget(mid, f.target) ? "yes" : "**no**")
      : "—";
    const median_ = f.runs.length > 0 ? formatValue(mid, f.unit) : "—";
    rows.push(`| ${cell(f.group)} | ${cell(f.name)} | ${median_} | ${runs} | ${target} | ${met} |`);
  }
  return rows.join("\n");
}

/** The `model name` of the first CPU in `/proc/cpuinfo` text, or `unknown`. */
export function parseCpuModel(cpuinfo: string): string {
  const m = /^model name\s*:\s*(.+)$/m.exec(cpuinfo) ?? /^Hardware\s*:\s*(.+)$/m.exec(cpuinfo);
  return m?.[1]?.trim() || "unknown";
}

/** `MemTotal` of `/proc/meminfo` text in bytes, or 0 when absent. */
export function parseMemTotal(meminfo: string): number {
  const m = /^MemTotal:\s*(\d+)\s*kB/m.exec(meminfo);
  return m ? Number(m[1]) * 1024 : 0;
}

async function readOr(path: string, fallback: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return fallback;
  }
}

/** Reads what the report says about the machine: CPU model, cores, memory, OS, Deno. */
export async function machineInfo(): Promise<MachineInfo> {
  const cpuinfo = await readOr("/proc/cpuinfo", "");
  const meminfo = await readOr("/proc/meminfo", "");
  let kernel = "unknown";
  try {
    kernel = Deno.osRelease();
  } catch { /* no --allow-sys */ }
  return {
    cpu: parseCpuModel(cpuinfo),
    cores: navigator.hardwareConcurrency,
    memoryBytes: parseMemTotal(meminfo) || Deno.systemMemoryInfo?.().total || 0,
    os: `${Deno.build.os} ${Deno.build.arch}`,
    kernel,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
  };
}

/** Everything {@link renderReport} puts in `BENCHMARKS.md`. */
export interface ReportInput {
  machine: MachineInfo;
  /** When the run started. */
  date: Date;
  /** Repeated runs per figure. */
  runs: number;
  /** Wall time of the whole suite. */
  durationSeconds: number;
  figures: readonly Figure[];
  /** Benchmarks that failed, with why. */
  failures?: ReadonlyArray<{ bench: string; error: string }>;
}

/** The whole `BENCHMARKS.md`. */
export function renderReport(input: ReportInput): string {
  const m = input.machine;
  const gib = m.memoryBytes / 1024 ** 3;
  const missed = input.figures.filter((f) =>
    f.target && f.runs.length > 0 && !meetsTarget(median(f.runs), f.target)
  );
  const withTargets = input.figures.filter((f) => f.target).length;
  const lines = [
    "# Benchmarks",
    "",
    "Written by `deno task bench` (`bench/run.ts`); do not edit by hand. How each figure is measured:",
    "[docs/BENCHMARKS.md](docs/BENCHMARKS.md).",
    "",
    `- Date: ${input.date.toISOString().replace(/\.\d+Z$/, "Z")}`,
    `- Machine: ${m.cpu}, ${m.cores} cores, ${gib.toFixed(1)} GiB memory, ${m.os} (kernel ${m.kernel})`,
    `- Deno ${m.deno} (V8 ${m.v8}, TypeScript ${m.typescript})`,
    `- Every figure is the median of ${input.runs} repeated runs (all runs listed); ratios are taken within ` +
    "one run. The machine is shared, so single runs are noisy.",
    `- Suite wall time: ${input.durationSeconds.toFixed(0)} s`,
    `- Targets met: ${withTargets - missed.length} of ${withTargets}`,
    "",
    renderTable(input.figures),
    "",
  ];
  const notes = input.figures.filter((f) => f.note);
  if (notes.length > 0) {
    lines.push("Notes:", "");
    for (const f of notes) lines.push(`- ${f.group}, ${f.name}: ${f.note}`);
    lines.push("");
  }
  if (input.failures && input.failures.length > 0) {
    lines.push("Benchmarks that did not finish:", "");
    for (const f of input.failures) lines.push(`- ${f.bench}: ${f.error}`);
    lines.push("");
  }
  return lines.join("\n");
}
