import assert from "node:assert/strict";
import { join } from "node:path";
import { isClankError } from "../core/errors.ts";
import {
  checkDeclaredPermissions,
  checkHostHolds,
  grantCovers,
  resolveGrant,
  workerPermissions,
} from "../core/plugin_permissions.ts";

Deno.test("grantCovers matches declared items against granted ones", () => {
  assert.ok(grantCovers("net", "api.example.com:443", "api.example.com:443"));
  assert.ok(
    grantCovers("net", "api.example.com", "api.example.com:443"),
    "a host without port covers every port",
  );
  assert.ok(!grantCovers("net", "api.example.com:80", "api.example.com:443"));
  assert.ok(!grantCovers("net", "example.com", "api.example.com:443"));
  assert.ok(grantCovers("read", "/srv/data", "/srv/data/words.txt"));
  assert.ok(!grantCovers("read", "/srv/data", "/srv/database"));
  assert.ok(grantCovers("env", "CLANK_*", "CLANK_KEY"));
  assert.ok(!grantCovers("env", "CLANK_KEY", "HOME"));
  assert.ok(!grantCovers("run", "git", "curl"));
});

Deno.test("checkDeclaredPermissions refuses a permission the config does not grant", async (t) => {
  await t.step("the message names the plugin, the permission and the line to add", () => {
    assert.throws(
      () => checkDeclaredPermissions("weather", { net: ["api.weather.example:443"] }, {}),
      (err: unknown) =>
        isClankError(err, "PLUGIN_PERMISSION_MISSING") &&
        err.message ===
          'Plugin "weather" asks for net access to api.weather.example:443 but the config does not grant it: ' +
            'add permissions = { net = ["api.weather.example:443"] } to its [[plugins]] entry',
    );
  });
  await t.step("existing grants are kept in the suggested line", () => {
    assert.throws(
      () => checkDeclaredPermissions("p", { env: ["A", "B"] }, { env: ["A"] }),
      /asks for the environment variable B .* add permissions = \{ env = \["A", "B"\] \}/,
    );
  });
  await t.step("a covered declaration passes", () => {
    checkDeclaredPermissions("p", { net: ["a.example:443"], read: ["/srv/x/y"] }, {
      net: ["a.example"],
      read: ["/srv/x"],
    });
  });
});

Deno.test("resolveGrant and workerPermissions build exactly the grant", async (t) => {
  await t.step("relative paths resolve against the base directory", () => {
    assert.deepEqual(resolveGrant({ read: ["data"], net: ["h:1"], env: [] }, "/srv/clank"), {
      read: ["/srv/clank/data"],
      net: ["h:1"],
    });
  });
  await t.step("everything not granted is off; the plugin file is readable", () => {
    assert.deepEqual(workerPermissions({ net: ["h:1"] }, ["/p/x.ts"]), {
      net: ["h:1"],
      read: ["/p/x.ts"],
      write: false,
      env: false,
      run: false,
      ffi: false,
      sys: false,
      import: false,
    });
    assert.equal(workerPermissions({ net: ["*"] }, []).net, true);
  });
});

Deno.test("checkHostHolds refuses a grant the bot itself lacks", async (t) => {
  await t.step("a bot with every permission holds any grant", async () => {
    await checkHostHolds('Plugin "p"', { net: ["127.0.0.1:80"], env: ["HOME"], read: ["/tmp"] });
  });

  await t.step("a bot started with --allow-net=127.0.0.1 cannot grant another host", async () => {
    const dir = await Deno.makeTempDir({ prefix: "clank_perm_" });
    try {
      const script = join(dir, "check.ts");
      const module = new URL("../core/plugin_permissions.ts", import.meta.url).href;
      await Deno.writeTextFile(
        script,
        `import { checkHostHolds } from ${JSON.stringify(module)};
await checkHostHolds('Plugin "p"', { net: ["127.0.0.1:8080"] });
try { await checkHostHolds('Plugin "p"', { net: ["api.example.com:443"] }); console.log("granted"); }
catch (err) { console.log(err.code + " " + err.message); }\n`,
      );
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-lock", "--no-config", "--allow-read", "--allow-net=127.0.0.1", script],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout).trim();
      assert.equal(
        text,
        'PLUGIN_PERMISSION_MISSING Plugin "p" is granted net access to api.example.com:443 but the bot itself ' +
          "runs without it: start the bot with --allow-net=api.example.com:443 or remove it from the plugin's permissions",
        new TextDecoder().decode(out.stderr),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test('a "*" grant means all of that permission, not a file named *', async () => {
  const { resolveGrant, workerPermissions } = await import("../core/plugin_permissions.ts");
  const resolved = resolveGrant({ read: ["*"], write: ["data/out", "*"], net: ["*"] }, "/srv/clank");
  if (JSON.stringify(resolved.read) !== '["*"]') throw new Error(JSON.stringify(resolved));
  if (JSON.stringify(resolved.write) !== '["/srv/clank/data/out","*"]') {
    throw new Error(JSON.stringify(resolved));
  }
  const perms = workerPermissions(resolved, ["/srv/clank/plugins.d/x.ts"]);
  if (perms.read !== true || perms.write !== true || perms.net !== true) {
    throw new Error(JSON.stringify(perms));
  }
});
