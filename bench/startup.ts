/**
 * Start-up: from spawning `deno run … main.ts` to the first `/readyz` answer with 200 (IRC connected,
 * every channel joined, database writable). The bot is configured only through environment variables,
 * as in a container, with a fresh working directory and database per run, against the fake Twitch,
 * fake Twitch OAuth (the token is validated at start) and fake Ollama.
 *
 * One channel: with more, the JOIN pacing Twitch demands (`join_interval_ms`, at least 500 ms)
 * rather than the bot decides when the last JOIN can go out. A first, uncounted start warms Deno's
 * module cache, as a deployed bot's cache is warm.
 * @module
 */
import { fileURLToPath } from "node:url";
import { startFakeOllama } from "../tests/fakes/fake_ollama.ts";
import { startFakeTwitch } from "../tests/fakes/fake_twitch.ts";
import { startFakeTwitchOAuth } from "../tests/fakes/fake_twitch_oauth.ts";
import type { Figure } from "./report.ts";
import { benchMain, type BenchOptions, sleep } from "./suite.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));
const READY_TIMEOUT_MS = 30_000;

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Milliseconds from spawn to `/readyz` 200, and to `/healthz` 200 (the HTTP server is up). */
async function startOnce(env: Record<string, string>): Promise<{ ready: number; healthy: number }> {
  const cwd = await Deno.makeTempDir({ prefix: "clank-bench-startup-" });
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      CONFIG,
      "--unstable-worker-options",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-sys",
      MAIN,
    ],
    cwd,
    env: { ...env, HTTP_LISTEN: `127.0.0.1:${port}`, DATABASE_URL: `${cwd}/clank.db` },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream());
  let log = "";
  const reading = (async () => {
    for await (const chunk of stderr) log = (log + chunk).slice(-4000);
  })();
  let healthy: number | undefined;
  let ready: number | undefined;
  try {
    while (ready === undefined) {
      if (performance.now() - t0 > READY_TIMEOUT_MS) {
        throw new Error(
          `The bot was not ready within ${READY_TIMEOUT_MS} ms; its log ends with: ${log.slice(-500)}`,
        );
      }
      try {
        if (healthy === undefined) {
          const h = await fetch(`${base}/healthz`);
          await h.body?.cancel();
          if (h.status === 200) healthy = performance.now() - t0;
        }
        if (healthy !== undefined) {
          const r = await fetch(`${base}/readyz`);
          await r.body?.cancel();
          if (r.status === 200) ready = performance.now() - t0;
        }
      } catch {
        // Not listening yet.
      }
      if (ready === undefined) await sleep(2);
    }
  } finally {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await reading.catch(() => {});
    await Deno.remove(cwd, { recursive: true }).catch(() => {});
  }
  return { ready, healthy: healthy! };
}

/** Runs the start-up benchmark. */
export async function benchStartup(options: BenchOptions): Promise<Figure[]> {
  const oauth = await startFakeTwitchOAuth();
  const { accessToken } = oauth.issue({ login: "clankbot", expiresIn: 14_400 });
  const twitch = await startFakeTwitch({ tokens: [accessToken] });
  const ollama = await startFakeOllama();
  const env = {
    TWITCH_BOT_USERNAME: "clankbot",
    TWITCH_OAUTH_TOKEN: `oauth:${accessToken}`,
    TWITCH_CHANNELS: "benchchan",
    TWITCH_IRC_URL: twitch.url,
    TWITCH_AUTH_URL: oauth.url,
    OLLAMA_URL: ollama.url,
    LOG_LEVEL: "warn",
    LOG_FORMAT: "json",
    NO_COLOR: "1",
  };
  const ready: number[] = [];
  const healthy: number[] = [];
  try {
    await startOnce(env);
    for (let run = 0; run < options.runs; run++) {
      const joins = twitch.joins.filter((j) => j.login === "clankbot").length;
      const r = await startOnce(env);
      // Ready must mean logged in with the token, not the read-only fallback.
      if (twitch.joins.filter((j) => j.login === "clankbot").length !== joins + 1) {
        throw new Error("The bot did not join as clankbot: the token was not used");
      }
      ready.push(r.ready);
      healthy.push(r.healthy);
      options.progress(
        `run ${run + 1}: /healthz after ${r.healthy.toFixed(0)} ms, /readyz after ${r.ready.toFixed(0)} ms`,
      );
    }
  } finally {
    await twitch.close();
    await ollama.close();
    await oauth.close();
  }
  return [
    {
      group: "Start-up",
      name: "spawn to /readyz 200",
      unit: "ms",
      runs: ready,
      target: { op: "<", value: 500 },
      note:
        "one channel, token validated against the fake OAuth server, fresh SQLite database; warm module cache",
    },
    { group: "Start-up", name: "spawn to /healthz 200", unit: "ms", runs: healthy },
  ];
}

if (import.meta.main) await benchMain("startup", benchStartup);
