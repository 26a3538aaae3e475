import assert from "node:assert/strict";
import { escapeTagValue, fakeUserId, formatTags, startFakeTwitch } from "./fakes/fake_twitch.ts";

/** A bare WebSocket IRC client that records every line it receives. */
class RawClient {
  readonly lines: string[] = [];
  readonly frames: string[] = [];
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<void>;

  constructor(url: string, protocol: string | undefined = "irc") {
    this.ws = protocol === undefined ? new WebSocket(url) : new WebSocket(url, protocol);
    this.opened = new Promise((resolve, reject) => {
      this.ws.onopen = () => resolve();
      this.ws.onerror = () => reject(new Error("WebSocket error"));
    });
    this.closed = new Promise((resolve) => this.ws.addEventListener("close", () => resolve()));
    this.ws.onmessage = (ev) => {
      this.frames.push(ev.data);
      for (const l of String(ev.data).split("\r\n")) if (l !== "") this.lines.push(l);
    };
  }

  send(...lines: string[]): void {
    for (const l of lines) this.ws.send(l);
  }

  async waitLine(match: (line: string) => boolean, what: string, timeoutMs = 3000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find(match);
      if (hit !== undefined) return hit;
      if (Date.now() > deadline) {
        throw new Error(`Timed out waiting for ${what}; got:\n${this.lines.join("\n")}`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async close(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close();
    await this.closed;
  }
}

async function login(url: string, nick: string, pass?: string): Promise<RawClient> {
  const c = new RawClient(url);
  await c.opened;
  c.send("CAP REQ :twitch.tv/tags twitch.tv/commands twitch.tv/membership");
  if (pass !== undefined) c.send(`PASS ${pass}`);
  c.send(`NICK ${nick}`);
  return c;
}

Deno.test("formatTags escapes values the IRCv3 way", () => {
  assert.equal(escapeTagValue("a b;c\\d"), "a\\sb\\:c\\\\d");
  assert.equal(formatTags({ a: 1, b: true, c: false, d: "x y" }), "@a=1;b=1;c=0;d=x\\sy ");
  assert.equal(formatTags({}), "");
  assert.equal(fakeUserId("ronni"), fakeUserId("ronni"));
  assert.notEqual(fakeUserId("ronni"), fakeUserId("dallas"));
});

Deno.test("startFakeTwitch speaks Twitch IRC", async (t) => {
  const twitch = await startFakeTwitch({
    tokens: ["goodtoken"],
    badges: { modchan: "moderator/1" },
    roomStates: { slowchan: { slow: 30 } },
    suspended: ["gone"],
  });
  try {
    await t.step("refuses plain HTTP", async () => {
      const res = await fetch(`http://127.0.0.1:${twitch.port}/`);
      assert.equal(res.status, 400);
      await res.body?.cancel();
    });

    await t.step("answers the irc subprotocol, CAP LS and CAP REQ", async () => {
      const c = new RawClient(twitch.url);
      await c.opened;
      assert.equal(c.ws.protocol, "irc");
      c.send("CAP LS 302");
      await c.waitLine(
        (l) => l === ":tmi.twitch.tv CAP * LS :twitch.tv/tags twitch.tv/commands twitch.tv/membership",
        "LS",
      );
      c.send("CAP REQ :twitch.tv/tags twitch.tv/commands twitch.tv/membership");
      await c.waitLine(
        (l) => l === ":tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands twitch.tv/membership",
        "ACK",
      );
      c.send("CAP REQ :twitch.tv/bogus");
      await c.waitLine((l) => l === ":tmi.twitch.tv CAP * NAK :twitch.tv/bogus", "NAK");
      await c.close();
    });

    await t.step("logs in anonymously and joins with 353/366/ROOMSTATE but no USERSTATE", async () => {
      const c = await login(twitch.url, "justinfan12345", "SCHMOOPIIE");
      await c.waitLine((l) => l === ":tmi.twitch.tv 376 justinfan12345 :>", "376");
      for (const n of ["001", "002", "003", "004", "375", "372"]) {
        assert.ok(c.lines.some((l) => l.startsWith(`:tmi.twitch.tv ${n} justinfan12345 `)), n);
      }
      assert.ok(!c.lines.some((l) => l.includes("GLOBALUSERSTATE")));
      c.send("JOIN #slowchan");
      const room = await c.waitLine((l) => l.includes("ROOMSTATE #slowchan"), "ROOMSTATE");
      assert.match(
        room,
        /^@emote-only=0;followers-only=-1;r9k=0;slow=30;subs-only=0;room-id=\d+ :tmi\.twitch\.tv ROOMSTATE #slowchan$/,
      );
      assert.ok(
        c.lines.includes(":justinfan12345!justinfan12345@justinfan12345.tmi.twitch.tv JOIN #slowchan"),
      );
      assert.ok(
        c.lines.includes(":justinfan12345.tmi.twitch.tv 353 justinfan12345 = #slowchan :justinfan12345"),
      );
      assert.ok(
        c.lines.includes(":justinfan12345.tmi.twitch.tv 366 justinfan12345 #slowchan :End of /NAMES list"),
      );
      assert.ok(!c.lines.some((l) => l.includes("USERSTATE")));
      c.send("PRIVMSG #slowchan :anonymous cannot talk");
      c.send("PING");
      await c.waitLine((l) => l === "PONG :tmi.twitch.tv", "PONG");
      assert.equal(twitch.privmsgs.length, 0);
      assert.deepEqual(twitch.joinedChannels("justinfan12345"), ["slowchan"]);
      await c.close();
    });

    await t.step("logs in with a valid token: GLOBALUSERSTATE, USERSTATE with badges", async () => {
      const c = await login(twitch.url, "ClankBot", "oauth:goodtoken");
      await c.waitLine((l) => l.endsWith(":tmi.twitch.tv GLOBALUSERSTATE"), "GLOBALUSERSTATE");
      assert.ok(c.lines.includes(":tmi.twitch.tv 001 clankbot :Welcome, GLHF!"));
      c.send("JOIN #modchan,#clankbot,#plain");
      await c.waitLine((l) => l.endsWith("ROOMSTATE #plain"), "third ROOMSTATE");
      const us = (ch: string) => c.lines.find((l) => l.endsWith(`USERSTATE #${ch}`)) ?? "";
      assert.match(us("modchan"), /badges=moderator\/1;.*mod=1;.*user-type=mod /);
      assert.match(us("clankbot"), /badges=broadcaster\/1;/);
      assert.match(us("plain"), /badges=;.*mod=0;/);
      assert.deepEqual(twitch.joins.filter((j) => j.login === "clankbot").map((j) => j.channel), [
        "modchan",
        "clankbot",
        "plain",
      ]);

      c.send("PRIVMSG #plain :hello there", "PRIVMSG #plain :\u0001ACTION waves\u0001");
      await twitch.waitFor(() => twitch.privmsgs.length === 2, 3000, "two PRIVMSGs");
      assert.deepEqual(
        twitch.privmsgs.map((p) => [p.channel, p.login, p.text, p.action]),
        [["plain", "clankbot", "hello there", false], ["plain", "clankbot", "waves", true]],
      );
      assert.equal(twitch.privmsgs[0]!.raw, "PRIVMSG #plain :hello there");
      await c.waitLine((l) => /;id=[0-9a-f-]{36};.*USERSTATE #plain$/.test(l), "USERSTATE answer");
      assert.ok(twitch.received.includes("PASS ***"), "PASS recorded masked");
      assert.ok(!twitch.received.some((l) => l.includes("goodtoken")), "token never recorded");

      c.send("PART #plain");
      await c.waitLine((l) => l === ":clankbot!clankbot@clankbot.tmi.twitch.tv PART #plain", "PART");
      assert.deepEqual(twitch.joinedChannels("clankbot"), ["clankbot", "modchan"]);
      await c.close();
    });

    await t.step("refuses a bad or missing token with Twitch's NOTICE and closes", async () => {
      const bad = await login(twitch.url, "clankbot", "oauth:wrong");
      await bad.waitLine((l) => l === ":tmi.twitch.tv NOTICE * :Login authentication failed", "auth NOTICE");
      await bad.closed;
      const none = await login(twitch.url, "clankbot");
      await none.waitLine((l) => l === ":tmi.twitch.tv NOTICE * :Improperly formatted auth", "format NOTICE");
      await none.closed;
      assert.deepEqual(twitch.authFailures, ["clankbot", "clankbot"]);
    });

    await t.step("pushes tagged lines to members of a channel", async () => {
      const c = await login(twitch.url, "clankbot", "oauth:goodtoken");
      c.send("JOIN #chat");
      await c.waitLine((l) => l.endsWith("ROOMSTATE #chat"), "ROOMSTATE");
      const id = twitch.sendPrivmsg("chat", {
        login: "Ronni",
        displayName: "Ronni B",
        badges: { moderator: 1, subscriber: 12 },
        text: "hi all",
        sentTs: 1700000000000,
      });
      const line = await c.waitLine((l) => l.includes("PRIVMSG #chat"), "PRIVMSG");
      assert.ok(line.includes(`;id=${id};`));
      assert.ok(line.includes("badges=moderator/1,subscriber/12;"));
      assert.ok(line.includes("display-name=Ronni\\sB;"));
      assert.ok(line.includes("tmi-sent-ts=1700000000000;"));
      assert.ok(line.includes(`user-id=${fakeUserId("ronni")};`));
      assert.ok(line.endsWith(":ronni!ronni@ronni.tmi.twitch.tv PRIVMSG #chat :hi all"));

      twitch.sendPrivmsg("chat", { login: "ronni", text: "dances", action: true });
      await c.waitLine((l) => l.endsWith("PRIVMSG #chat :\u0001ACTION dances\u0001"), "action");
      twitch.sendClearChat("chat", "ronni", 600);
      await c.waitLine(
        (l) =>
          /^@ban-duration=600;room-id=\d+;target-user-id=\d+;tmi-sent-ts=\d+ :tmi.twitch.tv CLEARCHAT #chat :ronni$/
            .test(l),
        "timeout",
      );
      twitch.sendClearChat("chat", "ronni");
      await c.waitLine(
        (l) =>
          /^@room-id=\d+;target-user-id=\d+;tmi-sent-ts=\d+ :tmi.twitch.tv CLEARCHAT #chat :ronni$/.test(l),
        "ban",
      );
      twitch.sendClearChat("chat");
      await c.waitLine(
        (l) => /^@room-id=\d+;tmi-sent-ts=\d+ :tmi.twitch.tv CLEARCHAT #chat$/.test(l),
        "clear",
      );
      twitch.sendClearMsg("chat", "ronni", id);
      await c.waitLine(
        (l) => l.includes(`target-msg-id=${id};`) && l.endsWith("CLEARMSG #chat :hi all"),
        "CLEARMSG",
      );
      twitch.sendRoomState("chat", { "emote-only": true });
      await c.waitLine(
        (l) => /^@room-id=\d+;emote-only=1 :tmi.twitch.tv ROOMSTATE #chat$/.test(l),
        "ROOMSTATE",
      );
      twitch.sendUserState("chat", "moderator/1");
      await c.waitLine(
        (l) => l.includes("badges=moderator/1;") && l.endsWith("USERSTATE #chat"),
        "USERSTATE",
      );
      twitch.sendNotice(
        "chat",
        "msg_ratelimit",
        "Your message was not sent because you are sending messages too quickly.",
      );
      await c.waitLine(
        (l) => l.startsWith("@msg-id=msg_ratelimit :tmi.twitch.tv NOTICE #chat :Your message"),
        "NOTICE",
      );
      twitch.sendJoin("chat", "someone");
      await c.waitLine((l) => l === ":someone!someone@someone.tmi.twitch.tv JOIN #chat", "other JOIN");
      twitch.sendPing();
      await c.waitLine((l) => l === "PING :tmi.twitch.tv", "server PING");
      c.send("PONG :tmi.twitch.tv");
      await twitch.waitFor(() => twitch.pongs === 1, 3000, "PONG");
      c.send("PING :abc");
      await c.waitLine((l) => l === ":tmi.twitch.tv PONG tmi.twitch.tv :abc", "PONG with argument");
      twitch.sendReconnect();
      await c.waitLine((l) => l === ":tmi.twitch.tv RECONNECT", "RECONNECT");
      twitch.sendRaw("@garbage");
      await c.waitLine((l) => l === "@garbage", "raw");
      twitch.sendNotice("nobody-here", "msg_banned", "not for this client");
      await twitch.dropConnections();
      await c.closed;
      assert.ok(!c.lines.some((l) => l.includes("not for this client")));
      assert.equal(twitch.openConnections, 0);
    });

    await t.step("honours capabilities: no tags, no commands, no membership", async () => {
      const c = new RawClient(twitch.url);
      await c.opened;
      c.send("PASS oauth:goodtoken", "NICK plainclient", "JOIN #chat");
      await c.waitLine((l) => l.startsWith(":plainclient.tmi.twitch.tv 366"), "366");
      twitch.sendPrivmsg("chat", { login: "ronni", text: "no tags for you" });
      twitch.sendClearChat("chat");
      twitch.sendJoin("chat", "someone");
      twitch.sendNotice("chat", "msg_duplicate", "dupe");
      await c.waitLine((l) => l.includes("NOTICE #chat"), "NOTICE");
      assert.ok(c.lines.includes(":ronni!ronni@ronni.tmi.twitch.tv PRIVMSG #chat :no tags for you"));
      assert.ok(c.lines.includes(":tmi.twitch.tv NOTICE #chat :dupe"));
      assert.ok(!c.lines.some((l) => /USERSTATE|ROOMSTATE|CLEARCHAT|GLOBALUSERSTATE|someone/.test(l)));
      await c.close();
    });

    await t.step("blast packs many PRIVMSGs into few frames", async () => {
      const c = await login(twitch.url, "justinfan999", "SCHMOOPIIE");
      c.send("JOIN #busy");
      await c.waitLine((l) => l.endsWith("ROOMSTATE #busy"), "ROOMSTATE");
      const before = c.frames.length;
      const texts = Array.from({ length: 1200 }, (_, i) => `line ${i}`);
      const frames = twitch.blast("busy", texts, 500);
      assert.equal(frames, 3);
      await c.waitLine((l) => l.endsWith("PRIVMSG #busy :line 1199"), "last blasted line", 5000);
      assert.equal(c.frames.length - before, 3);
      assert.equal(c.lines.filter((l) => l.includes("PRIVMSG #busy")).length, 1200);
      await c.close();
    });

    await t.step("waitFor rejects after its timeout", async () => {
      await assert.rejects(
        twitch.waitFor(() => false, 20, "nothing"),
        /timed out after 20 ms waiting for nothing/,
      );
    });
  } finally {
    await twitch.close();
  }
});

Deno.test("startFakeTwitch records with the given clock and calls onPrivmsg", async () => {
  let fakeNow = 1000;
  const seen: string[] = [];
  const twitch = await startFakeTwitch({
    tokens: ["t0ken"],
    now: () => fakeNow,
    onPrivmsg: (m, fake) => {
      seen.push(m.text);
      fake.sendNotice(
        m.channel,
        "msg_duplicate",
        "Your message is identical to the one you sent less than 30 seconds ago.",
      );
    },
  });
  const c = await login(twitch.url, "clankbot", "oauth:t0ken");
  try {
    c.send("JOIN #x");
    await c.waitLine((l) => l.endsWith("ROOMSTATE #x"), "ROOMSTATE");
    fakeNow = 5000;
    c.send("PRIVMSG #x :same");
    await c.waitLine((l) => l.includes("msg-id=msg_duplicate"), "duplicate NOTICE");
    assert.deepEqual(seen, ["same"]);
    assert.equal(twitch.privmsgs[0]!.time, 5000);
    assert.equal(twitch.joins[0]!.time, 1000);
  } finally {
    await c.close();
    await twitch.close();
  }
});
