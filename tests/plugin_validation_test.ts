import assert from "node:assert/strict";
import { z } from "zod";
import { type ClankError, isClankError } from "../core/errors.ts";
import { validatePluginDefinition, validatePluginOptions } from "../core/plugin_validation.ts";
import type { Plugin } from "../plugins/sdk.ts";

const SRC = "plugins.d/x.ts";

function invalid(def: unknown): ClankError {
  try {
    validatePluginDefinition(def, SRC, true);
  } catch (err) {
    assert.ok(isClankError(err, "PLUGIN_INVALID"), `expected PLUGIN_INVALID, got ${err}`);
    return err;
  }
  assert.fail("expected the declaration to be rejected");
}

const pass = () => ({ action: "pass" as const });

Deno.test("validatePluginDefinition accepts each kind and reports plain metadata", async (t) => {
  await t.step("filter: methods and directions", () => {
    const { meta, permissions } = validatePluginDefinition(
      { name: "f-1", kind: "filter", apiVersion: 1, directions: ["out"], check: pass, observe() {} },
      SRC,
      true,
    );
    assert.deepEqual(meta, {
      name: "f-1",
      kind: "filter",
      methods: ["observe", "check"],
      directions: ["out"],
      source: SRC,
      sandboxed: true,
    });
    assert.deepEqual(permissions, {});
  });

  await t.step("command: word, aliases, usage, permission, cooldown", () => {
    const { meta } = validatePluginDefinition(
      {
        name: "dice",
        kind: "command",
        apiVersion: 1,
        command: "roll",
        aliases: ["dice"],
        usage: "roll NdM",
        permission: "everyone",
        cooldown: { user: 10 },
        run: () => ({}),
      },
      SRC,
      false,
    );
    assert.equal(meta.command, "roll");
    assert.deepEqual(meta.aliases, ["dice"]);
    assert.equal(meta.usage, "roll NdM");
    assert.equal(meta.permission, "everyone");
    assert.deepEqual(meta.cooldown, { user: 10 });
    assert.equal(meta.sandboxed, false);
  });

  await t.step("context with observe only, cooldown with triggers, generator", () => {
    assert.deepEqual(
      validatePluginDefinition({ name: "ctx", kind: "context", apiVersion: 1, observe() {} }, SRC, true).meta
        .methods,
      ["observe"],
    );
    const gate = validatePluginDefinition(
      { name: "g", kind: "cooldown", apiVersion: 1, triggers: ["mention"], gate: () => ({ allow: true }) },
      SRC,
      true,
    );
    assert.deepEqual(gate.meta.triggers, ["mention"]);
    const gen = validatePluginDefinition(
      {
        name: "gen",
        kind: "generator",
        apiVersion: 1,
        permissions: { net: ["a.example:443"], env: [] },
        generate: () => null,
      },
      SRC,
      true,
    );
    assert.deepEqual(gen.permissions, { net: ["a.example:443"] });
  });
});

Deno.test("validatePluginDefinition rejects bad declarations with one coded, named error", async (t) => {
  await t.step("a module without a default export", () => {
    const err = invalid(undefined);
    assert.match(err.message, /^Plugin at plugins\.d\/x\.ts: the module must default-export definePlugin/);
  });

  await t.step("bad name, kind and apiVersion are all listed", () => {
    const err = invalid({ name: "Bad Name", kind: "widget", apiVersion: 2 });
    assert.match(err.message, /^Plugin at plugins\.d\/x\.ts: /);
    assert.match(err.message, /name: must be 1-64 lower case letters/);
    assert.match(
      err.message,
      /kind: must be one of context, generator, filter, cooldown, command, got "widget"/,
    );
    assert.match(err.message, /apiVersion: must be 1 .*got number/);
  });

  await t.step("the error names a valid plugin name", () => {
    const err = invalid({ name: "nocheck", kind: "filter", apiVersion: 1 });
    assert.equal(
      err.message,
      'Plugin "nocheck" (plugins.d/x.ts): check: a filter plugin must implement check()',
    );
  });

  await t.step("each kind's required handler", () => {
    assert.match(
      invalid({ name: "c", kind: "cooldown", apiVersion: 1 }).message,
      /gate: a cooldown plugin must implement gate\(\)/,
    );
    assert.match(
      invalid({ name: "g", kind: "generator", apiVersion: 1 }).message,
      /generate: a generator plugin must implement generate\(\)/,
    );
    assert.match(
      invalid({ name: "x", kind: "context", apiVersion: 1 }).message,
      /provide\(\) or observe\(\)/,
    );
    const cmd = invalid({
      name: "c",
      kind: "command",
      apiVersion: 1,
      command: "Roll!",
      usage: "",
      permission: "admins",
    });
    assert.match(cmd.message, /command: must be 1-32 lower case/);
    assert.match(cmd.message, /usage: must be a one-line string/);
    assert.match(cmd.message, /permission: must be "everyone" or "moderator", got "admins"/);
    assert.match(cmd.message, /run: a command plugin must implement run\(\)/);
  });

  await t.step("types of optional fields", () => {
    const err = invalid({
      name: "f",
      kind: "filter",
      apiVersion: 1,
      check: pass,
      setup: "nope",
      description: 5,
      directions: ["sideways"],
      permissions: { net: "a.example", disk: [] },
      options: { parse() {} },
    });
    assert.match(err.message, /setup: must be a function, got "nope"/);
    assert.match(err.message, /description: must be a string, got number/);
    assert.match(err.message, /directions: must be a non-empty list of "in" and "out"/);
    assert.match(err.message, /permissions\.net: must be a list of strings/);
    assert.match(
      err.message,
      /permissions\.disk: unknown permission, allowed: net, read, write, env, run, ffi, sys/,
    );
    assert.match(err.message, /options: must be a Standard Schema validator/);
  });

  await t.step("command cooldown and triggers", () => {
    const cmd = invalid({
      name: "c",
      kind: "command",
      apiVersion: 1,
      command: "c",
      usage: "c",
      permission: "everyone",
      run: () => ({}),
      cooldown: { user: -1 },
    });
    assert.match(cmd.message, /cooldown: must be \{ user\?: seconds, channel\?: seconds \}/);
    assert.match(
      invalid({ name: "g", kind: "cooldown", apiVersion: 1, gate: () => ({ allow: true }), triggers: [] })
        .message,
      /triggers: must be a non-empty list/,
    );
  });
});

Deno.test("validatePluginOptions runs the plugin's Standard Schema", async (t) => {
  const plugin = {
    name: "opts",
    kind: "filter",
    apiVersion: 1,
    options: z.object({
      patterns: z.array(z.string()).min(1),
      mode: z.enum(["drop", "mask"]).default("drop"),
    }),
    check: pass,
  } as Plugin;

  await t.step("valid options come back parsed with defaults", async () => {
    assert.deepEqual(await validatePluginOptions(plugin, SRC, { patterns: ["a"] }), {
      patterns: ["a"],
      mode: "drop",
    });
  });

  await t.step("invalid options name the plugin, the source and each option", async () => {
    await assert.rejects(
      () => validatePluginOptions(plugin, SRC, { patterns: [], mode: "shout" }),
      (err: unknown) => {
        assert.ok(isClankError(err, "PLUGIN_INVALID"));
        assert.match(
          err.message,
          /^Plugin "opts" \(plugins\.d\/x\.ts\): options\.patterns: .*; options\.mode: /,
        );
        return true;
      },
    );
  });

  await t.step("without a schema the raw options pass through", async () => {
    const bare = { name: "bare", kind: "filter", apiVersion: 1, check: pass } as Plugin;
    assert.deepEqual(await validatePluginOptions(bare, SRC, { any: 1 }), { any: 1 });
  });

  await t.step("an async validator is awaited", async () => {
    const asyncPlugin = {
      ...plugin,
      options: {
        "~standard": {
          version: 1,
          vendor: "test",
          validate: (v: unknown) =>
            Promise.resolve({ issues: [{ message: `bad ${JSON.stringify(v)}`, path: [{ key: "k" }] }] }),
        },
      },
    } as Plugin;
    await assert.rejects(
      () => validatePluginOptions(asyncPlugin, SRC, { k: 1 }),
      /options\.k: bad \{"k":1\}/,
    );
  });
});
