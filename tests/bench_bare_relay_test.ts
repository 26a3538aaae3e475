import { assertEquals, assertMatch } from "./assert.ts";
import { startBareRelay } from "../bench/bare_relay.ts";
import { startFakeOllama } from "./fakes/fake_ollama.ts";
import { startFakeTwitch } from "./fakes/fake_twitch.ts";

Deno.test("the bare relay (the reply benchmark's floor) answers mentions through the real clients", async (t) => {
  const twitch = await startFakeTwitch({ tokens: ["relaytoken"] });
  const ollama = await startFakeOllama({ reply: (req) => `echo ${JSON.stringify(req.body?.messages)}` });
  const relay = await startBareRelay({
    ircUrl: twitch.url,
    ollamaUrl: ollama.url,
    channel: "floorchan",
    bot: "relaybot",
    token: "relaytoken",
  });
  try {
    await relay.joined;
    await t.step("a line that does not mention it is context, not a request", async () => {
      twitch.sendPrivmsg("floorchan", { login: "viewer1", text: "just chatting" });
      twitch.sendPrivmsg("floorchan", { login: "viewer2", text: "@relaybot q7x hello there" });
      await twitch.waitFor(() => twitch.privmsgs.length >= 1, 10_000, "the relay's reply");
      assertEquals(ollama.generations().length, 1);
      const messages = ollama.generations()[0]!.body!.messages as Array<{ role: string; content: string }>;
      assertEquals(messages.at(-1), { role: "user", content: "@relaybot q7x hello there" });
      assertMatch(messages[1]!.content, /viewer1: "just chatting"/);
    });
    await t.step("the streamed answer goes back to the channel as the relay's login", () => {
      const reply = twitch.privmsgs[0]!;
      assertEquals(reply.login, "relaybot");
      assertEquals(reply.channel, "floorchan");
      assertMatch(reply.text, /^echo .*q7x hello there/);
    });
  } finally {
    await relay.stop();
    await ollama.close();
    await twitch.close();
  }
});
