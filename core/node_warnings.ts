/**
 * Keeps one known, harmless Node deprecation warning away from users: tmi.js fetches through
 * node-fetch → whatwg-url → tr46, which loads Node's deprecated `punycode` module, and Deno's Node
 * layer then prints `[DEP0040] DeprecationWarning` on every start. It says nothing about the bot and
 * nothing a user can act on. Every other warning still goes through.
 *
 * Import it before `tmi.js`: ES modules run in import order, and the warning is emitted while tmi.js's
 * dependencies load.
 * @module
 */
import process from "node:process";

/** The deprecation code Node gives the `punycode` module. */
export const SILENCED_WARNING_CODES: ReadonlySet<string> = new Set(["DEP0040"]);

const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const options = rest[0];
  const code = typeof options === "object" && options !== null
    ? (options as { code?: unknown }).code
    : typeof rest[1] === "string"
    ? rest[1]
    : warning instanceof Error
    ? (warning as Error & { code?: unknown }).code
    : undefined;
  if (typeof code === "string" && SILENCED_WARNING_CODES.has(code)) return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;
