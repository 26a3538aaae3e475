import assert from "node:assert/strict";
import { parseCliArgs, usage } from "../core/cli_args.ts";

/** Asserts `parseCliArgs(argv)` throws a message matching every pattern. */
function rejects(argv: string[], ...patterns: RegExp[]): void {
  assert.throws(() => parseCliArgs(argv), (err: unknown) => {
    for (const p of patterns) assert.match((err as Error).message, p);
    return true;
  });
}

Deno.test("parseCliArgs", async (t) => {
  await t.step("subcommand, --flag value, --flag=value and switches", () => {
    assert.deepEqual(parseCliArgs(["--config", "a.toml", "--replay=x.log", "--help"]), {
      command: "run",
      flags: { config: "a.toml", replay: "x.log", help: true },
      positionals: [],
    });
    assert.deepEqual(parseCliArgs(["auth", "status"]), {
      command: "auth",
      flags: {},
      positionals: ["status"],
    });
  });

  await t.step("-h and -v are --help and --version", () => {
    assert.deepEqual(parseCliArgs(["--config", "c.toml", "-h"]).flags, { config: "c.toml", help: true });
    assert.deepEqual(parseCliArgs(["-v"]).flags, { version: true });
    assert.deepEqual(parseCliArgs(["backup", "-h"]).flags, { help: true });
  });

  await t.step("an unknown single-dash option is an error listing the allowed ones", () => {
    rejects(["-c", "config.toml"], /Unknown option -c for "run"/, /allowed: .*--config.*-h/);
    rejects(["backup", "-v"], /Unknown option -v for "backup"/, /--out/);
  });

  await t.step("unexpected arguments are errors; only auth and backup take one", () => {
    rejects(["healthcheck", "extra"], /Unexpected argument "extra" for "healthcheck"/, /takes no arguments/);
    rejects(["--replay", "x.log", "extra"], /Unexpected argument "extra" for "run"/);
    rejects(["migrate-db", "mysql://u:pw@h/db"], /Unexpected argument for "migrate-db"/);
    rejects(["auth", "status", "now"], /Unexpected argument "now" for "auth"/, /login\|status\|logout/);
    rejects(["backup", "a.db", "b.db"], /Unexpected argument "b\.db" for "backup"/, /PATH/);
    assert.deepEqual(parseCliArgs(["backup", "mine.db"]).positionals, ["mine.db"]);
  });

  await t.step("a URL given where it does not belong is not echoed (it may hold a password)", () => {
    assert.throws(
      () => parseCliArgs(["healthcheck", "mysql://u:hunter22@h/db"]),
      (err: unknown) => !(err as Error).message.includes("hunter22"),
    );
  });

  await t.step("an empty or missing value says the option needs one", () => {
    rejects(["--config="], /Option --config needs a value \(--config PATH\)/);
    rejects(["--config", ""], /Option --config needs a value/);
    rejects(["--config"], /Option --config needs a value/);
    rejects(["migrate-db", "--to"], /Option --to needs a value \(--to URL\)/);
  });
});

Deno.test("usage", async (t) => {
  await t.step("the global usage lists every command", () => {
    for (const c of ["auth", "backup", "migrate-db", "healthcheck"]) assert.match(usage(), new RegExp(c));
  });
  await t.step("a subcommand has its own usage", () => {
    assert.match(usage("backup"), /Usage: deno task backup/);
    assert.match(usage("backup"), /--restore PATH/);
    assert.doesNotMatch(usage("backup"), /--replay/);
    assert.match(usage("migrate-db"), /MIGRATE_TO_URL/);
    assert.match(usage("auth"), /login\|status\|logout/);
    assert.match(usage("healthcheck"), /healthz/);
  });
});
