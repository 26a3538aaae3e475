/**
 * `.env` support: `KEY=value` lines (optional `export `, `#` comments). The usual dotenv conventions:
 * a double-quoted value understands the escapes `\n`, `\r`, `\t`, `\\` and `\"` (any other backslash
 * is kept as written); a single-quoted value is literal; an unquoted value ends at ` #` and is trimmed.
 * After a closing quote only spaces and a `# comment` may follow. Variables already set in the
 * environment win, so a `.env` never overrides what the operator exported. Works in a compiled binary
 * too, unlike `--env-file`.
 * @module
 */

const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", "\\": "\\", '"': '"' };

/**
 * Reads the quoted value at the start of `text`. Returns the value, or why it is bad. The closing
 * quote is the first one not escaped, so a comment after it may hold quotes of its own.
 */
function readQuoted(text: string): { value: string } | { problem: string } {
  const quote = text[0]!;
  let value = "";
  for (let i = 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === quote) {
      const after = text.slice(i + 1);
      if (after.trim() !== "" && !/^\s+#/.test(after)) {
        return { problem: `unexpected text after the closing ${quote} quote` };
      }
      return { value };
    }
    // One pass: an escaped backslash is done before the character after it is looked at, so
    // "C:\\new" stays a backslash and an n, never a newline.
    if (c === "\\" && quote === '"' && i + 1 < text.length) {
      const next = text[++i]!;
      value += ESCAPES[next] ?? `\\${next}`;
      continue;
    }
    value += c;
  }
  return { problem: `unterminated ${quote} quote` };
}

/** Parses `.env` text; malformed lines are reported by number and skipped. */
export function parseDotEnv(text: string): { vars: Record<string, string>; problems: string[] } {
  const vars: Record<string, string> = {};
  const problems: string[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === "" || raw.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(raw);
    if (m === null) {
      problems.push(`line ${i + 1}: expected KEY=value`);
      continue;
    }
    const [, key, rest] = m as unknown as [string, string, string];
    if (rest[0] === '"' || rest[0] === "'") {
      const read = readQuoted(rest);
      if ("problem" in read) {
        const hint = read.problem.startsWith("unexpected") ? " (a comment needs a space before #)" : "";
        problems.push(`line ${i + 1}: ${read.problem} for ${key}${hint}`);
        continue;
      }
      vars[key] = read.value;
    } else {
      vars[key] = rest.replace(/\s+#.*$/, "").trim();
    }
  }
  return { vars, problems };
}

/**
 * Reads `path` if it exists and sets each variable that is not already set. Returns the names set
 * (never the values) and the problems found.
 */
export async function loadDotEnv(path: string): Promise<{ set: string[]; problems: string[] }> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { set: [], problems: [] };
    return { set: [], problems: [`${path} cannot be read: ${(err as Error).name}`] };
  }
  const { vars, problems } = parseDotEnv(text);
  const set: string[] = [];
  for (const [key, value] of Object.entries(vars)) {
    if (Deno.env.get(key) !== undefined) continue;
    Deno.env.set(key, value);
    set.push(key);
  }
  return { set, problems: problems.map((p) => `${path}: ${p}`) };
}
