/**
 * `deno task bench`: runs every benchmark, each in a child process of its own, and writes the
 * figures with the machine, the date and the targets to `BENCHMARKS.md`.
 *
 * ```sh
 * deno task bench                      # all benchmarks, 5 runs each, writes BENCHMARKS.md
 * deno task bench ingest memory        # only these; prints the table, leaves BENCHMARKS.md alone
 * deno task bench --runs 3 --out /tmp/b.md
 * ```
 * @module
 */
import { fileURLToPath } from "node:url";
import { type Figure, machineInfo, renderReport, renderTable } from "./report.ts";
import { parseResult, parseRuns } from "./suite.ts";

/** Every benchmark, in the order they run (the quietest measurements first). */
export const BENCHMARKS = [
  "startup",
  "prompt_cache",
  "sandbox_cost",
  "sandbox_ingest",
  "reply_overhead",
  "allocation",
  "memory",
  "ingest",
] as const;

/** Longest one benchmark may run before it is stopped and reported as failed. */
const BENCH_TIMEOUT_MS = 240_000;

interface Args {
  names: string[];
  runs: number;
  out: string | undefined;
}

/** Parses `[names…] [--runs N] [--out FILE]`. */
export function parseArgs(args: readonly string[]): Args {
  const names: string[] = [];
  let out: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--runs") i++;
    else if (a.startsWith("--runs=")) continue;
    else if (a === "--out") out = args[++i];
    else if (a.startsWith("--out=")) out = a.slice("--out=".length);
    else if (a.startsWith("--")) throw new Error(`Unknown option ${a}: use --runs N or --out FILE`);
    else if (!(BENCHMARKS as readonly string[]).includes(a)) {
      throw new Error(`Unknown benchmark "${a}": choose from ${BENCHMARKS.join(", ")}`);
    } else names.push(a);
  }
  return { names, runs: parseRuns(args), out };
}

/** Runs one benchmark file in a child process; its progress goes to our stderr. */
async function runChild(name: string, runs: number): Promise<Figure[]> {
  const file = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--unstable-worker-options", "--allow-all", file, `--runs=${runs}`],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), BENCH_TIMEOUT_MS);
  const [status, stdout] = await Promise.all([child.status, new Response(child.stdout).text()]);
  clearTimeout(timer);
  if (!status.success) {
    const why = status.signal === "SIGKILL"
      ? `stopped after ${BENCH_TIMEOUT_MS / 1000} s`
      : `exit code ${status.code}`;
    throw new Error(`${name} failed (${why}); its output is above`);
  }
  return parseResult(stdout);
}

if (import.meta.main) {
  let args: Args;
  try {
    args = parseArgs(Deno.args);
  } catch (err) {
    console.error((err as Error).message);
    Deno.exit(2);
  }
  const names = args.names.length > 0 ? args.names : [...BENCHMARKS];
  const date = new Date();
  const started = performance.now();
  const figures: Figure[] = [];
  const failures: Array<{ bench: string; error: string }> = [];
  for (const name of names) {
    console.error(`\n== ${name} (${args.runs} runs)`);
    try {
      figures.push(...await runChild(name, args.runs));
    } catch (err) {
      failures.push({ bench: name, error: (err as Error).message });
      console.error((err as Error).message);
    }
  }
  const report = renderReport({
    machine: await machineInfo(),
    date,
    runs: args.runs,
    durationSeconds: (performance.now() - started) / 1000,
    figures,
    failures,
  });
  const out = args.out ??
    (args.names.length === 0 ? fileURLToPath(new URL("../BENCHMARKS.md", import.meta.url)) : undefined);
  if (out !== undefined) {
    await Deno.writeTextFile(out, report);
    // Formatted like every other file, so `deno fmt --check` stays clean.
    await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", out], stdout: "null" }).output();
    console.error(`\nWrote ${out}`);
  }
  console.log(`\n${renderTable(figures)}`);
  if (failures.length > 0) Deno.exit(1);
}
