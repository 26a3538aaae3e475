/**
 * Prompt-cache friendliness: replays a long synthetic chat log through the whole bot (the `--replay`
 * path: `runReplay`, shipped channel defaults, the `ollama` generator against the fake Ollama) and,
 * for every prompt after the first, measures the share of it that repeats the start of the channel's
 * previous prompt (`sharedPrefixShare` of `plugins/prompt_builder.ts`, on the messages the fake
 * recorded). That share is roughly what Ollama can take from its KV cache instead of evaluating again.
 *
 * The log: 2,000 lines in one channel over about 2.5 hours, 1–8 s apart, about 4 % mentioning the
 * bot, a few `!commands` and bot lines, and a timeout now and then (which removes that viewer's lines
 * from the context, as it should, and so breaks the prefix once).
 * @module
 */
import { ConfigSchema } from "../core/config_schema.ts";
import { Logger } from "../core/log.ts";
import { runReplay } from "../core/replay_run.ts";
import { type PromptMessage, renderPrompt, sharedPrefixShare } from "../plugins/prompt_builder.ts";
import { startFakeOllama } from "../tests/fakes/fake_ollama.ts";
import { chatText, pick, randomWords, seededRandom, viewerName } from "./chat_lines.ts";
import { type Figure, mean, percentile } from "./report.ts";
import { benchMain, type BenchOptions } from "./suite.ts";

const CHANNEL = "cachechan";
const BOT = "clankbot";
const LINES = 2000;

/** A replay log (JSON lines) of `count` lines in one channel. */
export function syntheticLog(count: number, seed: number): string {
  const rand = seededRandom(seed);
  const viewers = Array.from({ length: 150 }, (_, i) => viewerName(i * 7 + 3));
  let time = Date.UTC(2026, 0, 10, 19, 0, 0);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    time += 1000 + Math.floor(rand() * 7000);
    const user = pick(viewers, rand);
    const r = rand();
    let entry: Record<string, unknown>;
    if (r < 0.04) entry = { user, text: `@${BOT} ${chatText(rand)}` };
    else if (r < 0.06) entry = { user, text: pick(["!uptime", "!discord", "!so someone", "!lurk"], rand) };
    else if (r < 0.07) {
      entry = { user: "nightbot", text: "Follow the channel to get notified when the stream starts!" };
    } else if (r < 0.0715) entry = { type: "timeout", user, duration: 600 };
    else entry = { user, text: chatText(rand) };
    out.push(JSON.stringify({ time, channel: CHANNEL, ...entry }));
  }
  return out.join("\n") + "\n";
}

/** The first history line of a prompt (after the system message), or "" when it has none. */
function firstHistoryLine(prompt: readonly PromptMessage[]): string {
  return prompt.length > 2 ? prompt[1]!.content.split("\n")[0]! : "";
}

/**
 * Prefix shares of consecutive prompts, the characters shared and sent, and the shares of the prompts
 * whose history window did not move (same first history line as the previous prompt).
 */
export function prefixShares(
  prompts: readonly PromptMessage[][],
): { shares: number[]; steady: number[]; shared: number; total: number } {
  const shares: number[] = [];
  const steady: number[] = [];
  let shared = 0;
  let total = 0;
  for (let i = 1; i < prompts.length; i++) {
    const share = sharedPrefixShare(prompts[i - 1]!, prompts[i]!);
    const length = renderPrompt(prompts[i]!).length;
    shares.push(share);
    if (firstHistoryLine(prompts[i - 1]!) === firstHistoryLine(prompts[i]!)) steady.push(share);
    shared += share * length;
    total += length;
  }
  return { shares, steady, shared, total };
}

/** Figures of one configuration over all runs. */
interface Shares {
  means: number[];
  weighted: number[];
  p10s: number[];
  steadyMeans: number[];
  moved: number[];
  counts: number[];
  lengths: number[];
  uncached: number[];
}

/** A model context and history window to replay the log with; the shipped defaults carry the target. */
interface Setting {
  numCtx: number;
  context: number;
}

const SHIPPED: Setting = { numCtx: 4096, context: 200 };
/** For comparison: what raising `num_ctx` gives, and the largest window the config allows. */
const LARGER: readonly Setting[] = [{ numCtx: 8192, context: 200 }, { numCtx: 16384, context: 500 }];

/** Replays the log of every run with `setting`. */
async function replayShares(setting: Setting, dir: string, options: BenchOptions): Promise<Shares> {
  const s: Shares = {
    means: [],
    weighted: [],
    p10s: [],
    steadyMeans: [],
    moved: [],
    counts: [],
    lengths: [],
    uncached: [],
  };
  for (let run = 0; run < options.runs; run++) {
    const rand = seededRandom(31 * (run + 1));
    const ollama = await startFakeOllama({ reply: () => randomWords(6 + Math.floor(rand() * 8), rand) });
    try {
      const file = `${dir}/chat_${run}.jsonl`;
      await Deno.writeTextFile(file, syntheticLog(LINES, run + 1));
      const config = ConfigSchema.parse({
        twitch: { username: BOT },
        ollama: { url: ollama.url, num_ctx: setting.numCtx },
        defaults: { context: setting.context },
        plugins_dir: `${dir}/plugins.d`,
      });
      const log = new Logger({ level: "warn", format: "json", sink: () => {} });
      const code = await runReplay({ file, config, log, speed: 0, channel: CHANNEL, out: () => {} });
      if (code !== 0) throw new Error(`The replay exited with code ${code}`);
      const prompts = ollama.generations()
        .map((g) => g.body?.messages as PromptMessage[] | undefined)
        .filter((m): m is PromptMessage[] => Array.isArray(m));
      if (prompts.length < 10) throw new Error(`Only ${prompts.length} prompts reached the fake Ollama`);
      const { shares, steady, shared, total } = prefixShares(prompts);
      s.means.push(100 * mean(shares));
      s.steadyMeans.push(steady.length > 0 ? 100 * mean(steady) : 0);
      s.moved.push((100 * (shares.length - steady.length)) / shares.length);
      s.weighted.push((100 * shared) / total);
      s.p10s.push(100 * percentile(shares, 10));
      s.counts.push(prompts.length);
      s.lengths.push(total / shares.length);
      s.uncached.push((total - shared) / shares.length);
      options.progress(
        `num_ctx ${setting.numCtx}, context ${setting.context}, run ${run + 1}: ${prompts.length} prompts, ` +
          `mean prefix share ${s.means.at(-1)!.toFixed(1)} %, weighted ${s.weighted.at(-1)!.toFixed(1)} %, ` +
          `p10 ${s.p10s.at(-1)!.toFixed(1)} %, window moved before ${s.moved.at(-1)!.toFixed(1)} % of ` +
          `prompts, mean share of the others ${s.steadyMeans.at(-1)!.toFixed(1)} %, ` +
          `${Math.round(s.uncached.at(-1)!)} characters to evaluate per prompt`,
      );
    } finally {
      await ollama.close();
    }
  }
  return s;
}

/** Runs the prompt-cache benchmark. */
export async function benchPromptCache(options: BenchOptions): Promise<Figure[]> {
  const dir = await Deno.makeTempDir({ prefix: "clank-bench-cache-" });
  try {
    const s = await replayShares(SHIPPED, dir, options);
    const figures: Figure[] = [
      {
        group: "Prompt cache",
        name: "prompt share that prefixes the previous prompt: mean",
        unit: "%",
        runs: s.means,
        target: { op: ">=", value: 90 },
        note: `${LINES}-line synthetic log per run (a different seed each run), shipped channel defaults ` +
          `(context = ${SHIPPED.context}, num_ctx = ${SHIPPED.numCtx}); prompts per run: ${
            s.counts.join(", ")
          }`,
      },
      { group: "Prompt cache", name: "same, weighted by prompt length", unit: "%", runs: s.weighted },
      { group: "Prompt cache", name: "same, 10th percentile", unit: "%", runs: s.p10s },
      { group: "Prompt cache", name: "prompts whose history window moved", unit: "%", runs: s.moved },
      {
        group: "Prompt cache",
        name: "mean share of the prompts whose window did not move",
        unit: "%",
        runs: s.steadyMeans,
      },
      { group: "Prompt cache", name: "prompt length, mean", unit: "chars", runs: s.lengths },
      {
        group: "Prompt cache",
        name: "characters Ollama must evaluate per prompt (not a prefix of the previous), mean",
        unit: "chars",
        runs: s.uncached,
        note: "what a reply waits for on a CPU-only Ollama: prompt evaluation of everything not cached",
      },
    ];
    for (const setting of LARGER) {
      const larger = await replayShares(setting, dir, options);
      const label = `num_ctx = ${setting.numCtx}, context = ${setting.context}`;
      figures.push(
        { group: "Prompt cache", name: `${label}: mean prefix share`, unit: "%", runs: larger.means },
        {
          group: "Prompt cache",
          name: `${label}: characters to evaluate per prompt, mean`,
          unit: "chars",
          runs: larger.uncached,
        },
      );
    }
    return figures;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await benchMain("prompt_cache", benchPromptCache);
