import assert from "node:assert/strict";
import { parseEntry, parseWordList, type RegexEntry, wordListFromArray } from "../filters/word_list.ts";

const SAMPLE = [
  "# a comment line",
  "",
  "badword",
  "   spaced entry   ",
  "[insults]   # a category with a comment",
  "Kill-Your Self  # trailing comment",
  "re:fo+\\s*bar",
  "   # indented comment",
  "[other things]",
  "ÀCCENTED",
].join("\n");

Deno.test("parseWordList reads entries, comments, blank lines and categories", () => {
  const list = parseWordList(SAMPLE, "blocked words file");
  assert.deepEqual(list.problems, []);
  assert.equal(list.source, "blocked words file");
  const summary = list.entries.map((e) => ({
    kind: e.kind,
    line: e.line,
    category: e.category,
    text: e.text,
    pattern: e.kind === "word" ? e.pattern : undefined,
  }));
  assert.deepEqual(summary, [
    { kind: "word", line: 3, category: "", text: "badword", pattern: "badword" },
    { kind: "word", line: 4, category: "", text: "spaced entry", pattern: "spaced entry" },
    { kind: "word", line: 6, category: "insults", text: "Kill-Your Self", pattern: "kill your self" },
    { kind: "regex", line: 7, category: "insults", text: "re:fo+\\s*bar", pattern: undefined },
    { kind: "word", line: 10, category: "other things", text: "ÀCCENTED", pattern: "accented" },
  ]);
  for (const entry of list.entries) assert.equal(entry.source, "blocked words file");
});

Deno.test("parseWordList compiles re: lines with the i and u flags", () => {
  const list = parseWordList("re:fo+\\s*bar\nre:\\p{Lu}{3}", "file");
  const [first, second] = list.entries as RegexEntry[];
  assert.equal(first?.regex.flags, "iu");
  assert.ok(first?.regex.test("FOOO  BAR"));
  assert.ok(second?.regex.test("abc"), "the i flag applies to Unicode property escapes too");
});

Deno.test("parseWordList reports a bad entry with its line number and skips it", async (t) => {
  const text = [
    "good",
    "re:(unclosed",
    "a",
    "!!!",
    "re:",
    "re:x*",
    "[]",
    "also good",
  ].join("\n");
  const list = parseWordList(text, "file");
  const byLine = new Map(list.problems.map((p) => [p.line, p]));

  await t.step("good entries around the bad ones are kept", () => {
    assert.deepEqual(list.entries.map((e) => [e.line, e.text]), [[1, "good"], [8, "also good"]]);
  });
  await t.step("an invalid regular expression names the reason, not V8's echo of the pattern", () => {
    const problem = byLine.get(2);
    assert.equal(problem?.entry, "re:(unclosed");
    assert.match(problem?.message ?? "", /^Invalid regular expression \(flags iu\): Unterminated group$/);
  });
  await t.step("entries that fold to fewer than two letters or digits", () => {
    assert.match(
      byLine.get(3)?.message ?? "",
      /needs at least 2 letters or digits after normalization, found 1$/,
    );
    assert.match(byLine.get(4)?.message ?? "", /found 0$/);
  });
  await t.step("an empty pattern and a pattern that matches the empty line", () => {
    assert.match(byLine.get(5)?.message ?? "", /is empty/);
    assert.match(byLine.get(6)?.message ?? "", /matches an empty line/);
  });
  await t.step("an empty category name", () => {
    assert.match(byLine.get(7)?.message ?? "", /Category name is empty/);
  });
  await t.step("every problem message starts upper-case and has no trailing period", () => {
    assert.equal(list.problems.length, 6);
    for (const p of list.problems) assert.match(p.message, /^[A-Z].*[^.]$/);
  });
});

Deno.test("parseWordList reads allow: lines as folded letters", () => {
  const list = parseWordList("allow: Rapping\nallow:Dick Van-Dyke\nallow:x", "file");
  assert.deepEqual(
    list.entries.map((e) => [e.kind, e.line, e.kind === "allow" ? e.letters : ""]),
    [["allow", 1, "rapping"], ["allow", 2, "dickvandyke"]],
  );
  assert.deepEqual(list.problems.map((p) => [p.line, p.entry]), [[3, "allow:x"]]);
});

Deno.test("parseWordList handles CRLF line ends and a byte order mark", () => {
  const list = parseWordList("\uFEFFfirst\r\nsecond\rthird\n", "file");
  assert.deepEqual(list.entries.map((e) => [e.line, e.text]), [[1, "first"], [2, "second"], [3, "third"]]);
});

Deno.test("parseWordList keeps # inside a regular expression", () => {
  const list = parseWordList("re:a #b", "file");
  const [entry] = list.entries as RegexEntry[];
  assert.ok(entry?.regex.test("xa #by"));
});

Deno.test("wordListFromArray numbers configured entries from 1", () => {
  const list = wordListFromArray(["one thing", "x", "re:[", "two\nlines"], "channel list");
  assert.deepEqual(list.entries.map((e) => [e.line, e.text]), [[1, "one thing"], [4, "two lines"]]);
  assert.deepEqual(list.problems.map((p) => [p.source, p.line]), [["channel list", 2], ["channel list", 3]]);
});

Deno.test("parseEntry folds an entry into letters, digits and single word breaks", () => {
  assert.deepEqual(parseEntry("  Hello,  World!! "), { pattern: "hello world" });
  assert.deepEqual(parseEntry("ＦＵＬＬ—width"), { pattern: "full width" });
  assert.deepEqual(parseEntry("1488"), { pattern: "1488" });
  assert.deepEqual(parseEntry("n-word"), { pattern: "n word" });
  assert.ok("error" in parseEntry("-"));
});
