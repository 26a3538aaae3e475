import assert from "node:assert/strict";
import { DEFAULT_RUNS, parseResult, parseRuns, RESULT_MARKER } from "../bench/suite.ts";

Deno.test("parseRuns reads --runs N and --runs=N", async (t) => {
  await t.step("both spellings", () => {
    assert.equal(parseRuns(["--runs", "3"]), 3);
    assert.equal(parseRuns(["ingest", "--runs=7"]), 7);
  });
  await t.step("the default when absent", () => {
    assert.equal(parseRuns([]), DEFAULT_RUNS);
  });
  await t.step("refuses what is not a whole number in 1..100", () => {
    for (const bad of [["--runs", "0"], ["--runs=2.5"], ["--runs"], ["--runs=x"], ["--runs", "101"]]) {
      assert.throws(() => parseRuns(bad), /must be a whole number in 1\.\.100/, bad.join(" "));
    }
  });
});

Deno.test("parseResult takes the figures from the last result line", async (t) => {
  await t.step("ignores other output and earlier result lines", () => {
    const figure = { group: "G", name: "n", unit: "ms", runs: [1, 2] };
    const stdout = `noise\n${RESULT_MARKER}[]\n${RESULT_MARKER}${JSON.stringify([figure])}\ntrailing\n`;
    assert.deepEqual(parseResult(stdout), [figure]);
  });
  await t.step("fails without a result line", () => {
    assert.throws(() => parseResult("only noise\n"), /printed no result line/);
  });
});
