/**
 * Resolves and validates per-channel settings: config defaults, then the config's `[channels.x]`,
 * then live overrides stored in the database. The same schema checks the config file, `!clank`
 * commands and the HTTP API, so the ranges are written once.
 * @module
 */
import type { z } from "zod";
import {
  type ChannelSettings,
  ChannelSettingsPatchSchema,
  ChannelSettingsSchema,
  type Config,
  LIVE_SETTING_KEYS,
  LiveSettingsPatchSchema,
} from "./config_schema.ts";
import type { SettingProblem } from "./control.ts";

/** The configured settings of a channel (what `reset` returns to). */
export function configuredSettings(config: Config, channel: string): ChannelSettings {
  return ChannelSettingsSchema.parse({ ...config.defaults, ...config.channels[channel] });
}

/**
 * Applies stored overrides over configured settings. An override that no longer validates (the
 * schema changed since it was stored) is skipped and reported.
 */
export function resolveSettings(
  configured: ChannelSettings,
  overrides: Record<string, unknown>,
): { settings: ChannelSettings; skipped: SettingProblem[] } {
  const parsed = ChannelSettingsPatchSchema.safeParse(overrides);
  if (parsed.success) return { settings: { ...configured, ...parsed.data }, skipped: [] };
  const skipped = problemsOf(parsed.error.issues, overrides);
  const bad = new Set(skipped.map((p) => p.field.split(".")[0]));
  const good = Object.fromEntries(Object.entries(overrides).filter(([k]) => !bad.has(k)));
  const again = ChannelSettingsPatchSchema.safeParse(good);
  return { settings: { ...configured, ...(again.success ? again.data : {}) }, skipped };
}

/** Validates a settings change (from chat or HTTP): problems name the field, value and allowed range. */
export function validatePatch(
  patch: unknown,
): { ok: true; patch: Partial<ChannelSettings> } | { ok: false; problems: SettingProblem[] } {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) {
    return {
      ok: false,
      problems: [{ field: "(body)", value: patch, message: "must be an object of setting names to values" }],
    };
  }
  const parsed = LiveSettingsPatchSchema.safeParse(patch);
  if (parsed.success) return { ok: true, patch: parsed.data };
  return { ok: false, problems: problemsOf(parsed.error.issues, patch, true) };
}

function problemsOf(issues: readonly z.core.$ZodIssue[], input: unknown, live = false): SettingProblem[] {
  const out: SettingProblem[] = [];
  const settings = Object.keys(ChannelSettingsSchema.shape);
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of (issue as { keys: string[] }).keys) {
        const message = !live
          ? `is not a setting; allowed: ${settings.join(", ")}`
          : settings.includes(key)
          ? `can only be set in the config file ([defaults] or [channels.<name>]); changeable live: ${
            LIVE_SETTING_KEYS.join(", ")
          }`
          : `is not a setting; changeable live: ${LIVE_SETTING_KEYS.join(", ")}`;
        out.push({ field: key, value: (input as Record<string, unknown>)[key], message });
      }
      continue;
    }
    const field = issue.path.map(String).join(".");
    const value = (input as Record<string, unknown>)[String(issue.path[0])];
    out.push({ field, value, message: issue.message });
  }
  return out;
}

/** One line per problem, e.g. `threshold: 500 is out of range 5..200`. */
export function describeProblems(problems: readonly SettingProblem[]): string {
  return problems.map((p) => `${p.field}: ${JSON.stringify(p.value)} ${p.message}`).join("; ");
}
