import assert from "node:assert/strict";
import { z } from "zod";
import {
  collectConfigKeys,
  configDocsMarkdown,
  formatMarkdown,
  OTHER_ENV_VARS,
  renderConfigDocs,
} from "../core/config_docs.ts";
import { ENV_BINDINGS, intRange, numberRange, SECRET_PATHS } from "../core/config_schema.ts";
import { SECRET_KEY_ENV } from "../core/secret_key.ts";

const DOC_PATH = new URL("../docs/CONFIGURATION.md", import.meta.url);

Deno.test("renderConfigDocs matches the committed docs/CONFIGURATION.md", async () => {
  const generated = await renderConfigDocs();
  const committed = await Deno.readTextFile(DOC_PATH);
  if (generated !== committed) {
    const a = generated.split("\n");
    const b = committed.split("\n");
    const line = a.findIndex((l, i) => l !== b[i]);
    assert.fail(
      `docs/CONFIGURATION.md is out of date with core/config_schema.ts (first difference at line ${
        line + 1
      }:\n` +
        `  generated: ${JSON.stringify(a[line])}\n  committed: ${JSON.stringify(b[line])}).\n` +
        "Run `deno task docs:config` and commit the result.",
    );
  }
});

Deno.test("collectConfigKeys documents every key of ConfigSchema", async (t) => {
  const keys = collectConfigKeys();
  const paths = keys.map((k) => k.path);

  await t.step("every key has a description", () => {
    const missing = keys.filter((k) => k.description.trim() === "").map((k) => k.path);
    assert.deepEqual(missing, [], `add .describe("...") in core/config_schema.ts for: ${missing.join(", ")}`);
  });

  await t.step("every environment variable points at a documented key", () => {
    for (const binding of ENV_BINDINGS) {
      const key = keys.find((k) => k.path === binding.path.join("."));
      assert.ok(key, `${binding.env} maps to ${binding.path.join(".")}, which is not a key of the schema`);
      assert.equal(key.env?.env, binding.env);
    }
  });

  await t.step("every secret path is marked secret", () => {
    for (const path of SECRET_PATHS) {
      assert.equal(keys.find((k) => k.path === path)?.secret, true, path);
    }
  });

  await t.step("keys are unique and cover each section", () => {
    assert.equal(new Set(paths).size, paths.length);
    for (const expected of ["twitch.channels", "ollama.model", "database.url", "http.listen", "log.format"]) {
      assert.ok(paths.includes(expected), expected);
    }
    assert.ok(paths.some((p) => p.startsWith("defaults.")));
    assert.ok(paths.some((p) => p.startsWith("plugins[].permissions.")));
    assert.ok(paths.includes("channels.<name>"));
  });

  await t.step("the page has a heading for every key and a row for every variable", () => {
    const markdown = configDocsMarkdown();
    for (const path of paths) assert.ok(markdown.includes(`### \`${path}\``), path);
    for (const binding of ENV_BINDINGS) assert.ok(markdown.includes(`| \`${binding.env}\` |`), binding.env);
  });
});

/** Every `.ts` file under `dir`, as paths relative to the repository root. */
async function sourceFiles(root: URL, dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(new URL(dir, root))) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...await sourceFiles(root, rel));
    else if (entry.name.endsWith(".ts")) out.push(rel);
  }
  return out;
}

Deno.test("every environment variable the code reads is documented", async (t) => {
  const root = new URL("../", import.meta.url);
  const bound = new Set(ENV_BINDINGS.map((b) => b.env));
  const markdown = configDocsMarkdown();

  await t.step("the other variables have a row and a description, and bind no key", () => {
    assert.ok(OTHER_ENV_VARS.some((v) => v.env === SECRET_KEY_ENV), SECRET_KEY_ENV);
    for (const variable of OTHER_ENV_VARS) {
      assert.ok(!bound.has(variable.env), `${variable.env} is in ENV_BINDINGS too`);
      assert.ok(variable.description.trim().length > 0, variable.env);
      assert.ok(markdown.includes(`| \`${variable.env}\` |`), variable.env);
    }
    assert.ok(
      markdown.indexOf("## Other environment variables") > markdown.indexOf("## Environment variables"),
    );
  });

  await t.step("no source file reads a variable that is not documented", async () => {
    const documented = new Set([...bound, ...OTHER_ENV_VARS.map((v) => v.env)]);
    // Files that read variables by a name they are handed: the config loader (ENV_BINDINGS), the .env
    // loader (only whether a variable is set), the two readers of the secret key and main.ts, which
    // masks the password of migrate-db's target URL (MIGRATE_TO_ENV of core/migrate_db.ts).
    const byName: Record<string, RegExp> = {
      "main.ts": /\(MIGRATE_TO_ENV\)/,
      "core/config_load.ts": /ENV_BINDINGS/,
      "core/dotenv.ts": /Deno\.env\.set/,
      "core/token_manager.ts": /\(SECRET_KEY_ENV\)/,
      "core/auth_cli.ts": /\(SECRET_KEY_ENV\)/,
    };
    const files = ["main.ts"];
    for (const dir of ["core", "plugins", "commands", "filters"]) files.push(...await sourceFiles(root, dir));
    for (const file of files) {
      const text = await Deno.readTextFile(new URL(file, root));
      for (const [call, arg] of text.matchAll(/Deno\.env\.(?:get|toObject)\(([^)]*)\)/g)) {
        // A string literal, or a constant of the same file such as `const MIGRATE_TO_ENV = "MIGRATE_TO_URL"`.
        const constant = /^\s*([A-Z][A-Z0-9_]*)\s*$/.exec(arg!)?.[1];
        const literal = /^\s*["'`]([A-Za-z0-9_]+)["'`]\s*$/.exec(arg!)?.[1] ??
          (constant && new RegExp(`const ${constant}\\s*=\\s*"([A-Za-z0-9_]+)"`).exec(text)?.[1]);
        if (literal) {
          assert.ok(
            documented.has(literal),
            `${file} reads ${literal}: add it to OTHER_ENV_VARS or ENV_BINDINGS`,
          );
          continue;
        }
        const reason = byName[file];
        assert.ok(
          reason?.test(text),
          `${file}: ${call} reads a variable by a computed name; document what it reads in OTHER_ENV_VARS ` +
            "and list the file here",
        );
      }
    }
  });
});

Deno.test("collectConfigKeys reads types, defaults and ranges from the schema", async (t) => {
  const schema = z.object({
    count: intRange(2, 9).default(4).describe("A count."),
    ratio: numberRange(0, 1.5).default(0.5).describe("A ratio."),
    mode: z.enum(["fast", "slow"]).default("slow").describe("A mode."),
    endpoint: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }).default(
      "http://localhost:1",
    ).describe("An endpoint."),
    name: z.string().min(1).max(8).regex(/^[a-z]+$/, { error: "must be lower-case letters" }).optional()
      .describe("A name."),
    tags: z.array(z.string().max(5)).max(3).default(["a"]).describe("Tags."),
    section: z.object({ flag: z.boolean().default(false).describe("A flag.") }).prefault({}),
    items: z.array(z.object({ id: z.string().describe("An id.") })).default([]),
    per: z.record(z.string(), z.object({ x: z.number(), y: z.number() }).partial()).default({})
      .describe("Per-thing overrides."),
  });
  const keys = Object.fromEntries(collectConfigKeys(schema).map((k) => [k.path, k]));

  await t.step("nested objects, arrays of tables and records get their own paths", () => {
    assert.deepEqual(Object.keys(keys), [
      "count",
      "ratio",
      "mode",
      "endpoint",
      "name",
      "tags",
      "section.flag",
      "items[].id",
      "per.<name>",
    ]);
  });

  await t.step("numbers show their type, default and range", () => {
    assert.deepEqual(
      [keys.count?.type, keys.count?.default, keys.count?.allowed, keys.count?.description],
      ["integer", "4", "2..9", "A count."],
    );
    assert.deepEqual([keys.ratio?.type, keys.ratio?.default, keys.ratio?.allowed], [
      "number",
      "0.5",
      "0..1.5",
    ]);
  });

  await t.step("enums, URLs and patterned strings show what is allowed", () => {
    assert.equal(keys.mode?.allowed, "`fast`, `slow`");
    assert.equal(keys.mode?.default, '"slow"');
    assert.equal(keys.endpoint?.type, "URL");
    assert.equal(keys.endpoint?.allowed, "an http:// or https:// URL");
    assert.equal(keys.name?.default, null);
    assert.equal(keys.name?.allowed, "1-8 characters; lower-case letters");
  });

  await t.step("lists, booleans and records", () => {
    assert.deepEqual([keys.tags?.type, keys.tags?.default], ["list of strings", '["a"]']);
    assert.equal(keys.tags?.allowed, "each at most 5 characters; at most 3 items");
    assert.deepEqual([keys["section.flag"]?.type, keys["section.flag"]?.default], ["boolean", "false"]);
    assert.equal(keys["items[].id"]?.default, null);
    assert.equal(keys["per.<name>"]?.allowed, "any of the keys `x`, `y`");
    assert.equal(keys["per.<name>"]?.description, "Per-thing overrides.");
  });
});

Deno.test("formatMarkdown aligns tables as deno fmt does", async () => {
  const out = await formatMarkdown("# T\n\n| a | b |\n|---|---|\n| long cell | x |\n");
  assert.equal(out, "# T\n\n| a         | b |\n| --------- | - |\n| long cell | x |\n");
});
