/**
 * Serves the dashboard's static files from `core/dashboard/`, read relative to this module so that
 * `deno compile --include core/dashboard` embeds them. Files are read once and kept in memory.
 * @module
 */
import { HttpError } from "./http_errors.ts";

const DASHBOARD_DIR = new URL("./dashboard/", import.meta.url);

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
};

/** Headers of every dashboard file: a strict CSP (no inline script, API on the same origin only). */
export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

/** Reads and caches dashboard files by name. */
export class DashboardFiles {
  #cache = new Map<string, Uint8Array>();
  #dir: URL;

  constructor(dir: URL = DASHBOARD_DIR) {
    this.#dir = dir;
  }

  /** The response for one file name such as `app.js`; 404 for anything not in the folder. */
  async serve(name: string): Promise<Response> {
    const ext = /^[a-z0-9_-]+\.(html|js|css|svg)$/.exec(name)?.[1];
    if (ext === undefined) throw new HttpError(404, "NOT_FOUND", `No dashboard file named ${name}`);
    let bytes = this.#cache.get(name);
    if (bytes === undefined) {
      try {
        bytes = await Deno.readFile(new URL(name, this.#dir));
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) {
          throw new HttpError(404, "NOT_FOUND", `No dashboard file named ${name}`);
        }
        throw err;
      }
      this.#cache.set(name, bytes);
    }
    return new Response(bytes.slice(), { headers: { ...DASHBOARD_HEADERS, "content-type": TYPES[ext]! } });
  }
}
