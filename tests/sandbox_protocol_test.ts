import assert from "node:assert/strict";
import fc from "fast-check";
import {
  compactHostBatch,
  compactWorkerBatch,
  type HostMessage,
  isPlainPass,
  MAX_BATCH,
  methodOf,
  Outbox,
  unpackInputs,
  type WorkerMessage,
} from "../core/sandbox_protocol.ts";

function port(failOn?: (m: unknown) => boolean) {
  const posted: unknown[][] = [];
  return {
    posted,
    postMessage(batch: unknown) {
      const arr = batch as unknown[];
      if (failOn && arr.some(failOn)) throw new DOMException("could not be cloned", "DataCloneError");
      posted.push(arr);
    },
  };
}

Deno.test("Outbox coalesces messages of one tick into one post", async (t) => {
  await t.step("messages pushed together go out as one batch after the current task", async () => {
    const p = port();
    const box = new Outbox<number>(p, () => {});
    box.push(1);
    box.push(2);
    box.push(3);
    assert.deepEqual(p.posted, []);
    await Promise.resolve();
    assert.deepEqual(p.posted, [[1, 2, 3]]);
  });

  await t.step("a full batch is posted at once", () => {
    const p = port();
    const box = new Outbox<number>(p, () => {});
    for (let i = 0; i < MAX_BATCH; i++) box.push(i);
    assert.equal(p.posted.length, 1);
    assert.equal(p.posted[0]!.length, MAX_BATCH);
  });

  await t.step("an unsendable message is reported alone; its neighbours still go", async () => {
    const p = port((m) => m === "bad");
    const unsendable: unknown[] = [];
    const box = new Outbox<string>(p, (m) => unsendable.push(m));
    box.push("a");
    box.push("bad");
    box.push("b");
    await Promise.resolve();
    assert.deepEqual(p.posted, [["a"], ["b"]]);
    assert.deepEqual(unsendable, ["bad"]);
  });

  await t.step("clear drops what is queued", async () => {
    const p = port();
    const box = new Outbox<number>(p, () => {});
    box.push(1);
    box.clear();
    await Promise.resolve();
    assert.deepEqual(p.posted, []);
  });
});

Deno.test("batches travel compacted, in order", async (t) => {
  const call = (id: number): HostMessage => ({
    t: "call",
    id,
    method: "check",
    input: { text: `line ${id}` },
  });
  const ok = (id: number, value: unknown): WorkerMessage => ({ t: "result", id, ok: true, value });

  await t.step("each run of calls becomes one calls message; other messages keep their place", () => {
    const ping: HostMessage = { t: "ping", id: 9 };
    assert.deepEqual(compactHostBatch([call(1), call(2), ping, call(3)]), [
      { t: "calls", ids: [1, 2], method: "check", inputs: [{ text: "line 1" }, { text: "line 2" }] },
      ping,
      { t: "calls", ids: [3], method: "check", inputs: [{ text: "line 3" }] },
    ]);
    assert.deepEqual(compactHostBatch([{ t: "teardown" }]), [{ t: "teardown" }]);
    // Methods that differ within a run are named per call.
    const observe: HostMessage = { t: "call", id: 4, method: "observe", input: { type: "tick", time: 1 } };
    assert.deepEqual(compactHostBatch([call(1), observe, call(5)]), [
      {
        t: "calls",
        ids: [1, 4, 5],
        methods: ["check", "observe", "check"],
        inputs: [{ text: "line 1" }, { type: "tick", time: 1 }, { text: "line 5" }],
      },
    ]);
  });

  await t.step("plain passes and empty answers become id runs; every other answer is sent whole", () => {
    const drop = ok(3, { action: "drop", reason: "spam" });
    const failed: WorkerMessage = { t: "result", id: 5, ok: false, error: "boom" };
    const log: WorkerMessage = { t: "log", level: "info", msg: "hi" };
    assert.deepEqual(
      compactWorkerBatch([
        ok(1, { action: "pass" }),
        ok(2, { action: "pass" }),
        drop,
        ok(4, undefined),
        ok(6, undefined),
        failed,
        ok(7, { action: "pass" }),
        log,
        ok(8, { action: "pass" }),
      ]),
      [
        { t: "passes", ids: [1, 2] },
        drop,
        { t: "dones", ids: [4, 6] },
        failed,
        { t: "passes", ids: [7] },
        log,
        { t: "passes", ids: [8] },
      ],
    );
  });

  await t.step("only exactly { action: 'pass' } counts as a plain pass", () => {
    assert.equal(isPlainPass({ action: "pass" }), true);
    assert.equal(isPlainPass({ action: "pass", extra: () => 1 }), false);
    assert.equal(isPlainPass({ action: "drop" }), false);
    assert.equal(isPlainPass(Object.assign(Object.create(null), { action: "pass" })), false);
    class Verdict {
      action = "pass";
    }
    assert.equal(isPlainPass(new Verdict()), false);
    assert.equal(isPlainPass("pass"), false);
    assert.equal(isPlainPass(null), false);
  });

  await t.step("an Outbox posts the compacted batch", async () => {
    const posted: unknown[] = [];
    const box = new Outbox<HostMessage>({ postMessage: (m) => posted.push(m) }, () => {}, compactHostBatch);
    box.push(call(1));
    box.push(call(2));
    await Promise.resolve();
    assert.deepEqual(posted, [[{
      t: "calls",
      ids: [1, 2],
      method: "check",
      inputs: [{ text: "line 1" }, { text: "line 2" }],
    }]]);
  });
});

/** The calls a batch carries, as the Worker reads them after the post (structured clone, then unpacking). */
function callsAfterPost(batch: HostMessage[]): { id: number; method: string; input: unknown }[] {
  const out: { id: number; method: string; input: unknown }[] = [];
  for (const m of structuredClone(compactHostBatch(batch))) {
    if (m.t === "call") out.push({ id: m.id, method: m.method, input: m.input });
    if (m.t !== "calls") continue;
    const inputs = unpackInputs(m);
    m.ids.forEach((id, i) => out.push({ id, method: methodOf(m, i), input: inputs[i] }));
  }
  return out;
}

Deno.test("chat-line filter inputs travel packed and arrive as structured clone would deliver them", async (t) => {
  const settings = { threshold: 40, persona: 'a "quoted" persona\n', nested: { list: [1, 2] } };
  const input = (text: string, extra: Record<string, unknown> = {}) => ({
    direction: "in",
    channel: "chan",
    user: "viewer",
    text,
    settings,
    bot: "clankbot",
    ...extra,
  });

  await t.step("the usual filter input goes as one JSON string with the settings once", () => {
    const [m] = compactHostBatch([
      { t: "call", id: 1, method: "check", input: input("hello") },
      { t: "call", id: 2, method: "check", input: input("again") },
    ]);
    assert.equal(m?.t, "calls");
    const calls = m as Extract<HostMessage, { t: "calls" }>;
    // Every input packed: no inputs column, and the method once.
    assert.equal(calls.inputs, undefined);
    assert.equal(calls.method, "check");
    assert.equal(typeof calls.packed, "string");
    assert.equal(calls.shared?.length, 1);
    const after = callsAfterPost([
      { t: "call", id: 1, method: "check", input: input("hello") },
      { t: "call", id: 2, method: "check", input: input("again") },
    ]);
    assert.deepEqual(after.map((c) => c.input), [input("hello"), input("again")]);
    // One settings object on the host is one on the Worker, as with structured clone.
    assert.equal(
      (after[0]!.input as { settings: unknown }).settings,
      (after[1]!.input as { settings: unknown }).settings,
    );
  });

  await t.step("anything else keeps its own shape and place (property)", () => {
    const text = fc.oneof(
      fc.string(),
      fc.constantFrom("\ud800 lone", "a\u2028b", '"quoted"', "emoji 😀", ""),
    );
    const anyInput = fc.oneof(
      { weight: 4, arbitrary: text.map((s) => input(s)) },
      text.map((s) => input(s, { recent: { bot: ["x"], chat: [] } })),
      text.map((s) => ({ ...input(s), user: undefined })),
      text.map((s) => ({ ...input(s), settings: null })),
      fc.record({ direction: fc.constantFrom("in", "out"), text, channel: fc.string() }),
      fc.jsonValue(),
    );
    const message = fc.oneof(
      { weight: 6, arbitrary: fc.tuple(fc.constantFrom("check", "observe", "gate"), anyInput) },
      fc.constant("ping" as const),
    );
    fc.assert(
      fc.property(fc.array(message, { maxLength: 12 }), (plan) => {
        const batch: HostMessage[] = plan.map((p, id) =>
          p === "ping" ? { t: "ping", id } : { t: "call", id, method: p[0] as "check", input: p[1] }
        );
        const expected = structuredClone(batch).filter((m) => m.t === "call").map((m) => {
          const c = m as Extract<HostMessage, { t: "call" }>;
          return { id: c.id, method: c.method, input: c.input };
        });
        assert.deepStrictEqual(callsAfterPost(batch), expected);
      }),
      { numRuns: 400 },
    );
  });
});
