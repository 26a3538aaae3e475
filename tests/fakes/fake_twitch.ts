/**
 * A fake Twitch chat server (IRC over WebSocket) on 127.0.0.1 that speaks the lines the real
 * `irc-ws.chat.twitch.tv` sends: capability negotiation, PASS/NICK login (anonymous `justinfanNNNN`
 * or a token from {@link FakeTwitchOptions.tokens}), the 001–004/375/372/376 welcome,
 * GLOBALUSERSTATE, JOIN with 353/366/USERSTATE/ROOMSTATE, PART, PING/PONG both ways, and tagged
 * PRIVMSG/CLEARCHAT/CLEARMSG/ROOMSTATE/USERSTATE/NOTICE/RECONNECT lines pushed by a test.
 *
 * Capabilities are honoured like Twitch does: without `twitch.tv/tags` lines lose their tags,
 * without `twitch.tv/commands` the Twitch-only commands are not sent, without
 * `twitch.tv/membership` other users' JOIN/PART are not sent.
 *
 * @example
 * ```ts
 * const twitch = await startFakeTwitch({ tokens: ["abc123"], badges: { mychan: "moderator/1" } });
 * // connect tmi.js to twitch.url, join #mychan, then:
 * twitch.sendPrivmsg("mychan", { login: "viewer", text: "hello @clankbot" });
 * await twitch.waitFor(() => twitch.privmsgs.length === 1);
 * await twitch.close();
 * ```
 * @module
 */

/** Tag values as a test writes them; booleans become `1`/`0`. */
export type TagValues = Record<string, string | number | boolean>;

/** Options of {@link startFakeTwitch}. */
export interface FakeTwitchOptions {
  /** OAuth tokens (without `oauth:`) that log in; any other token gets `Login authentication failed`. */
  tokens?: string[];
  /** The bot's badges per channel for USERSTATE, e.g. `{ mychan: "moderator/1" }`. */
  badges?: Record<string, string>;
  /** Room modes per channel sent in the ROOMSTATE on JOIN, e.g. `{ slowchan: { slow: 30 } }`. */
  roomStates?: Record<string, TagValues>;
  /** Channels whose JOIN is answered with `msg_channel_suspended` instead of joining. */
  suspended?: string[];
  /** Clock for recorded times and `tmi-sent-ts` (default `Date.now`); tests may pass a fake clock. */
  now?: () => number;
  /** Called for every PRIVMSG a client sends, after it was recorded. */
  onPrivmsg?: (msg: RecordedPrivmsg, fake: FakeTwitch) => void;
  /** When set, the server sends `PING :tmi.twitch.tv` to every client at this interval. */
  pingIntervalMs?: number;
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
}

/** A PRIVMSG a client sent. */
export interface RecordedPrivmsg {
  channel: string;
  /** Login of the sender. */
  login: string;
  /** Text without the `\u0001ACTION` wrapper. */
  text: string;
  action: boolean;
  /** `options.now()` when the line arrived. */
  time: number;
  /** The line as received. */
  raw: string;
  /** Id of the connection it came on (1, 2, … in connection order). */
  connection: number;
}

/** A JOIN or PART a client sent. */
export interface RecordedMembership {
  channel: string;
  login: string;
  time: number;
  connection: number;
}

/** A chat line pushed to clients with {@link FakeTwitch.sendPrivmsg}. */
export interface PrivmsgSpec {
  /** Login of the author (lower case). */
  login: string;
  displayName?: string;
  userId?: string;
  /** Twitch `badges` tag (`"moderator/1,subscriber/12"`) or a map `{ moderator: 1 }`. */
  badges?: string | Record<string, string | number>;
  /** Message id; a random UUID when absent. */
  id?: string;
  text: string;
  /** True for `/me` lines. */
  action?: boolean;
  /** `tmi-sent-ts`; `options.now()` when absent. */
  sentTs?: number;
  /** Extra or overriding tags, e.g. `{ bits: 100 }`. */
  tags?: TagValues;
}

const CAPS = ["twitch.tv/tags", "twitch.tv/commands", "twitch.tv/membership"];
/** Commands Twitch only sends to clients that requested `twitch.tv/commands`. */
const COMMANDS_CAP_ONLY = new Set([
  "CLEARCHAT",
  "CLEARMSG",
  "GLOBALUSERSTATE",
  "HOSTTARGET",
  "RECONNECT",
  "ROOMSTATE",
  "USERNOTICE",
  "USERSTATE",
  "WHISPER",
]);
const DEFAULT_ROOM: TagValues = { "emote-only": 0, "followers-only": -1, r9k: 0, slow: 0, "subs-only": 0 };

/** One client connection's state. */
class Connection {
  readonly caps = new Set<string>();
  readonly channels = new Set<string>();
  pass: string | undefined;
  login: string | undefined;
  anonymous = false;
  registered = false;
  readonly closed: Promise<void>;
  #markClosed!: () => void;

  constructor(readonly id: number, readonly socket: WebSocket) {
    this.closed = new Promise((resolve) => this.#markClosed = resolve);
    socket.addEventListener("close", () => this.#markClosed());
  }

  /** Writes `text` (one or more CRLF-terminated lines) if the socket is open. */
  write(text: string): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(text);
  }
}

/** Escapes a tag value the IRCv3 way (`\s` for space, `\:` for `;`). */
export function escapeTagValue(value: string): string {
  return value.replace(
    /[\\; \r\n]/g,
    (c) => ({ "\\": "\\\\", ";": "\\:", " ": "\\s", "\r": "\\r", "\n": "\\n" })[c]!,
  );
}

/** Formats tags as `@k=v;k2=v2 ` (with the trailing space), or "" when there are none. */
export function formatTags(tags: TagValues): string {
  const parts = Object.entries(tags).map(([k, v]) => {
    const value = typeof v === "boolean" ? (v ? "1" : "0") : String(v);
    return `${k}=${escapeTagValue(value)}`;
  });
  return parts.length === 0 ? "" : `@${parts.join(";")} `;
}

/** A stable numeric id for a login or channel, so related lines agree without a registry. */
export function fakeUserId(login: string): string {
  let h = 2166136261;
  for (let i = 0; i < login.length; i++) h = Math.imul(h ^ login.charCodeAt(i), 16777619) >>> 0;
  return String(10_000_000 + (h % 900_000_000));
}

function badgeString(badges: PrivmsgSpec["badges"]): string {
  if (badges === undefined) return "";
  if (typeof badges === "string") return badges;
  return Object.entries(badges).map(([k, v]) => `${k}/${v}`).join(",");
}

function chan(channel: string): string {
  return channel.replace(/^#/, "").toLowerCase();
}

/** Splits a raw IRC line into command and params (tags and prefix dropped). */
function parseClientLine(line: string): { command: string; params: string[] } {
  const words = line.split(" ");
  let i = 0;
  if (words[i]?.startsWith("@")) i++;
  if (words[i]?.startsWith(":")) i++;
  const command = (words[i++] ?? "").toUpperCase();
  const params: string[] = [];
  for (; i < words.length; i++) {
    const w = words[i]!;
    if (w.startsWith(":")) {
      params.push([w.slice(1), ...words.slice(i + 1)].join(" "));
      break;
    }
    if (w !== "") params.push(w);
  }
  return { command, params };
}

/** A running fake Twitch chat server. Create one with {@link startFakeTwitch}. */
export class FakeTwitch {
  /** `ws://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** Every PRIVMSG clients sent, in arrival order. */
  readonly privmsgs: RecordedPrivmsg[] = [];
  /** Every channel JOIN clients sent (one entry per channel of a comma list). */
  readonly joins: RecordedMembership[] = [];
  /** Every channel PART clients sent. */
  readonly parts: RecordedMembership[] = [];
  /** Every line any client sent, PASS lines masked as `PASS ***`. */
  readonly received: string[] = [];
  /** Logins refused with a NOTICE (bad or missing token). */
  readonly authFailures: string[] = [];
  /** PONG lines clients sent in answer to our PINGs. */
  pongs = 0;
  /** Connections accepted so far. */
  connectionCount = 0;

  #server: Deno.HttpServer<Deno.NetAddr>;
  #conns = new Set<Connection>();
  #opts: FakeTwitchOptions;
  #tokens: Set<string>;
  #badges: Map<string, string>;
  #rooms = new Map<string, TagValues>();
  #suspended: Set<string>;
  #now: () => number;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #history = new Map<string, string>();

  /** Use {@link startFakeTwitch}. */
  constructor(options: FakeTwitchOptions, ready: (addr: Deno.NetAddr) => void) {
    this.#opts = options;
    this.#tokens = new Set(options.tokens ?? []);
    this.#badges = new Map(Object.entries(options.badges ?? {}).map(([c, b]) => [chan(c), b]));
    for (const [c, tags] of Object.entries(options.roomStates ?? {})) {
      this.#rooms.set(chan(c), { ...DEFAULT_ROOM, ...tags });
    }
    this.#suspended = new Set((options.suspended ?? []).map(chan));
    this.#now = options.now ?? Date.now;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: options.port ?? 0, onListen: ready },
      (req) => this.#accept(req),
    );
    this.port = this.#server.addr.port;
    this.url = `ws://127.0.0.1:${this.port}`;
    if (options.pingIntervalMs !== undefined) {
      this.#pingTimer = setInterval(() => this.sendPing(), options.pingIntervalMs);
    }
  }

  /** Connections currently open. */
  get openConnections(): number {
    return this.#conns.size;
  }

  /** Channels (without `#`) the given login (or any client) is currently joined to. */
  joinedChannels(login?: string): string[] {
    const out = new Set<string>();
    for (const c of this.#conns) {
      if (login === undefined || c.login === login) c.channels.forEach((x) => out.add(x));
    }
    return [...out].sort();
  }

  #accept(req: Request): Response {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("Fake Twitch IRC: connect with a WebSocket\n", { status: 400 });
    }
    const wanted = (req.headers.get("sec-websocket-protocol") ?? "").split(",").map((s) => s.trim());
    const { socket, response } = Deno.upgradeWebSocket(
      req,
      wanted.includes("irc") ? { protocol: "irc" } : {},
    );
    const conn = new Connection(++this.connectionCount, socket);
    this.#conns.add(conn);
    socket.addEventListener("message", (ev) => {
      if (typeof ev.data !== "string") return;
      for (const line of ev.data.split(/\r?\n/)) if (line.trim() !== "") this.#onLine(conn, line.trimEnd());
    });
    socket.addEventListener("close", () => this.#conns.delete(conn));
    socket.addEventListener("error", () => this.#conns.delete(conn));
    return response;
  }

  #onLine(conn: Connection, line: string): void {
    this.received.push(/^PASS /i.test(line) ? "PASS ***" : line);
    const { command, params } = parseClientLine(line);
    switch (command) {
      case "CAP":
        return this.#onCap(conn, params);
      case "PASS":
        conn.pass = params[0];
        return;
      case "NICK":
        return this.#onNick(conn, (params[0] ?? "").toLowerCase());
      case "PING":
        // Twitch answers a bare PING with a bare PONG and echoes an argument with its prefix form.
        conn.write(
          params[0] === undefined
            ? "PONG :tmi.twitch.tv\r\n"
            : `:tmi.twitch.tv PONG tmi.twitch.tv :${params[0]}\r\n`,
        );
        return;
      case "PONG":
        this.pongs++;
        return;
    }
    if (!conn.registered) return;
    switch (command) {
      case "JOIN":
        for (const c of (params[0] ?? "").split(",")) if (c.trim() !== "") this.#onJoin(conn, chan(c.trim()));
        return;
      case "PART":
        for (const c of (params[0] ?? "").split(",")) if (c.trim() !== "") this.#onPart(conn, chan(c.trim()));
        return;
      case "PRIVMSG":
        return this.#onPrivmsg(conn, chan(params[0] ?? ""), params[1] ?? "", line);
      default:
        conn.write(`:tmi.twitch.tv 421 ${conn.login} ${command} :Unknown command\r\n`);
    }
  }

  #onCap(conn: Connection, params: string[]): void {
    const sub = (params[0] ?? "").toUpperCase() === "*" ? params[1]?.toUpperCase() : params[0]?.toUpperCase();
    if (sub === "LS") {
      conn.write(`:tmi.twitch.tv CAP * LS :${CAPS.join(" ")}\r\n`);
    } else if (sub === "REQ") {
      const asked = (params[params.length - 1] ?? "").split(" ").filter((c) => c !== "");
      const known = asked.every((c) => CAPS.includes(c));
      if (known) asked.forEach((c) => conn.caps.add(c));
      conn.write(`:tmi.twitch.tv CAP * ${known ? "ACK" : "NAK"} :${asked.join(" ")}\r\n`);
    }
  }

  #onNick(conn: Connection, nick: string): void {
    if (conn.registered) return;
    if (/^justinfan\d+$/.test(nick)) {
      conn.anonymous = true;
    } else {
      const pass = conn.pass ?? "";
      if (!pass.startsWith("oauth:") || pass.length <= 6) {
        return this.#refuse(conn, nick, "Improperly formatted auth");
      }
      if (!this.#tokens.has(pass.slice(6))) return this.#refuse(conn, nick, "Login authentication failed");
    }
    conn.login = nick;
    conn.registered = true;
    const lines = [
      `:tmi.twitch.tv 001 ${nick} :Welcome, GLHF!`,
      `:tmi.twitch.tv 002 ${nick} :Your host is tmi.twitch.tv`,
      `:tmi.twitch.tv 003 ${nick} :This server is rather new`,
      `:tmi.twitch.tv 004 ${nick} :-`,
      `:tmi.twitch.tv 375 ${nick} :-`,
      `:tmi.twitch.tv 372 ${nick} :You are in a maze of twisty passages, all alike.`,
      `:tmi.twitch.tv 376 ${nick} :>`,
    ];
    if (!conn.anonymous) {
      lines.push(
        `${
          formatTags({
            "badge-info": "",
            badges: "",
            color: "",
            "display-name": nick,
            "emote-sets": "0",
            "user-id": fakeUserId(nick),
            "user-type": "",
          })
        }:tmi.twitch.tv GLOBALUSERSTATE`,
      );
    }
    this.#writeLines(conn, lines);
  }

  #refuse(conn: Connection, nick: string, text: string): void {
    this.authFailures.push(nick);
    conn.write(`:tmi.twitch.tv NOTICE * :${text}\r\n`);
    conn.socket.close();
  }

  #onJoin(conn: Connection, channel: string): void {
    const login = conn.login!;
    this.joins.push({ channel, login, time: this.#now(), connection: conn.id });
    if (this.#suspended.has(channel)) {
      this.#writeLines(conn, [
        `@msg-id=msg_channel_suspended :tmi.twitch.tv NOTICE #${channel} :This channel has been suspended.`,
      ]);
      return;
    }
    conn.channels.add(channel);
    const lines = [
      `:${login}!${login}@${login}.tmi.twitch.tv JOIN #${channel}`,
      `:${login}.tmi.twitch.tv 353 ${login} = #${channel} :${login}`,
      `:${login}.tmi.twitch.tv 366 ${login} #${channel} :End of /NAMES list`,
    ];
    if (!conn.anonymous) lines.push(this.#userStateLine(login, channel));
    lines.push(
      `${
        formatTags({ ...this.#room(channel), "room-id": fakeUserId(channel) })
      }:tmi.twitch.tv ROOMSTATE #${channel}`,
    );
    this.#writeLines(conn, lines);
    // Other members see the JOIN (membership capability).
    this.#toChannel(channel, `:${login}!${login}@${login}.tmi.twitch.tv JOIN #${channel}`, conn);
  }

  #onPart(conn: Connection, channel: string): void {
    const login = conn.login!;
    this.parts.push({ channel, login, time: this.#now(), connection: conn.id });
    if (!conn.channels.has(channel)) return;
    const line = `:${login}!${login}@${login}.tmi.twitch.tv PART #${channel}`;
    this.#writeLines(conn, [line]);
    conn.channels.delete(channel);
    this.#toChannel(channel, line, conn);
  }

  #onPrivmsg(conn: Connection, channel: string, text: string, raw: string): void {
    // Twitch silently ignores anonymous senders.
    if (conn.anonymous) return;
    const action = text.startsWith("\u0001ACTION ") && text.endsWith("\u0001");
    const msg: RecordedPrivmsg = {
      channel,
      login: conn.login!,
      text: action ? text.slice(8, -1) : text,
      action,
      time: this.#now(),
      raw,
      connection: conn.id,
    };
    this.privmsgs.push(msg);
    this.#writeLines(conn, [this.#userStateLine(conn.login!, channel, crypto.randomUUID())]);
    this.#opts.onPrivmsg?.(msg, this);
  }

  #room(channel: string): TagValues {
    let room = this.#rooms.get(channel);
    if (!room) this.#rooms.set(channel, room = { ...DEFAULT_ROOM });
    return room;
  }

  #userStateLine(login: string, channel: string, id?: string): string {
    const badges = this.#badges.get(channel) ?? (login === channel ? "broadcaster/1" : "");
    const mod = /(^|,)moderator\//.test(badges);
    const tags: TagValues = {
      "badge-info": "",
      badges,
      color: "",
      "display-name": login,
      "emote-sets": "0",
      ...(id ? { id } : {}),
      mod,
      subscriber: /(^|,)subscriber\//.test(badges),
      "user-type": mod ? "mod" : "",
    };
    return `${formatTags(tags)}:tmi.twitch.tv USERSTATE #${channel}`;
  }

  /** Writes lines to one connection in one frame, applying its capabilities. */
  #writeLines(conn: Connection, lines: string[]): void {
    const out: string[] = [];
    for (const line of lines) {
      const shaped = this.#shape(conn, line);
      if (shaped !== null) out.push(shaped);
    }
    if (out.length > 0) conn.write(out.join("\r\n") + "\r\n");
  }

  /** Applies a connection's capabilities to a line; null when Twitch would not send it. */
  #shape(conn: Connection, line: string): string | null {
    const untagged = line.startsWith("@") ? line.slice(line.indexOf(" ") + 1) : line;
    const words = untagged.split(" ");
    const command = (untagged.startsWith(":") ? words[1] : words[0]) ?? "";
    if (COMMANDS_CAP_ONLY.has(command) && !conn.caps.has("twitch.tv/commands")) return null;
    return conn.caps.has("twitch.tv/tags") ? line : untagged;
  }

  /** Sends a line to every connection joined to `channel` (except `skip`). */
  #toChannel(channel: string, line: string, skip?: Connection): void {
    const membership = / (JOIN|PART) #/.test(line) && !line.startsWith("@");
    for (const c of this.#conns) {
      if (c === skip || !c.channels.has(channel)) continue;
      if (membership && !c.caps.has("twitch.tv/membership")) continue;
      this.#writeLines(c, [line]);
    }
  }

  #roomId(channel: string): string {
    return fakeUserId(channel);
  }

  /** The PRIVMSG line Twitch would send for `spec` in `channel`. */
  privmsgLine(channel: string, spec: PrivmsgSpec): string {
    const c = chan(channel);
    const login = spec.login.toLowerCase();
    const badges = badgeString(spec.badges);
    const id = spec.id ?? crypto.randomUUID();
    const mod = /(^|,)moderator\//.test(badges);
    const tags: TagValues = {
      "badge-info": "",
      badges,
      color: "#1E90FF",
      "display-name": spec.displayName ?? login,
      emotes: "",
      "first-msg": 0,
      flags: "",
      id,
      mod,
      "returning-chatter": 0,
      "room-id": this.#roomId(c),
      subscriber: /(^|,)subscriber\//.test(badges),
      "tmi-sent-ts": spec.sentTs ?? this.#now(),
      turbo: 0,
      "user-id": spec.userId ?? fakeUserId(login),
      "user-type": mod ? "mod" : "",
      ...spec.tags,
    };
    this.#history.set(id, spec.text);
    const text = spec.action ? `\u0001ACTION ${spec.text}\u0001` : spec.text;
    return `${formatTags(tags)}:${login}!${login}@${login}.tmi.twitch.tv PRIVMSG #${c} :${text}`;
  }

  /** Pushes a chat line from a viewer; returns the message id. */
  sendPrivmsg(channel: string, spec: PrivmsgSpec): string {
    const id = spec.id ?? crypto.randomUUID();
    this.#toChannel(chan(channel), this.privmsgLine(channel, { ...spec, id }));
    return id;
  }

  /** CLEARCHAT: with `login` a ban (or a timeout of `duration` seconds), without it a full clear. */
  sendClearChat(channel: string, login?: string, duration?: number): void {
    const c = chan(channel);
    const tags: TagValues = {};
    if (login !== undefined && duration !== undefined) tags["ban-duration"] = duration;
    tags["room-id"] = this.#roomId(c);
    if (login !== undefined) tags["target-user-id"] = fakeUserId(login.toLowerCase());
    tags["tmi-sent-ts"] = this.#now();
    const tail = login === undefined ? "" : ` :${login.toLowerCase()}`;
    this.#toChannel(c, `${formatTags(tags)}:tmi.twitch.tv CLEARCHAT #${c}${tail}`);
  }

  /** CLEARMSG: one message (by id) of `login` was deleted. */
  sendClearMsg(channel: string, login: string, msgId: string): void {
    const c = chan(channel);
    const tags: TagValues = {
      login: login.toLowerCase(),
      "room-id": "",
      "target-msg-id": msgId,
      "tmi-sent-ts": this.#now(),
    };
    this.#toChannel(c, `${formatTags(tags)}:tmi.twitch.tv CLEARMSG #${c} :${this.#history.get(msgId) ?? ""}`);
  }

  /** ROOMSTATE update with only the given tags (like Twitch sends on a mode change). */
  sendRoomState(channel: string, tags: TagValues): void {
    const c = chan(channel);
    Object.assign(this.#room(c), tags);
    this.#toChannel(
      c,
      `${formatTags({ "room-id": this.#roomId(c), ...tags })}:tmi.twitch.tv ROOMSTATE #${c}`,
    );
  }

  /** Changes the bot's badges in a channel (e.g. `"moderator/1"` or `""`) and sends USERSTATE. */
  sendUserState(channel: string, badges: string): void {
    const c = chan(channel);
    this.#badges.set(c, badges);
    for (const conn of this.#conns) {
      if (conn.anonymous || !conn.channels.has(c)) continue;
      this.#writeLines(conn, [this.#userStateLine(conn.login!, c)]);
    }
  }

  /** NOTICE with a `msg-id`, to clients in `channel` (`"*"`: to every client). */
  sendNotice(channel: string, msgId: string, text: string): void {
    const target = channel === "*" ? "*" : `#${chan(channel)}`;
    const line = `${formatTags({ "msg-id": msgId })}:tmi.twitch.tv NOTICE ${target} :${text}`;
    if (channel === "*") this.sendRaw(line);
    else this.#toChannel(chan(channel), line);
  }

  /** Another user joins (`sendJoin`) or leaves (`sendPart`) a channel. */
  sendJoin(channel: string, login: string): void {
    const c = chan(channel);
    this.#toChannel(c, `:${login}!${login}@${login}.tmi.twitch.tv JOIN #${c}`);
  }

  /** Another user leaves a channel. */
  sendPart(channel: string, login: string): void {
    const c = chan(channel);
    this.#toChannel(c, `:${login}!${login}@${login}.tmi.twitch.tv PART #${c}`);
  }

  /** `:tmi.twitch.tv RECONNECT` to every client (Twitch then expects them to reconnect). */
  sendReconnect(): void {
    this.sendRaw(":tmi.twitch.tv RECONNECT");
  }

  /** `PING :tmi.twitch.tv` to every client. */
  sendPing(): void {
    this.sendRaw("PING :tmi.twitch.tv");
  }

  /** Sends a raw line (or garbage) to every connection, unchanged by capabilities. */
  sendRaw(line: string): void {
    for (const c of this.#conns) c.write(line + "\r\n");
  }

  /**
   * High-throughput mode: many PRIVMSGs to `channel` packed `linesPerFrame` to a socket frame.
   * A string is a line from the viewer `viewer`. Returns the number of frames written.
   */
  blast(channel: string, lines: Array<string | PrivmsgSpec>, linesPerFrame = 500): number {
    const c = chan(channel);
    const rendered = lines.map((l) =>
      this.privmsgLine(c, typeof l === "string" ? { login: "viewer", text: l, id: crypto.randomUUID() } : l)
    );
    let frames = 0;
    for (let i = 0; i < rendered.length; i += linesPerFrame) {
      const frame = rendered.slice(i, i + linesPerFrame).join("\r\n") + "\r\n";
      for (const conn of this.#conns) if (conn.channels.has(c)) conn.write(frame);
      frames++;
    }
    return frames;
  }

  /** Closes every client connection (clients see the socket drop) and waits until they closed. */
  async dropConnections(): Promise<void> {
    const conns = [...this.#conns];
    for (const c of conns) {
      try {
        c.socket.close();
      } catch {
        // Already closing.
      }
    }
    await Promise.all(conns.map((c) => c.closed));
  }

  /** Resolves once `predicate()` is true; rejects after `timeoutMs` naming `what`. */
  async waitFor(predicate: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) {
        throw new Error(`Fake Twitch: timed out after ${timeoutMs} ms waiting for ${what}`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Closes all connections and stops the server. */
  async close(): Promise<void> {
    if (this.#pingTimer !== undefined) clearInterval(this.#pingTimer);
    this.#pingTimer = undefined;
    await this.dropConnections();
    await this.#server.shutdown();
  }
}

/** Starts a fake Twitch chat server on 127.0.0.1; resolves once it listens. */
export async function startFakeTwitch(options: FakeTwitchOptions = {}): Promise<FakeTwitch> {
  const { promise, resolve } = Promise.withResolvers<void>();
  const fake = new FakeTwitch(options, () => resolve());
  await promise;
  return fake;
}
