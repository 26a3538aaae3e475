/**
 * Which addresses stay on this machine: the config refuses to expose the control plane beyond them
 * without a token, and the HTTP plane grants read access to requests from them.
 * @module
 */

/** True for loopback hosts: `localhost`, `127.0.0.0/8`, `::1` (with or without brackets). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "localhost" || h.endsWith(".localhost") || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  if (/^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

// A name (RFC 3986 unreserved characters only, which covers IPv4) or a bracketed IPv6 address, then
// an optional port. Anything else, userinfo (`localhost:80@evil.com`) above all, is refused rather
// than guessed at: a lenient split is how a foreign Host passed for loopback.
const HOST_PORT_RE = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._~-]+))(?::(\d{1,5}))?$/;

/**
 * Parses `host[:port]` or `[v6][:port]` (a `Host` header or a listen address) strictly; `null` when
 * malformed. `hostname` has no brackets; `port` is `null` when absent.
 */
export function parseHostPort(text: string): { hostname: string; port: number | null } | null {
  const m = HOST_PORT_RE.exec(text);
  if (m === null) return null;
  const port = m[3] === undefined ? null : Number(m[3]);
  if (port !== null && port > 65535) return null;
  // The pattern admits `[:::]` and `1.2.3.999`; the URL parser is what builds `request.url`, so a
  // host it refuses is malformed here too.
  try {
    new URL(`http://${m[1] === undefined ? m[2] : `[${m[1]}]`}/`);
  } catch {
    return null;
  }
  return { hostname: m[1] ?? m[2]!, port };
}
