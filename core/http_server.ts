/**
 * The HTTP control plane: health probes, Prometheus metrics, the JSON API and the dashboard, on
 * `Deno.serve` with a `URLPattern` route table. See `docs/API.md` for routes and the auth policy.
 *
 * Process metrics (`Metrics.collectProcessMetrics()`) are the host's to enable, once per registry;
 * this server only serves `metrics.text()`.
 * @module
 */
import type { ControlApi } from "./control.ts";
import { ClankError } from "./errors.ts";
import { apiRoutes } from "./http_api.ts";
import { controlTokenProblem, createAuthenticator } from "./http_auth.ts";
import { isLoopbackHost, parseHostPort } from "./loopback.ts";
import { DEFAULT_MAX_BODY_BYTES } from "./http_body.ts";
import { DashboardFiles } from "./http_dashboard.ts";
import { errorResponse, HttpError, toHttpError } from "./http_errors.ts";
import { EventStreams } from "./http_events.ts";
import { type RouteMatch, RouteTable } from "./http_routes.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";

/** Options of `startHttpServer`. */
export interface HttpServerOptions {
  /** `host:port` (`[v6]:port` for IPv6); port 0 picks a free port; `""` disables the server. */
  listen: string;
  /** `CONTROL_TOKEN`; empty allows loopback only and makes the API read-only. */
  controlToken: string;
  control: ControlApi;
  metrics: Metrics;
  log: Logger;
  /** Largest request body in bytes; default 16 KiB. */
  maxBodyBytes?: number;
  /** Milliseconds between keep-alive pings on `/api/events`; default 20 s. */
  heartbeatMs?: number;
}

/** A running control plane. */
export interface HttpServer {
  /** The bound address (the real port when `listen` asked for port 0). */
  addr: { hostname: string; port: number };
  /** Base URL, e.g. `http://127.0.0.1:8080/`. */
  url: string;
  /** Stops accepting connections, ends open event streams and waits for in-flight requests. */
  shutdown(): Promise<void>;
}

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** Splits `host:port` / `[v6]:port`; throws `HTTP_BIND_REFUSED` when malformed. */
export function parseListen(listen: string): { hostname: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([\w.-]+)):(\d{1,5})$/.exec(listen.trim());
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || port > 65535) {
    throw new ClankError(
      "HTTP_BIND_REFUSED",
      `HTTP_LISTEN=${listen} is not host:port; use e.g. 127.0.0.1:8080, [::1]:8080, or empty to disable`,
    );
  }
  return { hostname: m[1] ?? m[2]!, port };
}

function baseUrl(hostname: string, port: number): string {
  return `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}/`;
}

/**
 * Starts the control plane, or returns `null` when `listen` is empty. Refuses (`HTTP_BIND_REFUSED`)
 * a non-loopback address without a control token, a malformed address, and an address in use.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer | null> {
  if (options.listen.trim() === "") return null;
  const { hostname, port } = parseListen(options.listen);
  const { control, metrics, controlToken } = options;
  const log = options.log.child({ event: "http" });
  log.addSecret(controlToken);
  if (!isLoopbackHost(hostname) && controlToken === "") {
    throw new ClankError(
      "HTTP_BIND_REFUSED",
      `HTTP_LISTEN=${options.listen} is not loopback; set CONTROL_TOKEN to expose the control plane, ` +
        "or listen on 127.0.0.1",
    );
  }

  // The config already refuses these; an embedder passing one would otherwise start a server that
  // answers 401 to every client.
  const tokenProblem = controlTokenProblem(controlToken);
  if (tokenProblem !== null) throw new ClankError("HTTP_BIND_REFUSED", `CONTROL_TOKEN ${tokenProblem}`);
  const redact = (text: string) => log.redact(text);
  const auth = await createAuthenticator(controlToken);
  const streams = new EventStreams(options.heartbeatMs);
  const table = new RouteTable().add(...apiRoutes({
    control,
    metrics,
    dashboard: new DashboardFiles(),
    streams,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    redact,
    canWrite: (request) => auth.check(request, "write").then(() => true, () => false),
  }));

  const handle = async (request: Request): Promise<Response> => {
    const started = performance.now();
    let url: URL | undefined;
    let match: RouteMatch = { kind: "none" };
    let response: Response;
    try {
      // Deno builds request.url from the Host header (or an absolute request target), so a malformed
      // one would make `new URL` throw outside any route: the client's mistake, answered as such.
      const host = request.headers.get("host");
      if (host !== null && host !== "" && parseHostPort(host) === null) {
        throw new HttpError(
          400,
          "BAD_REQUEST",
          "Host header is not a valid host[:port]; send a name, an IPv4 address or a bracketed IPv6 " +
            "address, optionally followed by :port (0-65535)",
          { details: { field: "host", value: host.slice(0, 100) } },
        );
      }
      try {
        url = new URL(request.url);
      } catch {
        const message = "Request target is not a valid URL; send a path such as /api/info";
        throw new HttpError(400, "BAD_REQUEST", message, { details: { field: "target" } });
      }
      match = table.match(request.method, url.pathname);
      if (match.kind === "none") {
        throw new HttpError(
          404,
          "NOT_FOUND",
          `No route for ${request.method} ${url.pathname}; see docs/API.md`,
        );
      }
      if (match.kind === "method") {
        throw new HttpError(
          405,
          "METHOD_NOT_ALLOWED",
          `${request.method} is not allowed on ${url.pathname}; allowed: ${match.allow.join(", ")}`,
          { headers: { allow: match.allow.join(", ") }, details: { allowed: match.allow } },
        );
      }
      if (match.route.access !== "public") await auth.check(request, match.route.access);
      response = await match.route.handler({ request, url, params: match.params });
      if (request.method === "HEAD") {
        await response.body?.cancel();
        response = new Response(null, { status: response.status, headers: response.headers });
      }
    } catch (err) {
      const { error, internal } = toHttpError(err);
      if (internal) log.error("Request failed", { method: request.method, path: url?.pathname, error: err });
      response = errorResponse(error, redact);
    }
    const route = match.kind === "found" ? match.route.path : "unmatched";
    const method = METHODS.has(request.method) ? request.method : "OTHER";
    metrics.httpRequests.inc({ route, method, status: String(response.status) });
    log.debug("Request", {
      method: request.method,
      path: url?.pathname ?? null,
      status: response.status,
      ms: Math.round((performance.now() - started) * 10) / 10,
    });
    return response;
  };

  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname,
      port,
      onListen: () => {},
      onError: (err) => {
        log.error("Request failed", { error: err });
        return errorResponse(toHttpError(err).error, redact);
      },
    }, handle);
  } catch (err) {
    const reason = err instanceof Deno.errors.AddrInUse
      ? "the address is in use"
      : err instanceof Error
      ? err.message
      : String(err);
    throw new ClankError(
      "HTTP_BIND_REFUSED",
      `Cannot listen on HTTP_LISTEN=${options.listen}: ${reason}; choose a free host:port, or empty to disable`,
      { cause: err },
    );
  }

  const addr = { hostname: server.addr.hostname, port: server.addr.port };
  const url = baseUrl(addr.hostname, addr.port);
  log.info("Control plane listening", {
    url,
    auth: auth.tokenSet ? "bearer token" : "no token: loopback only, read-only API",
  });
  let stopping: Promise<void> | null = null;
  return {
    addr,
    url,
    shutdown() {
      stopping ??= (async () => {
        streams.closeAll();
        await server.shutdown();
        log.info("Control plane stopped", { url });
      })();
      return stopping;
    },
  };
}
