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
      if (scan.visitedFromStart.size > 0) scan.visitedFromStart.clear();
      scan.start = p;
      for (const reading of letterReadings(text[p] ?? "")) {
        const child = this.#root.children.get(reading);
        if (!child || child.key === BREAK) continue;
        // An entry that starts with a digit needs a real boundary: "1488" is not in "11488".
        if (isDigitKey(reading) && p > 0 && isWordKind(kinds[p - 1] ?? 0)) continue;
        const found = this.#walk(scan, child, p + 1, 1, false);
        if (found) return { entry: found.entry, start: p, end: found.end };
      }
    }
    return null;
  }

  /**
   * Explores the trie from `node`, whose letter was just read ending at `pos`. `piece` counts the
   * entry letters (up to 2) read since the last gap; `pending` is true when the gap before this piece
   * held whitespace and the piece before it had two or more letters, so this piece must stay at one.
   */
  #walk(
    scan: Scan,
    node: TrieNode,
    pos: number,
    piece: number,
    pending: boolean,
  ): { entry: WordEntry; end: number } | null {
    const state = ((node.id * (scan.text.length + 1) + pos) * 3 + piece) * 2 + (pending ? 1 : 0);
    if (scan.visited.has(state) || scan.visitedFromStart.has(state)) return null;
    const rejectionsBefore = scan.rejections;
    const found = this.#explore(scan, node, pos, piece, pending);
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
    pending: boolean,
  ): { entry: WordEntry; end: number } | null {
    const { text, kinds } = scan;
    const n = text.length;

    const first = node.entries[0];
    if (first) {
      const end = this.#endAt(scan, node.key, pos);
      if (end >= 0) {
        if (!this.#isAllowed(scan, end)) return { entry: first, end };
        scan.rejections++;
      }
    }

    // Same piece: the letter repeats, or the next letter follows.
    if (pos < n) {
      const found = this.#step(scan, node, pos, piece, pending, false);
      if (found) return found;
    }

    // A gap of separators inside the word, then a repeat or the next letter.
    let spaced = false;
    for (let g = 1; g <= MAX_GAP; g++) {
      const last = pos + g - 1;
      const next = pos + g;
      if (next >= n || isWordKind(kinds[last] ?? 0)) break;
      if (kinds[last] === CharKind.Space) spaced = true;
      // Any gap starts a new piece; only whitespace makes the piece before it count.
      const found = this.#step(scan, node, next, 0, spaced && piece >= 2, true);
      if (found) return found;
    }

    // The next word of a phrase, after any separators (or none: "killyourself").
    const wordBreak = node.children.get(BREAK);
    if (wordBreak) {
      for (let g = 0; g <= MAX_PHRASE_GAP; g++) {
        const next = pos + g;
        if (next >= n || (g > 0 && isWordKind(kinds[next - 1] ?? 0))) break;
        for (const reading of letterReadings(text[next] ?? "")) {
          const child = wordBreak.children.get(reading);
          const found = child ? this.#walk(scan, child, next + 1, 1, false) : null;
          if (found) return found;
        }
      }
    }
    return null;
  }

  /** Reads the character at `at` as a repeat of `node`'s letter or as one of its children. */
  #step(
    scan: Scan,
    node: TrieNode,
    at: number,
    piece: number,
    pending: boolean,
    newPiece: boolean,
  ): { entry: WordEntry; end: number } | null {
    const readings = letterReadings(scan.text[at] ?? "");
    // Letters may be stretched ("baaad"); digits may not, so "11488" is not "1488".
    if (readings.includes(node.key) && !isDigitKey(node.key)) {
      const found = this.#walk(scan, node, at + 1, newPiece ? 1 : piece, pending);
      if (found) return found;
    }
    const counted = Math.min(piece + 1, 2);
    if (counted === 2 && pending) return null;
    for (const reading of readings) {
      if (reading === BREAK) continue;
      const child = node.children.get(reading);
      const found = child ? this.#walk(scan, child, at + 1, counted, pending) : null;
      if (found) return found;
    }
    return null;
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
