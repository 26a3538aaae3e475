import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type Figure,
  formatNumber,
  formatTarget,
  formatValue,
  type MachineInfo,
  mean,
  median,
  meetsTarget,
  parseCpuModel,
  parseMemTotal,
  percentile,
  renderReport,
  renderTable,
} from "../bench/report.ts";

Deno.test("median takes the middle value, or the mean of the two middle ones", async (t) => {
  await t.step("odd count, unsorted input", () => {
    assert.equal(median([9, 1, 5]), 5);
    assert.equal(median([3]), 3);
  });
  await t.step("even count", () => {
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });
  await t.step("does not reorder the caller's array", () => {
    const values = [3, 1, 2];
    median(values);
    assert.deepEqual(values, [3, 1, 2]);
  });
  await t.step("refuses no values", () => {
    assert.throws(() => median([]), /Median of no values/);
  });
  await t.step("lies between the smallest and the largest value", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, min: -1e9, max: 1e9 }), { minLength: 1 }), (xs) => {
        const m = median(xs);
        return m >= Math.min(...xs) && m <= Math.max(...xs);
      }),
    );
  });
});

Deno.test("percentile uses the nearest rank", async (t) => {
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted on purpose
  await t.step("p50 and p99 of 1..100", () => {
    assert.equal(percentile(hundred, 50), 50);
    assert.equal(percentile(hundred, 99), 99);
  });
  await t.step("p0 is the minimum and p100 the maximum", () => {
    assert.equal(percentile(hundred, 0), 1);
    assert.equal(percentile(hundred, 100), 100);
  });
  await t.step("p99 of 90 values is the largest", () => {
    const ninety = Array.from({ length: 90 }, (_, i) => i + 1);
    assert.equal(percentile(ninety, 99), 90);
    assert.equal(percentile(ninety, 50), 45);
  });
  await t.step("refuses no values and percentiles outside 0..100", () => {
    assert.throws(() => percentile([], 50), /Percentile of no values/);
    assert.throws(() => percentile([1], 101), /out of range 0\.\.100/);
    assert.throws(() => percentile([1], Number.NaN), /out of range/);
  });
  await t.step("is always one of the values and grows with p", () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 1 }),
      fc.integer({ min: 0, max: 100 }),
      fc.integer({ min: 0, max: 100 }),
      (xs, p, q) => {
        const [lo, hi] = p <= q ? [p, q] : [q, p];
        return xs.includes(percentile(xs, lo)) && percentile(xs, lo) <= percentile(xs, hi);
      },
    ));
  });
});

Deno.test("mean averages and refuses no values", () => {
  assert.equal(mean([1, 2, 3, 6]), 3);
  assert.throws(() => mean([]), /Mean of no values/);
});

Deno.test("meetsTarget reads >= as at least and < as under", () => {
  assert.equal(meetsTarget(0.8, { op: ">=", value: 0.8 }), true);
  assert.equal(meetsTarget(0.79, { op: ">=", value: 0.8 }), false);
  assert.equal(meetsTarget(4.99, { op: "<", value: 5 }), true);
  assert.equal(meetsTarget(5, { op: "<", value: 5 }), false);
});

Deno.test("formatNumber groups thousands and keeps small numbers readable", () => {
  assert.equal(formatNumber(1234567.4), "1,234,567");
  assert.equal(formatNumber(-12345), "-12,345");
  assert.equal(formatNumber(999.6), "1,000");
  assert.equal(formatNumber(123.4), "123");
  assert.equal(formatNumber(4.5678), "4.57");
  assert.equal(formatNumber(0.0012345), "0.00123");
  assert.equal(formatNumber(0), "0");
  assert.equal(formatNumber(Number.NaN), "NaN");
});

Deno.test("formatValue and formatTarget write units", () => {
  assert.equal(formatValue(0.8123, "ratio"), "0.812×");
  assert.equal(formatValue(93.21, "%"), "93.2 %");
  assert.equal(formatValue(12345, "lines/s"), "12,345 lines/s");
  assert.equal(formatTarget({ op: ">=", value: 0.8 }, "ratio"), "≥ 0.8×");
  assert.equal(formatTarget({ op: "<", value: 5 }, "ms"), "< 5 ms");
});

const FIGURES: Figure[] = [
  {
    group: "Ingest",
    name: "1 channel: bot ÷ bare",
    unit: "ratio",
    runs: [0.9, 0.7, 0.85],
    target: { op: ">=", value: 0.8 },
  },
  {
    group: "Reply overhead",
    name: "idle: p99",
    unit: "ms",
    runs: [6, 7, 5.5],
    target: { op: "<", value: 5 },
  },
  { group: "Memory", name: "heap | used", unit: "MB", runs: [90.5] },
  { group: "Start-up", name: "none", unit: "ms", runs: [] },
];

Deno.test("renderTable shows median, runs, target and whether it is met", async (t) => {
  const lines = renderTable(FIGURES).split("\n");
  await t.step("a header, a separator and one row per figure", () => {
    assert.equal(lines.length, 2 + FIGURES.length);
    assert.match(lines[0]!, /^\| Benchmark \| Figure \| Median \| Runs \| Target \| Met \|$/);
  });
  await t.step("a met target", () => {
    assert.equal(lines[2], "| Ingest | 1 channel: bot ÷ bare | 0.85× | 0.9, 0.7, 0.85 | ≥ 0.8× | yes |");
  });
  await t.step("a missed target", () => {
    assert.equal(lines[3], "| Reply overhead | idle: p99 | 6 ms | 6, 7, 5.5 | < 5 ms | **no** |");
  });
  await t.step("no target, and a pipe in a name escaped", () => {
    assert.equal(lines[4], "| Memory | heap \\| used | 90.5 MB | 90.5 | — | — |");
  });
  await t.step("no runs", () => {
    assert.equal(lines[5], "| Start-up | none | — |  | — | no data |");
  });
});

Deno.test("parseCpuModel and parseMemTotal read /proc text", () => {
  const cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\ncpu MHz\t: 2450\n";
  assert.equal(parseCpuModel(cpuinfo), "AMD EPYC 7B13");
  assert.equal(parseCpuModel("Hardware\t: BCM2835\n"), "BCM2835");
  assert.equal(parseCpuModel(""), "unknown");
  assert.equal(parseMemTotal("MemTotal:       24684084 kB\nMemFree: 1 kB\n"), 24684084 * 1024);
  assert.equal(parseMemTotal("nothing here"), 0);
});

Deno.test("renderReport names the machine, the date, the runs and the missed targets", () => {
  const machine: MachineInfo = {
    cpu: "AMD EPYC",
    cores: 2,
    memoryBytes: 24 * 1024 ** 3,
    os: "linux x86_64",
    kernel: "6.1.0",
    deno: "2.9.6",
    v8: "15.0",
    typescript: "6.0.3",
  };
  const text = renderReport({
    machine,
    date: new Date("2026-11-25T15:00:00.123Z"),
    runs: 5,
    durationSeconds: 212.4,
    figures: FIGURES,
    failures: [{ bench: "memory", error: "exit code 1" }],
  });
  assert.match(text, /^# Benchmarks\n/);
  assert.ok(text.includes("- Date: 2026-11-25T15:00:00Z"));
  assert.ok(text.includes("- Machine: AMD EPYC, 2 cores, 24.0 GiB memory, linux x86_64 (kernel 6.1.0)"));
  assert.ok(text.includes("- Deno 2.9.6 (V8 15.0, TypeScript 6.0.3)"));
  assert.ok(text.includes("median of 5 repeated runs"));
  assert.ok(text.includes("- Suite wall time: 212 s"));
  assert.ok(text.includes("- Targets met: 1 of 2"));
  assert.ok(text.includes(renderTable(FIGURES)));
  assert.ok(text.includes("- memory: exit code 1"));
});
