import assert from "node:assert/strict";
import fc from "fast-check";
import { Logger, type LogLevel, memoryLogger, MIN_SECRET_LENGTH } from "../core/log.ts";

const ESC = "\x1b[";
const LOG_MODULE = new URL("../core/log.ts", import.meta.url).href;

/** Runs a tiny program that logs through the default sink (stderr), optionally on a pseudo-terminal. */
async function runLogger(body: string, tty: boolean): Promise<{ stdout: string; stderr: string }> {
  const dir = await Deno.makeTempDir({ prefix: "clank_log_test_" });
  try {
    const file = `${dir}/log_program.ts`;
    await Deno.writeTextFile(file, `import { Logger } from ${JSON.stringify(LOG_MODULE)};\n${body}\n`);
    const denoArgs = ["run", "--no-config", "--allow-read", file];
    // `script` (util-linux) gives the child a pseudo-terminal, so isTerminal() is true there.
    const command = tty
      ? new Deno.Command("script", {
        args: ["-qec", [Deno.execPath(), ...denoArgs].map((a) => `'${a}'`).join(" "), "/dev/null"],
        cwd: dir,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        // The colour decision under test is isTerminal(), not the caller's NO_COLOR.
        env: { NO_COLOR: "" },
      })
      : new Deno.Command(Deno.execPath(), {
        args: denoArgs,
        cwd: dir,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      });
    const out = await command.output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    assert.equal(out.code, 0, `log program failed: ${decode(out.stderr)}${decode(out.stdout)}`);
    return { stdout: decode(out.stdout), stderr: decode(out.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("Logger json format writes one object per line with level, time, channel and event", async (t) => {
  const { log, lines } = memoryLogger("debug", "json");
  const channelLog = log.child({ channel: "somechannel" });

  await t.step("every call is exactly one parseable line", () => {
    channelLog.info("Reply sent", { event: "reply", chars: 42 });
    channelLog.warn("Multi\nline\nmessage", { event: "odd", note: "a\nb" });
    assert.equal(lines.length, 2);
    for (const line of lines) {
      assert.ok(!line.includes("\n"), `line contains a newline: ${line}`);
      assert.equal(typeof JSON.parse(line), "object");
    }
  });

  await t.step("the object carries level, time, channel, event, message and fields", () => {
    const first = JSON.parse(lines[0]!);
    assert.equal(first.level, "info");
    assert.equal(first.channel, "somechannel");
    assert.equal(first.event, "reply");
    assert.equal(first.msg, "Reply sent");
    assert.equal(first.chars, 42);
    assert.match(first.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(Math.abs(Date.parse(first.time) - Date.now()) < 24 * 3600 * 1000);
    const second = JSON.parse(lines[1]!);
    assert.equal(second.level, "warn");
    assert.equal(second.msg, "Multi\nline\nmessage");
  });

  await t.step("a line about no channel and no event still has both keys", () => {
    log.info("Bot started");
    const entry = JSON.parse(lines.at(-1)!);
    assert.equal(entry.channel, null);
    assert.equal(entry.event, "general");
    assert.deepEqual(Object.keys(entry).slice(0, 5), ["level", "time", "channel", "event", "msg"]);
  });

  await t.step("errors in fields become their name and message", () => {
    log.error("Storage failed", { event: "storage", err: new TypeError("disk full") });
    const entry = JSON.parse(lines.at(-1)!);
    assert.equal(entry.err, "TypeError: disk full");
    assert.equal(entry.level, "error");
  });
});

Deno.test("Logger level drops lines below the configured level and can change at run time", async (t) => {
  const lines: { line: string; level: LogLevel }[] = [];
  const log = new Logger({
    level: "warn",
    format: "json",
    sink: (line, level) => lines.push({ line, level }),
  });

  await t.step("debug and info are dropped at warn", () => {
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    assert.deepEqual(lines.map((l) => l.level), ["warn", "error"]);
    assert.equal(log.enabled("info"), false);
    assert.equal(log.enabled("error"), true);
  });

  await t.step("setLevel applies to children too", () => {
    const child = log.child({ channel: "c" });
    log.setLevel("debug");
    child.debug("now visible");
    assert.equal(lines.at(-1)?.level, "debug");
    assert.equal(JSON.parse(lines.at(-1)!.line).channel, "c");
  });
});

Deno.test("Logger console format is readable and uncoloured without a terminal", async (t) => {
  await t.step("tags channel, plugin and event, then the message and the other fields", () => {
    const { log, lines } = memoryLogger("debug", "console");
    log.child({ channel: "somechannel", plugin: "chat_history" }).info("Stored line", {
      event: "observe",
      count: 3,
      who: "alice",
    });
    assert.equal(lines.length, 1);
    assert.match(
      lines[0]!,
      /^\d\d:\d\d:\d\d INFO {2}#somechannel \[chat_history\] observe Stored line count=3 who=alice$/,
    );
    assert.ok(!lines[0]!.includes(ESC));
  });

  await t.step("colour: true adds ANSI colour to the level", () => {
    const lines: string[] = [];
    const log = new Logger({ format: "console", colour: true, sink: (l) => lines.push(l) });
    log.error("Broken");
    assert.ok(lines[0]!.includes(`${ESC}31mERROR`), lines[0]);
  });

  await t.step("the default sink writes to stderr without colour when stderr is not a TTY", async () => {
    const { stdout, stderr } = await runLogger(
      `const log = new Logger({ format: "console" });\nlog.warn("Plain line", { event: "e" });`,
      false,
    );
    assert.equal(stdout, "");
    assert.match(stderr, /WARN {2}e Plain line/);
    assert.ok(!stderr.includes(ESC), JSON.stringify(stderr));
  });

  await t.step("the default sink colours the level on a TTY", async () => {
    const { stdout } = await runLogger(
      `const log = new Logger({ format: "console" });\nlog.warn("Tty line");`,
      true,
    );
    // script(1) merges the child's stderr into its own stdout.
    assert.match(stdout, /Tty line/);
    assert.ok(stdout.includes(`${ESC}33mWARN`), JSON.stringify(stdout));
  });

  await t.step("json stays uncoloured even on a TTY", async () => {
    const { stdout } = await runLogger(
      `const log = new Logger({ format: "json" });\nlog.info("Json line", { channel: "c", event: "e" });`,
      true,
    );
    const line = stdout.split(/\r?\n/).find((l) => l.includes("Json line"));
    assert.ok(line, JSON.stringify(stdout));
    assert.ok(!line.includes(ESC));
    assert.deepEqual(
      Object.keys(JSON.parse(line)).sort(),
      ["channel", "event", "level", "msg", "time"],
    );
  });
});

Deno.test("Logger redacts registered secrets from every line", async (t) => {
  const token = "oauth:abcd1234efgh5678";
  const bare = "abcd1234efgh5678";

  for (const format of ["json", "console"] as const) {
    await t.step(`${format}: in the message, in fields, in errors and in child loggers`, () => {
      const { log, lines } = memoryLogger("debug", format);
      log.addSecret(token);
      log.addSecret("controltoken-xyz");
      const child = log.child({ channel: "c", url: `wss://x/?t=${bare}` });
      child.info(`Connecting with ${token}`);
      child.warn("Login failed", { err: new Error(`Bad token ${bare}`), nested: { token: bare } });
      log.error("Auth header", { header: "Bearer controltoken-xyz" });
      assert.equal(lines.length, 3);
      for (const line of lines) {
        assert.ok(!line.includes(bare), `secret leaked: ${line}`);
        assert.ok(!line.includes("controltoken-xyz"), `secret leaked: ${line}`);
        assert.ok(line.includes("[redacted]"), line);
      }
    });
  }

  await t.step("secrets added later apply to loggers created earlier", () => {
    const { log, lines } = memoryLogger("debug", "json");
    const child = log.child({ plugin: "p" });
    log.addSecret("late-secret-value");
    child.info("value late-secret-value");
    assert.equal(JSON.parse(lines[0]!).msg, "value [redacted]");
  });

  await t.step("empty and very short values are not treated as secrets", () => {
    const { log, lines } = memoryLogger("debug", "json");
    log.addSecret("");
    log.addSecret(undefined);
    log.addSecret("abc");
    log.info("abc stays");
    assert.equal(JSON.parse(lines.at(-1)!).msg, "abc stays");
    assert.equal(log.redact("abc"), "abc");
  });
});

Deno.test("Logger redacts a secret with quotes or backslashes in JSON output too", () => {
  const lines: string[] = [];
  const log = new Logger({ format: "json", sink: (l) => lines.push(l) });
  const secret = 'pa"ss\\word1';
  log.addSecret(secret);
  log.error(`Connecting with ${secret} failed`, { detail: `password=${secret}` });
  const out = lines.join("\n");
  if (out.includes('pa\\"ss') || out.includes("ss\\\\word1") || out.includes(secret)) throw new Error(out);
  if (!out.includes("[redacted]")) throw new Error(out);
});

Deno.test("Logger fields cannot overwrite the line's own level, time or message", () => {
  const lines: string[] = [];
  const log = new Logger({ format: "json", sink: (l) => lines.push(l) });
  log.warn("real message", { level: "debug", msg: "forged", time: "1970" });
  const obj = JSON.parse(lines[0]!);
  assert.equal(obj.level, "warn");
  assert.equal(obj.msg, "real message");
  assert.notEqual(obj.time, "1970");
  assert.deepEqual([obj.field_level, obj.field_msg, obj.field_time], ["debug", "forged", "1970"]);
});

Deno.test("Logger redacts the longest secret first", async (t) => {
  await t.step("a short secret inside a long one does not expose the rest of the long one", () => {
    const { log, lines } = memoryLogger("debug", "console");
    log.addSecret("9k2qdefg");
    const token = "abc9k2qdefghijklmnopqrstuvwxyz01";
    log.addSecret(token);
    log.info(`token=${token}`);
    assert.match(lines.at(-1)!, /token=\[redacted\]$/);
  });

  await t.step("property: no registered secret survives, in any registration order", () => {
    // Secrets over a small alphabet overlap and nest often; no brackets, so none can be spelled
    // across a "[redacted]" marker.
    const secret = fc.string({
      unit: fc.constantFrom("a", "b", "c"),
      minLength: MIN_SECRET_LENGTH,
      maxLength: 14,
    });
    fc.assert(
      fc.property(
        fc.array(secret, { minLength: 1, maxLength: 6 }),
        fc.array(fc.oneof(secret, fc.string({ unit: fc.constantFrom("a", "b", "c", " "), maxLength: 6 })), {
          maxLength: 8,
        }),
        fc.constantFrom("json" as const, "console" as const),
        (secrets, parts, format) => {
          const { log, lines } = memoryLogger("debug", format);
          for (const s of secrets) log.addSecret(s);
          const text = [...secrets, ...parts].join("");
          log.info(text, { field: parts.join("") + secrets.join("") });
          for (const line of lines) {
            for (const s of secrets) assert.ok(!line.includes(s), `${s} survives in ${line}`);
          }
          assert.ok(!log.redact(text).includes(secrets[0]!));
        },
      ),
      { numRuns: 300 },
    );
  });
});

Deno.test("Logger never garbles ordinary text or the JSON structure", async (t) => {
  await t.step("a short database password is not a substring secret, and is warned about once", () => {
    const { log, lines } = memoryLogger("debug", "json");
    log.addSecret("info", "The password in DATABASE_URL");
    log.addSecret("info", "The password in DATABASE_URL");
    log.info("Connected to Twitch", { user: "clankbot" });
    const warnings = lines.map((l) => JSON.parse(l)).filter((l) => l.level === "warn");
    assert.equal(warnings.length, 1);
    assert.match(warnings[0].msg, /^The password in DATABASE_URL is shorter than 8 characters/);
    const entry = JSON.parse(lines.at(-1)!);
    assert.equal(entry.level, "info");
    assert.equal(entry.msg, "Connected to Twitch");
  });

  await t.step("a URL password is masked whatever its length", () => {
    const { log, lines } = memoryLogger("debug", "console");
    log.info("Cannot reach mysql://clank:info@db.example:3306/clank or http://u:p@ollama:11434/");
    assert.ok(lines[0]!.includes("mysql://clank:[redacted]@db.example:3306/clank"), lines[0]);
    assert.ok(lines[0]!.includes("http://u:[redacted]@ollama:11434/"), lines[0]);
    assert.equal(log.redact("mysql://clank:***@db/clank"), "mysql://clank:***@db/clank");
    assert.equal(log.redact("https://user@host/"), "https://user@host/");
  });

  await t.step("property: every JSON line parses, with its own keys, whatever the secret", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: MIN_SECRET_LENGTH, maxLength: 30 }),
        fc.string({ maxLength: 30 }),
        (secret, msg) => {
          const { log, lines } = memoryLogger("debug", "json");
          log.addSecret(secret);
          log.warn(`${msg}${secret}`, { value: secret, [secret]: 1, n: 12345678 });
          const entry = JSON.parse(lines.at(-1)!);
          assert.equal(entry.level, "warn");
          assert.equal(entry.event, "general");
          assert.equal(entry.channel, null);
          assert.equal(entry.value, "[redacted]");
          assert.ok(entry.msg.includes("[redacted]"), entry.msg);
          assert.equal(entry["[redacted]"], 1);
        },
      ),
      { numRuns: 300 },
    );
  });

  await t.step("a JSON string inside a JSON field is redacted too", () => {
    const { log, lines } = memoryLogger("debug", "json");
    const secret = 'my"quoted"passphrase-long';
    log.addSecret(secret);
    log.info("x", { body: JSON.stringify({ secret }) });
    assert.ok(!lines[0]!.includes("quoted"), lines[0]);
  });

  await t.step("a %-encoded secret in a URL is redacted", () => {
    const { log } = memoryLogger("debug", "json");
    const secret = "p@ss/w+rd=longsecret";
    log.addSecret(secret);
    assert.equal(log.redact(`https://x/?token=${encodeURIComponent(secret)}`), "https://x/?token=[redacted]");
  });
});
