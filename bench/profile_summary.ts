/**
 * Summarises a V8 `.cpuprofile` (from `deno run --cpu-prof`): the functions with the most self time
 * and the most total time, by file and line, so a missed benchmark target points at code.
 *
 * ```sh
 * deno run --cpu-prof --cpu-prof-dir=prof -A bench/ingest.ts --runs 1
 * deno run --allow-read --allow-env bench/profile_summary.ts prof/*.cpuprofile   # TOP=50 for more
 * ```
 * @module
 */

/** The parts of a `.cpuprofile` this summary reads. */
export interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }>;
  samples: number[];
  timeDeltas: number[];
}

/** Time attributed to one function. */
export interface ProfileEntry {
  /** `name (file:line)`. */
  label: string;
  /** Milliseconds spent in the function itself. */
  selfMs: number;
  /** Milliseconds spent in it or anything it called (counted once per sample). */
  totalMs: number;
}

function labelOf(frame: CpuProfile["nodes"][number]["callFrame"]): string {
  const file = frame.url.replace(/^file:\/\/\/.*?\/(core|plugins|filters|bench|tests|commands)\//, "$1/")
    .replace(/^.*\/node_modules\/|^.*\/npm\/registry\.npmjs\.org\//, "npm:");
  return `${frame.functionName || "(anonymous)"} (${file || "native"}:${frame.lineNumber + 1})`;
}

/** Self and total time per function, most self time first. */
export function summariseProfile(profile: CpuProfile): ProfileEntry[] {
  const parent = new Map<number, number>();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(id);
    if (!node) return;
    const label = labelOf(node.callFrame);
    self.set(label, (self.get(label) ?? 0) + ms);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = labelOf(byId.get(cur)!.callFrame);
      if (seen.has(l)) continue;
      seen.add(l);
      total.set(l, (total.get(l) ?? 0) + ms);
    }
  });
  return [...total.keys()]
    .map((label) => ({ label, selfMs: self.get(label) ?? 0, totalMs: total.get(label) ?? 0 }))
    .sort((a, b) => b.selfMs - a.selfMs);
}

if (import.meta.main) {
  const top = Number(Deno.env.get("TOP") ?? 30);
  for (const file of Deno.args) {
    const entries = summariseProfile(JSON.parse(await Deno.readTextFile(file)) as CpuProfile);
    const all = entries.reduce((n, e) => n + e.selfMs, 0);
    console.log(`${file}: ${all.toFixed(0)} ms sampled\n\nBy self time:`);
    for (const e of entries.slice(0, top)) {
      console.log(
        `${e.selfMs.toFixed(1).padStart(9)} ms ${
          (100 * e.selfMs / all).toFixed(1).padStart(5)
        } %  ${e.label}`,
      );
    }
    console.log("\nBy total time:");
    for (const e of [...entries].sort((a, b) => b.totalMs - a.totalMs).slice(0, top)) {
      console.log(
        `${e.totalMs.toFixed(1).padStart(9)} ms ${
          (100 * e.totalMs / all).toFixed(1).padStart(5)
        } %  ${e.label}`,
      );
    }
  }
}
