/**
 * Permissions of sandboxed plugins: what a plugin declares it needs, what the operator granted in its
 * `[[plugins]]` entry, and what the bot itself holds. A Worker gets exactly the grant (plus read
 * access to its own file and the SDK) and nothing else; a plugin asking for more than the grant is
 * not loaded, and a grant beyond the bot's own permissions is refused.
 * @module
 */
import { isAbsolute, resolve, sep } from "node:path";
import { ClankError } from "./errors.ts";
import { PERMISSION_NAMES } from "./plugin_validation.ts";
import type { PluginPermissions } from "../plugins/sdk.ts";

/** Permission name → one item, for messages. */
const ACCESS_WORDS: Record<keyof PluginPermissions, string> = {
  net: "net access to",
  read: "read access to",
  write: "write access to",
  env: "the environment variable",
  run: "permission to run",
  ffi: "FFI access to",
  sys: "system information",
};

function tomlList(items: string[]): string {
  return `[${items.map((i) => JSON.stringify(i)).join(", ")}]`;
}

function pathCovers(granted: string, wanted: string): boolean {
  const g = resolve(granted);
  const w = resolve(wanted);
  return w === g || w.startsWith(g.endsWith(sep) ? g : g + sep);
}

/** True when a granted item covers a declared one (a host without port covers every port). */
export function grantCovers(kind: keyof PluginPermissions, granted: string, wanted: string): boolean {
  if (granted === wanted || granted === "*") return true;
  switch (kind) {
    case "net": {
      const grantHasPort = /:\d+$/.test(granted) && !granted.endsWith("]");
      return !grantHasPort && wanted.replace(/:\d+$/, "") === granted;
    }
    case "read":
    case "write":
    case "ffi":
      return pathCovers(granted, wanted);
    case "env":
      return granted.endsWith("*") && wanted.startsWith(granted.slice(0, -1));
    default:
      return false;
  }
}

/**
 * Throws `PLUGIN_PERMISSION_MISSING` when the plugin declares a permission its grant lacks. The
 * message tells the operator the exact line to add.
 */
export function checkDeclaredPermissions(
  name: string,
  declared: PluginPermissions,
  grant: PluginPermissions,
): void {
  for (const kind of PERMISSION_NAMES) {
    const missing = (declared[kind] ?? []).filter((w) =>
      !(grant[kind] ?? []).some((g) => grantCovers(kind, g, w))
    );
    if (missing.length === 0) continue;
    throw new ClankError(
      "PLUGIN_PERMISSION_MISSING",
      `Plugin "${name}" asks for ${ACCESS_WORDS[kind]} ${
        missing.join(", ")
      } but the config does not grant it: ` +
        `add permissions = { ${kind} = ${
          tomlList([...(grant[kind] ?? []), ...missing])
        } } to its [[plugins]] entry`,
      { details: { plugin: name, permission: kind, missing } },
    );
  }
}

/** Resolves relative `read`/`write`/`ffi` paths of a grant against `baseDir`. */
export function resolveGrant(grant: PluginPermissions, baseDir: string): PluginPermissions {
  const out: PluginPermissions = {};
  for (const kind of PERMISSION_NAMES) {
    const list = grant[kind];
    if (!list || list.length === 0) continue;
    out[kind] = kind === "read" || kind === "write" || kind === "ffi"
      ? list.map((p) => (p === "*" || isAbsolute(p) ? p : resolve(baseDir, p)))
      : [...list];
  }
  return out;
}

function descriptorFor(kind: keyof PluginPermissions, item: string): Deno.PermissionDescriptor {
  switch (kind) {
    case "net":
      return item === "*" ? { name: "net" } : { name: "net", host: item };
    case "read":
      return item === "*" ? { name: "read" } : { name: "read", path: item };
    case "write":
      return item === "*" ? { name: "write" } : { name: "write", path: item };
    case "env":
      return item.includes("*") ? { name: "env" } : { name: "env", variable: item };
    case "run":
      return { name: "run", command: item };
    case "ffi":
      return item === "*" ? { name: "ffi" } : { name: "ffi", path: item };
    case "sys":
      return { name: "sys", kind: item as Deno.SysPermissionDescriptor["kind"] };
  }
}

const FLAGS: Record<keyof PluginPermissions, string> = {
  net: "--allow-net",
  read: "--allow-read",
  write: "--allow-write",
  env: "--allow-env",
  run: "--allow-run",
  ffi: "--allow-ffi",
  sys: "--allow-sys",
};

/**
 * Throws `PLUGIN_PERMISSION_MISSING` when the bot itself lacks an item of `grant`: a Worker can never
 * hold more than its parent, so the operator must widen the bot's flags or narrow the grant.
 * `label` names the plugin, e.g. `Plugin "weather"` or `Plugin at plugins.d/weather.ts`.
 */
export async function checkHostHolds(label: string, grant: PluginPermissions): Promise<void> {
  for (const kind of PERMISSION_NAMES) {
    for (const item of grant[kind] ?? []) {
      let state: Deno.PermissionState;
      try {
        state = (await Deno.permissions.query(descriptorFor(kind, item))).state;
      } catch (err) {
        throw new ClankError(
          "PLUGIN_PERMISSION_MISSING",
          `${label} is granted ${kind} = ${JSON.stringify(item)}, which is not a valid ${kind} permission: ${
            err instanceof Error ? err.message : String(err)
          }`,
          { details: { permission: kind } },
        );
      }
      if (state !== "granted") {
        throw new ClankError(
          "PLUGIN_PERMISSION_MISSING",
          `${label} is granted ${ACCESS_WORDS[kind]} ${item} but the bot itself runs without it: ` +
            `start the bot with ${FLAGS[kind]}=${item} or remove it from the plugin's permissions`,
          { details: { permission: kind, item } },
        );
      }
    }
  }
}

/**
 * The Worker permission set for a grant: exactly the granted items, everything else off. `implicitRead`
 * (the plugin's own file and the SDK) is added to `read` so the Worker can import the plugin.
 */
export function workerPermissions(
  grant: PluginPermissions,
  implicitRead: string[],
): Deno.PermissionOptionsObject {
  const list = (items: string[] | undefined): string[] | boolean =>
    !items || items.length === 0 ? false : items.includes("*") ? true : [...items];
  return {
    net: list(grant.net),
    // `"*"` grants everything, as for the other kinds (and as the docs say), never a literal path.
    read: grant.read?.includes("*") ? true : [...implicitRead, ...(grant.read ?? [])],
    write: list(grant.write),
    env: list(grant.env),
    run: list(grant.run),
    ffi: list(grant.ffi),
    sys: list(grant.sys) as Deno.PermissionOptionsObject["sys"],
    import: false,
  };
}
