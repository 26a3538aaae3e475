import { assertEquals } from "./assert.ts";
import { mentionMatcher, messageFacts } from "../core/message_facts.ts";
import { messageEvent } from "../core/testing.ts";

Deno.test("mentionMatcher matches @name or name as a whole word, any case", async (t) => {
  const m = mentionMatcher("clankbot");
  await t.step("matches", () => {
    for (const s of ["@clankbot hi", "hey ClankBot!", "CLANKBOT", "yo @CLANKBOT, what", "(clankbot)"]) {
      assertEquals(m(s), true, s);
    }
  });
  await t.step("does not match inside other words", () => {
    for (const s of ["clankbots are cool", "myclankbot", "clankbot_fan", "@clankbot2", "clank bot"]) {
      assertEquals(m(s), false, s);
    }
  });
  await t.step("a link or a file name with the name in it is no mention", () => {
    for (
      const s of [
        "check twitch.tv/clankbot later",
        "https://www.twitch.tv/clankbot/clip/abc",
        "clankbot.exe stopped working",
        "see github.com/someone/clankbot",
      ]
    ) {
      assertEquals(m(s), false, s);
    }
    // End of a sentence, or an address with punctuation after it, still is.
    for (const s of ["thanks clankbot.", "clankbot: hi", "what do you think, clankbot?"]) {
      assertEquals(m(s), true, s);
    }
  });
  await t.step("regex characters in the name are literal", () => {
    assertEquals(mentionMatcher("a_b")("hi a_b"), true);
    assertEquals(mentionMatcher("")("anything"), false);
  });
});

Deno.test("messageFacts classifies lines", async (t) => {
  const opts = {
    bot: "clankbot",
    isMention: mentionMatcher("clankbot"),
    prefix: "!clank",
    bots: new Set(["nightbot"]),
  };
  await t.step("mention", () => {
    const f = messageFacts(messageEvent({ text: "hi @clankbot" }), opts);
    assertEquals(f, { self: false, ourCommand: false, command: false, fromBot: false, mention: true });
  });
  await t.step("our command is not a mention", () => {
    const f = messageFacts(messageEvent({ text: "!clank status clankbot" }), opts);
    assertEquals([f.ourCommand, f.command, f.mention], [true, true, false]);
    assertEquals(messageFacts(messageEvent({ text: "!clanky" }), opts).ourCommand, false);
    assertEquals(messageFacts(messageEvent({ text: "!CLANK" }), opts).ourCommand, true);
  });
  await t.step("the bot never mentions itself", () => {
    const f = messageFacts(messageEvent({ user: "clankbot", text: "i am clankbot" }), opts);
    assertEquals([f.self, f.mention], [true, false]);
  });
  await t.step("known bots", () => {
    assertEquals(messageFacts(messageEvent({ user: "nightbot", text: "follow!" }), opts).fromBot, true);
  });
  await t.step("a line from another channel of a Shared Chat session is context, not a trigger", () => {
    // Its channel answers it (the bot there, if any); its moderators are not this channel's.
    const shared = (text: string) => messageFacts(messageEvent({ text, sharedFrom: "4242" }), opts);
    assertEquals([shared("hi @clankbot").mention, shared("!clank threshold 5").ourCommand], [false, false]);
  });
});
