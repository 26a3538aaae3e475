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
      async () =>
        await compose<null>([{
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

Deno.test("compose stays synchronous until a stage waits", async (t) => {
  await t.step("a chain of synchronous stages returns undefined, having run every stage", () => {
    const seen: string[] = [];
    const result = compose<string[]>([
      { name: "a", run: (ctx, next) => (ctx.push("a>"), next()) },
      { name: "b", run: (ctx, next) => (ctx.push("b>"), next()) },
      { name: "c", run: (ctx) => void ctx.push("c") },
    ])(seen);
    assertEquals(result, undefined);
    assertEquals(seen, ["a>", "b>", "c"]);
  });

  await t.step(
    "a stage that waits turns the chain into a promise; later stages still run in order",
    async () => {
      const seen: string[] = [];
      let release: () => void = () => {};
      const waiting = new Promise<void>((r) => release = r);
      const result = compose<string[]>([
        { name: "a", run: (ctx, next) => (ctx.push("a"), next()) },
        { name: "wait", run: (ctx, next) => waiting.then(() => ctx.push("waited")).then(next) },
        { name: "c", run: (ctx) => void ctx.push("c") },
      ])(seen);
      assertEquals(seen, ["a"]);
      assertEquals(result instanceof Promise, true);
      release();
      await result;
      assertEquals(seen, ["a", "waited", "c"]);
    },
  );

  await t.step("a synchronous throw anywhere arrives as a rejected promise", async () => {
    const result = compose<null>([
      { name: "a", run: (_ctx, next) => next() },
      {
        name: "boom",
        run: () => {
          throw new Error("boom");
        },
      },
    ])(null);
    assertEquals(result instanceof Promise, true);
    await rejects(() => result as Promise<void>, Error, "boom");
  });

  await t.step("next twice in a synchronous stage is an error too", async () => {
    await rejects(
      async () =>
        await compose<null>([{
          name: "twice",
          run: (_ctx, next) => {
            next();
            return next();
          },
        }])(null),
      Error,
      "more than once",
    );
  });
});
