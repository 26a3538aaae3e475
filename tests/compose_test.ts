import { assertEquals, rejects } from "./assert.ts";
import { compose, type Stage } from "../core/compose.ts";

Deno.test("compose runs stages in order and stops where next is not called", async (t) => {
  await t.step("runs in order, onion style", async () => {
    const seen: string[] = [];
    const stages: Stage<string[]>[] = ["a", "b", "c"].map((name) => ({
      name,
      run: async (ctx, next) => {
        ctx.push(`${name}>`);
        await next();
        ctx.push(`<${name}`);
      },
    }));
    await compose(stages)(seen);
    assertEquals(seen, ["a>", "b>", "c>", "<c", "<b", "<a"]);
  });

  await t.step("a stage that does not call next ends the chain", async () => {
    const seen: string[] = [];
    await compose<string[]>([
      { name: "a", run: (ctx, next) => (ctx.push("a"), next()) },
      { name: "stop", run: (ctx) => void ctx.push("stop") },
      { name: "never", run: (ctx) => void ctx.push("never") },
    ])(seen);
    assertEquals(seen, ["a", "stop"]);
  });

  await t.step("next twice is an error", async () => {
    await rejects(
      () =>
        compose<null>([{
          name: "twice",
          run: async (_ctx, next) => {
            await next();
            await next();
          },
        }])(null),
      Error,
      "more than once",
    );
  });

  await t.step("reports each stage's own time once", async () => {
    const timings: string[] = [];
    await compose<null>(
      [{ name: "outer", run: (_c, next) => next() }, { name: "inner", run: () => {} }],
      (stage, seconds) => {
        if (seconds < 0) throw new Error("negative time");
        timings.push(stage);
      },
    )(null);
    assertEquals(timings, ["inner", "outer"]);
  });
});
