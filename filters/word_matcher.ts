/**
 * The compiled blocked-word matcher.
 *
 * Word and phrase entries go into one trie over their folded letters. A line is folded
 * (`text_normalizer.ts`) and walked from every word start; each step reads a character as any letter
 * it can stand for (leetspeak), lets the previous letter repeat (`baaad`), and lets a short run of
 * separators sit between two letters (`b.a.d`, `b a d`). A match must start and end on a word
 * boundary, so "class" and "therapist" never match "ass" or "rapist"; a plural `s` or `z` may follow.
 *
 * Spacing with whitespace is accepted only next to a one-letter piece (`b a d w o r d`, `b a dword`,
 * `b.a d.w`): a whitespace split between two longer pieces is how two ordinary words look ("go ok"
 * is not "gook"). Separators that are not whitespace (`bad.word`, `b-a-d`) may split a word anywhere.
 *
 * Digits are read as letters, but chat is full of numbers, so three things keep a number a number:
 * a piece made only of digits (or a letter glued to a number, "80s") touches whitespace only when it
 * is one character with a one-character piece beside it (`n 1 g g 3 r`, but not "top 5 pics", "rap
 * 3", "600 k", "the 80s pic"); a match that starts with a digit and has more digits than letters is a
 * number with a unit ("600k", "900k views"); and a word does not start after an apostrophe inside a
 * word ("here's pic").
 *
 * A word match whose letters spell an `allow:` word of the same lists (plural `s`/`z` aside) is
 * ignored: "rapping" is not "raping" stretched. `re:` entries are tested against the raw line and
 * the folded line; `allow:` does not apply to them.
 * @module
 */
import { CharKind, charKind, foldText, foldTextWithOffsets, letterReadings } from "./text_normalizer.ts";
import type { BlockEntry, ListEntry, RegexEntry, WordEntry, WordList } from "./word_list.ts";

/** Most separator characters between two letters of one word (`b . a`: three). */
export const MAX_GAP = 5;
/** Most separator characters between two words of a phrase. */
export const MAX_PHRASE_GAP = 12;
/** Endings a word entry may have without listing them (plurals). */
const SUFFIXES = ["s", "z"];
const BREAK = " ";
/** Apostrophes that join a contraction or possessive to the word before it ("here's", "that’s"). */
const APOSTROPHES = new Set(["'", "\u2019", "\u2018", "`"]);

/**
 * What the walk knows about the pieces around the current one, for the whitespace rules. A piece is
 * "single" when it reads as one entry letter (stretched or not).
 */
const Around = {
  /** The gap before this piece held whitespace. */
  SpacedBefore: 1,
  /** The piece before this one, in the same word, was single. */
  SingleBefore: 2,
  /** This piece must stay single: it follows a longer piece across whitespace, or a lone number
   * that has no single neighbour before it. */
  MustBeSingle: 4,
} as const;

/** A match: the entry and where it is in the original line (UTF-16 offsets, end exclusive). */
export interface BlockMatch {
  entry: BlockEntry;
  start: number;
  end: number;
}

interface TrieNode {
  id: number;
  /** The letter, digit or word break that leads here. */
  key: string;
  children: Map<string, TrieNode>;
  /** Entries that end here; the first one is reported. */
  entries: WordEntry[];
}

function isDigitKey(key: string): boolean {
  return key >= "0" && key <= "9";
}

function isWordKind(kind: number): boolean {
  return kind === CharKind.Letter || kind === CharKind.Digit;
}

/**
 * Whether a piece may end here. A piece of digits next to whitespace must be single and have a
 * single neighbour: `n 1 g g 3 r` and `r a p 3` are spelled out, `600 k`, `5 pics` and `rap 3` are a
 * number next to a word. `last` is true when no piece of the word follows.
 */
function pieceMayEnd(
  piece: number,
  numeric: boolean,
  around: number,
  spacedAfter: boolean,
  last: boolean,
): boolean {
  if (!numeric || !(around & Around.SpacedBefore || spacedAfter)) return true;
  return piece < 2 && (!last || (around & Around.SingleBefore) !== 0);
}

/** What the next piece of the word knows, after a gap following a piece in state `around`. */
function aroundNext(piece: number, numeric: boolean, around: number, spaced: boolean): number {
  let next = piece < 2 ? Around.SingleBefore : 0;
  if (spaced) next |= Around.SpacedBefore;
  // Whitespace between two longer pieces is how two ordinary words look ("go ok" is not "gook").
  if (spaced && !numeric && piece >= 2) next |= Around.MustBeSingle;
  // A lone number with no single piece before it needs one after it.
  if (numeric && (around & Around.SpacedBefore || spaced) && !(around & Around.SingleBefore)) {
    next |= Around.MustBeSingle;
  }
  return next;
}

/** Per-line state of one {@link WordMatcher.match} call. */
interface Scan {
  text: string;
  kinds: Uint8Array;
  /** 1 when the letter/digit run ending just before `i` contains a letter. */
  letterBefore: Uint8Array;
  /** 1 when the letter/digit run starting at `i` contains a letter. */
  letterFrom: Uint8Array;
  /** Where the current attempt started. */
  start: number;
  /** States explored without a match; their outcome does not depend on the start. */
  visited: Set<number>;
  /** States whose exploration rejected an allowed word: their outcome depends on the start. */
  visitedFromStart: Set<number>;
  /** Matches rejected because they spell an allowed word, so far. */
  rejections: number;
}

/** A compiled set of lists. Build once per list change; `match` is cheap and never throws. */
export class WordMatcher {
  readonly #root: TrieNode;
  readonly #regexes: RegexEntry[] = [];
  readonly #allowed = new Set<string>();
  readonly #scan: Scan = {
    text: "",
    kinds: new Uint8Array(64),
    letterBefore: new Uint8Array(64),
    letterFrom: new Uint8Array(64),
    start: 0,
    visited: new Set(),
    visitedFromStart: new Set(),
    rejections: 0,
  };
  #nodes = 0;
  /** Entries compiled (words, phrases and regular expressions). */
  readonly size: number;

  constructor(entries: readonly ListEntry[]) {
    this.#root = this.#node("");
    for (const entry of entries) {
      if (entry.kind === "regex") this.#regexes.push(entry);
      else if (entry.kind === "allow") this.#allowed.add(entry.letters);
      else this.#insert(entry);
    }
    this.size = entries.length;
  }

  /** Compiles the entries of several lists; of two entries with the same words, the earlier is reported. */
  static compile(lists: readonly WordList[]): WordMatcher {
    return new WordMatcher(lists.flatMap((list) => list.entries));
  }

  /** The first blocked entry found in `text`, or null. */
  match(text: string): BlockMatch | null {
    const folded = foldText(text);
    const hit = this.#matchWords(folded);
    if (hit) return { entry: hit.entry, ...this.#rawSpan(text, hit.start, hit.end) };
    for (const entry of this.#regexes) {
      const raw = entry.regex.exec(text);
      if (raw) return { entry, start: raw.index, end: raw.index + raw[0].length };
      const inFolded = entry.regex.exec(folded);
      if (inFolded) {
        return { entry, ...this.#rawSpan(text, inFolded.index, inFolded.index + inFolded[0].length) };
      }
    }
    return null;
  }

  #node(key: string): TrieNode {
    return { id: this.#nodes++, key, children: new Map(), entries: [] };
  }

  #insert(entry: WordEntry): void {
    let node = this.#root;
    for (const key of entry.pattern) {
      let next = node.children.get(key);
      if (!next) {
        next = this.#node(key);
        node.children.set(key, next);
      }
      node = next;
    }
    node.entries.push(entry);
  }

  #rawSpan(text: string, start: number, end: number): { start: number; end: number } {
    const { offsets } = foldTextWithOffsets(text);
    const rawStart = offsets[start] ?? 0;
    const rawEnd = Math.max(offsets[end] ?? text.length, (offsets[end - 1] ?? rawStart) + 1);
    return { start: rawStart, end: Math.min(rawEnd, text.length) };
  }

  /**
   * Grows the per-line arrays to `size` cells. They and the two visited sets are reused from line
   * to line: fresh ones were a third of what the blocked-words check allocated per chat line. `match`
   * is synchronous and never re-entered, so one set per matcher is enough.
   */
  #scratch(size: number): Scan {
    const scan = this.#scan;
    if (scan.kinds.length < size) {
      const grown = Math.max(size, scan.kinds.length * 2);
      scan.kinds = new Uint8Array(grown);
      scan.letterBefore = new Uint8Array(grown);
      scan.letterFrom = new Uint8Array(grown);
    }
    scan.visited.clear();
    scan.visitedFromStart.clear();
    scan.rejections = 0;
    scan.start = 0;
    return scan;
  }

  #matchWords(text: string): { entry: WordEntry; start: number; end: number } | null {
    const n = text.length;
    if (n === 0 || this.#root.children.size === 0) return null;
    // Every cell read below (0..n) is written first: the arrays are reused and hold the last line.
    const scan = this.#scratch(n + 1);
    scan.text = text;
    const { kinds, letterBefore, letterFrom } = scan;
    for (let i = 0; i < n; i++) kinds[i] = charKind(text.charCodeAt(i));
    kinds[n] = 0;
    letterBefore[0] = 0;
    letterFrom[n] = 0;
    for (let i = 1; i <= n; i++) {
      const kind = kinds[i - 1] ?? 0;
      letterBefore[i] = kind === CharKind.Letter ? 1 : kind === CharKind.Digit ? letterBefore[i - 1] ?? 0 : 0;
    }
    for (let i = n - 1; i >= 0; i--) {
      const kind = kinds[i] ?? 0;
      letterFrom[i] = kind === CharKind.Letter ? 1 : kind === CharKind.Digit ? letterFrom[i + 1] ?? 0 : 0;
    }
    for (let p = 0; p < n; p++) {
      if (kinds[p] === CharKind.Space || letterBefore[p]) continue;
      // The "s" of "here's" belongs to "here": "here's pic" is not "spic".
      if (p >= 2 && APOSTROPHES.has(text[p - 1] ?? "") && isWordKind(kinds[p - 2] ?? 0)) continue;
      // A letter glued to a number is its unit ("80s", "5k"): it joins whitespace like the number would.
      const glued = p > 0 && kinds[p - 1] === CharKind.Digit;
      if (scan.visitedFromStart.size > 0) scan.visitedFromStart.clear();
      scan.start = p;
      for (const reading of letterReadings(text[p] ?? "")) {
        const child = this.#root.children.get(reading);
        if (!child || child.key === BREAK) continue;
        // An entry that starts with a digit needs a real boundary: "1488" is not in "11488".
        if (isDigitKey(reading) && p > 0 && isWordKind(kinds[p - 1] ?? 0)) continue;
        const numeric = (glued || kinds[p] === CharKind.Digit) && !isDigitKey(reading);
        const found = this.#walk(scan, child, p + 1, 1, numeric, 0);
        if (found) return { entry: found.entry, start: p, end: found.end };
      }
    }
    return null;
  }

  /**
   * Explores the trie from `node`, whose letter was just read ending at `pos`. `piece` counts the
   * entry letters (up to 2) read since the last gap; `numeric` is true while every character of the
   * piece is a digit read as a letter; `around` holds the {@link Around} flags of the piece.
   */
  #walk(
    scan: Scan,
    node: TrieNode,
    pos: number,
    piece: number,
    numeric: boolean,
    around: number,
  ): { entry: WordEntry; end: number } | null {
    const state = (((node.id * (scan.text.length + 1) + pos) * 3 + piece) * 2 + (numeric ? 1 : 0)) * 8 +
      around;
    if (scan.visited.has(state) || scan.visitedFromStart.has(state)) return null;
    const rejectionsBefore = scan.rejections;
    const found = this.#explore(scan, node, pos, piece, numeric, around);
    if (found) return found;
    // Positions only grow, so a state is never re-entered while it is being explored.
    if (scan.rejections === rejectionsBefore) scan.visited.add(state);
    else scan.visitedFromStart.add(state);
    return null;
  }

  /** The steps of {@link WordMatcher.#walk}: end here, repeat, next letter, gap, next phrase word. */
  #explore(
    scan: Scan,
    node: TrieNode,
    pos: number,
    piece: number,
    numeric: boolean,
    around: number,
  ): { entry: WordEntry; end: number } | null {
    const { text, kinds } = scan;
    const n = text.length;
    const first = node.entries[0];
    if (first && pieceMayEnd(piece, numeric, around, false, true)) {
      const end = this.#endAt(scan, node.key, pos);
      if (end >= 0) {
        if (!this.#isNumber(scan, first, end) && !this.#isAllowed(scan, end)) return { entry: first, end };
        scan.rejections++;
      }
    }

    // Same piece: the letter repeats, or the next letter follows.
    if (pos < n) {
      const found = this.#step(scan, node, pos, piece, numeric, around, false);
      if (found) return found;
    }

    // A gap of separators inside the word, then a repeat or the next letter.
    let spaced = false;
    for (let g = 1; g <= MAX_GAP; g++) {
      const last = pos + g - 1;
      const next = pos + g;
      if (next >= n || isWordKind(kinds[last] ?? 0)) break;
      if (kinds[last] === CharKind.Space) spaced = true;
      if (!pieceMayEnd(piece, numeric, around, spaced, false)) break;
      // Any gap starts a new piece; only whitespace makes the pieces next to it count.
      const found = this.#step(scan, node, next, 0, true, aroundNext(piece, numeric, around, spaced), true);
      if (found) return found;
    }

    // The next word of a phrase, after any separators (or none: "killyourself").
    const wordBreak = node.children.get(BREAK);
    if (wordBreak && pieceMayEnd(piece, numeric, around, false, true)) {
      for (let g = 0; g <= MAX_PHRASE_GAP; g++) {
        const next = pos + g;
        if (next >= n || (g > 0 && isWordKind(kinds[next - 1] ?? 0))) break;
        for (const reading of letterReadings(text[next] ?? "")) {
          const child = wordBreak.children.get(reading);
          if (!child) continue;
          const digit = kinds[next] === CharKind.Digit && !isDigitKey(reading);
          const found = this.#walk(scan, child, next + 1, 1, digit, 0);
          if (found) return found;
        }
      }
    }
    return null;
  }

  /**
   * Reads the character at `at` as a repeat of `node`'s letter or as one of its children. `numeric`
   * says whether the piece so far is all digits (true when `at` starts a new piece).
   */
  #step(
    scan: Scan,
    node: TrieNode,
    at: number,
    piece: number,
    numeric: boolean,
    around: number,
    newPiece: boolean,
  ): { entry: WordEntry; end: number } | null {
    const readings = letterReadings(scan.text[at] ?? "");
    const digit = scan.kinds[at] === CharKind.Digit;
    // Letters may be stretched ("baaad"); digits may not, so "11488" is not "1488".
    if (readings.includes(node.key) && !isDigitKey(node.key)) {
      const found = this.#walk(scan, node, at + 1, newPiece ? 1 : piece, numeric && digit, around);
      if (found) return found;
    }
    const counted = Math.min(piece + 1, 2);
    if (counted === 2 && around & Around.MustBeSingle) return null;
    for (const reading of readings) {
      if (reading === BREAK) continue;
      const child = node.children.get(reading);
      if (!child) continue;
      // A digit matched by a digit of the entry ("1488") is the entry's own spelling, not a number.
      const found = this.#walk(
        scan,
        child,
        at + 1,
        counted,
        numeric && digit && !isDigitKey(reading),
        around,
      );
      if (found) return found;
    }
    return null;
  }

  /**
   * True when a match of `entry` from the current start to `end` reads as a number with a unit:
   * it starts with a digit read as a letter and has more digits than letters ("600k", "600-k").
   * Symbols read as letters (`$`, `!`) count as letters; other separators count as neither.
   */
  #isNumber(scan: Scan, entry: WordEntry, end: number): boolean {
    const { text, kinds, start } = scan;
    if (kinds[start] !== CharKind.Digit || isDigitKey(entry.pattern[0] ?? "")) return false;
    let digits = 0;
    let letters = 0;
    for (let i = start; i < end; i++) {
      const kind = kinds[i];
      if (kind === CharKind.Digit) digits++;
      else if (kind === CharKind.Letter || letterReadings(text[i] ?? "").length > 1) letters++;
    }
    return digits > letters;
  }

  /** True when the letters from the current start to `end` spell an allowed word. */
  #isAllowed(scan: Scan, end: number): boolean {
    if (this.#allowed.size === 0) return false;
    let letters = "";
    for (let i = scan.start; i < end; i++) {
      if (isWordKind(scan.kinds[i] ?? 0)) letters += scan.text[i];
    }
    return this.#allowed.has(letters) || (/[sz]$/.test(letters) && this.#allowed.has(letters.slice(0, -1)));
  }

  /** Where a match ending at `pos` really ends (after a plural ending), or -1 when no boundary follows. */
  #endAt(scan: Scan, lastKey: string, pos: number): number {
    const { text, kinds, letterFrom } = scan;
    const n = text.length;
    if (isDigitKey(lastKey)) return pos >= n || !isWordKind(kinds[pos] ?? 0) ? pos : -1;
    if (pos >= n || !letterFrom[pos]) return pos;
    for (const suffix of SUFFIXES) {
      let q = pos;
      while (q < n && letterReadings(text[q] ?? "").includes(suffix)) q++;
      if (q > pos && (q >= n || !letterFrom[q])) return q;
    }
    return -1;
  }
}
