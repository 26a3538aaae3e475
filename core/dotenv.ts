/**
 * `.env` support: `KEY=value` lines (optional `export `, `#` comments, single or double quotes;
 * `\n` in double quotes is a newline). Variables already set in the environment win, so a `.env`
 * never overrides what the operator exported. Works in a compiled binary too, unlike `--env-file`.
 * @module
 */

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
    let value = m[2]!;
    const quote = value[0];
    if (quote === '"' || quote === "'") {
      const end = value.lastIndexOf(quote);
      if (end <= 0) {
        problems.push(`line ${i + 1}: unterminated ${quote} quote for ${m[1]}`);
        continue;
      }
      value = value.slice(1, end);
      if (quote === '"') value = value.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    } else {
      value = value.replace(/\s+#.*$/, "").trim();
    }
    vars[m[1]!] = value;
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
