import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

// deno compile's progress lines and errors are coloured even with NO_COLOR in some versions.
// deno-lint-ignore no-control-regex
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

async function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
) {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => stripAnsi(new TextDecoder().decode(b));
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) } satisfies RunResult;
}

/** The `deno compile` arguments of `deno task compile`, with the output moved to `output`. */
async function compileArgs(output: string): Promise<string[]> {
  const deno = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const words = String(deno.tasks.compile).split(/\s+/);
  assert.deepEqual(words.slice(0, 2), ["deno", "compile"], "the compile task must be a plain deno compile");
  const args = words.slice(1);
  const o = args.indexOf("-o");
  assert.ok(o > 0 && args[o + 1] === "dist/clank", "the compile task must write dist/clank");
  args[o + 1] = output;
  // Type checking is `deno task check`'s job; the module graph is still resolved in full here.
  args.splice(1, 0, "--no-check");
  return args;
}

/**
 * True when compiling failed only because the Deno runtime for binaries (denort) could not be
 * downloaded, as on a machine without access to Deno's download server.
 */
function isDenortDownloadFailure(stderr: string): boolean {
  return /Setting up base binary/.test(stderr) && /denort/.test(stderr) &&
    /error sending request|dns error|failed to lookup|Connection refused|timed out|Failed downloading/i.test(
      stderr,
    );
}

/**
 * Whether `deno compile` can get its runtime, decided once before any test is registered: the
 * binary tests may be skipped only when denort cannot be had, and then they are reported as ignored
 * with the reason. Compiling a one-line module costs a second (and fetches denort once, into the
 * cache the real compile then uses).
 */
async function probeDenort(): Promise<{ available: true } | { available: false; reason: string }> {
  const dir = await Deno.makeTempDir({ prefix: "clank_denort_probe_" });
  try {
    await Deno.writeTextFile(`${dir}/probe.ts`, "console.log(1);\n");
    const probe = await run(Deno.execPath(), [
      "compile",
      "--no-check",
      "-o",
      `${dir}/probe`,
      `${dir}/probe.ts`,
    ], {
      cwd: dir,
    });
    // Any other failure is not a reason to skip: the real compile then fails and says why.
    if (probe.code === 0 || !isDenortDownloadFailure(probe.stderr)) return { available: true };
    const reason = probe.stderr.split("\n").map((l) => l.trim()).find((l) =>
      /error sending request|dns error|Failed downloading/i.test(l)
    );
    return { available: false, reason: reason?.replace(/^\d+: /, "") ?? "download failed" };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const DENORT = await probeDenort();

Deno.test("isDenortDownloadFailure recognises only the denort download error", () => {
  const offline = [
    "Compile file:///work/main/main.ts to clank",
    "Download https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip",
    "error: Writing deno compile executable to temporary file 'clank.tmp-1'",
    "Caused by:",
    "    0: Setting up base binary.",
    "    1: error sending request for url (https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip)",
    "    3: dns error",
  ].join("\n");
  assert.equal(isDenortDownloadFailure(offline), true);
  assert.equal(isDenortDownloadFailure('error: Module not found "file:///work/main/core/x.ts".'), false);
  assert.equal(
    isDenortDownloadFailure("error: Setting up base binary.\nCaused by: permission denied"),
    false,
  );
});

Deno.test("every --include of deno task compile exists", async () => {
  const deno = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const words = String(deno.tasks.compile).split(/\s+/);
  const includes = words.flatMap((w, i) => (w === "--include" ? [words[i + 1]!] : []));
  for (const wanted of ["core/sandbox_worker.ts", "core/dashboard", "plugins", "commands", "filters"]) {
    assert.ok(includes.includes(wanted), `compile task lacks --include ${wanted}`);
  }
  for (const path of includes) await Deno.stat(`${ROOT}${path}`);
});

const BINARY_TEST = "deno task compile builds one binary that runs the bot and loads drop-ins";

Deno.test({
  name: DENORT.available
    ? BINARY_TEST
    : `${BINARY_TEST} (ignored: deno compile could not download denort: ${DENORT.reason}; set DENORT_BIN to a local denort of this Deno version to run it offline)`,
  ignore: !DENORT.available,
  fn: async (t) => {
    const tmp = await Deno.makeTempDir({ prefix: "clank_compile_test_" });
    try {
      const binary = `${tmp}/clank`;
      const compiled = await run(Deno.execPath(), await compileArgs(binary), { cwd: ROOT });
      assert.equal(compiled.code, 0, `deno compile failed:\n${compiled.stderr}`);

      await t.step("--version and --help answer without a config", async () => {
        const version = await run(binary, ["--version"], { cwd: tmp });
        assert.equal(version.code, 0, version.stderr);
        assert.match(version.stdout, /^clank \S+ \(deno \d+\.\d+\.\d+\)/);
        const help = await run(binary, ["--help"], { cwd: tmp });
        assert.equal(help.code, 0, help.stderr);
        assert.match(help.stdout, /--config PATH/);
        assert.match(help.stdout, /--replay FILE/);
      });

      await t.step(
        "a replay runs the pipeline with a TypeScript drop-in generator from plugins_dir",
        async () => {
          await Deno.mkdir(`${tmp}/plugins.d`);
          await Deno.writeTextFile(
            `${tmp}/plugins.d/dropin_echo.ts`,
            [
              "// Written in TypeScript on purpose: the binary transpiles drop-ins at run time.",
              "interface Request {",
              "  channel: string;",
              "}",
              "export default {",
              '  name: "dropin_echo",',
              '  kind: "generator",',
              "  apiVersion: 1,",
              "  generate(req: Request): { text: string } {",
              "    return { text: `dropin echo in ${req.channel}` };",
              "  },",
              "};",
              "",
            ].join("\n"),
          );
          await Deno.writeTextFile(
            `${tmp}/config.toml`,
            `plugins_dir = ${JSON.stringify(`${tmp}/plugins.d`)}\n\n[defaults]\ngenerator = "dropin_echo"\n`,
          );
          await Deno.writeTextFile(
            `${tmp}/chat.log`,
            "[20:00:00] alice: hello @clank how are you\n[20:00:05] bob: nice weather today\n",
          );
          const replay = await run(
            binary,
            ["--config", `${tmp}/config.toml`, "--replay", `${tmp}/chat.log`],
            {
              cwd: tmp,
              // A closed port: the replay must not wait for a real Ollama.
              env: { OLLAMA_URL: "http://127.0.0.1:1" },
            },
          );
          assert.equal(replay.code, 0, replay.stdout + replay.stderr);
          assert.match(replay.stdout, /would say: (@\w+ )?dropin echo in \w+/, replay.stdout + replay.stderr);
        },
      );

      await t.step("with no channel configured it replays the embedded sample log", async () => {
        const empty = `${tmp}/empty`;
        await Deno.mkdir(empty);
        const demo = await run(binary, [], {
          cwd: empty,
          env: { OLLAMA_URL: "http://127.0.0.1:1", DATABASE_URL: `${empty}/chatbot.db`, HTTP_LISTEN: "" },
        });
        assert.equal(demo.code, 0, demo.stdout + demo.stderr);
        assert.match(demo.stdout, /Falling back to a demo/);
        assert.match(demo.stdout, /Replay done: \d+ line\(s\)/);
      });
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
