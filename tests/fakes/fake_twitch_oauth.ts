/**
 * A fake of Twitch's OAuth service (`/oauth2/validate`, `/oauth2/token`, `/oauth2/device`,
 * `/oauth2/revoke`) on 127.0.0.1, answering in Twitch's shapes. Tests script it: issue tokens with
 * given owners, scopes and lifetimes, expire or revoke them, and decide how the device code grant
 * goes (pending for N polls, slow_down on chosen polls, expired, denied).
 * @module
 */

/** What a fake token says about itself. */
export interface FakeTokenSpec {
  login?: string;
  userId?: string;
  scopes?: string[];
  /** Seconds of lifetime; 0 means the token never expires. */
  expiresIn?: number;
  clientId?: string;
}

interface TokenRecord {
  login: string;
  userId: string;
  scopes: string[];
  clientId: string;
  /** ms since epoch; null = never. */
  expiresAt: number | null;
  revoked: boolean;
}

interface RefreshRecord {
  spec: Required<FakeTokenSpec>;
  revoked: boolean;
}

/** How the device code grant behaves. */
export interface FakeDeviceScript {
  /** Polls answered `authorization_pending` before the grant is approved. */
  approveAfterPolls: number;
  /** 1-based poll numbers answered `slow_down`. */
  slowDownAtPolls: number[];
  /** Answer every poll with an expired device code. */
  expired: boolean;
  /** Answer `access_denied`. */
  denied: boolean;
  /** `message` Twitch sends for an expired code. */
  expiredMessage: string;
  /** Owner and scopes of the approved token. */
  token: FakeTokenSpec;
  /** Interval (s) the device endpoint advertises. */
  interval: number;
}

/** One request the fake received (form fields included: test-only memory). */
export interface FakeOAuthRequest {
  endpoint: string;
  method: string;
  form: Record<string, string>;
  authorization: string | null;
}

/** Options of {@link startFakeTwitchOAuth}. */
export interface FakeTwitchOAuthOptions {
  clientId?: string;
  clientSecret?: string;
  /** Clock of the fake (default Date.now), so tests with fake time agree with it. */
  now?: () => number;
}

/** A running fake. */
export interface FakeTwitchOAuth {
  /** Base URL to use as `twitch.auth_url`. */
  readonly url: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Every request received, in order. */
  readonly requests: FakeOAuthRequest[];
  /** Every token pair issued (direct, refresh or device grant), so leak scans know what to look for. */
  readonly issued: { accessToken: string; refreshToken: string }[];
  /** The device grant script; change fields before or during a flow. */
  device: FakeDeviceScript;
  /** When set, the next refresh answers this HTTP status (500 = Twitch down) and the flag clears. */
  failNextRefresh: number | null;
  /**
   * While set, every request to `/oauth2/token` (refresh and device polls) answers this HTTP status
   * with Twitch's error shape, as during an outage of Twitch's token endpoint (503, 429, …).
   */
  tokenEndpointDown: number | null;
  /** Access tokens the next grants hand out, in order (so another fake can be told them up front). */
  readonly nextAccessTokens: string[];
  /** A fresh random token in Twitch's alphabet, e.g. to push onto {@link nextAccessTokens}. */
  newToken(): string;
  /** Issues an access token (and its refresh token) for `spec`. */
  issue(spec?: FakeTokenSpec): { accessToken: string; refreshToken: string };
  /** Makes an access token invalid as if it had expired. */
  expire(accessToken: string): void;
  /** Revokes a refresh token (e.g. the user disconnected the app). */
  revokeRefresh(refreshToken: string): void;
  /** How many requests hit an endpoint. */
  count(endpoint: "validate" | "token" | "device" | "revoke", grantType?: string): number;
  /** True while Twitch would accept this access token. */
  isValid(accessToken: string): boolean;
  close(): Promise<void>;
}

const DEFAULT_SPEC: Required<FakeTokenSpec> = {
  login: "clankbot",
  userId: "1001",
  scopes: ["chat:edit", "chat:read"],
  expiresIn: 14_400,
  clientId: "",
};

/** Starts the fake on 127.0.0.1 with a free port. */
export function startFakeTwitchOAuth(options: FakeTwitchOAuthOptions = {}): Promise<FakeTwitchOAuth> {
  const clientId = options.clientId ?? "fakeclientid0000000000000000";
  const clientSecret = options.clientSecret ?? "fakeclientsecret00000000000000";
  const now = options.now ?? Date.now;
  const tokens = new Map<string, TokenRecord>();
  const refreshes = new Map<string, RefreshRecord>();
  const devices = new Map<string, { polls: number; userCode: string; scopes: string[] }>();
  const requests: FakeOAuthRequest[] = [];
  const issued: { accessToken: string; refreshToken: string }[] = [];

  const fake: Omit<FakeTwitchOAuth, "url" | "close"> = {
    clientId,
    clientSecret,
    requests,
    issued,
    device: {
      approveAfterPolls: 0,
      slowDownAtPolls: [],
      expired: false,
      denied: false,
      expiredMessage: "invalid device code",
      token: {},
      interval: 5,
    },
    failNextRefresh: null,
    tokenEndpointDown: null,
    nextAccessTokens: [],
    newToken: () => randomToken(),
    issue(spec = {}) {
      const full = { ...DEFAULT_SPEC, clientId, ...spec };
      const accessToken = fake.nextAccessTokens.shift() ?? randomToken();
      const refreshToken = randomToken(50);
      tokens.set(accessToken, {
        login: full.login,
        userId: full.userId,
        scopes: [...full.scopes],
        clientId: full.clientId,
        expiresAt: full.expiresIn > 0 ? now() + full.expiresIn * 1000 : null,
        revoked: false,
      });
      refreshes.set(refreshToken, { spec: full, revoked: false });
      issued.push({ accessToken, refreshToken });
      return { accessToken, refreshToken };
    },
    expire(accessToken) {
      const t = tokens.get(accessToken);
      if (t) t.expiresAt = now() - 1;
    },
    revokeRefresh(refreshToken) {
      const r = refreshes.get(refreshToken);
      if (r) r.revoked = true;
    },
    count(endpoint, grantType) {
      return requests.filter((r) =>
        r.endpoint === endpoint && (grantType === undefined || r.form.grant_type === grantType)
      ).length;
    },
    isValid(accessToken) {
      return liveToken(accessToken) !== undefined;
    },
  };

  function liveToken(accessToken: string): TokenRecord | undefined {
    const t = tokens.get(accessToken);
    if (!t || t.revoked || (t.expiresAt !== null && t.expiresAt <= now())) return undefined;
    return t;
  }

  function grantBody(spec: Required<FakeTokenSpec>): Record<string, unknown> {
    const { accessToken, refreshToken } = fake.issue(spec);
    return {
      access_token: accessToken,
      refresh_token: refreshToken,
      expires_in: spec.expiresIn,
      scope: spec.scopes,
      token_type: "bearer",
    };
  }

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const endpoint = url.pathname.replace(/^\/oauth2\//, "");
    const form: Record<string, string> = {};
    if (req.method === "POST") {
      const text = await req.text();
      for (const [k, v] of new URLSearchParams(text)) form[k] = v;
    }
    for (const [k, v] of url.searchParams) form[k] ??= v;
    requests.push({ endpoint, method: req.method, form, authorization: req.headers.get("authorization") });

    if (endpoint === "validate" && req.method === "GET") {
      const auth = req.headers.get("authorization") ?? "";
      const m = /^(?:OAuth|Bearer) (\S+)$/i.exec(auth);
      const t = m ? liveToken(m[1] ?? "") : undefined;
      if (!t) return json(401, { status: 401, message: "invalid access token" });
      return json(200, {
        client_id: t.clientId,
        login: t.login,
        scopes: t.scopes,
        user_id: t.userId,
        expires_in: t.expiresAt === null ? 0 : Math.max(0, Math.floor((t.expiresAt - now()) / 1000)),
      });
    }

    if (endpoint === "token" && req.method === "POST") {
      if (fake.tokenEndpointDown !== null) {
        const status = fake.tokenEndpointDown;
        return json(status, {
          status,
          message: status === 429 ? "Too Many Requests" : "Service Unavailable",
        });
      }
      if (form.grant_type === "refresh_token") {
        if (fake.failNextRefresh !== null) {
          const status = fake.failNextRefresh;
          fake.failNextRefresh = null;
          return json(status, { status, message: "Service Unavailable" });
        }
        if (form.client_id !== clientId) return json(400, { status: 400, message: "invalid client" });
        if (form.client_secret !== undefined && form.client_secret !== clientSecret) {
          return json(403, { status: 403, message: "invalid client secret" });
        }
        const r = refreshes.get(form.refresh_token ?? "");
        if (!r || r.revoked) {
          return json(400, { error: "Bad Request", status: 400, message: "Invalid refresh token" });
        }
        // Twitch may rotate the refresh token; the fake always does, so tests catch a stale one.
        r.revoked = true;
        return json(200, grantBody(r.spec));
      }
      if (form.grant_type === "urn:ietf:params:oauth:grant-type:device_code") {
        const d = devices.get(form.device_code ?? "");
        if (!d) return json(400, { status: 400, message: "invalid device code" });
        d.polls++;
        const s = fake.device;
        if (s.expired) return json(400, { status: 400, message: s.expiredMessage });
        if (s.denied) return json(400, { status: 400, message: "access_denied" });
        if (s.slowDownAtPolls.includes(d.polls)) return json(400, { status: 400, message: "slow_down" });
        if (d.polls <= s.approveAfterPolls) {
          return json(400, { status: 400, message: "authorization_pending" });
        }
        devices.delete(form.device_code ?? "");
        return json(200, grantBody({ ...DEFAULT_SPEC, clientId, scopes: d.scopes, ...s.token }));
      }
      return json(400, { status: 400, message: "unsupported grant type" });
    }

    if (endpoint === "device" && req.method === "POST") {
      if (form.client_id !== clientId) return json(400, { status: 400, message: "invalid client" });
      const deviceCode = randomToken(40);
      const userCode = randomToken(8).toUpperCase();
      devices.set(deviceCode, { polls: 0, userCode, scopes: (form.scopes ?? "").split(" ").filter(Boolean) });
      return json(200, {
        device_code: deviceCode,
        expires_in: 1800,
        interval: fake.device.interval,
        user_code: userCode,
        verification_uri: `https://www.twitch.tv/activate?public=true&device-code=${userCode}`,
      });
    }

    if (endpoint === "revoke" && req.method === "POST") {
      if (form.client_id !== clientId) return json(404, { status: 404, message: "client does not exist" });
      const t = tokens.get(form.token ?? "");
      if (!t || t.revoked) return json(400, { status: 400, message: "Invalid token" });
      t.revoked = true;
      return new Response(null, { status: 200 });
    }

    return json(404, { status: 404, message: "not found" });
  }

  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) => {
        resolve({
          ...fake,
          url: `http://127.0.0.1:${port}`,
          // Getters/setters of the script live on `fake`; expose the same objects.
          get device() {
            return fake.device;
          },
          set device(v) {
            fake.device = v;
          },
          get failNextRefresh() {
            return fake.failNextRefresh;
          },
          set failNextRefresh(v) {
            fake.failNextRefresh = v;
          },
          get tokenEndpointDown() {
            return fake.tokenEndpointDown;
          },
          set tokenEndpointDown(v) {
            fake.tokenEndpointDown = v;
          },
          close: () => server.shutdown(),
        });
      },
    }, handle);
  });
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

/** A Twitch-looking token: lowercase letters and digits (tmi.js lowercases tokens). */
function randomToken(length = 30): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}
