import { assert, assertEquals, assertMatch, rejects } from "./assert.ts";
import { loadConfig } from "../core/config_load.ts";
import { isClankError } from "../core/errors.ts";

function envOf(map: Record<string, string>) {
  return (name: string) => map[name];
}

async function problemsOf(promise: Promise<unknown>): Promise<string[]> {
  try {
    await promise;
  } catch (err) {
    assert(isClankError(err, "CONFIG_INVALID"), `expected CONFIG_INVALID, got ${err}`);
    return (err.details?.problems as string[]) ?? [];
  }
  throw new Error("expected loadConfig to fail");
}

Deno.test("loadConfig reads defaults, the TOML file and env overrides", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    await t.step("defaults with no file and no env", async () => {
      const { config, file } = await loadConfig({ env: envOf({}), cwd: dir });
      assertEquals(file, null);
      assertEquals(config.defaults.threshold, 30);
      assertEquals(config.defaults.spontaneous, 300);
      assertEquals(config.defaults.response, 60);
      assertEquals(config.defaults.context, 200);
      assertEquals(config.ollama.url, "http://localhost:11434");
      assertEquals(config.ollama.model, "llama3.1");
      assertEquals(config.ollama.timeout, 30);
      assertEquals(config.database.url, "./data/chatbot.db");
      assertEquals(config.twitch.irc_url, "wss://irc-ws.chat.twitch.tv:443");
    });

    await t.step("./config.toml is used when present and env overrides it", async () => {
      await Deno.writeTextFile(
        `${dir}/config.toml`,
        `[twitch]\nchannels = ["#One", "two"]\n[defaults]\nthreshold = 40\n[ollama]\nmodel = "qwen2.5"\n`,
      );
      const { config, file, envUsed } = await loadConfig({
        env: envOf({ OLLAMA_MODEL: "mistral", TWITCH_CHANNELS: "a, b ,c", CONTENT_FILTER_ENABLED: "no" }),
        cwd: dir,
      });
      assertEquals(file, `${dir}/config.toml`);
      assertEquals(config.twitch.channels, ["a", "b", "c"]);
      assertEquals(config.defaults.threshold, 40);
      assertEquals(config.ollama.model, "mistral");
      assertEquals(config.filter.enabled, false);
      assertEquals(envUsed.sort(), ["CONTENT_FILTER_ENABLED", "OLLAMA_MODEL", "TWITCH_CHANNELS"]);
    });

    await t.step("every public env variable maps onto the config", async () => {
      const { config } = await loadConfig({
        cwd: dir,
        env: envOf({
          TWITCH_BOT_USERNAME: "ClankBot",
          TWITCH_OAUTH_TOKEN: "oauth:abc123",
          TWITCH_CHANNELS: "x",
          TWITCH_IRC_URL: "ws://127.0.0.1:9999",
          TWITCH_CLIENT_ID: "cid",
          TWITCH_CLIENT_SECRET: "csecret",
          OLLAMA_URL: "http://127.0.0.1:1",
          OLLAMA_MODEL: "m",
          OLLAMA_TIMEOUT: "12",
          DATABASE_TYPE: "mysql",
          DATABASE_URL: "mysql://root@127.0.0.1:3306/test",
          HTTP_LISTEN: "127.0.0.1:0",
          CONTROL_TOKEN: "tok-0123456789abcdef",
          CONTENT_FILTER_ENABLED: "true",
          BLOCKED_WORDS_FILE: "/tmp/words.txt",
          LOG_LEVEL: "debug",
          LOG_FORMAT: "json",
        }),
      });
      assertEquals(config.twitch.username, "clankbot");
      assertEquals(config.twitch.oauth_token, "oauth:abc123");
      assertEquals(config.twitch.irc_url, "ws://127.0.0.1:9999");
      assertEquals(config.twitch.client_id, "cid");
      assertEquals(config.twitch.client_secret, "csecret");
      assertEquals(config.ollama.timeout, 12);
      assertEquals(config.database.type, "mysql");
      assertEquals(config.http.listen, "127.0.0.1:0");
      assertEquals(config.http.control_token, "tok-0123456789abcdef");
      assertEquals(config.filter.blocked_words_file, "/tmp/words.txt");
      assertEquals(config.log.level, "debug");
      assertEquals(config.log.format, "json");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadConfig reports every problem with key, value and what is allowed", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    await t.step("out of range values name the range", async () => {
      await Deno.writeTextFile(`${dir}/bad.toml`, `[defaults]\nthreshold = 500\ncontext = 10\n`);
      const problems = await problemsOf(loadConfig({ path: `${dir}/bad.toml`, env: envOf({}) }));
      assertEquals(problems, [
        "defaults.threshold: 500 is out of range 5..200",
        "defaults.context: 10 is out of range 50..500",
      ]);
    });

    await t.step("env values are checked and named by variable", async () => {
      const problems = await problemsOf(
        loadConfig({
          cwd: dir,
          env: envOf({ OLLAMA_TIMEOUT: "soon", LOG_FORMAT: "xml", CONTENT_FILTER_ENABLED: "maybe" }),
        }),
      );
      assertEquals(problems.length, 3);
      assertMatch(problems[0]!, /^OLLAMA_TIMEOUT: "soon" must be a number$/);
      assertMatch(problems[1]!, /^CONTENT_FILTER_ENABLED: "maybe" must be true or false/);
      assertMatch(problems[2]!, /^log\.format \(LOG_FORMAT\): "xml" must be console or json$/);
    });

    await t.step("unknown keys are named", async () => {
      await Deno.writeTextFile(`${dir}/unknown.toml`, `treshold = 3\n[ollama]\nmodle = "x"\n`);
      const problems = await problemsOf(loadConfig({ path: `${dir}/unknown.toml`, env: envOf({}) }));
      assert(problems.some((p) => p.startsWith('top level: unknown key "treshold"')), problems.join("\n"));
      assert(problems.some((p) => p.startsWith('ollama: unknown key "modle"')), problems.join("\n"));
    });

    await t.step("secrets are never echoed", async () => {
      const problems = await problemsOf(
        loadConfig({ cwd: dir, env: envOf({ TWITCH_OAUTH_TOKEN: "oauth:supersecret", LOG_LEVEL: "loud" }) }),
      );
      assert(!problems.join("\n").includes("supersecret"));
      await Deno.writeTextFile(`${dir}/secret.toml`, `[http]\ncontrol_token = 12345678\n`);
      const p2 = await problemsOf(loadConfig({ path: `${dir}/secret.toml`, env: envOf({}) }));
      assertEquals(p2, [
        "http.control_token (CONTROL_TOKEN): (secret value hidden) Invalid input: expected string, received number",
      ]);
    });

    await t.step("a password inside a URL is masked, whatever the key", async () => {
      const problems = await problemsOf(
        loadConfig({ cwd: dir, env: envOf({ OLLAMA_URL: "ftp://bob:hunter2pw@ollama.lan:11434" }) }),
      );
      assertEquals(problems.length, 1);
      assert(!problems[0]!.includes("hunter2pw"), problems[0]);
      assertMatch(problems[0]!, /^ollama\.url \(OLLAMA_URL\): "ftp:\/\/bob:\*\*\*@ollama\.lan:11434" /);
    });

    await t.step("a control plane beyond loopback without a token is a config problem (exit 2)", async () => {
      const problems = await problemsOf(
        loadConfig({ cwd: dir, env: envOf({ HTTP_LISTEN: "0.0.0.0:8080" }) }),
      );
      assertEquals(problems, [
        'http.listen (HTTP_LISTEN): "0.0.0.0:8080" is not a loopback address: set CONTROL_TOKEN ' +
        "(http.control_token) to expose the control plane, or listen on 127.0.0.1",
      ]);
      const ok = await loadConfig({
        cwd: dir,
        env: envOf({ HTTP_LISTEN: "0.0.0.0:8080", CONTROL_TOKEN: "a-long-enough-control-token-123" }),
      });
      assertEquals(ok.config.http.listen, "0.0.0.0:8080");
      const local = await loadConfig({ cwd: dir, env: envOf({ HTTP_LISTEN: "[::1]:8080" }) });
      assertEquals(local.config.http.listen, "[::1]:8080");
    });

    await t.step("a malformed listen address gets one problem, not a loopback complaint too", async () => {
      for (const listen of ["bad", "127.0.0.1:99999", "1.2.3.999:80", "[:::]:80"]) {
        const problems = await problemsOf(loadConfig({ cwd: dir, env: envOf({ HTTP_LISTEN: listen }) }));
        assertEquals(problems.length, 1, `${listen}: ${problems.join("; ")}`);
        assertMatch(problems[0]!, /^http\.listen \(HTTP_LISTEN\): ".*" must be host:port /);
      }
    });

    await t.step("a bad item of a list variable names the variable", async () => {
      const problems = await problemsOf(
        loadConfig({ cwd: dir, env: envOf({ TWITCH_CHANNELS: "good,bad channel!" }) }),
      );
      assertEquals(problems.length, 1);
      assertMatch(problems[0]!, /^twitch\.channels\.1 \(TWITCH_CHANNELS\): "bad channel!" /);
    });

    await t.step("a control token no client could send is a config problem, never echoed", async () => {
      const cases: Array<[string, RegExp]> = [
        [
          "correct horse battery staple",
          /must not contain whitespace \(it is sent in an Authorization header\); use letters, digits and -\._~\+\/=/,
        ],
        ["tok-0123\t456789abcdef", /must not contain whitespace/],
        ["   ", /is only whitespace; leave CONTROL_TOKEN empty for no token, or set a token/],
        ["t\u00f8ken-0123456789abcdef", /visible ASCII/],
        ["short-token", /must be at least 16 characters/],
      ];
      for (const [token, message] of cases) {
        for (const source of ["env", "file"]) {
          const problems = source === "env"
            ? await problemsOf(loadConfig({ cwd: dir, env: envOf({ CONTROL_TOKEN: token }) }))
            : await (async () => {
              await Deno.writeTextFile(
                `${dir}/tok.toml`,
                `[http]\ncontrol_token = ${JSON.stringify(token)}\n`,
              );
              return await problemsOf(loadConfig({ path: `${dir}/tok.toml`, env: envOf({}) }));
            })();
          assertEquals(problems.length, 1, `${source} ${JSON.stringify(token)}: ${problems.join("; ")}`);
          assertMatch(problems[0]!, /^http\.control_token \(CONTROL_TOKEN\): \(secret value hidden\) /);
          assertMatch(problems[0]!, message);
          if (token.trim() !== "") assert(!problems[0]!.includes(token.trim()), problems[0]);
        }
      }
    });

    await t.step("a whitespace-only token does not count as a token for a non-loopback address", async () => {
      const problems = await problemsOf(
        loadConfig({ cwd: dir, env: envOf({ HTTP_LISTEN: "0.0.0.0:8080", CONTROL_TOKEN: " \n" }) }),
      );
      assert(
        problems.some((p) =>
          p.startsWith("http.control_token (CONTROL_TOKEN): (secret value hidden) is only whitespace")
        ),
        problems.join("\n"),
      );
    });

    await t.step("the surrounding whitespace of a token (a secrets file's newline) is trimmed", async () => {
      const { config } = await loadConfig({
        cwd: dir,
        env: envOf({ CONTROL_TOKEN: "tok-0123456789abcdef\n", HTTP_LISTEN: "0.0.0.0:8080" }),
      });
      assertEquals(config.http.control_token, "tok-0123456789abcdef");
      await Deno.writeTextFile(`${dir}/tok.toml`, `[http]\ncontrol_token = "  tok-0123456789abcdef\\r\\n"\n`);
      const fromFile = await loadConfig({ path: `${dir}/tok.toml`, env: envOf({}) });
      assertEquals(fromFile.config.http.control_token, "tok-0123456789abcdef");
    });

    await t.step("admins and bots take friendly login forms and reject the rest", async () => {
      await Deno.writeTextFile(
        `${dir}/users.toml`,
        `[twitch]\nadmins = ["@Trusted", " trusted_2 ", "#Third"]\nbots = ["@NightBot", "other_bot"]\n`,
      );
      const { config } = await loadConfig({ path: `${dir}/users.toml`, env: envOf({}) });
      assertEquals(config.twitch.admins, ["trusted", "trusted_2", "third"]);
      assertEquals(config.twitch.bots, ["nightbot", "other_bot"]);

      await Deno.writeTextFile(
        `${dir}/users.toml`,
        `[twitch]\nadmins = ["not a login!", "@@twice", ""]\nbots = ["ok", "${"x".repeat(26)}"]\n`,
      );
      const problems = await problemsOf(loadConfig({ path: `${dir}/users.toml`, env: envOf({}) }));
      const allowed = "must be a Twitch login: 1-25 letters, digits or underscores";
      assertEquals(problems, [
        `twitch.bots.1: "${"x".repeat(26)}" ${allowed}`,
        `twitch.admins.0: "not a login!" ${allowed}`,
        `twitch.admins.1: "@@twice" ${allowed}`,
        `twitch.admins.2: "" ${allowed}`,
      ]);
    });

    await t.step(
      "a ./config.toml that exists but cannot be read is an error, not silently skipped",
      async () => {
        const sub = `${dir}/unreadable`;
        await Deno.mkdir(`${sub}/config.toml`, { recursive: true });
        await rejects(() => loadConfig({ env: envOf({}), cwd: sub }), Error, "config.toml cannot be read");
      },
    );

    await t.step("per-channel tables are keyed by login, whatever the case or a leading #", async () => {
      await Deno.writeTextFile(
        `${dir}/chan.toml`,
        `[channels.SomeStreamer]\nmax_length = 20\n[channels."#Other"]\nthreshold = 40\n`,
      );
      const { config } = await loadConfig({ path: `${dir}/chan.toml`, env: envOf({}) });
      assertEquals(Object.keys(config.channels).sort(), ["other", "somestreamer"]);
      await Deno.writeTextFile(`${dir}/chan2.toml`, `[channels."bad name!"]\n[channels.A]\n[channels.a]\n`);
      const problems = await problemsOf(loadConfig({ path: `${dir}/chan2.toml`, env: envOf({}) }));
      assertMatch(problems.join("\n"), /channels\.bad name!.*is not a Twitch login/);
      assertMatch(problems.join("\n"), /channels\.a.*names the same channel as \[channels\.A\]/);
    });

    await t.step("broken TOML names the file", async () => {
      await Deno.writeTextFile(`${dir}/broken.toml`, `[twitch\nchannels = 3`);
      const problems = await problemsOf(loadConfig({ path: `${dir}/broken.toml`, env: envOf({}) }));
      assertMatch(problems[0]!, /broken\.toml: not valid TOML: .* \(line \d+, column \d+\)$/);
    });

    await t.step("a missing --config file is its own error", async () => {
      await rejects(() => loadConfig({ path: `${dir}/nope.toml`, env: envOf({}) }), Error, "does not exist");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
