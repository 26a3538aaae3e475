import assert from "node:assert/strict";
import {
  badgesFromTags,
  channelName,
  isAuthFailure,
  messageFromTags,
  noticeSeconds,
  roomStateFromTags,
  sentTime,
  tagNumber,
  tagString,
  userStateFromTags,
} from "../core/twitch_tags.ts";

Deno.test("tagString and tagNumber read tags tmi.js already converted", () => {
  assert.equal(tagString(true), "1");
  assert.equal(tagString(false), "0");
  assert.equal(tagString(null), "");
  assert.equal(tagString(undefined), "");
  assert.equal(tagString("abc"), "abc");
  assert.equal(tagNumber("30"), 30);
  assert.equal(tagNumber(true), 1);
  assert.equal(tagNumber(false), 0);
  assert.equal(tagNumber(""), undefined);
  assert.equal(tagNumber("x"), undefined);
  assert.equal(sentTime({ "tmi-sent-ts": "1700000000000" }, 5), 1_700_000_000_000);
  assert.equal(sentTime({}, 5), 5);
  assert.equal(sentTime({ "tmi-sent-ts": "garbage" }, 5), 5);
  assert.equal(channelName("#SomeChan"), "somechan");
});

Deno.test("badgesFromTags reads object and raw badge forms", () => {
  assert.deepEqual(badgesFromTags({ badges: { broadcaster: "1", vip: "1" } }), {
    broadcaster: true,
    moderator: false,
    vip: true,
    subscriber: false,
  });
  assert.deepEqual(badgesFromTags({ badges: "moderator/1,founder/0" }), {
    broadcaster: false,
    moderator: true,
    vip: false,
    subscriber: true,
  });
  assert.equal(badgesFromTags({ badges: null, mod: true }).moderator, true);
  assert.equal(badgesFromTags({ "user-type": "mod" }).moderator, true);
  assert.deepEqual(badgesFromTags({}), {
    broadcaster: false,
    moderator: false,
    vip: false,
    subscriber: false,
  });
});

Deno.test("messageFromTags marks a line from another channel of a Shared Chat session", () => {
  const bot = { login: "clankbot", userId: "99" };
  const ctx = { channel: "#chan", text: "hi", action: false, self: false, bot, time: 10, fallbackId: "x" };
  const tags = { id: "m1", "user-id": "7", username: "ronni", "room-id": "100" };
  assert.equal(messageFromTags({ ...tags, "source-room-id": "200" }, ctx).sharedFrom, "200");
  // The same line in its own channel carries source-room-id equal to room-id: not shared.
  assert.equal("sharedFrom" in messageFromTags({ ...tags, "source-room-id": "100" }, ctx), false);
  assert.equal("sharedFrom" in messageFromTags(tags, ctx), false);
});

Deno.test("messageFromTags builds a message event, the bot's own lines included", () => {
  const bot = { login: "clankbot", userId: "99" };
  const m = messageFromTags(
    { id: "m1", "user-id": "7", username: "Ronni", "display-name": "Ronni", badges: { subscriber: "3" } },
    { channel: "#Chan", text: "hi", action: false, self: false, bot, time: 10, fallbackId: "x" },
  );
  assert.deepEqual(m, {
    type: "message",
    channel: "chan",
    id: "m1",
    userId: "7",
    user: "ronni",
    displayName: "Ronni",
    text: "hi",
    badges: { broadcaster: false, moderator: false, vip: false, subscriber: true },
    action: false,
    time: 10,
    self: false,
  });
  const own = messageFromTags({ "display-name": "ClankBot" }, {
    channel: "#chan",
    text: "waves",
    action: true,
    self: true,
    bot,
    time: 11,
    fallbackId: "self-1",
  });
  assert.deepEqual([own.user, own.userId, own.id, own.displayName, own.action], [
    "clankbot",
    "99",
    "self-1",
    "ClankBot",
    true,
  ]);
});

Deno.test("roomStateFromTags keeps only the modes in the update", () => {
  assert.deepEqual(roomStateFromTags("#c", { slow: "30" }, 1), {
    type: "roomstate",
    channel: "c",
    slow: 30,
    time: 1,
  });
  assert.deepEqual(roomStateFromTags("#c", { slow: false, "emote-only": true }, 1), {
    type: "roomstate",
    channel: "c",
    slow: 0,
    emoteOnly: true,
    time: 1,
  });
  // tmi turns "0" into false: followers-only with no minimum age.
  assert.equal(roomStateFromTags("#c", { "followers-only": false }, 1).followersOnly, 0);
  assert.equal(roomStateFromTags("#c", { "followers-only": "-1" }, 1).followersOnly, -1);
  assert.equal(roomStateFromTags("#c", { "followers-only": "10" }, 1).followersOnly, 10);
  assert.equal(roomStateFromTags("#c", { "subs-only": true }, 1).subsOnly, true);
});

Deno.test("userStateFromTags reads the bot's moderator status", () => {
  assert.deepEqual(userStateFromTags("#c", { badges: { moderator: "1" }, mod: true }, 2), {
    type: "userstate",
    channel: "c",
    moderator: true,
    broadcaster: false,
    time: 2,
  });
  assert.equal(userStateFromTags("#c", { badges: { broadcaster: "1" } }, 2).broadcaster, true);
});

Deno.test("isAuthFailure and noticeSeconds read Twitch's texts", () => {
  assert.equal(isAuthFailure("Login authentication failed"), true);
  assert.equal(isAuthFailure("Improperly formatted auth"), true);
  assert.equal(isAuthFailure("Connection closed."), false);
  assert.equal(isAuthFailure(undefined), false);
  assert.equal(noticeSeconds("You are timed out for 8 more seconds."), 8);
  assert.equal(noticeSeconds("You will be able to talk again in 1 second."), 1);
  assert.equal(noticeSeconds("You are permanently banned"), undefined);
});
