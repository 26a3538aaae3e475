/**
 * What every benchmark file shares: its options, and the protocol `bench/run.ts` uses to run it in a
 * child process of its own (so one benchmark's heap, timers and module state never skew the next) and
 * read its figures back from the last stdout line.
 * @module
 */
import type { Figure } from "./report.ts";

/** Options every benchmark takes. */
export interface BenchOptions {
  /** Repeated runs per figure (at least 1). */
  runs: number;
  /** Progress lines for the operator (stderr). */
  progress: (message: string) => void;
}

/** A benchmark: measures and returns its figures. */
export type Bench = (options: BenchOptions) => Promise<Figure[]>;

/** Prefix of the stdout line that carries a benchmark's figures as JSON. */
export const RESULT_MARKER = "BENCH_RESULT ";

/** Default repeated runs. */
export const DEFAULT_RUNS = 5;

/** Reads `--runs=N` (or `--runs N`) from `args`; `DEFAULT_RUNS` when absent. */
export function parseRuns(args: readonly string[]): number {
  const i = args.findIndex((a) => a === "--runs" || a.startsWith("--runs="));
  if (i === -1) return DEFAULT_RUNS;
  const raw = args[i]!.includes("=") ? args[i]!.slice("--runs=".length) : args[i + 1];
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 100) {
    throw new RangeError(`--runs ${JSON.stringify(raw)} must be a whole number in 1..100`);
  }
  return n;
}

/** Finds the figures in a benchmark child's stdout. */
export function parseResult(stdout: string): Figure[] {
  const line = stdout.split("\n").reverse().find((l) => l.startsWith(RESULT_MARKER));
  if (line === undefined) throw new Error("The benchmark printed no result line");
  return JSON.parse(line.slice(RESULT_MARKER.length)) as Figure[];
}

/** Runs `bench` as a program: `--runs N`, progress on stderr, figures on stdout. */
export async function benchMain(name: string, bench: Bench): Promise<void> {
  const runs = parseRuns(Deno.args);
  const started = performance.now();
  const progress = (message: string) => {
    const t = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
    console.error(`[${name} ${t}s] ${message}`);
  };
  const figures = await bench({ runs, progress });
  console.log(RESULT_MARKER + JSON.stringify(figures));
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `predicate` every `everyMs` until it holds; rejects after `timeoutMs` naming `what`. */
export async function waitUntil(
  predicate: () => boolean,
  what: string,
  timeoutMs = 30_000,
  everyMs = 2,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
