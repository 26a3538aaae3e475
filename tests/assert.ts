/**
 * Assertions for tests: `node:assert/strict` under the names Deno tests usually use.
 * @module
 */
import assertModule from "node:assert/strict";

export { assertModule as assertNode };

/** Asserts `cond` is truthy. */
export function assert(cond: unknown, msg?: string): asserts cond {
  assertModule.ok(cond, msg);
}

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  assertModule.deepStrictEqual(actual, expected, msg);
}

/** Deep strict inequality. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  assertModule.notDeepStrictEqual(actual, expected, msg);
}

/** Asserts `actual` matches `re`. */
export function assertMatch(actual: string, re: RegExp, msg?: string): void {
  assertModule.match(actual, re, msg);
}

/** Asserts an async function rejects with an error of `cls` whose message includes `includes`. */
export async function rejects(
  fn: () => Promise<unknown>,
  cls: new (...args: never[]) => Error = Error,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    assertModule.ok(err instanceof cls, `expected ${cls.name}, got ${err}`);
    if (includes !== undefined) {
      assertModule.ok(
        (err as Error).message.includes(includes),
        `"${(err as Error).message}" lacks "${includes}"`,
      );
    }
    return err as Error;
  }
  throw new assertModule.AssertionError({ message: "expected the function to reject" });
}
