// clank dashboard: talks to the control plane's JSON API with the control token from this tab's
// sessionStorage. Every piece of chat text is inserted with textContent, never as HTML.
import { drawLineChart } from "/assets/chart.js";

const TOKEN_KEY = "clank.controlToken";
const POLL_CHANNELS_MS = 5000;
const POLL_STATUS_MS = 10000;
const CHAT_LINES = 150;
const CHART_POINTS = 120;
/** The server's ping interval when its hello does not say (older servers). */
const DEFAULT_HEARTBEAT_MS = 20000;
/** Heartbeats of silence after which the feed counts as stalled (a proxy or NAT dropped it quietly). */
const STALL_HEARTBEATS = 2.5;
/** Longest wait for the feed's hello: the server sends it as soon as the subscription is live. */
const CONNECT_TIMEOUT_MS = 10000;

const LABELS = {
  threshold: ["Threshold", "chat lines between spontaneous lines"],
  spontaneous: ["Spontaneous", "seconds between spontaneous lines"],
  response: ["Response", "seconds per user between replies"],
  context: ["Context", "lines of history"],
  model: ["Model", "empty: global model"],
  persona: ["Persona", "system prompt; {bot} and {channel} are replaced"],
  max_length: ["Max length", "characters per line"],
  generator: ["Generator", "generator plugin"],
  fallback_markov: ["Markov fallback", "when the generator fails"],
  floor: ["Floor", "seconds between any two bot lines"],
  mention_queue: ["Mention queue", "pending mentions kept"],
};

const $ = (sel, root = document) => root.querySelector(sel);
const state = {
  token: sessionStorage.getItem(TOKEN_KEY) ?? "",
  schema: null,
  cards: new Map(),
  // Unknown until /api/info answers; the first answer applies it either way.
  readOnly: null,
  started: false,
  streamAbort: null,
  // Bumped whenever the feed must stop (login screen, logout, a new loop): a loop that wakes up
  // from its backoff with an older generation ends instead of opening a second feed.
  streamGeneration: 0,
};

// ---- API -------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code ?? "HTTP_ERROR";
    this.body = body;
  }
}

function authHeaders() {
  return state.token ? { authorization: `Bearer ${state.token}` } : {};
}

async function api(method, path, body) {
  const headers = { ...authHeaders() };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let json = null;
  try {
    json = await res.json();
  } catch {
    // Non-JSON error bodies fall through to the status code.
  }
  if (res.status === 401 && json?.error?.code === "UNAUTHORIZED") {
    showLogin(state.token ? "Wrong or expired control token" : "");
  }
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

// ---- Login -----------------------------------------------------------------------------------

function showLogin(message) {
  state.started = false;
  stopStream();
  $("#main").hidden = true;
  $("#logout").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = message ?? "";
  $("#token").focus();
}

async function connect() {
  try {
    const info = await api("GET", "/api/info");
    $("#login").hidden = true;
    $("#main").hidden = false;
    $("#logout").hidden = !state.token;
    renderInfo(info);
    if (!state.schema) state.schema = (await api("GET", "/api/schema")).settings;
    if (!state.started) {
      state.started = true;
      await refreshChannels(true);
      startStream();
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      showLogin(state.token ? "Wrong control token" : "");
    } else {
      showLogin(`Cannot reach the control plane: ${err.message}`);
    }
  }
}

// ---- Status ----------------------------------------------------------------------------------

function setPill(id, cls, text) {
  const el = $(id);
  el.className = `pill ${cls}`;
  el.textContent = text;
}

function formatDuration(seconds) {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

function renderInfo(info) {
  // The server decides: a tab may hold a token from before the bot restarted without one.
  const readOnly = info.writable !== true;
  if (readOnly !== state.readOnly) {
    state.readOnly = readOnly;
    applyReadOnly();
  }
  $("#bot-name").textContent = info.bot ? `as ${info.bot}` : "";
  $("#meta").textContent = `v${info.version} · up ${
    formatDuration(info.uptimeSeconds)
  } · model ${info.model}`;
  $("#pill-mode").hidden = !info.observeOnly;
}

async function refreshStatus() {
  try {
    const res = await fetch("/readyz");
    const r = await res.json();
    setPill(
      "#pill-irc",
      r.irc.connected ? (r.irc.joined < r.irc.wanted ? "warn" : "ok") : "bad",
      r.irc.connected
        ? `IRC ${r.irc.joined}/${r.irc.wanted} joined${r.irc.readOnly ? " (read-only)" : ""}`
        : "IRC down",
    );
    const o = r.ollama.reachable;
    setPill(
      "#pill-ollama",
      o === null ? "" : o ? "ok" : "bad",
      o === null ? "Ollama unknown" : o ? "Ollama up" : "Ollama down",
    );
    $("#pill-ollama").title = r.ollama.error ?? "";
    setPill(
      "#pill-db",
      r.database.writable ? "ok" : "bad",
      r.database.writable ? "Database ok" : `Database down (${r.database.buffered} buffered)`,
    );
    $("#pill-db").title = r.database.error ?? "";
    if (state.started) renderInfo(await api("GET", "/api/info"));
  } catch {
    setPill("#pill-irc", "bad", "Control plane unreachable");
    // Nothing is known about them while the bot does not answer; green would be a guess.
    setPill("#pill-ollama", "", "Ollama unknown");
    setPill("#pill-db", "", "Database unknown");
    $("#pill-ollama").title = "";
    $("#pill-db").title = "";
  }
}

/** Enables or disables every control that changes the bot, after `state.readOnly`. */
function applyReadOnly() {
  $("#readonly-note").hidden = !state.readOnly;
  for (const el of [$("#join-name"), $("#join-form button"), $("#reload")]) el.disabled = state.readOnly;
  for (const card of state.cards.values()) applyCardReadOnly(card);
}

function applyCardReadOnly(card) {
  for (const { input } of card.inputs.values()) input.disabled = state.readOnly;
  $(".save", card.el).disabled = state.readOnly;
  $(".reset", card.el).disabled = state.readOnly;
  $(".part", card.el).disabled = state.readOnly;
}

function toast(text, bad = false) {
  const el = $("#toast");
  el.textContent = text;
  el.className = bad ? "toast bad" : "toast";
}

// ---- Channel cards ---------------------------------------------------------------------------

function inputFor(key, prop) {
  let el;
  if (prop?.type === "boolean") {
    el = document.createElement("input");
    el.type = "checkbox";
  } else if (key === "persona") {
    el = document.createElement("textarea");
    el.maxLength = prop?.maxLength ?? 4000;
  } else if (prop?.type === "integer" || prop?.type === "number") {
    el = document.createElement("input");
    el.type = "number";
    if (prop.minimum !== undefined) el.min = String(prop.minimum);
    if (prop.maximum !== undefined) el.max = String(prop.maximum);
    el.step = prop.type === "integer" ? "1" : "any";
  } else {
    el = document.createElement("input");
    el.type = "text";
    if (prop?.maxLength) el.maxLength = prop.maxLength;
  }
  el.name = key;
  return el;
}

function rangeHint(prop) {
  if (prop?.minimum !== undefined && prop?.maximum !== undefined) return `${prop.minimum}–${prop.maximum}`;
  return "";
}

function buildSettingsForm(card) {
  const form = $(".settings", card.el);
  form.replaceChildren();
  card.inputs = new Map();
  for (const [key, prop] of Object.entries(state.schema.properties)) {
    const id = `set-${card.channel}-${key}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    const [title, help] = LABELS[key] ?? [key, ""];
    label.textContent = title;
    label.title = `${key}: ${prop?.description ?? help}${rangeHint(prop) ? ` (${rangeHint(prop)})` : ""}`;
    const input = inputFor(key, prop);
    input.id = id;
    input.title = label.title;
    input.addEventListener("input", () => input.classList.add("dirty"));
    input.addEventListener("change", () => input.classList.add("dirty"));
    const error = document.createElement("div");
    error.className = "field-error";
    error.hidden = true;
    if (key === "persona") {
      label.classList.add("wide");
      input.classList.add("wide");
      form.append(label, input, error);
    } else {
      const hint = rangeHint(prop);
      if (hint) input.placeholder = hint;
      form.append(label, input, error);
    }
    card.inputs.set(key, { input, label, error, prop });
  }
  applyCardReadOnly(card);
}

function fillSettings(card, view, force = false) {
  for (const [key, { input, label }] of card.inputs) {
    label.classList.toggle("override", view.overrides.includes(key));
    if (!force && (input.classList.contains("dirty") || document.activeElement === input)) continue;
    const value = view.settings[key];
    if (input.type === "checkbox") input.checked = Boolean(value);
    else input.value = value ?? "";
    input.classList.remove("dirty", "invalid");
  }
}

function readSettings(card) {
  const patch = {};
  for (const [key, { input, prop }] of card.inputs) {
    if (!input.classList.contains("dirty")) continue;
    if (input.type === "checkbox") patch[key] = input.checked;
    else if (prop?.type === "integer" || prop?.type === "number") {
      patch[key] = input.value.trim() === "" ? input.value : Number(input.value);
    } else patch[key] = input.value;
  }
  return patch;
}

function showResult(card, text, cls) {
  const el = $(".result", card.el);
  el.textContent = text;
  el.className = `result ${cls}`;
}

function clearFieldErrors(card) {
  for (const { input, error } of card.inputs.values()) {
    input.classList.remove("invalid");
    error.hidden = true;
    error.textContent = "";
  }
}

async function saveSettings(card) {
  clearFieldErrors(card);
  const patch = readSettings(card);
  if (Object.keys(patch).length === 0) {
    showResult(card, "Nothing changed", "");
    return;
  }
  showResult(card, "Saving…", "");
  try {
    const res = await api("PATCH", `/api/channels/${card.channel}/settings`, patch);
    card.view.settings = res.settings;
    card.view.overrides = [...new Set([...card.view.overrides, ...Object.keys(patch)])];
    fillSettings(card, card.view, true);
    showResult(
      card,
      `Saved ${
        Object.entries(patch).map(([k, v]) => `${k}=${typeof v === "string" && v.length > 20 ? "…" : v}`)
          .join(", ")
      }`,
      "ok",
    );
  } catch (err) {
    for (const p of err.body?.error?.problems ?? []) {
      const field = card.inputs.get(p.field);
      if (!field) continue;
      field.input.classList.add("invalid");
      field.error.textContent = `${p.field} ${p.message}`;
      field.error.hidden = false;
    }
    showResult(card, err.message, "bad");
  }
}

function armed(button, label, action) {
  // Two clicks for destructive actions: the first arms the button for three seconds.
  button.addEventListener("click", async () => {
    if (!button.classList.contains("armed")) {
      button.classList.add("armed");
      button.dataset.label = button.textContent;
      button.textContent = label;
      setTimeout(() => {
        button.classList.remove("armed");
        button.textContent = button.dataset.label;
      }, 3000);
      return;
    }
    button.classList.remove("armed");
    button.textContent = button.dataset.label;
    await action();
  });
}

function createCard(view) {
  const el = $("#card-template").content.firstElementChild.cloneNode(true);
  el.dataset.channel = view.channel;
  $(".channel-name", el).textContent = `#${view.channel}`;
  const card = { channel: view.channel, el, view, rate: [], avg: [], p95: [], lastSeen: null, chatCount: 0 };
  buildSettingsForm(card);
  fillSettings(card, view, true);
  $(".save", el).addEventListener("click", () => saveSettings(card));
  armed($(".reset", el), "Click again to reset", async () => {
    try {
      const res = await api("DELETE", `/api/channels/${card.channel}/settings`);
      card.view.settings = res.settings;
      card.view.overrides = [];
      fillSettings(card, card.view, true);
      showResult(card, "Reset to defaults", "ok");
    } catch (err) {
      showResult(card, err.message, "bad");
    }
  });
  armed($(".part", el), "Click again to leave", async () => {
    try {
      await api("POST", `/api/channels/${card.channel}/part`);
      toast(`Left #${card.channel}`);
      await refreshChannels();
    } catch (err) {
      showResult(card, err.message, "bad");
    }
  });
  return card;
}

function stat(dl, name, value, cls = "") {
  const dt = document.createElement("dt");
  dt.textContent = name;
  const dd = document.createElement("dd");
  dd.textContent = value;
  if (cls) dd.className = cls;
  dl.append(dt, dd);
}

function badge(text, cls = "") {
  const b = document.createElement("span");
  b.className = `badge ${cls}`;
  b.textContent = text;
  return b;
}

function ms(v) {
  return v === null || v === undefined ? "–" : `${Math.round(v)} ms`;
}

function updateCard(card, view, now) {
  card.view = view;
  const s = view.status;
  const badges = [
    badge(
      view.joined ? "joined" : view.refused ? "refused by Twitch" : "not joined",
      view.joined ? "ok" : "bad",
    ),
  ];
  if (view.botIsModerator) badges.push(badge("mod", "ok"));
  if (s.observeOnly) badges.push(badge("observe-only", "warn"));
  if (view.roomState.slow > 0) badges.push(badge(`slow ${view.roomState.slow}s`, "warn"));
  if (view.roomState.emoteOnly) badges.push(badge("emote-only", "warn"));
  if (view.roomState.subsOnly) badges.push(badge("subs-only", "warn"));
  if (view.roomState.followersOnly >= 0) badges.push(badge("followers-only", "warn"));
  if (s.ollamaReachable === false) badges.push(badge("Ollama down", "bad"));
  $(".badges", card.el).replaceChildren(...badges);

  const dl = $(".stats", card.el);
  dl.replaceChildren();
  stat(dl, "Messages seen", s.messagesSeen.toLocaleString());
  stat(dl, "Replies sent", s.sentReplies.toLocaleString());
  stat(dl, "Spontaneous", s.sentSpontaneous.toLocaleString());
  stat(dl, "Context lines", s.contextSize.toLocaleString());
  stat(dl, "Generation avg / p95", `${ms(s.generationAvgMs)} / ${ms(s.generationP95Ms)}`);
  stat(dl, "Model", s.model || "–");
  stat(dl, "Uptime", formatDuration(s.uptimeSeconds));
  if (s.lastError) stat(dl, "Last error", s.lastError, "bad");

  if (card.lastSeen !== null && now > card.lastSeen.t) {
    const perMin = Math.max(0, s.messagesSeen - card.lastSeen.v) / ((now - card.lastSeen.t) / 60000);
    push(card.rate, { t: now, v: perMin });
  }
  card.lastSeen = { t: now, v: s.messagesSeen };
  if (s.generationAvgMs !== null) push(card.avg, { t: now, v: s.generationAvgMs });
  if (s.generationP95Ms !== null) push(card.p95, { t: now, v: s.generationP95Ms });
  fillSettings(card, view);
  drawCharts(card, now);
}

function push(list, point) {
  list.push(point);
  if (list.length > CHART_POINTS) list.shift();
}

function drawCharts(card, now = Date.now()) {
  drawLineChart($(".chart.rate", card.el), {
    series: [{ name: "messages / min", color: "#bf94ff", points: card.rate }],
    now,
  });
  drawLineChart($(".chart.latency", card.el), {
    series: [
      { name: "avg", color: "#00c8af", points: card.avg },
      { name: "p95", color: "#ffb31a", points: card.p95 },
    ],
    unit: "ms",
    now,
  });
}

async function refreshChannels(loadHistory = false) {
  let list;
  try {
    list = (await api("GET", "/api/channels")).channels;
  } catch (err) {
    toast(err.message, true);
    return;
  }
  const now = Date.now();
  const seen = new Set();
  const history = [];
  const container = $("#channels");
  for (const view of list) {
    seen.add(view.channel);
    let card = state.cards.get(view.channel);
    const fresh = card === undefined;
    if (fresh) {
      card = createCard(view);
      state.cards.set(view.channel, card);
      container.append(card.el);
    }
    updateCard(card, view, now);
    if (fresh || loadHistory) history.push(loadRecent(card));
  }
  for (const [name, card] of state.cards) {
    if (!seen.has(name)) {
      card.el.remove();
      state.cards.delete(name);
    }
  }
  $("#empty").hidden = state.cards.size > 0;
  await Promise.all(history);
}

/**
 * Merges the channel's recent lines into its chat: called for new cards and on every (re)connect of
 * the feed, so lines said while it was down appear. Merging, not replacing: lines the feed already
 * delivered stay, and none is shown twice.
 */
async function loadRecent(card) {
  try {
    const { lines } = await api("GET", `/api/recent?channel=${card.channel}&limit=50`);
    for (const line of lines) addChatLine(card, line);
  } catch {
    // The live stream still fills the chat.
  }
}

// ---- Live chat -------------------------------------------------------------------------------

/** Identifies a line across the feed and /api/recent (ids are only there for Twitch lines). */
function lineKey(line) {
  return line.id ? `id:${line.id}` : `${line.time}\u0000${line.user}\u0000${line.bot}\u0000${line.text}`;
}

function addChatLine(card, line) {
  const list = $(".chat", card.el);
  const key = lineKey(line);
  const items = [...list.children];
  if (items.some((li) => li.dataset.key === key)) return;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 30;
  const li = document.createElement("li");
  li.dataset.key = key;
  li.dataset.time = String(line.time);
  if (line.bot) li.className = "bot";
  const time = document.createElement("span");
  time.className = "time";
  time.textContent = new Date(line.time).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const user = document.createElement("span");
  user.className = "user";
  user.textContent = line.displayName || line.user;
  li.append(time, user);
  if (line.bot && line.kind) {
    const kind = document.createElement("span");
    kind.className = "kind";
    kind.textContent = line.kind;
    li.append(kind);
  }
  li.append(document.createTextNode(`: ${line.text}`));
  // In time order: recent lines merged after a reconnect are older than what the feed delivered.
  const after = items.find((other) =>
    other.dataset.time !== undefined && Number(other.dataset.time) > line.time
  );
  list.insertBefore(li, after ?? null);
  while (list.children.length > CHAT_LINES) list.firstElementChild.remove();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function handleEvent(event) {
  if (event.type === "hello") {
    // Subscribed: whatever was said before this moment is in /api/recent, all after it comes here.
    for (const card of state.cards.values()) loadRecent(card);
  } else if (event.type === "line") {
    const card = state.cards.get(event.line.channel);
    if (card) addChatLine(card, event.line);
  } else if (event.type === "gap") {
    for (const card of state.cards.values()) {
      const li = document.createElement("li");
      li.className = "gap";
      li.textContent = `${event.dropped} lines skipped`;
      li.dataset.time = String(Date.now());
      $(".chat", card.el).append(li);
    }
  }
}

function stopStream() {
  state.streamGeneration++;
  state.streamAbort?.abort();
  state.streamAbort = null;
}

async function startStream() {
  stopStream();
  const generation = state.streamGeneration;
  const current = () => state.started && generation === state.streamGeneration;
  let backoff = 1000;
  let heartbeatMs = DEFAULT_HEARTBEAT_MS;
  while (current()) {
    const abort = new AbortController();
    state.streamAbort = abort;
    let watchdog;
    let greeted = false;
    // Any byte (a ping at least) proves the feed alive; silence for a few heartbeats means it stalled
    // without closing, so it is dropped and opened again. Before the hello only a short wait is fair.
    const arm = () => {
      clearTimeout(watchdog);
      const limit = greeted ? heartbeatMs * STALL_HEARTBEATS : CONNECT_TIMEOUT_MS;
      watchdog = setTimeout(() => abort.abort(), limit);
    };
    try {
      arm();
      const res = await fetch("/api/events", { headers: authHeaders(), signal: abort.signal });
      if (res.status === 401) {
        clearTimeout(watchdog);
        if (current()) showLogin("Wrong or expired control token");
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      setPill("#pill-stream", "ok", "Live feed");
      backoff = 1000;
      arm();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done || !current()) break;
        arm();
        buffer += value;
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const text = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (!text) continue;
          const event = JSON.parse(text);
          if (event.type === "hello") {
            greeted = true;
            if (event.heartbeatMs > 0) heartbeatMs = event.heartbeatMs;
            arm();
          }
          handleEvent(event);
        }
      }
    } catch {
      // Aborted (stopped, or stalled) or a network error: `current()` tells which.
    } finally {
      clearTimeout(watchdog);
    }
    if (!current()) return;
    abort.abort();
    setPill("#pill-stream", "bad", "Live feed reconnecting");
    await new Promise((r) => setTimeout(r, backoff));
    backoff = Math.min(backoff * 2, 30000);
  }
}

// ---- Wiring ----------------------------------------------------------------------------------

function wire() {
  $("#login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.token = $("#token").value.trim();
    sessionStorage.setItem(TOKEN_KEY, state.token);
    $("#token").value = "";
    connect();
  });
  $("#logout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = "";
    for (const card of state.cards.values()) card.el.remove();
    state.cards.clear();
    showLogin("");
  });
  $("#join-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = $("#join-name").value.trim().replace(/^#/, "").toLowerCase();
    try {
      await api("POST", `/api/channels/${encodeURIComponent(name)}/join`);
      $("#join-name").value = "";
      toast(`Joined #${name}`);
      await refreshChannels();
    } catch (err) {
      toast(err.message, true);
    }
  });
  $("#reload").addEventListener("click", async () => {
    try {
      const res = await api("POST", "/api/reload");
      toast(
        `Reloaded: ${res.plugins.length} plugins${res.warnings.length ? `; ${res.warnings.join("; ")}` : ""}`,
      );
      await refreshChannels();
    } catch (err) {
      toast(err.message, true);
    }
  });
  addEventListener("resize", () => {
    for (const card of state.cards.values()) drawCharts(card);
  });
  setInterval(() => state.started && refreshChannels(), POLL_CHANNELS_MS);
  setInterval(refreshStatus, POLL_STATUS_MS);
}

wire();
refreshStatus();
connect();
