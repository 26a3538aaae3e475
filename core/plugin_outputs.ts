/**
 * Schemas for what each handler returns. A plugin's reply is untrusted (a sandboxed plugin may send
 * anything), so the handle checks it here before the pipeline sees it; a malformed reply makes the
 * call fail with reason `malformed`.
 * @module
 */
import { z } from "zod";
import type { PluginMethod } from "./plugin_handle.ts";

/** Longest text a plugin may return (a chat line is at most 500 characters; rewrites may be longer input). */
const MAX_TEXT = 10_000;
const MAX_REASON = 500;

const reason = z.string().min(1).max(MAX_REASON);

/** A filter's decision. */
export const FilterVerdictSchema = z.discriminatedUnion("action", [
  z.object({ action: z.literal("pass") }),
  z.object({ action: z.literal("drop"), reason }),
  z.object({ action: z.literal("rewrite"), text: z.string().max(MAX_TEXT) }),
]);

/** A cooldown's decision. */
export const GateVerdictSchema = z.discriminatedUnion("allow", [
  z.object({ allow: z.literal(true) }),
  z.object({ allow: z.literal(false), reason }),
]);

/** A command's result; `set` is checked against the settings schema by the host. */
export const CommandResultSchema = z.object({
  reply: z.string().max(MAX_TEXT).optional(),
  set: z.record(z.string(), z.unknown()).optional(),
  reset: z.boolean().optional(),
});

/** A generator's answer: a line, or `null` for "nothing to say" (`undefined` is read as `null`). */
export const GenerateResultSchema = z.union([
  z.object({ text: z.string().max(MAX_TEXT), forbidden: z.array(z.string()).max(100).optional() }),
  z.null(),
  z.undefined().transform(() => null),
]);

/** One line of chat history. */
export const HistoryLineSchema = z.object({
  seq: z.number().int().optional(),
  id: z.string().optional(),
  user: z.string(),
  displayName: z.string(),
  text: z.string().max(MAX_TEXT),
  time: z.number(),
  bot: z.boolean(),
});

/** What a context plugin adds to a prompt. */
export const ContextContributionSchema = z.object({
  history: z.array(HistoryLineSchema).max(10_000).optional(),
  notes: z.array(z.string().max(MAX_TEXT)).max(100).optional(),
});

const SCHEMAS: Record<Exclude<PluginMethod, "observe">, z.ZodType> = {
  check: FilterVerdictSchema,
  gate: GateVerdictSchema,
  run: CommandResultSchema,
  generate: GenerateResultSchema,
  provide: ContextContributionSchema,
};

/** The outcome of checking one reply. */
export type OutputCheck = { ok: true; value: unknown } | { ok: false; error: string };

/**
 * Checks a handler's return value. `observe` results are ignored (always `undefined`); the others
 * are parsed, so unknown fields are dropped and only the documented shape reaches the host.
 */
export function checkPluginOutput(method: PluginMethod, value: unknown): OutputCheck {
  if (method === "observe") return { ok: true, value: undefined };
  const parsed = SCHEMAS[method].safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issues = parsed.error.issues.slice(0, 3).map((i) => {
    const where = i.path.length > 0 ? i.path.map(String).join(".") : "value";
    return `${where}: ${i.message}`;
  });
  return { ok: false, error: `${method}() returned malformed data: ${issues.join("; ")}` };
}
