import { assert, assertEquals } from "./assert.ts";
import { parse } from "smol-toml";
import { ConfigSchema, ENV_BINDINGS } from "../core/config_schema.ts";

const example = await Deno.readTextFile(new URL("../config.example.toml", import.meta.url));

Deno.test("config.example.toml documents every key and is itself a valid config", async (t) => {
  await t.step("it validates and equals the defaults", () => {
    const parsed = ConfigSchema.parse(parse(example));
    assertEquals(parsed, ConfigSchema.parse({}));
  });
  await t.step("every key of every section appears", () => {
    const raw = parse(example) as Record<string, unknown>;
    const shape = ConfigSchema.shape;
    for (const [section, schema] of Object.entries(shape)) {
      if (section === "plugins" || section === "channels") {
        assert(
          example.includes(section === "plugins" ? "[[plugins]]" : "[channels."),
          `${section} not shown`,
        );
        continue;
      }
      const inner =
        (schema as { def: { innerType?: { shape?: Record<string, unknown> } } }).def.innerType?.shape ??
          (schema as { shape?: Record<string, unknown> }).shape;
      if (inner === undefined) {
        assert(section in raw, `${section} missing`);
        continue;
      }
      for (const key of Object.keys(inner)) {
        // A key without a default (its absence means something, e.g. "half of timeout") is shown commented.
        const commented = new RegExp(`^#\\s*${key}\\s*=`, "m").test(example);
        assert(
          key in ((raw[section] ?? {}) as Record<string, unknown>) || commented,
          `${section}.${key} missing`,
        );
      }
    }
  });
  await t.step("every environment variable is named", () => {
    for (const b of ENV_BINDINGS) {
      assert(example.includes(`[${b.env}]`), `${b.env} not mentioned`);
    }
  });
});
