/**
 * `promtool check metrics` for tests of the metrics exposition (not a test file itself).
 * @module
 */
import assert from "node:assert/strict";

/** Runs `promtool check metrics` on `text`; fails (never skips) when promtool is not installed. */
export async function promtoolCheck(text: string): Promise<{ code: number; report: string }> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      assert.fail("promtool is not installed: apt-get install -y prometheus (CI must install it)");
    }
    throw err;
  }
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const output = await child.output();
  const dec = new TextDecoder();
  return { code: output.code, report: dec.decode(output.stdout) + dec.decode(output.stderr) };
}
