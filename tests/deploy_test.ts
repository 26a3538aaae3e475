import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { ENV_BINDINGS } from "../core/config_schema.ts";
import { OTHER_ENV_VARS } from "../core/config_docs.ts";
import { SECRET_KEY_ENV } from "../core/secret_key.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const INSTALL_SH = `${ROOT}deploy/install.sh`;
const UNIT_NAME = "twitch-ollama-chatbot.service";
const UNIT_PATH = `${ROOT}deploy/systemd/${UNIT_NAME}`;
const LOGROTATE_PATH = `${ROOT}deploy/logrotate/twitch-ollama-chatbot`;

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
) {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(cmd, {
      args,
      env: options.env,
      cwd: options.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(
        `${cmd} is not installed; install the Debian packages shellcheck, systemd and logrotate`,
      );
    }
    throw err;
  }
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return {
    code: output.code,
    stdout: decode(output.stdout),
    stderr: decode(output.stderr),
  } satisfies RunResult;
}

/** Every file and directory under `dir` with its mode and content, to compare two installs. */
async function snapshot(dir: string, prefix = ""): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const entry of Deno.readDir(`${dir}${prefix}`)) {
    const rel = `${prefix}/${entry.name}`;
    const info = await Deno.lstat(`${dir}${rel}`);
    const mode = ((info.mode ?? 0) & 0o7777).toString(8);
    if (entry.isDirectory) {
      out[rel + "/"] = mode;
      Object.assign(out, await snapshot(dir, rel));
    } else {
      out[rel] = `${mode} ${await Deno.readTextFile(`${dir}${rel}`)}`;
    }
  }
  return out;
}

async function modeOf(path: string): Promise<string> {
  return ((((await Deno.stat(path)).mode) ?? 0) & 0o7777).toString(8);
}

/**
 * A PATH whose useradd, chown, systemctl and getent only record that they were called, so a staged
 * install can prove it touched nothing outside DESTDIR.
 */
async function spyPath(dir: string): Promise<{ path: string; log: string }> {
  const bin = `${dir}/spybin`;
  const log = `${dir}/spy.log`;
  await Deno.mkdir(bin);
  for (const name of ["useradd", "adduser", "chown", "systemctl", "getent", "groupadd"]) {
    await Deno.writeTextFile(`${bin}/${name}`, `#!/bin/sh\necho "${name} $*" >> '${log}'\nexit 0\n`, {
      mode: 0o755,
    });
  }
  return { path: `${bin}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`, log };
}

async function readIfExists(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return "";
    throw err;
  }
}

/** The anchors GitHub gives the headings of a Markdown file. */
function headingAnchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const [, title] of markdown.matchAll(/^#{1,6} (.+)$/gm)) {
    out.add(title!.toLowerCase().replace(/[^a-z0-9_\- ]/g, "").replaceAll(" ", "-"));
  }
  return out;
}

/** `KEY=value` lines of a unit section, repeated keys kept in order. */
function unitSettings(text: string, section: string): [string, string][] {
  const out: [string, string][] = [];
  let current = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = header[1]!;
      continue;
    }
    const eq = line.indexOf("=");
    if (current === section && eq > 0) out.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  return out;
}

Deno.test("install.sh passes shellcheck", async () => {
  const result = await run("shellcheck", ["--shell=sh", "--severity=style", INSTALL_SH]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.equal(result.stdout, "");
});

Deno.test("install.sh stages an install twice with the same result and no side effects", async (t) => {
  const tmp = await Deno.makeTempDir({ prefix: "clank_install_test_" });
  try {
    const destdir = `${tmp}/root`;
    const binary = `${tmp}/clank`;
    await Deno.writeTextFile(binary, "#!/bin/sh\necho clank v1\n", { mode: 0o755 });
    const spy = await spyPath(tmp);
    const env = { DESTDIR: destdir, BINARY: binary, PATH: spy.path };
    const install = (...args: string[]) => run("sh", [INSTALL_SH, ...args], { env });

    let first: Record<string, string> = {};
    await t.step(
      "the first run installs binary, unit, config, env file, logrotate and data directory",
      async () => {
        const result = await install("--log-to-file");
        assert.equal(result.code, 0, result.stdout + result.stderr);
        first = await snapshot(destdir);
        for (
          const path of [
            "/usr/local/bin/clank",
            `/etc/systemd/system/${UNIT_NAME}`,
            `/etc/systemd/system/${UNIT_NAME}.d/10-log-file.conf`,
            "/etc/twitch-ollama-chatbot/config.toml",
            "/etc/twitch-ollama-chatbot/env",
            "/etc/twitch-ollama-chatbot/plugins.d/",
            "/etc/logrotate.d/twitch-ollama-chatbot",
            "/var/lib/twitch-ollama-chatbot/",
          ]
        ) assert.ok(path in first, `${path} missing; installed: ${Object.keys(first).join(", ")}`);
        assert.equal(await modeOf(`${destdir}/usr/local/bin/clank`), "755");
        assert.equal(await modeOf(`${destdir}/etc/twitch-ollama-chatbot`), "750");
        assert.equal(await modeOf(`${destdir}/etc/twitch-ollama-chatbot/env`), "640");
        assert.equal(await modeOf(`${destdir}/etc/twitch-ollama-chatbot/config.toml`), "640");
        assert.equal(await modeOf(`${destdir}/var/lib/twitch-ollama-chatbot`), "750");
        const config = await Deno.readTextFile(`${destdir}/etc/twitch-ollama-chatbot/config.toml`);
        assert.match(config, /^plugins_dir = "\/etc\/twitch-ollama-chatbot\/plugins\.d"$/m);
        // The secret key is offered commented out, so the key file stays in use until one is chosen.
        const env = await Deno.readTextFile(`${destdir}/etc/twitch-ollama-chatbot/env`);
        assert.match(env, new RegExp(`^#${SECRET_KEY_ENV}=$`, "m"));
      },
    );

    await t.step(
      "the installed docs link only to docs that are installed, at headings that exist",
      async () => {
        const docDir = `${destdir}/usr/local/share/doc/twitch-ollama-chatbot`;
        const installed = new Map<string, string>();
        for await (const entry of Deno.readDir(docDir)) {
          installed.set(entry.name, await Deno.readTextFile(`${docDir}/${entry.name}`));
        }
        for (
          const doc of ["INSTALLATION.md", "CONFIGURATION.md", "TROUBLESHOOTING.md", "API.md", "PLUGINS.md"]
        ) {
          assert.ok(installed.has(doc), `${doc} is not installed`);
        }
        for (const [name, text] of installed) {
          for (const [, target, hash] of text.matchAll(/\]\(([A-Za-z0-9_./-]+\.md)(?:#([^)\s]+))?\)/g)) {
            const linked = installed.get(target!);
            assert.ok(linked !== undefined, `${name} links to ${target}, which install.sh does not install`);
            if (hash) {
              assert.ok(
                headingAnchors(linked).has(hash),
                `${name} links to ${target}#${hash}: no such heading`,
              );
            }
          }
        }
      },
    );

    await t.step("the second run changes nothing", async () => {
      const result = await install("--log-to-file");
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.deepEqual(await snapshot(destdir), first);
    });

    await t.step("a staged install creates no user, changes no owner and calls no systemctl", async () => {
      assert.equal(await readIfExists(spy.log), "");
    });

    await t.step("a rerun upgrades the binary but keeps the user's config and secrets", async () => {
      const configPath = `${destdir}/etc/twitch-ollama-chatbot/config.toml`;
      const envPath = `${destdir}/etc/twitch-ollama-chatbot/env`;
      await Deno.writeTextFile(configPath, "# mine\n");
      await Deno.writeTextFile(envPath, "TWITCH_OAUTH_TOKEN=secret\n");
      await Deno.writeTextFile(binary, "#!/bin/sh\necho clank v2\n", { mode: 0o755 });
      const result = await install();
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.equal(await Deno.readTextFile(configPath), "# mine\n");
      assert.equal(await Deno.readTextFile(envPath), "TWITCH_OAUTH_TOKEN=secret\n");
      assert.match(await Deno.readTextFile(`${destdir}/usr/local/bin/clank`), /clank v2/);
      assert.doesNotMatch(result.stdout + result.stderr, /secret/);
    });

    await t.step("PREFIX moves the binary and the unit follows it", async () => {
      const other = `${tmp}/other`;
      const result = await run("sh", [INSTALL_SH], { env: { ...env, DESTDIR: other, PREFIX: "/opt/clank" } });
      assert.equal(result.code, 0, result.stdout + result.stderr);
      const unit = await Deno.readTextFile(`${other}/etc/systemd/system/${UNIT_NAME}`);
      assert.match(unit, /^ExecStart=\/opt\/clank\/bin\/clank --config /m);
      assert.doesNotMatch(unit, /\/usr\/local\//);
      await Deno.stat(`${other}/opt/clank/bin/clank`);
    });

    await t.step("bad input is refused with a message naming what is allowed", async () => {
      const unknown = await install("--frobnicate");
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /unknown option --frobnicate \(allowed: --binary PATH/);
      const missing = await run("sh", [INSTALL_SH], { env: { ...env, BINARY: `${tmp}/nope` } });
      assert.equal(missing.code, 1);
      assert.match(
        missing.stderr,
        /binary .*nope does not exist or is not executable; build it with 'deno task compile'/,
      );
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("twitch-ollama-chatbot.service passes systemd-analyze verify and security", async (t) => {
  const tmp = await Deno.makeTempDir({ prefix: "clank_unit_test_" });
  try {
    const root = `${tmp}/root`;
    const binary = `${tmp}/clank`;
    await Deno.writeTextFile(binary, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const staged = await run("sh", [INSTALL_SH, "--log-to-file"], {
      env: { DESTDIR: root, BINARY: binary, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
    });
    assert.equal(staged.code, 0, staged.stdout + staged.stderr);
    // Default dependencies pull in sysinit.target; a stub is all `verify` needs inside the root.
    await Deno.mkdir(`${root}/usr/lib/systemd/system`, { recursive: true });
    await Deno.writeTextFile(`${root}/usr/lib/systemd/system/sysinit.target`, "[Unit]\nDescription=stub\n");
    // ExecReload's kill must exist inside the root too.
    await Deno.mkdir(`${root}/bin`);
    await Deno.writeTextFile(`${root}/bin/kill`, "#!/bin/sh\nexit 0\n", { mode: 0o755 });

    await t.step("verify reports nothing, drop-in included", async () => {
      const result = await run("systemd-analyze", ["--root", root, "--man=no", "verify", UNIT_NAME]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr.trim(), "", `systemd-analyze verify warned:\n${result.stderr}`);
    });

    await t.step("verify would catch a broken unit (the check above can fail)", async () => {
      const unit = await Deno.readTextFile(`${root}/etc/systemd/system/${UNIT_NAME}`);
      await Deno.writeTextFile(
        `${root}/etc/systemd/system/broken.service`,
        unit.replace("MemoryMax=1G", "MemoryMax=lots\nProtectSystm=strict"),
      );
      const result = await run("systemd-analyze", ["--root", root, "--man=no", "verify", "broken.service"]);
      assert.match(result.stderr, /Invalid memory limit 'lots'/);
      assert.match(result.stderr, /Unknown key 'ProtectSystm'/);
      await Deno.remove(`${root}/etc/systemd/system/broken.service`);
    });

    await t.step("security --offline=yes rates the exposure OK or better (below 5.0)", async () => {
      const result = await run("systemd-analyze", ["security", "--offline=yes", "--no-pager", UNIT_PATH]);
      const overall = /Overall exposure level for \S+: (\d+\.\d) (\w+)/.exec(result.stdout + result.stderr);
      assert.ok(overall, result.stdout + result.stderr);
      const [, score, band] = overall;
      // systemd's bands: PERFECT 0, SAFE < 1, OK < 5, MEDIUM < 7.5, EXPOSED < 9, UNSAFE < 10, DANGEROUS.
      assert.ok(["OK", "SAFE", "PERFECT"].includes(band!), `exposure ${score} ${band}`);
      assert.ok(Number(score) < 5, `exposure ${score}`);
    });

    await t.step("the unit has the hardening the deployment promises", async () => {
      const service = new Map<string, string[]>();
      const text = await Deno.readTextFile(UNIT_PATH);
      for (const [k, v] of unitSettings(text, "Service")) service.set(k, [...(service.get(k) ?? []), v]);
      const one = (k: string) => service.get(k)?.at(-1);
      assert.equal(one("User"), "twitch-ollama-chatbot");
      assert.equal(one("NoNewPrivileges"), "yes");
      assert.equal(one("ProtectSystem"), "strict");
      assert.equal(one("ProtectHome"), "yes");
      assert.equal(one("PrivateTmp"), "yes");
      assert.equal(one("RestrictAddressFamilies"), "AF_INET AF_INET6 AF_UNIX");
      assert.match(one("MemoryMax") ?? "", /^\d+[KMG]$/);
      assert.match(one("CPUQuota") ?? "", /^\d+%$/);
      assert.equal(one("EnvironmentFile"), "/etc/twitch-ollama-chatbot/env");
      assert.equal(one("WorkingDirectory"), "/var/lib/twitch-ollama-chatbot");
      assert.equal(one("ExecStart"), "/usr/local/bin/clank --config /etc/twitch-ollama-chatbot/config.toml");
      assert.equal(one("ExecReload"), "/bin/kill -HUP $MAINPID");
      assert.ok(
        service.get("Environment")?.includes("DATABASE_URL=/var/lib/twitch-ollama-chatbot/chatbot.db"),
      );
      // The state directory is the only writable path.
      assert.equal(one("StateDirectory"), "twitch-ollama-chatbot");
      for (const key of ["ReadWritePaths", "LogsDirectory", "CacheDirectory", "RuntimeDirectory"]) {
        assert.equal(service.get(key), undefined, `${key} would add a writable path`);
      }
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("logrotate config rotates the bot's log file", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "clank_logrotate_test_" });
  try {
    const text = await Deno.readTextFile(LOGROTATE_PATH);
    assert.match(text, /^\/var\/log\/twitch-ollama-chatbot\/\*\.log \{$/m);
    await Deno.writeTextFile(`${tmp}/conf`, text.replaceAll("/var/log/twitch-ollama-chatbot", tmp));
    await Deno.writeTextFile(`${tmp}/clank.log`, '{"level":"info"}\n');
    const result = await run("logrotate", ["--force", "--state", `${tmp}/state`, `${tmp}/conf`]);
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /error/i);
    // copytruncate: the open file is emptied in place, its content moved to a dated copy.
    assert.equal(await Deno.readTextFile(`${tmp}/clank.log`), "");
    const rotated = [...Deno.readDirSync(tmp)].map((e) => e.name).filter((n) => /^clank\.log-\d{8}/.test(n));
    assert.equal(rotated.length, 1, rotated.join(","));
    assert.equal(await Deno.readTextFile(`${tmp}/${rotated[0]}`), '{"level":"info"}\n');
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

/** Dockerfile instructions grouped by stage, continuation lines joined. */
function dockerStages(text: string): { from: string; name: string; lines: string[] }[] {
  const joined = text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim()).filter((l) =>
    l && !l.startsWith("#")
  );
  const stages: { from: string; name: string; lines: string[] }[] = [];
  for (const line of joined) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) stages.push({ from: from[1]!, name: from[2] ?? "", lines: [] });
    else stages.at(-1)?.lines.push(line);
  }
  return stages;
}

function permissionFlags(task: string): string[] {
  return task.split(/\s+/).filter((a) => /^--(allow|deny)-|^-A$|^--unstable-worker-options$/.test(a)).sort();
}

Deno.test("Dockerfile builds in stages and runs the binary as non-root with a health check", async (t) => {
  const text = await Deno.readTextFile(`${ROOT}Dockerfile`);
  const deno = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const stages = dockerStages(text);
  const runtime = stages.at(-1)!;

  await t.step("multi-stage, every stage named, official Deno image of the version in use", () => {
    assert.ok(stages.length >= 2, "needs a build and a runtime stage");
    for (const stage of stages) assert.ok(stage.name, `FROM ${stage.from} has no AS name`);
    assert.match(text, new RegExp(`^ARG DENO_VERSION=${Deno.version.deno.replaceAll(".", "\\.")}$`, "m"));
    assert.equal(stages[0]!.from, "denoland/deno:debian-${DENO_VERSION}");
  });

  await t.step("the build stage compiles with deno task compile", () => {
    assert.ok(stages[0]!.lines.some((l) => /^RUN .*deno task compile/.test(l)));
    assert.ok(runtime.lines.some((l) => /^COPY --from=build \S+ \/usr\/local\/bin\/clank$/.test(l)));
  });

  await t.step("the binary gets exactly the permission flags of deno task start", () => {
    const start = permissionFlags(deno.tasks.start);
    assert.ok(start.length > 0);
    assert.ok(!start.includes("-A") && !start.includes("--allow-all"));
    assert.deepEqual(permissionFlags(deno.tasks.compile), start);
    assert.doesNotMatch(text, /--allow-all|\s-A\s|--allow-run|--allow-ffi/);
  });

  await t.step("the runtime stage runs as a non-root user with a HEALTHCHECK on /healthz", () => {
    const user = runtime.lines.filter((l) => /^USER\s/i.test(l)).at(-1);
    assert.ok(user, "runtime stage has no USER");
    assert.doesNotMatch(user, /^USER\s+(root|0)(:|$)/i);
    const health = runtime.lines.find((l) => /^HEALTHCHECK\s/i.test(l));
    assert.ok(health, "runtime stage has no HEALTHCHECK");
    assert.match(health, /CMD \["\/usr\/local\/bin\/clank", "healthcheck"\]/);
    assert.ok(runtime.lines.some((l) => l === 'ENTRYPOINT ["/usr/local/bin/clank"]'));
  });

  await t.step(".dockerignore keeps secrets, databases and build output out of the image", async () => {
    const ignore = (await Deno.readTextFile(`${ROOT}.dockerignore`)).split("\n").map((l) => l.trim());
    for (const entry of [".git", "dist", "data", "**/.env", "**/*.env", "config.toml", "**/*.db"]) {
      assert.ok(ignore.includes(entry), `.dockerignore lacks ${entry}`);
    }
  });
});

interface ComposeService {
  image?: string;
  build?: unknown;
  entrypoint?: string[];
  restart?: string;
  environment?: Record<string, string>;
  env_file?: (string | { path: string; required?: boolean })[];
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  read_only?: boolean;
  cap_drop?: string[];
}
interface Compose {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
}

async function readCompose(path: string): Promise<Compose> {
  return parseYaml(await Deno.readTextFile(`${ROOT}${path}`)) as Compose;
}

function checkCommon(compose: Compose, file: string): void {
  const { bot, ollama } = compose.services;
  assert.ok(bot && ollama, `${file}: needs services bot and ollama`);
  assert.deepEqual(bot.healthcheck?.test, ["CMD", "/usr/local/bin/clank", "healthcheck"], file);
  assert.ok(ollama.healthcheck?.test, `${file}: ollama has no healthcheck`);
  assert.equal(bot.depends_on?.ollama?.condition, "service_healthy", file);
  assert.equal(bot.environment?.OLLAMA_URL, "http://ollama:11434", file);
  for (const port of bot.ports ?? []) {
    assert.match(port, /^127\.0\.0\.1:/, `${file}: ${port} is not loopback only`);
  }
  const modelVolume = ollama.volumes?.find((v) => v.endsWith(":/root/.ollama"));
  assert.ok(modelVolume, `${file}: ollama keeps no model volume`);
  assert.ok(modelVolume.split(":")[0]! in compose.volumes, `${file}: volume ${modelVolume} not declared`);
  const dataVolume = bot.volumes?.find((v) => v.endsWith(":/data"));
  assert.ok(dataVolume && dataVolume.split(":")[0]! in compose.volumes, `${file}: bot has no data volume`);
  // A missing env file must stop compose, not start a bot without CONTROL_TOKEN that exits at once.
  for (const [name, service] of Object.entries(compose.services)) {
    for (const entry of service.env_file ?? []) {
      assert.ok(
        typeof entry === "string" || entry.required !== false,
        `${file}: ${name}'s env file is optional`,
      );
    }
  }
  // The model is pulled once before the bot starts, and it is the model the bot asks for.
  const pull = compose.services["ollama-pull"];
  assert.ok(pull, `${file}: needs a one-shot ollama-pull service`);
  assert.deepEqual(pull.entrypoint?.slice(0, 2), ["ollama", "pull"], file);
  assert.equal(
    pull.entrypoint?.[2],
    bot.environment?.OLLAMA_MODEL,
    `${file}: bot and ollama-pull disagree on the model`,
  );
  assert.equal(pull.environment?.OLLAMA_HOST, "http://ollama:11434", file);
  assert.equal(pull.depends_on?.ollama?.condition, "service_healthy", file);
  assert.equal(pull.restart, "no", `${file}: a one-shot service must not be restarted`);
  assert.equal(bot.depends_on?.["ollama-pull"]?.condition, "service_completed_successfully", file);
  // Secrets never sit in the compose file itself.
  const secretEnv = new Set(ENV_BINDINGS.filter((b) => b.secret).map((b) => b.env));
  for (const [name, service] of Object.entries(compose.services)) {
    for (const [key, value] of Object.entries(service.environment ?? {})) {
      // A SQLite path is no secret; a database URL with credentials is.
      const harmless = key === "DATABASE_URL" && !String(value).includes("@");
      assert.ok(
        harmless || (!secretEnv.has(key) && !/PASSWORD/.test(key)),
        `${file}: ${name} sets secret ${key} inline`,
      );
    }
  }
}

/** `KEY=value` pairs of an env file. */
async function readEnvFile(path: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const line of (await Deno.readTextFile(path)).split("\n")) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

Deno.test("docker-compose.yml runs the bot with Ollama and a model volume", async () => {
  const compose = await readCompose("docker-compose.yml");
  checkCommon(compose, "docker-compose.yml");
  const bot = compose.services.bot!;
  assert.equal(bot.build, ".");
  assert.equal(bot.environment?.DATABASE_URL, "/data/chatbot.db");
  assert.deepEqual(bot.env_file, [".env"]);
  // Neither a config error (exit 1/2) nor the offline demo (exit 0, no channels) may restart forever.
  const restart = /^on-failure:(\d+)$/.exec(bot.restart ?? "");
  assert.ok(restart, `bot restart policy ${bot.restart} is not on-failure with a retry limit`);
  assert.ok(Number(restart[1]) >= 1 && Number(restart[1]) <= 10, bot.restart);
});

Deno.test("docker-compose.production.yml runs bot, MariaDB and Ollama with secrets from env files", async (t) => {
  const compose = await readCompose("deploy/docker/docker-compose.production.yml");
  const file = "docker-compose.production.yml";
  const { bot, mariadb } = compose.services;

  await t.step("services, volumes and health checks", () => {
    checkCommon(compose, file);
    assert.ok(mariadb, "needs a mariadb service");
    assert.equal(compose.services.mysql, undefined, "MySQL is not what the tests run against");
    // The series the test suite runs against (Debian 12's mariadb-server).
    assert.match(mariadb.image ?? "", /^mariadb:10\.11(\.\d+)?$/);
    assert.deepEqual(mariadb.healthcheck?.test, [
      "CMD",
      "healthcheck.sh",
      "--connect",
      "--innodb_initialized",
    ]);
    assert.ok(
      mariadb.volumes?.some((v) => v.endsWith(":/var/lib/mysql") && v.split(":")[0]! in compose.volumes),
    );
    assert.equal(bot!.depends_on?.mariadb?.condition, "service_healthy");
    assert.equal(bot!.environment?.DATABASE_TYPE, "mysql");
  });

  await t.step("the bot container is locked down", () => {
    assert.equal(bot!.read_only, true);
    assert.deepEqual(bot!.cap_drop, ["ALL"]);
  });

  await t.step("env files exist as examples whose names and credentials agree", async () => {
    const envFiles = [...(bot!.env_file ?? []), ...(mariadb!.env_file ?? [])].map((e) =>
      typeof e === "string" ? e : e.path
    );
    assert.deepEqual(envFiles.sort(), ["bot.env", "mariadb.env"]);
    const botEnvText = await Deno.readTextFile(`${ROOT}deploy/docker/bot.env.example`);
    const botEnv = await readEnvFile(`${ROOT}deploy/docker/bot.env.example`);
    const dbEnv = await readEnvFile(`${ROOT}deploy/docker/mariadb.env.example`);
    const known = new Set([...ENV_BINDINGS.map((b) => b.env), ...OTHER_ENV_VARS.map((v) => v.env)]);
    for (const key of botEnv.keys()) {
      assert.ok(known.has(key), `bot.env.example: ${key} is not a clank variable`);
    }
    for (const secret of ["TWITCH_OAUTH_TOKEN", "CONTROL_TOKEN", "DATABASE_URL"]) {
      assert.ok(botEnv.has(secret), secret);
    }
    assert.match(botEnvText, new RegExp(`^#${SECRET_KEY_ENV}=$`, "m"));
    const url = new URL(botEnv.get("DATABASE_URL")!);
    assert.equal(url.protocol, "mysql:");
    assert.equal(url.hostname, "mariadb");
    assert.equal(decodeURIComponent(url.username), dbEnv.get("MARIADB_USER"));
    assert.equal(decodeURIComponent(url.password), dbEnv.get("MARIADB_PASSWORD"));
    assert.equal(url.pathname.slice(1), dbEnv.get("MARIADB_DATABASE"));
    assert.ok(dbEnv.get("MARIADB_ROOT_PASSWORD"));
    for (const key of dbEnv.keys()) assert.match(key, /^MARIADB_/, `mariadb.env.example: ${key}`);
  });
});
