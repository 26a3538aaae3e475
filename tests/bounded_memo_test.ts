import assert from "node:assert/strict";
import { BoundedMemo } from "../plugins/bounded_memo.ts";

Deno.test("BoundedMemo remembers a computation per key, within its bound", async (t) => {
  await t.step("computes a key once and answers it from memory after", () => {
    const computed: string[] = [];
    const memo = new BoundedMemo(10, (key: string) => (computed.push(key), key.length));
    assert.equal(memo.get("abc"), 3);
    assert.equal(memo.get("abc"), 3);
    assert.equal(memo.get("de"), 2);
    assert.deepEqual(computed, ["abc", "de"]);
    assert.equal(memo.size, 2);
  });

  await t.step("starts over once it holds max keys, and never holds more", () => {
    const computed: number[] = [];
    const memo = new BoundedMemo(3, (key: number) => (computed.push(key), key * 2));
    for (const key of [1, 2, 3]) memo.get(key);
    assert.equal(memo.size, 3);
    assert.equal(memo.get(4), 8);
    assert.equal(memo.size, 1, "the fourth key found the memo full and started it over");
    assert.equal(memo.get(1), 2);
    assert.deepEqual(computed, [1, 2, 3, 4, 1]);
    for (let key = 0; key < 50; key++) {
      memo.get(key);
      assert.ok(memo.size <= 3);
    }
  });
});
