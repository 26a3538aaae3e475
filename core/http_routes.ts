/**
 * A route table over `URLPattern`: method + path pattern → handler, with the access level the route
 * needs. Matching tells a 404 (no pattern matched) from a 405 (a pattern matched, the method did not).
 * @module
 */
import type { Access } from "./http_auth.ts";

/** What a handler gets: the request, its parsed URL and the pattern's named groups. */
export interface RouteContext {
  request: Request;
  url: URL;
  params: Record<string, string>;
}

/** A route handler. Throw an `HttpError` to answer with a JSON error. */
export type RouteHandler = (ctx: RouteContext) => Response | Promise<Response>;

/** One entry of the route table. */
export interface Route {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Path pattern in URLPattern syntax, e.g. `/api/channels/:name`; also the metrics `route` label. */
  path: string;
  /** `public` routes need no token (health probes, dashboard files). */
  access: Access | "public";
  handler: RouteHandler;
}

/** The result of matching a request against the table. */
export type RouteMatch =
  | { kind: "found"; route: Route; params: Record<string, string> }
  | { kind: "method"; allow: string[] }
  | { kind: "none" };

/** An ordered route table; the first matching pattern wins. */
export class RouteTable {
  #routes: Array<{ route: Route; pattern: URLPattern }> = [];

  /** Adds routes in order. */
  add(...routes: Route[]): this {
    for (const route of routes) {
      this.#routes.push({ route, pattern: new URLPattern({ pathname: route.path }) });
    }
    return this;
  }

  /** Every route, in order (for docs and tests). */
  get routes(): readonly Route[] {
    return this.#routes.map((r) => r.route);
  }

  /** Finds the route for `method` and `pathname`. `HEAD` matches `GET` routes. */
  match(method: string, pathname: string): RouteMatch {
    const wanted = method === "HEAD" ? "GET" : method;
    const allow = new Set<string>();
    for (const { route, pattern } of this.#routes) {
      const m = pattern.exec({ pathname });
      if (m === null) continue;
      if (route.method === wanted) {
        const params: Record<string, string> = {};
        for (const [k, v] of Object.entries(m.pathname.groups)) if (v !== undefined) params[k] = v;
        return { kind: "found", route, params };
      }
      allow.add(route.method);
      if (route.method === "GET") allow.add("HEAD");
    }
    return allow.size === 0 ? { kind: "none" } : { kind: "method", allow: [...allow].sort() };
  }
}
