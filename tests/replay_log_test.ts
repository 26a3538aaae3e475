import { assert, assertEquals } from "./assert.ts";
import { ConfigSchema } from "../core/config_schema.ts";
import { Logger } from "../core/log.ts";
import { parseReplayLog } from "../core/replay_log.ts";
import { runReplay } from "../core/replay_run.ts";

Deno.test("parseReplayLog reads plain, timestamped and JSON lines", async (t) => {
  await t.step("all three formats, comments skipped, times increasing", () => {
    const { events, problems } = parseReplayLog(
      [
        "# comment",
        "alice: hello",
        "[20:01:05] Bob: hi alice",
        '{"time":"2026-01-01T20:02:00Z","channel":"#Other","user":"carol","text":"json line","mod":true}',
        '{"type":"ban","user":"bob"}',
        '{"type":"timeout","user":"alice","duration":30}',
        "",
      ].join("\n"),
      { channel: "main", start: Date.UTC(2026, 0, 1, 20, 0, 0), gapSeconds: 5 },
    );
    assertEquals(problems, []);
    assertEquals(events.map((e) => e.type), ["message", "message", "message", "ban", "timeout"]);
    const [a, b, c] = events;
    if (a?.type !== "message" || b?.type !== "message" || c?.type !== "message") throw new Error("types");
    assertEquals([a.user, a.channel, a.text], ["alice", "main", "hello"]);
    assertEquals([b.user, b.displayName, b.time], ["bob", "Bob", Date.UTC(2026, 0, 1, 20, 1, 5)]);
    assertEquals([c.channel, c.badges.moderator], ["other", true]);
    for (let i = 1; i < events.length; i++) assertEquals(events[i]!.time >= events[i - 1]!.time, true);
  });
  await t.step("bad lines are reported with their line number and skipped", () => {
    const { events, problems } = parseReplayLog(
      'ok: fine\nno colon here\n{broken json\n{"type":"dance"}\nbad name!: x',
      {
        channel: "c",
      },
    );
    assertEquals(events.length, 1);
    assertEquals(problems.map((p) => p.line), [2, 3, 4, 5]);
  });
  await t.step("a time no Date can hold is a bad line, reported with its number", () => {
    const { events, problems } = parseReplayLog(
      [
        '{"time":1e16,"user":"a","text":"far future"}',
        '{"time":-1e16,"user":"a","text":"far past"}',
        '{"time":"+275760-09-14T00:00:00Z","user":"a","text":"beyond 9999"}',
        "[2026-13-45 20:00:00] a: no such day",
        '{"time":253402300799999,"user":"a","text":"last ms of 9999 is fine"}',
        "a: after it",
      ].join("\n"),
      { channel: "c" },
    );
    assertEquals(problems.map((p) => p.line), [1, 2, 3, 4]);
    assert(problems.slice(0, 3).every((p) => /"time" must be .*between 1970 and 9999/.test(p.message)));
    assertEquals(events.length, 2);
    for (const e of events) assertEquals(Number.isNaN(new Date(e.time).getTime()), false);
  });
  await t.step("chat text longer than Twitch's 500 characters is a bad line", () => {
    const long = "x".repeat(5_000_000);
    const { events, problems } = parseReplayLog(
      [`alice: ${long}`, JSON.stringify({ user: "bob", text: long }), `carol: ${"é".repeat(500)}`].join("\n"),
      { channel: "c" },
    );
    assertEquals(problems.map((p) => p.line), [1, 2]);
    assert(
      problems.every((p) => /5000000 characters; Twitch allows at most 500/.test(p.message)),
      problems[0]?.message,
    );
    assertEquals(events.length, 1);
  });
});

Deno.test("the sample replay says the same lines on every run", async () => {
  const sample = new URL("../examples/sample_chat.log", import.meta.url).pathname;
  // As the demo runs: no Ollama, so the Markov generator writes the lines.
  const config = ConfigSchema.parse({ ollama: { url: "http://127.0.0.1:9" } });
  const replay = async () => {
    const lines: string[] = [];
    const code = await runReplay({
      file: sample,
      config,
      log: new Logger({ level: "error", sink: () => {} }),
      speed: 0,
      channel: "replay",
      out: (line) => lines.push(line),
    });
    assertEquals(code, 0);
    return lines;
  };
  const first = await replay();
  assert(first.some((l) => /mention from riverotter → would say: @riverotter /.test(l)), first.join("\n"));
  for (let i = 0; i < 3; i++) assertEquals(await replay(), first);
});
