/**
 * Sandbox cost: the same filter (`examples/plugins/regex_filter.ts` with ten patterns) loaded
 * in-process and in a Worker, called with chat lines the way the host calls input filters when a
 * burst of lines arrives: many calls in flight at once. A sliding window keeps {@link IN_FLIGHT}
 * calls outstanding (each answer lets the next line in), as during a burst in 500 channels; a window
 * of {@link SMALL_WINDOW} (one busy channel) is reported too. The figure is the ratio of the two
 * throughputs, taken within one run; the order alternates between runs.
 * @module
 */
import { ChannelSettingsSchema } from "../core/config_schema.ts";
import { createInProcessPlugin, type PluginStoreBackend } from "../core/inprocess_plugin.ts";
import { Logger } from "../core/log.ts";
import { Metrics } from "../core/metrics.ts";
import type { PluginHandle } from "../core/plugin_handle.ts";
import { createSandboxedPlugin } from "../core/sandbox_host.ts";
import type { FilterInput, FilterVerdict } from "../plugins/sdk.ts";
import { chatText, seededRandom, viewerName } from "./chat_lines.ts";
import type { Figure } from "./report.ts";
import { benchMain, type BenchOptions } from "./suite.ts";

const FILTER_URL = new URL("../examples/plugins/regex_filter.ts", import.meta.url);
/** Calls per measurement. */
const CALLS = 100_000;
/** Calls in flight at once. */
export const IN_FLIGHT = 1000;
/** The smaller window, reported without a target. */
export const SMALL_WINDOW = 100;
const WARMUP = 2_000;

const OPTIONS = {
  patterns: [
    "\\bcrypto\\s+giveaway\\b",
    "^!gamble",
    "free\\s+(followers|viewers|subs)",
    "bit\\.ly/\\w+",
    "\\bview\\s?bots?\\b",
    "(?:buy|cheap)\\s+primes?",
    "\\b(?:onlyfans|of)\\s*link\\b",
    "wanna\\s+become\\s+famous",
    "discord\\.gg/\\w+",
    "\\bclick\\s+(?:here|my\\s+bio)\\b",
  ],
  flags: "i",
};

function memoryStore(): PluginStoreBackend {
  const data = new Map<string, unknown>();
  return {
    get: (plugin, key) => Promise.resolve(data.get(`${plugin}/${key}`)),
    set: (plugin, key, value) => Promise.resolve(void data.set(`${plugin}/${key}`, value)),
    delete: (plugin, key) => Promise.resolve(void data.delete(`${plugin}/${key}`)),
  };
}

/** `count` input-filter calls as the host makes them; every 50th line matches a pattern. */
export function filterInputs(count: number, seed: number): FilterInput[] {
  const rand = seededRandom(seed);
  const settings = ChannelSettingsSchema.parse({});
  return Array.from({ length: count }, (_, i) => ({
    direction: "in" as const,
    channel: "benchchan",
    user: viewerName(i % 700),
    text: i % 50 === 0 ? `free followers at bit.ly/abc${i}` : chatText(rand),
    settings,
    bot: "clankbot",
  }));
}

/**
 * Calls per second, and how many lines were dropped (to check both agree). A sliding window keeps
 * `inFlight` calls outstanding: each answer lets the next line in, as lines keep arriving.
 */
async function measure(
  handle: PluginHandle,
  inputs: FilterInput[],
  inFlight: number,
): Promise<{ rate: number; drops: number }> {
  let drops = 0;
  let issued = 0;
  let answered = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const issue = () => {
      const input = inputs[issued++]!;
      handle.call<FilterVerdict>("check", input).then((outcome) => {
        if (!outcome.ok) return reject(new Error(`The filter failed: ${outcome.error}`));
        if (outcome.value.action === "drop") drops++;
        answered++;
        if (issued < inputs.length) issue();
        else if (answered === inputs.length) resolve();
      }, reject);
    };
    for (let k = 0; k < Math.min(inFlight, inputs.length); k++) issue();
  });
  return { rate: inputs.length / ((performance.now() - t0) / 1000), drops };
}

/** Runs the sandbox-cost benchmark. */
export async function benchSandboxCost(options: BenchOptions): Promise<Figure[]> {
  const log = new Logger({ level: "warn", format: "json", sink: () => {} });
  const deps = { log, metrics: new Metrics(), store: memoryStore(), timeoutMs: 2000 };
  const mod = await import(FILTER_URL.href);
  const inProcess = await createInProcessPlugin(mod.default, {
    source: "examples/plugins/regex_filter.ts",
    options: OPTIONS,
    ...deps,
  });
  const sandboxed = await createSandboxedPlugin({
    url: FILTER_URL,
    source: "examples/plugins/regex_filter.ts",
    options: OPTIONS,
    grant: {},
    ...deps,
  });
  const inRates: number[] = [];
  const sandboxRates: number[] = [];
  const ratios: number[] = [];
  const smallRatios: number[] = [];
  /** In-process and Worker throughput with `inFlight` calls outstanding, in the given order. */
  const pair = async (inputs: FilterInput[], inFlight: number, inFirst: boolean) => {
    let a: { rate: number; drops: number };
    let b: { rate: number; drops: number };
    if (inFirst) {
      a = await measure(inProcess, inputs, inFlight);
      b = await measure(sandboxed, inputs, inFlight);
    } else {
      b = await measure(sandboxed, inputs, inFlight);
      a = await measure(inProcess, inputs, inFlight);
    }
    if (a.drops !== b.drops) throw new Error(`In-process dropped ${a.drops} lines, the Worker ${b.drops}`);
    return { inRate: a.rate, sandboxRate: b.rate };
  };
  try {
    const warm = filterInputs(WARMUP, 1);
    await pair(warm, IN_FLIGHT, true);
    await pair(warm, SMALL_WINDOW, true);
    for (let run = 0; run < options.runs; run++) {
      const inputs = filterInputs(CALLS, 100 + run);
      const big = await pair(inputs, IN_FLIGHT, run % 2 === 0);
      const small = await pair(inputs, SMALL_WINDOW, run % 2 === 1);
      inRates.push(big.inRate);
      sandboxRates.push(big.sandboxRate);
      ratios.push(big.sandboxRate / big.inRate);
      smallRatios.push(small.sandboxRate / small.inRate);
      options.progress(
        `run ${run + 1}: ${IN_FLIGHT} in flight: in-process ${Math.round(big.inRate)} calls/s, Worker ` +
          `${Math.round(big.sandboxRate)} calls/s, ratio ${
            ratios.at(-1)!.toFixed(3)
          }; ${SMALL_WINDOW} in flight: ` +
          `ratio ${smallRatios.at(-1)!.toFixed(3)}`,
      );
    }
  } finally {
    await inProcess.close();
    await sandboxed.close();
  }
  const note = `regex_filter with ${OPTIONS.patterns.length} patterns, ${CALLS} calls per run`;
  return [
    {
      group: "Sandbox cost",
      name: `in-process filter, ${IN_FLIGHT} in flight`,
      unit: "calls/s",
      runs: inRates,
    },
    {
      group: "Sandbox cost",
      name: `Worker filter, ${IN_FLIGHT} in flight`,
      unit: "calls/s",
      runs: sandboxRates,
    },
    {
      group: "Sandbox cost",
      name: `Worker ÷ in-process, ${IN_FLIGHT} in flight`,
      unit: "ratio",
      runs: ratios,
      target: { op: ">=", value: 0.5 },
      note,
    },
    {
      group: "Sandbox cost",
      name: `Worker ÷ in-process, ${SMALL_WINDOW} in flight`,
      unit: "ratio",
      runs: smallRatios,
    },
  ];
}

if (import.meta.main) await benchMain("sandbox_cost", benchSandboxCost);
