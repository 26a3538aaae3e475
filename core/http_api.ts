/**
 * The control plane's routes: health probes, Prometheus metrics, the JSON API over `ControlApi`
 * and the dashboard files. Handlers only translate HTTP to `ControlApi` calls; validation of
 * settings is the host's (`updateSettings` returns problems, answered as 400 `SETTING_INVALID`).
 * @module
 */
import { z } from "zod";
import { ChannelSettingsSchema, LIVE_SETTING_KEYS } from "./config_schema.ts";
import type { ControlApi } from "./control.ts";
import type { DashboardFiles } from "./http_dashboard.ts";
import type { EventStreams } from "./http_events.ts";
import { readJsonBody } from "./http_body.ts";
import { HttpError, jsonResponse } from "./http_errors.ts";
import type { Route, RouteContext } from "./http_routes.ts";
import type { Metrics } from "./metrics.ts";

/** What the routes need. */
export interface ApiDeps {
  control: ControlApi;
  metrics: Metrics;
  dashboard: DashboardFiles;
  streams: EventStreams;
  maxBodyBytes: number;
  redact: (text: string) => string;
  /** Whether `request` would pass the auth check of a `write` route. */
  canWrite: (request: Request) => Promise<boolean>;
}

const CHANNEL_RE = /^[a-z0-9_]{1,25}$/;

/** Default and largest `limit` of `GET /api/recent`. */
export const RECENT_LIMIT = { default: 100, max: 1000 } as const;

/**
 * A channel name from a path or query, normalized like the config file does (trimmed, `#` removed,
 * lower case), or a 400 `CHANNEL_INVALID` naming what is allowed.
 */
export function parseChannel(raw: string): string {
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // Keep the raw text; the pattern check below rejects it with a clear message.
  }
  const name = decoded.trim().replace(/^#/, "").toLowerCase();
  if (!CHANNEL_RE.test(name)) {
    throw new HttpError(
      400,
      "CHANNEL_INVALID",
      "Channel must be a Twitch login: 1-25 letters, digits or underscores",
      { details: { field: "channel", value: decoded.slice(0, 100) } },
    );
  }
  return name;
}

/**
 * Rejects query parameters other than `allowed`, and any given twice: `get()` would silently use the
 * first of `channel=a&channel=b`, answering for a channel the caller may not have meant.
 */
function checkQuery(url: URL, allowed: string[]): void {
  const seen = new Set<string>();
  for (const key of url.searchParams.keys()) {
    if (!allowed.includes(key)) {
      throw new HttpError(
        400,
        "QUERY_INVALID",
        `Unknown query parameter ${key}; allowed: ${allowed.length ? allowed.join(", ") : "none"}`,
        { details: { field: key, allowed } },
      );
    }
    if (seen.has(key)) {
      const message = `Query parameter ${key} is given more than once; give it once`;
      throw new HttpError(400, "QUERY_INVALID", message, { details: { field: key, allowed } });
    }
    seen.add(key);
  }
}

/** The JSON Schema of the settings the API may change, for the dashboard's inputs. */
function settingsSchema(): Record<string, unknown> {
  const full = z.toJSONSchema(ChannelSettingsSchema, { io: "input" }) as {
    properties: Record<string, unknown>;
  };
  const properties: Record<string, unknown> = {};
  for (const key of LIVE_SETTING_KEYS) properties[key] = full.properties[key];
  return { type: "object", additionalProperties: false, properties };
}

/** The route table of the control plane, in match order. */
export function apiRoutes(deps: ApiDeps): Route[] {
  const { control, metrics, dashboard, streams, redact } = deps;
  const json = (status: number, body: unknown) => jsonResponse(status, body, redact);
  const schema = settingsSchema();

  const knownChannel = ({ params }: RouteContext) => {
    const name = parseChannel(params.name ?? "");
    const view = control.channel(name);
    if (view === undefined) {
      throw new HttpError(404, "CHANNEL_NOT_FOUND", `Channel ${name} is not configured; join it first`, {
        details: { channel: name },
      });
    }
    return view;
  };

  return [
    { method: "GET", path: "/healthz", access: "public", handler: () => json(200, { status: "ok" }) },
    {
      method: "GET",
      path: "/readyz",
      access: "public",
      handler: async () => {
        const readiness = await control.readiness();
        return json(readiness.ready ? 200 : 503, readiness);
      },
    },
    {
      method: "GET",
      path: "/metrics",
      access: "read",
      handler: async () =>
        new Response(redact(await metrics.text()), {
          headers: { "content-type": metrics.contentType, "cache-control": "no-store" },
        }),
    },
    {
      method: "GET",
      path: "/api/info",
      access: "read",
      // The dashboard disables its controls from this, not from whether it holds a token: a tab can
      // keep a token after the bot restarted without one.
      handler: async ({ request }) =>
        json(200, { ...control.info(), writable: await deps.canWrite(request) }),
    },
    {
      method: "GET",
      path: "/api/schema",
      access: "read",
      handler: () => json(200, { settings: schema, live: LIVE_SETTING_KEYS }),
    },
    {
      method: "GET",
      path: "/api/channels",
      access: "read",
      handler: ({ url }) => {
        checkQuery(url, []);
        return json(200, { channels: control.channels() });
      },
    },
    {
      method: "GET",
      path: "/api/channels/:name",
      access: "read",
      handler: (ctx) => json(200, knownChannel(ctx)),
    },
    {
      method: "PATCH",
      path: "/api/channels/:name/settings",
      access: "write",
      handler: async (ctx) => {
        const { channel } = knownChannel(ctx);
        const body = await readJsonBody(ctx.request, deps.maxBodyBytes);
        if (typeof body !== "object" || body === null || Array.isArray(body)) {
          throw new HttpError(
            400,
            "BODY_INVALID",
            `Body must be a JSON object of settings such as {"threshold": 40}; allowed keys: ${
              LIVE_SETTING_KEYS.join(", ")
            }`,
            { details: { allowed: LIVE_SETTING_KEYS } },
          );
        }
        if (Object.keys(body).length === 0) {
          throw new HttpError(400, "BODY_INVALID", "Body names no setting; send at least one key", {
            details: { allowed: LIVE_SETTING_KEYS },
          });
        }
        const change = await control.updateSettings(channel, body as Record<string, unknown>);
        if (!change.ok) {
          const summary = change.problems.map((p) => `${p.field} ${p.message}`).join("; ");
          throw new HttpError(400, "SETTING_INVALID", `Invalid settings: ${summary}`, {
            details: { problems: change.problems },
          });
        }
        return json(200, { channel, settings: change.settings });
      },
    },
    {
      method: "DELETE",
      path: "/api/channels/:name/settings",
      access: "write",
      handler: async (ctx) => {
        const { channel } = knownChannel(ctx);
        return json(200, { channel, settings: await control.resetSettings(channel) });
      },
    },
    {
      method: "POST",
      path: "/api/channels/:name/join",
      access: "write",
      handler: async ({ params }) => {
        const channel = parseChannel(params.name ?? "");
        await control.join(channel);
        // Said as it is: a channel Twitch refused (suspended) or has not confirmed yet is not joined.
        const view = control.channel(channel) ?? null;
        const joined = view?.joined ?? false;
        const reason = view?.refused ??
          "Twitch has not confirmed the JOIN yet; the bot keeps the channel and joins it when Twitch does";
        return json(200, { channel, joined, ...(joined ? {} : { reason }), view });
      },
    },
    {
      method: "POST",
      path: "/api/channels/:name/part",
      access: "write",
      handler: async (ctx) => {
        const { channel } = knownChannel(ctx);
        await control.part(channel);
        return json(200, { channel, joined: false });
      },
    },
    {
      method: "GET",
      path: "/api/recent",
      access: "read",
      handler: ({ url }) => {
        checkQuery(url, ["channel", "limit"]);
        const rawChannel = url.searchParams.get("channel");
        const channel = rawChannel === null || rawChannel === "" ? undefined : parseChannel(rawChannel);
        if (channel !== undefined && control.channel(channel) === undefined) {
          throw new HttpError(404, "CHANNEL_NOT_FOUND", `Channel ${channel} is not configured`, {
            details: { channel },
          });
        }
        const rawLimit = url.searchParams.get("limit");
        // Digits only: Number() also takes 0x10, 1e2, " 5" and "", which the docs do not promise.
        const limit = rawLimit === null
          ? RECENT_LIMIT.default
          : /^\d+$/.test(rawLimit)
          ? Number(rawLimit)
          : NaN;
        if (!Number.isInteger(limit) || limit < 1 || limit > RECENT_LIMIT.max) {
          throw new HttpError(
            400,
            "QUERY_INVALID",
            `limit must be a whole number in 1..${RECENT_LIMIT.max}`,
            { details: { field: "limit", value: rawLimit, min: 1, max: RECENT_LIMIT.max } },
          );
        }
        return json(200, { lines: control.recent(channel, limit) });
      },
    },
    {
      method: "GET",
      path: "/api/events",
      access: "read",
      handler: ({ url }) => {
        checkQuery(url, ["channel"]);
        const raw = url.searchParams.get("channel");
        const channel = raw === null || raw === "" ? undefined : parseChannel(raw);
        return streams.open(control, channel, redact);
      },
    },
    {
      method: "POST",
      path: "/api/reload",
      access: "write",
      handler: async () => json(200, await control.reload()),
    },
    { method: "GET", path: "/", access: "public", handler: () => dashboard.serve("index.html") },
    {
      method: "GET",
      path: "/assets/:file",
      access: "public",
      handler: ({ params }) => dashboard.serve(params.file ?? ""),
    },
  ];
}
