import assert from "node:assert/strict";
import { MAX_BATCH, Outbox } from "../core/sandbox_protocol.ts";

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
