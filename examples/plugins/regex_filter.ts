/**
 * Example filter: drops chat lines (and bot lines) that match any of the configured regular
 * expressions.
 *
 * ```toml
 * [[plugins]]
 * path = "plugins.d/regex_filter.ts"
 * options = { patterns = ["\\bcrypto\\s+giveaway\\b", "^!gamble"], flags = "i" }
 * ```
 *
 * Copy it into `plugins.d/` and change the SDK import to `../plugins/sdk.ts`. It runs sandboxed and
 * needs no permissions. A pathological pattern that backtracks forever is cut off by the call
 * deadline: the Worker is restarted and, if it keeps happening, the plugin is disabled.
 * @module
 */
import { z } from "zod";
import { definePlugin } from "../../plugins/sdk.ts";

const Options = z.object({
  /** Regular expressions (JavaScript syntax); a line matching any of them is dropped. */
  patterns: z.array(z.string().min(1).max(500)).min(1, { error: "needs at least one pattern" }).max(200),
  /** RegExp flags: any of i, m, s, u. */
  flags: z.string().regex(/^[imsu]*$/, { error: "may only contain the flags i, m, s and u" }).default("i"),
  /** Which lines to check. */
  directions: z.array(z.enum(["in", "out"])).min(1).default(["in", "out"]),
}).superRefine((o, ctx) => {
  o.patterns.forEach((p, i) => {
    try {
      new RegExp(p, o.flags);
    } catch (err) {
      ctx.addIssue({
        code: "custom",
        path: ["patterns", i],
        message: `is not a valid regular expression: ${(err as Error).message}`,
      });
    }
  });
});

let compiled: RegExp[] = [];
let directions: Array<"in" | "out"> = ["in", "out"];

export default definePlugin({
  name: "regex_filter",
  kind: "filter",
  apiVersion: 1,
  description: "Drops lines matching configured regular expressions",
  options: Options,
  setup(api) {
    compiled = api.options.patterns.map((p) => new RegExp(p, api.options.flags));
    directions = api.options.directions;
    api.log.info(`Loaded ${compiled.length} patterns`);
  },
  check(item) {
    if (!directions.includes(item.direction)) return { action: "pass" };
    const hit = compiled.findIndex((re) => re.test(item.text));
    return hit === -1 ? { action: "pass" } : { action: "drop", reason: `matched pattern ${hit + 1}` };
  },
});
