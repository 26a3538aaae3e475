/**
 * Builds the numeric setting commands (`threshold`, `spontaneous`, `response`, `context`): with no
 * value they show the current one, with a value they ask the host to set it. The host validates
 * against the same schema as the config, so a bad value gets the schema's own message
 * (`threshold: 500 is out of range 5..200`).
 * @module
 */
import { ChannelSettingsSchema } from "../core/config_schema.ts";
import { type CommandPlugin, definePlugin } from "../plugins/sdk.ts";

/** The numeric settings that have a command. */
export type NumericSetting = "threshold" | "spontaneous" | "response" | "context";

/** The allowed range of a numeric setting, read from the schema. */
export function settingRange(key: NumericSetting): { min: number; max: number } {
  const inner = ChannelSettingsSchema.shape[key].unwrap();
  return { min: inner.minValue ?? 0, max: inner.maxValue ?? Number.MAX_SAFE_INTEGER };
}

/** Creates the command plugin for one numeric setting. */
export function settingCommand(key: NumericSetting, meaning: string, unit = ""): CommandPlugin {
  const { min, max } = settingRange(key);
  return definePlugin({
    name: `command_${key}`,
    kind: "command",
    apiVersion: 1,
    description: `Shows or sets ${meaning}`,
    command: key,
    usage: `${key} [${min}-${max}]`,
    permission: "moderator",
    run(inv) {
      const arg = inv.args[0];
      if (arg === undefined) {
        return {
          reply: `@${inv.displayName} ${key} is ${
            inv.settings[key]
          }${unit} (${meaning}; allowed ${min}-${max})`,
        };
      }
      if (inv.args.length > 1) {
        return { reply: `@${inv.displayName} usage: ${inv.prefix} ${key} [${min}-${max}]` };
      }
      const value = /^[+-]?\d+(\.\d+)?$/.test(arg) ? Number(arg) : arg;
      return {
        set: { [key]: value },
        reply: `@${inv.displayName} ${key} set to ${value}${unit} (was ${inv.settings[key]}${unit})`,
      };
    },
  });
}
