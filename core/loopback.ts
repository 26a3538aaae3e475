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

/** The host part of `host:port`, `[v6]:port` or a bare host (a listen address or a `Host` header). */
export function listenHost(listen: string): string {
  const trimmed = listen.trim();
  if (trimmed.startsWith("[")) return trimmed.slice(0, trimmed.indexOf("]") + 1);
  const colon = trimmed.lastIndexOf(":");
  return colon === -1 ? trimmed : trimmed.slice(0, colon);
}
