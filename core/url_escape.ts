/**
 * Decoding the %-escapes of a URL part (a user name, a password, a database name) from the config.
 * @module
 */
import { ClankError } from "./errors.ts";

/**
 * `part` with its %-escapes decoded. A malformed escape (`%zz`) is a `CONFIG_INVALID` error naming
 * where the URL came from (`name`) and which part (`what`), never the part itself: it may be a
 * password. The URL parser keeps such an escape as it is; decoding is where it would throw.
 */
export function decodeUrlPart(part: string, name: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new ClankError(
      "CONFIG_INVALID",
      `${name} has a malformed %-escape in its ${what}: a % must start %XX with two hex digits ` +
        "(write a literal % as %25)",
    );
  }
}
