/**
 * Blocked-word lists: the file format and its parser.
 *
 * One entry per line. Blank lines and lines starting with `#` are ignored; a blank followed by `#`
 * starts a comment on any line except a `re:` line. `[name]` starts a category that the following
 * entries belong to (a drop verdict names the category, never the matched text). `re:PATTERN` is a
 * regular expression (flags `iu`) tested against the raw line and the folded line. `allow:WORD`
 * names an ordinary word that a word entry must not match (stretched letters turn "rapping" into
 * "raping"). Anything else is a word or phrase, matched as whole words. A bad line is reported with
 * its line number and skipped; parsing never throws.
 * @module
 */
import { CharKind, charKind, foldText } from "./text_normalizer.ts";

/** Where an entry came from, and what a drop reason says about it. */
interface EntryOrigin {
  /** The list it is in, e.g. `default list`, `blocked words file`, `channel list`. */
  source: string;
  /** 1-based line in the file, or position in a configured array. */
  line: number;
  /** The `[category]` it is under; empty when none. */
  category: string;
  /** The entry as written (for operators' logs; never sent to chat). */
  text: string;
}

/** A word or phrase entry. */
export interface WordEntry extends EntryOrigin {
  kind: "word";
  /** The folded entry: letters and digits, one space between the words of a phrase. */
  pattern: string;
}

/** A `re:` entry. */
export interface RegexEntry extends EntryOrigin {
  kind: "regex";
  regex: RegExp;
}

/** An `allow:` entry: a word (or phrase) that word entries must not match. */
export interface AllowEntry extends EntryOrigin {
  kind: "allow";
  /** The folded letters and digits of the word, without separators. */
  letters: string;
}

/** An entry that blocks a line. */
export type BlockEntry = WordEntry | RegexEntry;

/** Any entry of a list. */
export type ListEntry = BlockEntry | AllowEntry;

/** A line that was skipped, and why. */
export interface ListProblem {
  source: string;
  line: number;
  entry: string;
  message: string;
}

/** A parsed list. */
export interface WordList {
  source: string;
  entries: ListEntry[];
  problems: ListProblem[];
}

/** Fewest letters or digits an entry needs; one-letter entries would block half of chat. */
export const MIN_ENTRY_CHARS = 2;

/**
 * Folds a word or phrase entry into its match pattern: letters and digits, with every run of other
 * characters (spaces, hyphens, apostrophes) turned into one word break. Returns an error message
 * when too little is left.
 */
export function parseEntry(text: string): { pattern: string } | { error: string } {
  const folded = foldText(text);
  let pattern = "";
  let pendingBreak = false;
  let count = 0;
  for (let i = 0; i < folded.length; i++) {
    const kind = charKind(folded.charCodeAt(i));
    if (kind === CharKind.Letter || kind === CharKind.Digit) {
      if (pendingBreak && pattern !== "") pattern += " ";
      pendingBreak = false;
      pattern += folded[i];
      count++;
    } else {
      pendingBreak = true;
    }
  }
  if (count < MIN_ENTRY_CHARS) {
    return {
      error: `Entry needs at least ${MIN_ENTRY_CHARS} letters or digits after normalization, found ${count}`,
    };
  }
  return { pattern };
}

function compileRegex(source: string): { regex: RegExp } | { error: string } {
  if (source === "") return { error: "Regular expression after re: is empty" };
  let regex: RegExp;
  try {
    regex = new RegExp(source, "iu");
  } catch (err) {
    // V8 repeats the pattern in its message; keep only the reason.
    const detail = (err instanceof Error ? err.message : String(err)).replace(
      /^Invalid regular expression: \/.*\/\w*: /s,
      "",
    );
    return { error: `Invalid regular expression (flags iu): ${detail}` };
  }
  if (regex.test("")) {
    return { error: "Regular expression matches an empty line, so it would block every line" };
  }
  return { regex };
}

const SECTION = /^\[([^\]]*)\]$/;

/** Parses one line; `category` is the current section. Returns null for blank lines and comments. */
function parseLine(
  raw: string,
  line: number,
  source: string,
  category: string,
): { entry: ListEntry } | { problem: ListProblem } | { section: string } | null {
  const trimmed = raw.trim();
  if (trimmed === "" || trimmed.startsWith("#")) return null;
  if (trimmed.startsWith("re:")) {
    // A regular expression runs to the end of the line: `#` may be part of it.
    const compiled = compileRegex(trimmed.slice(3).trim());
    if ("error" in compiled) return { problem: { source, line, entry: trimmed, message: compiled.error } };
    return { entry: { kind: "regex", source, line, category, text: trimmed, regex: compiled.regex } };
  }
  const comment = trimmed.search(/\s#/);
  const text = comment === -1 ? trimmed : trimmed.slice(0, comment).trim();
  const origin = { source, line, category, text };
  if (text.startsWith("allow:")) {
    const parsed = parseEntry(text.slice(6).trim());
    if ("error" in parsed) return { problem: { source, line, entry: text, message: parsed.error } };
    return { entry: { kind: "allow", ...origin, letters: parsed.pattern.replaceAll(" ", "") } };
  }
  const section = SECTION.exec(text);
  if (section) {
    const name = (section[1] ?? "").trim();
    if (name === "") return { problem: { source, line, entry: text, message: "Category name is empty" } };
    return { section: name };
  }
  const parsed = parseEntry(text);
  if ("error" in parsed) return { problem: { source, line, entry: text, message: parsed.error } };
  return { entry: { kind: "word", ...origin, pattern: parsed.pattern } };
}

function parseLines(lines: readonly string[], source: string): WordList {
  const list: WordList = { source, entries: [], problems: [] };
  let category = "";
  lines.forEach((raw, index) => {
    const result = parseLine(raw, index + 1, source, category);
    if (result === null) return;
    if ("section" in result) category = result.section;
    else if ("problem" in result) list.problems.push(result.problem);
    else list.entries.push(result.entry);
  });
  return list;
}

/** Parses the text of a blocked-words file. `source` names the list in reasons and logs. */
export function parseWordList(text: string, source: string): WordList {
  return parseLines(text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/), source);
}

/**
 * Parses configured entries (plugin `words`, a channel's `blocked_words`): each string is one line
 * of the file format, and its position (from 1) stands in for the line number.
 */
export function wordListFromArray(items: readonly string[], source: string): WordList {
  return parseLines(items.map((item) => item.replace(/[\r\n]+/g, " ")), source);
}
