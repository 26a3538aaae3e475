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

/**
 * Hand-written checks for the shapes that arrive on every chat line and every reply. Zod builds
 * an issue list, a context and a copy per object; for 200 history lines that was ~130 KB of garbage
 * per reply (bench/reply_overhead.ts). Each check accepts only a clearly valid subset of what its
 * schema accepts (plain objects, keys present with a defined value) and builds the same output; for
 * anything else it answers `undefined` and the schema decides, so error messages stay zod's.
 */
type FastCheck = (value: unknown) => { value: unknown } | undefined;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function isText(v: unknown, max: number): v is string {
  return typeof v === "string" && v.length <= max;
}

function isReason(v: unknown): v is string {
  return isText(v, MAX_REASON) && v.length >= 1;
}

/** Copies an array of strings, or answers `undefined` when any element is not one. */
function textList(v: unknown, maxItems: number, maxLength: number): string[] | undefined {
  if (!Array.isArray(v) || v.length > maxItems) return undefined;
  const out: string[] = [];
  for (let i = 0; i < v.length; i++) {
    const s: unknown = v[i];
    if (!isText(s, maxLength)) return undefined;
    out.push(s);
  }
  return out;
}

function fastHistoryLine(v: unknown): z.infer<typeof HistoryLineSchema> | undefined {
  if (!isPlainObject(v)) return undefined;
  const { seq, id, user, displayName, text, time, bot } = v;
  if (typeof user !== "string" || typeof displayName !== "string" || !isText(text, MAX_TEXT)) {
    return undefined;
  }
  if (typeof time !== "number" || !Number.isFinite(time) || typeof bot !== "boolean") return undefined;
  const line: z.infer<typeof HistoryLineSchema> = { user, displayName, text, time, bot };
  if (seq !== undefined) {
    if (!Number.isSafeInteger(seq)) return undefined;
    line.seq = seq as number;
  } else if ("seq" in v) return undefined;
  if (id !== undefined) {
    if (typeof id !== "string") return undefined;
    line.id = id;
  } else if ("id" in v) return undefined;
  return line;
}

const FAST_CHECKS: Partial<Record<PluginMethod, FastCheck>> = {
  check(v) {
    if (!isPlainObject(v)) return undefined;
    // Each property is read once: an in-process plugin's getter must not pass one value and deliver another.
    const { action, reason, text } = v;
    if (action === "pass") return { value: { action } };
    if (action === "drop") return isReason(reason) ? { value: { action, reason } } : undefined;
    if (action === "rewrite") return isText(text, MAX_TEXT) ? { value: { action, text } } : undefined;
    return undefined;
  },
  gate(v) {
    if (!isPlainObject(v)) return undefined;
    const { allow, reason } = v;
    if (allow === true) return { value: { allow } };
    if (allow === false && isReason(reason)) return { value: { allow, reason } };
    return undefined;
  },
  generate(v) {
    if (v === null || v === undefined) return { value: null };
    if (!isPlainObject(v)) return undefined;
    const { text } = v;
    if (!isText(text, MAX_TEXT)) return undefined;
    if (!("forbidden" in v)) return { value: { text } };
    const forbidden = textList(v.forbidden, 100, Number.POSITIVE_INFINITY);
    return forbidden ? { value: { text, forbidden } } : undefined;
  },
  provide(v) {
    if (!isPlainObject(v)) return undefined;
    const out: z.infer<typeof ContextContributionSchema> = {};
    const { history: lines, notes: noteList } = v;
    if ("history" in v) {
      if (!Array.isArray(lines) || lines.length > 10_000) return undefined;
      const history: z.infer<typeof HistoryLineSchema>[] = [];
      for (let i = 0; i < lines.length; i++) {
        const line = fastHistoryLine(lines[i]);
        if (line === undefined) return undefined;
        history.push(line);
      }
      out.history = history;
    }
    if ("notes" in v) {
      const notes = textList(noteList, 100, MAX_TEXT);
      if (notes === undefined) return undefined;
      out.notes = notes;
    }
    return { value: out };
  },
};

/**
 * The fast check of `method`'s reply: its output when the value is clearly valid, `undefined` when
 * only the schema can tell. Exported for the property test that holds it to the schema.
 */
export function fastPluginOutput(method: PluginMethod, value: unknown): { value: unknown } | undefined {
  return FAST_CHECKS[method]?.(value);
}

/** The outcome of checking one reply. */
export type OutputCheck = { ok: true; value: unknown } | { ok: false; error: string };

/**
 * Checks a handler's return value. `observe` results are ignored (always `undefined`); the others
 * are parsed, so unknown fields are dropped and only the documented shape reaches the host.
 */
export function checkPluginOutput(method: PluginMethod, value: unknown): OutputCheck {
  if (method === "observe") return { ok: true, value: undefined };
  const fast = fastPluginOutput(method, value);
  if (fast !== undefined) return { ok: true, value: fast.value };
  const parsed = SCHEMAS[method].safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issues = parsed.error.issues.slice(0, 3).map((i) => {
    const where = i.path.length > 0 ? i.path.map(String).join(".") : "value";
    return `${where}: ${i.message}`;
  });
  return { ok: false, error: `${method}() returned malformed data: ${issues.join("; ")}` };
}
