import fc from "fast-check";
import { assertEquals } from "./assert.ts";
import { loadDotEnv, parseDotEnv } from "../core/dotenv.ts";

/** Writes `value` as a double-quoted `.env` value, escaping what the parser unescapes. */
function quote(value: string): string {
  const escapes: Record<string, string> = { "\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t" };
  return `"${value.replace(/[\\"\n\r\t]/g, (c) => escapes[c]!)}"`;
}

Deno.test("parseDotEnv reads KEY=value lines", async (t) => {
  await t.step("comments, export, quotes, trailing comments", () => {
    const { vars, problems } = parseDotEnv(
      [
        "# comment",
        "TWITCH_CHANNELS=a,b",
        "export OLLAMA_MODEL = llama3.1 # the model",
        'PERSONA="line one\\nline two"',
        "SINGLE='keep # this'",
        "EMPTY=",
        "not a line",
        'BAD="unterminated',
      ].join("\n"),
    );
    assertEquals(vars, {
      TWITCH_CHANNELS: "a,b",
      OLLAMA_MODEL: "llama3.1",
      PERSONA: "line one\nline two",
      SINGLE: "keep # this",
      EMPTY: "",
    });
    assertEquals(problems, ["line 7: expected KEY=value", 'line 8: unterminated " quote for BAD']);
  });

  await t.step("escapes in double quotes are read in one pass: a \\\\ before n stays a backslash", () => {
    const { vars } = parseDotEnv(String.raw`A="C:\\new\\dir"` + "\n" + String.raw`B="tab\there \"q\" cr\r"`);
    assertEquals(vars, { A: String.raw`C:\new\dir`, B: 'tab\there "q" cr\r' });
  });

  await t.step("a quoted value ends at its closing quote; a comment after it may hold quotes", () => {
    const { vars, problems } = parseDotEnv(
      [
        'CONTROL_TOKEN="abc" # from "openssl rand"',
        "S='x' # it's 'quoted'",
        'E="quoted" # trailing comment with "quote"',
      ].join("\n"),
    );
    assertEquals(vars, { CONTROL_TOKEN: "abc", S: "x", E: "quoted" });
    assertEquals(problems, []);
  });

  await t.step("single quotes are literal; text after a closing quote is an error", () => {
    const { vars, problems } = parseDotEnv(["S='a\\nb'", 'T="a"b', "U='a'b"].join("\n"));
    assertEquals(vars, { S: String.raw`a\nb` });
    assertEquals(problems, [
      'line 2: unexpected text after the closing " quote for T (a comment needs a space before #)',
      "line 3: unexpected text after the closing ' quote for U (a comment needs a space before #)",
    ]);
  });

  await t.step("quoting then parsing gives back any string", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.boolean(), (value, comment) => {
        const line = `K=${quote(value)}${comment ? ' # note with "quotes" and \\ # marks' : ""}`;
        const { vars, problems } = parseDotEnv(line);
        assertEquals(problems, []);
        assertEquals(vars.K, value);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }).filter((s) => !/['\r\n]/.test(s)), (value) => {
        assertEquals(parseDotEnv(`K='${value}'`).vars.K, value);
      }),
    );
  });
});

Deno.test("loadDotEnv never overrides the real environment", async () => {
  const dir = await Deno.makeTempDir();
  try {
    Deno.env.set("CLANK_DOTENV_TEST_A", "from-shell");
    Deno.env.delete("CLANK_DOTENV_TEST_B");
    await Deno.writeTextFile(`${dir}/.env`, "CLANK_DOTENV_TEST_A=from-file\nCLANK_DOTENV_TEST_B=from-file\n");
    const r = await loadDotEnv(`${dir}/.env`);
    assertEquals(r.set, ["CLANK_DOTENV_TEST_B"]);
    assertEquals(Deno.env.get("CLANK_DOTENV_TEST_A"), "from-shell");
    assertEquals(Deno.env.get("CLANK_DOTENV_TEST_B"), "from-file");
    assertEquals(await loadDotEnv(`${dir}/missing.env`), { set: [], problems: [] });
  } finally {
    Deno.env.delete("CLANK_DOTENV_TEST_A");
    Deno.env.delete("CLANK_DOTENV_TEST_B");
    await Deno.remove(dir, { recursive: true });
  }
});
