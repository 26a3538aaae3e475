import { assertEquals } from "./assert.ts";
import { allocationByOwner, type HeapProfileNode, ownerOf } from "../bench/allocation.ts";

function node(url: string, selfSize: number, children: HeapProfileNode[] = [], name = "f"): HeapProfileNode {
  return { callFrame: { functionName: name, url, lineNumber: 0 }, selfSize, children };
}

Deno.test("allocationByOwner charges each sample to the innermost bot or tmi.js frame", async (t) => {
  await t.step("ownerOf tells the bot's modules, tmi.js and everything else apart", () => {
    assertEquals(ownerOf("file:///w/core/host.ts"), "bot");
    assertEquals(ownerOf("file:///w/plugins/chat_history.ts"), "bot");
    assertEquals(ownerOf("file:///w/filters/word_matcher.ts"), "bot");
    assertEquals(ownerOf("file:///w/tests/fakes/core/x.ts"), undefined);
    assertEquals(ownerOf("file:///w/tests/fakes/fake_twitch.ts"), undefined);
    assertEquals(ownerOf("file:///c/npm/registry.npmjs.org/tmi.js/1.8.5/lib/parser.js"), "tmi.js");
    assertEquals(ownerOf("ext:deno_web/06_streams.js"), undefined);
  });

  await t.step("runtime code under a bot frame is the bot's; fakes and the root are other", () => {
    const head = node("", 0, [
      node("file:///w/tests/fakes/fake_twitch.ts", 100, [
        node("file:///c/tmi.js/lib/parser.js", 40, [
          node("file:///w/core/twitch_transport.ts", 7, [], "emit"),
        ]),
      ]),
      node("file:///w/core/host.ts", 10, [node("ext:deno_web/02_event.js", 5), node("", 3)], "dispatch"),
    ]);
    const { bytes, sites } = allocationByOwner(head);
    assertEquals(bytes, { bot: 25, "tmi.js": 40, other: 100 });
    assertEquals(Object.fromEntries(sites), {
      "dispatch (core/host.ts)": 18,
      "emit (core/twitch_transport.ts)": 7,
    });
  });
});
