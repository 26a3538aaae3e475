/**
 * The command router on its own: who may run what, who may change settings whatever a plugin
 * returns, and the cooldown buckets.
 */
import { assert, assertEquals } from "./assert.ts";
import { type CommandHost, CommandRouter } from "../core/command_router.ts";
import type { MessageEvent } from "../core/events.ts";
import { createInProcessPlugin } from "../core/inprocess_plugin.ts";
import { PluginSet } from "../core/plugin_set.ts";
import { testSettings } from "../core/testing.ts";
import { definePlugin } from "../plugins/sdk.ts";
import { testDeps } from "./fixtures/plugins/_deps.ts";
import { fakeStatus } from "./fakes/fake_control.ts";

/** A command anyone may run that (wrongly) also asks for a settings change. */
const sneaky = definePlugin({
  name: "sneaky",
  kind: "command",
  apiVersion: 1,
  description: "Open to everyone, returns a settings change",
  command: "sneaky",
  usage: "sneaky",
  permission: "everyone",
  run: (inv) => ({ reply: `@${inv.displayName} done`, set: { threshold: 5 } }),
});

/** A harmless command anyone may run. */
const roll = definePlugin({
  name: "roll",
  kind: "command",
  apiVersion: 1,
  description: "Open to everyone",
  command: "roll",
  usage: "roll",
  permission: "everyone",
  run: (inv) => ({ reply: `@${inv.displayName} rolled 4` }),
});

/** A moderators' command. */
const modOnly = definePlugin({
  name: "modcmd",
  kind: "command",
  apiVersion: 1,
  description: "Moderators only",
  command: "modcmd",
  usage: "modcmd",
  permission: "moderator",
  run: () => ({ reply: "ok" }),
});

async function setup(channelCooldown = 0) {
  const deps = testDeps();
  const handles = await Promise.all(
    [sneaky, roll, modOnly].map((p) =>
      createInProcessPlugin(p, { source: `test:${p.name}`, ...deps, timeoutMs: 1000 })
    ),
  );
  const applied: Record<string, unknown>[] = [];
  const replies: string[] = [];
  const refused: string[] = [];
  let resets = 0;
  const settings = testSettings();
  const host: CommandHost = {
    commandConfig: () => ({ prefix: "!clank", admins: new Set(["trusted"]), channelCooldown }),
    settings: () => ({ settings, configured: settings }),
    status: () => fakeStatus(),
    applySettings: (_channel, patch) => {
      applied.push(patch);
      return Promise.resolve(null);
    },
    resetSettings: () => {
      resets++;
      return Promise.resolve();
    },
    reply: (_channel, text) => {
      replies.push(text);
      return Promise.resolve();
    },
    refusedChange: (_channel, user, plugin) => void refused.push(`${user}:${plugin}`),
  };
  const router = new CommandRouter(new PluginSet(handles, deps.metrics), host);
  return { router, applied, replies, refused, resets: () => resets };
}

let n = 0;
function line(user: string, text: string, role: "viewer" | "moderator" | "broadcaster" = "viewer", time = 0) {
  return {
    type: "message",
    channel: "alpha",
    id: `m${++n}`,
    userId: `id-${user}`,
    user,
    displayName: user,
    text,
    badges: {
      broadcaster: role === "broadcaster",
      moderator: role === "moderator",
      vip: false,
      subscriber: false,
    },
    action: false,
    time,
    self: false,
  } satisfies MessageEvent;
}

Deno.test("CommandRouter: only moderators, the broadcaster and admins change settings", async (t) => {
  await t.step("a viewer's command open to everyone runs, but its settings change is dropped", async () => {
    const r = await setup();
    assertEquals(await r.router.handle(line("viewer1", "!clank sneaky")), "ran");
    assertEquals(r.applied, []);
    assertEquals(r.refused, ["viewer1:sneaky"]);
    assertEquals(r.replies, [], "a refused change gets no reply that suggests it worked");
  });
  await t.step("the same command from a moderator, the broadcaster or an admin applies it", async () => {
    const r = await setup();
    await r.router.handle(line("moddy", "!clank sneaky", "moderator"));
    await r.router.handle(line("caster", "!clank sneaky", "broadcaster"));
    await r.router.handle(line("trusted", "!clank sneaky"));
    assertEquals(r.applied, [{ threshold: 5 }, { threshold: 5 }, { threshold: 5 }]);
    assertEquals(r.refused, []);
  });
  await t.step("a viewer's moderators-only command is ignored silently", async () => {
    const r = await setup();
    assertEquals(await r.router.handle(line("viewer1", "!clank modcmd")), "ignored");
    assertEquals(r.replies, []);
  });
});

Deno.test("CommandRouter: replies address a user with a localized display name by login", async () => {
  const r = await setup();
  await r.router.handle({ ...line("riverotter", "!clank roll"), displayName: "リバーオッター" });
  await r.router.handle({ ...line("mossgiant", "!clank roll"), displayName: "MossGiant" });
  assertEquals(r.replies, ["@riverotter rolled 4", "@MossGiant rolled 4"]);
});

Deno.test("CommandRouter: viewers' commands cannot hold the moderators' in cooldown", async (t) => {
  await t.step("viewers share one bucket, moderators another", async () => {
    const r = await setup(30);
    assertEquals(await r.router.handle(line("v1", "!clank roll", "viewer", 1000)), "ran");
    assertEquals(await r.router.handle(line("v2", "!clank roll", "viewer", 2000)), "cooldown");
    assertEquals(await r.router.handle(line("moddy", "!clank modcmd", "moderator", 3000)), "ran");
    assertEquals(await r.router.handle(line("moddy2", "!clank modcmd", "moderator", 4000)), "cooldown");
    assert(r.replies.length === 2, r.replies.join(" | "));
  });
});
