/**
 * Example command: `!clank roll 2d6` → `@viewer rolled 2d6: 3 + 5 = 8`.
 *
 * Anyone may roll; the host enforces the declared cooldown (one roll per user every 10 seconds).
 * Bad input gets the allowed form back instead of a roll. No permissions needed.
 *
 * ```toml
 * [[plugins]]
 * path = "plugins.d/dice.ts"
 * options = { max_dice = 10, max_sides = 100 }
 * ```
 * @module
 */
import { z } from "zod";
import { definePlugin } from "../../plugins/sdk.ts";

const Options = z.object({
  max_dice: z.number().int().min(1).max(100).default(20),
  max_sides: z.number().int().min(2).max(1_000_000).default(1000),
});

/** A fair integer in 1..sides from the platform's CSPRNG (no modulo bias). */
function rollOne(sides: number): number {
  const limit = Math.floor(0x1_0000_0000 / sides) * sides;
  const buf = new Uint32Array(1);
  do crypto.getRandomValues(buf); while (buf[0]! >= limit);
  return (buf[0]! % sides) + 1;
}

export default definePlugin({
  name: "dice",
  kind: "command",
  apiVersion: 1,
  description: "Rolls dice: !clank roll NdM",
  command: "roll",
  aliases: ["dice"],
  usage: "roll NdM (e.g. 2d6)",
  permission: "everyone",
  cooldown: { user: 10 },
  options: Options,
  run(inv, api) {
    const { max_dice, max_sides } = api.options;
    const spec = (inv.args[0] ?? "1d6").toLowerCase();
    const m = /^(\d{0,3})d(\d{1,7})$/.exec(spec);
    const count = m ? (m[1] === "" ? 1 : Number(m[1])) : NaN;
    const sides = m ? Number(m[2]) : NaN;
    if (!(count >= 1 && count <= max_dice && sides >= 2 && sides <= max_sides)) {
      return {
        reply: `@${inv.displayName} usage: ${inv.prefix} roll NdM, e.g. ${inv.prefix} roll 2d6 ` +
          `(N dice 1-${max_dice}, M sides 2-${max_sides})`,
      };
    }
    const rolls = Array.from({ length: count }, () => rollOne(sides));
    const total = rolls.reduce((a, b) => a + b, 0);
    const shown = count === 1 ? `${total}` : `${rolls.join(" + ")} = ${total}`;
    return { reply: `@${inv.displayName} rolled ${count}d${sides}: ${shown}` };
  },
});
