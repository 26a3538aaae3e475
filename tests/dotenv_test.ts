import { assertEquals } from "./assert.ts";
import { loadDotEnv, parseDotEnv } from "../core/dotenv.ts";

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
