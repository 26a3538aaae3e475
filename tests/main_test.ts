/**
 * `main.ts` as a user runs it: the demo fallback with nothing configured, exit code 2 for a bad
 * config, `--help`, and a real start against the fakes that becomes ready and stops cleanly on
 * SIGTERM.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { startFakeTwitch } from "./fakes/fake_twitch.ts";
import { startFakeOllama } from "./fakes/fake_ollama.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const SAMPLE = new URL("../examples/sample_chat.log", import.meta.url).pathname;
/** Exactly the flags of `deno task start`, so these tests prove they are enough (and no -A). */
const START_TASK: string =
  JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url))).tasks.start;
const FLAGS = [
  "run",
  // The task first caches the locked dependencies (`deno install --frozen`), then runs the bot.
  ...START_TASK.split(" && ").at(-1)!.replace(/^deno run /, "").replace(/ main\.ts$/, "").split(" "),
];

/** A clean environment: no variable of the user's shell leaks into the bot. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const keep = ["PATH", "HOME", "DENO_DIR", "TMPDIR"];
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const k of keep) {
    const v = Deno.env.get(k);
    if (v !== undefined) env[k] = v;
  }
  return { ...env, ...extra };
}

async function run(args: string[], cwd: string, env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...FLAGS, MAIN, ...args],
    cwd,
    env: cleanEnv(env),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

function assertNoStackTrace(text: string): void {
  assert(!/^\s+at .+:\d+:\d+\)?$/m.test(text), `a stack trace was printed:\n${text}`);
}

Deno.test("deno task start uses no blanket permission", () => {
  assert(!FLAGS.includes("-A") && !FLAGS.includes("--allow-all"), START_TASK);
  assert(START_TASK.endsWith(" main.ts"), START_TASK);
});

Deno.test("main.ts with nothing configured says what it lacks and falls back to the offline demo", async () => {
  const cwd = await Deno.makeTempDir();
  try {
    const r = await run([], cwd, { OLLAMA_URL: "http://127.0.0.1:9" });
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stdout, /No channels configured/);
    assertMatch(
      r.stdout,
      /Ollama is not reachable at http:\/\/127\.0\.0\.1:9: replaying with the offline Markov generator/,
    );
    assertMatch(r.stdout, /mention from riverotter → would say: @riverotter /);
    assertMatch(r.stdout, /mention from riverotter → skipped \(cooldown: user_cooldown\)/);
    assertMatch(r.stdout, /Replay done: \d+ line\(s\)/);
    assertNoStackTrace(r.stdout + r.stderr);
    // A first run shows the bot working, not warnings about its own sample log or its dependencies.
    assert(
      !/WARN\s+replay|line skipped/.test(r.stdout + r.stderr),
      `the sample log has a bad line:\n${r.stdout}`,
    );
    assert(
      !/DeprecationWarning/.test(r.stderr),
      `a dependency's deprecation warning reached the user:\n${r.stderr}`,
    );
    // The demo never writes a database into the user's directory.
    assertEquals([...Deno.readDirSync(cwd)].length, 0);
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("main.ts rejects a bad config with exit code 2 and one line per problem", async (t) => {
  const cwd = await Deno.makeTempDir();
  try {
    await t.step("file and environment problems, secrets hidden", async () => {
      await Deno.writeTextFile(`${cwd}/config.toml`, "[defaults]\nthreshold = 500\n");
      const r = await run([], cwd, { LOG_FORMAT: "xml", TWITCH_OAUTH_TOKEN: "oauth:leakme123" });
      assertEquals(r.code, 2);
      assertMatch(r.stderr, /defaults\.threshold: 500 is out of range 5\.\.200/);
      assertMatch(r.stderr, /log\.format \(LOG_FORMAT\): "xml" must be console or json/);
      assert(!r.stderr.includes("leakme123"));
      assertNoStackTrace(r.stderr);
    });
    await t.step("a plugin entry or a generator that names nothing is a typo: exit 2 at start", async () => {
      await Deno.writeTextFile(
        `${cwd}/config.toml`,
        '[[plugins]]\nname = "ollamaa"\n[defaults]\ngenerator = "markovv"\n',
      );
      const r = await run(["--replay", SAMPLE], cwd, { OLLAMA_URL: "http://127.0.0.1:9" });
      assertEquals(r.code, 2, r.stdout + r.stderr);
      assertMatch(r.stderr, /\[\[plugins\]\] entry "ollamaa" names no built-in and no file in plugins_dir/);
      assertMatch(r.stderr, /defaults\.generator: "markovv" is not a loaded generator; loaded: .*markov/);
      assertNoStackTrace(r.stderr);
      await Deno.remove(`${cwd}/config.toml`);
    });
    await t.step("unknown flags name the allowed ones", async () => {
      const r = await run(["--confg", "x"], cwd);
      assertEquals(r.code, 2);
      assertMatch(r.stderr, /Unknown option --confg .*allowed: --config/);
    });
    await t.step("--help", async () => {
      const r = await run(["--help"], cwd);
      assertEquals(r.code, 0);
      assertMatch(r.stdout, /Usage: deno task start/);
    });
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("main.ts runs against Twitch and Ollama, becomes ready, reloads on SIGHUP and stops cleanly on SIGTERM", async () => {
  const cwd = await Deno.makeTempDir();
  const twitch = await startFakeTwitch();
  const ollama = await startFakeOllama();
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = new Deno.Command(Deno.execPath(), {
    args: [...FLAGS, MAIN],
    cwd,
    clearEnv: true,
    env: cleanEnv({
      TWITCH_CHANNELS: "alpha",
      TWITCH_IRC_URL: twitch.url,
      OLLAMA_URL: ollama.url,
      HTTP_LISTEN: `127.0.0.1:${port}`,
      LOG_FORMAT: "json",
    }),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let logs = "";
  const stderr = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) logs += chunk;
  })();
  const stdout = new Response(child.stdout).text();
  try {
    let ready = 0;
    for (let i = 0; i < 200 && ready !== 200; i++) {
      ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(async (
        r,
      ) => (await r.body?.cancel(), r.status))
        .catch(() => 0);
      if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assertEquals(ready, 200, "the bot never became ready");
    // SIGHUP reloads config and plugins without leaving chat.
    child.kill("SIGHUP");
    await twitch.waitFor(() => logs.includes("Reloaded config and plugins"), 10_000, "the SIGHUP reload");
    assertEquals(twitch.connectionCount, 1);
    child.kill("SIGTERM");
    const status = await child.status;
    await stderr;
    assertEquals(status.code, 0, logs);
    assertMatch(logs, /observe mode/);
    assertMatch(logs, /"msg":"Stopped"/);
    // Graceful: the channel was parted before the connection closed.
    await twitch.waitFor(() => twitch.parts.some((p) => p.channel === "alpha"), 2000, "a PART");
    await stdout;
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
    await twitch.close();
    await ollama.close();
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("main.ts command line: -h, -v, subcommand help and bad arguments exit before anything starts", async (t) => {
  const cwd = await Deno.makeTempDir();
  // Should anything start after all, it finds neither Twitch nor a control plane.
  const env = { TWITCH_IRC_URL: "ws://127.0.0.1:9", HTTP_LISTEN: "", OLLAMA_URL: "http://127.0.0.1:9" };
  try {
    await t.step("-h prints the usage, even after other options; -v the version", async () => {
      const h = await run(["--config", "none.toml", "-h"], cwd, env);
      assertEquals(h.code, 0, h.stderr);
      assertMatch(h.stdout, /Usage: deno task start/);
      const v = await run(["-v"], cwd, env);
      assertEquals(v.code, 0, v.stderr);
      assertMatch(v.stdout, /^clank \d+\.\d+\.\d+/);
    });
    await t.step("a subcommand's --help is its own usage", async () => {
      const r = await run(["backup", "--help"], cwd, env);
      assertEquals(r.code, 0, r.stderr);
      assertMatch(r.stdout, /Usage: deno task backup/);
      assert(!r.stdout.includes("--replay"), r.stdout);
    });
    await t.step(
      "unknown single-dash options and stray arguments exit 2 naming what is allowed",
      async () => {
        for (
          const [args, message] of [
            [["-c", "config.toml"], /Unknown option -c for "run"; allowed: .*--config/],
            [["healthcheck", "extra"], /Unexpected argument "extra" for "healthcheck"/],
            [["--config="], /Option --config needs a value \(--config PATH\)/],
          ] as const
        ) {
          const r = await run([...args], cwd, env);
          assertEquals(r.code, 2, r.stdout + r.stderr);
          assertMatch(r.stderr, message);
          assertNoStackTrace(r.stderr);
        }
        assertEquals([...Deno.readDirSync(cwd)].length, 0);
      },
    );
    await t.step("--channel must be a Twitch login", async () => {
      for (const channel of ["", "Bad!Name #x", "a".repeat(26)]) {
        const r = await run(["--replay", SAMPLE, "--channel", channel], cwd, env);
        assertEquals(r.code, 2, r.stdout + r.stderr);
        assertMatch(r.stderr, /--channel|needs a value/);
        assertNoStackTrace(r.stderr);
      }
      const r = await run(["--replay", SAMPLE, "--channel", "Bad!Name #x"], cwd, env);
      assertMatch(
        r.stderr,
        /--channel: "Bad!Name #x" must be a Twitch login: 1-25 letters, digits or underscores/,
      );
    });
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("main.ts never prints or uses a URL's password as a path, and a bad %-escape is a config error", async (t) => {
  const cwd = await Deno.makeTempDir();
  const mysqlUrl = "mysql://clank:S3cretPass@db:3306/clank";
  const env = { TWITCH_IRC_URL: "ws://127.0.0.1:9", HTTP_LISTEN: "", OLLAMA_URL: "http://127.0.0.1:9" };
  try {
    await t.step(
      "backup, backup --restore and migrate-db with a mysql:// URL but DATABASE_TYPE sqlite",
      async () => {
        await Deno.mkdir(`${cwd}/bk`);
        for (
          const args of [["backup"], ["backup", "--restore", "bk/one.db"], ["migrate-db", "--to", mysqlUrl]]
        ) {
          const r = await run(args, cwd, { ...env, DATABASE_URL: mysqlUrl });
          assertEquals(r.code, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
          assertMatch(r.stderr, /DATABASE_URL is a mysql:\/\/ URL but DATABASE_TYPE is sqlite/);
          assert(!(r.stdout + r.stderr).includes("S3cretPass"), r.stdout + r.stderr);
          assertNoStackTrace(r.stderr);
        }
        assertEquals([...Deno.readDirSync(cwd)].map((e) => e.name), ["bk"]);
      },
    );
    await t.step("a malformed %-escape in a URL's password names the setting, exit 2", async () => {
      const cases: Array<[string[], Record<string, string>, RegExp]> = [
        [[], { TWITCH_CHANNELS: "x", OLLAMA_URL: "http://u:p%zzsecret@127.0.0.1:1" }, /OLLAMA_URL/],
        [[], {
          TWITCH_CHANNELS: "x",
          DATABASE_TYPE: "mysql",
          DATABASE_URL: "mysql://u:p%zzsecret@127.0.0.1:1/db",
        }, /DATABASE_URL/],
        [
          ["migrate-db", "--to", "mysql://u:p%zzsecret@127.0.0.1:1/db"],
          { DATABASE_URL: `${cwd}/x.db` },
          /--to/,
        ],
      ];
      for (const [args, extra, key] of cases) {
        const r = await run(args, cwd, { ...env, ...extra });
        assertEquals(r.code, 2, r.stdout + r.stderr);
        assertMatch(r.stderr, key);
        assertMatch(r.stderr, /malformed %-escape/);
        assert(!(r.stdout + r.stderr).includes("secret"), r.stdout + r.stderr);
        assert(!/URIError/.test(r.stderr), r.stderr);
        assertNoStackTrace(r.stderr);
      }
    });
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("main.ts replay: no advice about joining Twitch, and an explicit LOG_LEVEL is honoured", async (t) => {
  const cwd = await Deno.makeTempDir();
  const env = { HTTP_LISTEN: "", OLLAMA_URL: "http://127.0.0.1:9" };
  try {
    await t.step("with a token configured, a replay does not claim it joins anonymously", async () => {
      const r = await run(["--replay", SAMPLE], cwd, {
        ...env,
        TWITCH_BOT_USERNAME: "clankbot",
        TWITCH_OAUTH_TOKEN: "oauth:abcdefghijklmnopqrstuvwxyz0123",
      });
      assertEquals(r.code, 0, r.stderr);
      assert(
        !/No Twitch token|anonymously|TWITCH_OAUTH_TOKEN/.test(r.stdout + r.stderr),
        r.stdout + r.stderr,
      );
      assertMatch(r.stdout, /Replay done/);
    });
    await t.step("the demo starts with what it does, not with warnings", async () => {
      const r = await run([], cwd, env);
      assertEquals(r.code, 0, r.stderr);
      assert(!/WARN|anonymously/.test(r.stdout + r.stderr), r.stdout + r.stderr);
      assertMatch(r.stdout.split("\n")[0]!, /^No channels configured/);
    });
    await t.step("LOG_LEVEL=debug shows debug lines; the default stays quiet", async () => {
      const debug = await run(["--replay", SAMPLE], cwd, { ...env, LOG_LEVEL: "debug" });
      assertEquals(debug.code, 0, debug.stderr);
      assertMatch(debug.stdout + debug.stderr, /DEBUG/);
      const quiet = await run(["--replay", SAMPLE], cwd, env);
      assert(!/DEBUG|INFO/.test(quiet.stdout + quiet.stderr), quiet.stdout + quiet.stderr);
    });
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("main.ts reads .env from the working directory; the real environment wins", async () => {
  const cwd = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${cwd}/.env`, "LOG_FORMAT=xml\nOLLAMA_TIMEOUT=5000\n");
    const r = await run([], cwd, { OLLAMA_TIMEOUT: "10" });
    assertEquals(r.code, 2);
    // From .env: LOG_FORMAT is checked; from the shell: OLLAMA_TIMEOUT=10 overrides the file's 5000.
    assertMatch(r.stderr, /log\.format \(LOG_FORMAT\): "xml" must be console or json/);
    assert(!r.stderr.includes("5000"), r.stderr);
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("main.ts backup subcommand: backup and restore from the command line", async () => {
  const cwd = await Deno.makeTempDir();
  try {
    const env = { DATABASE_URL: `${cwd}/chatbot.db` };
    // A bot run creates the database; the demo replay uses memory, so make one with a backup of nothing.
    const first = await run(["backup", "--out", `${cwd}/none.db`], cwd, env);
    assertNoStackTrace(first.stdout + first.stderr);
    const bad = await run(["backup", "--restore", `${cwd}/missing.db`], cwd, env);
    assert(bad.code !== 0, "restoring a missing file succeeded");
    assertMatch(bad.stdout + bad.stderr, /missing\.db/);
    assertNoStackTrace(bad.stdout + bad.stderr);
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

/** A port nothing listens on right now (the OS picks it; the bot binds it next). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "0.0.0.0", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test("main.ts healthcheck (the Docker HEALTHCHECK) answers for the running bot, and says why once it stopped", async (t) => {
  const cwd = await Deno.makeTempDir();
  const twitch = await startFakeTwitch();
  const ollama = await startFakeOllama();
  const port = freePort();
  // As in the container: the control plane listens on every interface, so it needs a token.
  const env = {
    TWITCH_CHANNELS: "alpha",
    TWITCH_IRC_URL: twitch.url,
    OLLAMA_URL: ollama.url,
    HTTP_LISTEN: `0.0.0.0:${port}`,
    CONTROL_TOKEN: "healthcheck-test-token-0123456789",
    LOG_FORMAT: "json",
  };
  const child = new Deno.Command(Deno.execPath(), {
    args: [...FLAGS, MAIN],
    cwd,
    clearEnv: true,
    env: cleanEnv(env),
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let logs = "";
  const stderr = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) logs += chunk;
  })();
  try {
    await twitch.waitFor(() => logs.includes("Control plane listening"), 20_000, "the control plane");

    await t.step(
      "exit 0 with the bot's own environment: HTTP_LISTEN=0.0.0.0:PORT is probed on loopback",
      async () => {
        const r = await run(["healthcheck"], cwd, env);
        assertEquals(r.code, 0, r.stderr);
        assertEquals(r.stderr, "");
      },
    );

    await t.step("exit 0 with HTTP_LISTEN=127.0.0.1:PORT", async () => {
      const r = await run(["healthcheck"], cwd, { ...env, HTTP_LISTEN: `127.0.0.1:${port}` });
      assertEquals(r.code, 0, r.stderr);
    });

    await t.step("after the bot stopped: exit 1 and one line naming the URL it asked", async () => {
      child.kill("SIGTERM");
      assertEquals((await child.status).code, 0, logs);
      const r = await run(["healthcheck"], cwd, env);
      assertEquals(r.code, 1, r.stderr);
      const lines = r.stderr.trimEnd().split("\n");
      assertEquals(lines.length, 1, r.stderr);
      // The reason, not just "fetch failed": nothing listens on the port any more.
      assertMatch(
        lines[0]!,
        new RegExp(
          `^healthcheck: http://127\\.0\\.0\\.1:${port}/healthz did not answer: .*connection refused`,
          "i",
        ),
      );
      assertNoStackTrace(r.stdout + r.stderr);
    });

    await t.step("exit 1 when something else answers /healthz with an error", async () => {
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        () => new Response("down", { status: 503 }),
      );
      try {
        const r = await run(["healthcheck"], cwd, { ...env, HTTP_LISTEN: `127.0.0.1:${server.addr.port}` });
        assertEquals(r.code, 1);
        assertEquals(
          r.stderr.trim(),
          `healthcheck: http://127.0.0.1:${server.addr.port}/healthz answered 503`,
        );
      } finally {
        await server.shutdown();
      }
    });

    await t.step("with the control plane disabled: exit 1 and why", async () => {
      // In the config file: an empty HTTP_LISTEN in the environment counts as unset.
      await Deno.writeTextFile(`${cwd}/no_http.toml`, '[http]\nlisten = ""\n');
      const { HTTP_LISTEN: _, ...rest } = env;
      const r = await run(["healthcheck", "--config", `${cwd}/no_http.toml`], cwd, rest);
      assertEquals(r.code, 1);
      assertEquals(r.stderr.trim(), "healthcheck: HTTP_LISTEN is empty, so there is no /healthz to ask");
    });
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
    await stderr;
    await twitch.close();
    await ollama.close();
    await Deno.remove(cwd, { recursive: true });
  }
});
