import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { startHttpServer } from "../core/http_server.ts";
import { memoryLogger } from "../core/log.ts";
import { Metrics } from "../core/metrics.ts";
import { FakeControl } from "./fakes/fake_control.ts";

const TOKEN = "ctl-dash-5e8a1f0c93b2";
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function seed(control: FakeControl): void {
  const alpha = control.views.get("alpha")!;
  alpha.status = {
    ...alpha.status,
    messagesSeen: 1200,
    sentReplies: 14,
    sentSpontaneous: 5,
    contextSize: 200,
    generationAvgMs: 850,
    generationP95Ms: 2300,
  };
  alpha.botIsModerator = true;
  const beta = control.views.get("beta_2")!;
  beta.status = {
    ...beta.status,
    messagesSeen: 300,
    ollamaReachable: false,
    lastError: "OLLAMA_TIMEOUT: no first token in 15 s",
  };
  beta.roomState.slow = 10;
  const t0 = Date.UTC(2025, 0, 1, 18, 0, 0);
  control.lines.push(
    {
      channel: "alpha",
      user: "ann",
      displayName: "Ann",
      text: "hello chat, what's the plan today?",
      time: t0,
      bot: false,
    },
    {
      channel: "alpha",
      user: "clankbot",
      displayName: "clankbot",
      text: "speedrun attempts, then chill",
      time: t0 + 4000,
      bot: true,
      kind: "mention",
    },
    {
      channel: "alpha",
      user: "mallory",
      displayName: "mallory",
      text: '<img src=x onerror="window.__xss=1">',
      time: t0 + 9000,
      bot: false,
    },
    { channel: "beta_2", user: "zed", displayName: "Zed", text: "gg", time: t0, bot: false },
  );
}

Deno.test("dashboard in headless Chromium", async (t) => {
  const control = new FakeControl(["alpha", "beta_2"]);
  seed(control);
  const { log, lines } = memoryLogger("debug");
  const server = await startHttpServer({
    listen: "127.0.0.1:0",
    controlToken: TOKEN,
    control,
    metrics: new Metrics(),
    log,
  });
  assert.ok(server);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    page.on("console", (msg) => {
      if (msg.type() === "error" && !/status of 40[01] /.test(msg.text())) pageErrors.push(msg.text());
    });
    // Fake time in the page: polling intervals advance only when the test says so.
    await page.clock.install({ time: Date.UTC(2025, 0, 1, 18, 5, 0) });
    await page.goto(server.url);

    await t.step("asks for the control token and rejects a wrong one", async () => {
      await page.locator("#login").waitFor({ state: "visible" });
      await page.fill("#token", "not-the-token");
      await page.click("#login button[type=submit]");
      await page.locator("#login-error", { hasText: "Wrong control token" }).waitFor();
      assert.equal(await page.locator("#main").isHidden(), true);
    });

    await t.step("shows channel cards after the right token, kept in sessionStorage only", async () => {
      await page.fill("#token", TOKEN);
      await page.click("#login button[type=submit]");
      await page.locator('[data-channel="alpha"] .channel-name').waitFor();
      assert.equal(await page.locator('[data-channel="alpha"] .channel-name').textContent(), "#alpha");
      assert.equal(await page.locator(".card").count(), 2);
      assert.equal(await page.locator("#login").isHidden(), true);
      assert.equal(await page.evaluate(() => sessionStorage.getItem("clank.controlToken")), TOKEN);
      assert.equal(await page.evaluate(() => localStorage.length), 0);
      await page.locator("#pill-irc", { hasText: "IRC 2/2 joined" }).waitFor();
      assert.equal(await page.locator("#reload").isEnabled(), true);
      assert.equal(await page.locator("#join-form button").isEnabled(), true);
      assert.equal(await page.locator("#readonly-note").isHidden(), true);
    });

    await t.step("shows recent chat and bot lines as text", async () => {
      const chat = page.locator('[data-channel="alpha"] .chat');
      await chat.locator("li", { hasText: "onerror" }).waitFor();
      assert.equal(await chat.locator("li.bot", { hasText: "speedrun attempts" }).count(), 1);
      assert.equal(await chat.locator("img").count(), 0);
      assert.equal(await page.evaluate(() => (globalThis as { __xss?: number }).__xss), undefined);
    });

    await t.step("shows live lines from the event stream", async () => {
      for (let i = 0; i < 50 && control.listenerCount === 0; i++) await page.waitForTimeout(20);
      assert.equal(control.listenerCount, 1);
      control.emit({
        channel: "alpha",
        user: "bob",
        displayName: "Bob",
        text: "clankbot are you there?",
        time: Date.UTC(2025, 0, 1, 18, 5, 1),
        bot: false,
      });
      control.emit({
        channel: "alpha",
        user: "clankbot",
        displayName: "clankbot",
        text: "always watching, Bob",
        time: Date.UTC(2025, 0, 1, 18, 5, 2),
        bot: true,
        kind: "mention",
      });
      await page.locator('[data-channel="alpha"] .chat li.bot', { hasText: "always watching, Bob" })
        .waitFor();
    });

    await t.step("changes a setting through the API and shows it applied", async () => {
      const input = page.locator("#set-alpha-threshold");
      assert.equal(await input.inputValue(), "30");
      await input.fill("45");
      await page.click('[data-channel="alpha"] .save');
      await page.locator('[data-channel="alpha"] .result', { hasText: "Saved threshold=45" }).waitFor();
      assert.equal(control.views.get("alpha")!.settings.threshold, 45);
      assert.equal(await input.inputValue(), "45");
      assert.match(
        (await page.locator('label[for="set-alpha-threshold"]').getAttribute("class")) ?? "",
        /override/,
      );
      assert.deepEqual(
        control.calls.filter((c) => c.method === "updateSettings").map((c) => c.args),
        [["alpha", { threshold: 45 }]],
      );
    });

    await t.step("shows the field and range of a rejected value", async () => {
      await page.locator("#set-alpha-response").fill("5");
      await page.click('[data-channel="alpha"] .save');
      const error = page.locator('[data-channel="alpha"] .field-error', {
        hasText: "response is out of range 10..1800",
      });
      await error.waitFor();
      assert.equal(control.views.get("alpha")!.settings.response, 60);
      await page.locator("#set-alpha-response").fill("60");
    });

    await t.step("polls stats into the charts", async () => {
      // Two minutes of polls with a chat that slowly picks up and a model that slows down a little.
      let seen = 1200;
      for (let i = 1; i <= 24; i++) {
        const alpha = control.views.get("alpha")!;
        seen += 3 + Math.round(4 * Math.sin(i / 3) + i / 3);
        alpha.status = {
          ...alpha.status,
          messagesSeen: seen,
          generationAvgMs: 700 + 15 * i + (i % 4) * 60,
          generationP95Ms: 1900 + 30 * i + (i % 3) * 250,
        };
        await page.clock.runFor(5000);
        const shown = alpha.status.messagesSeen.toLocaleString("en-US");
        await page.locator('[data-channel="alpha"] .stats dd', { hasText: shown }).waitFor();
      }
    });

    await t.step("saves a screenshot", async () => {
      await Deno.mkdir("test-results", { recursive: true });
      await page.screenshot({ path: "test-results/dashboard.png", fullPage: true });
      const info = await Deno.stat("test-results/dashboard.png");
      assert.ok(info.size > 10_000);
    });

    await t.step("had no page errors and leaked no token", () => {
      assert.deepEqual(pageErrors, []);
      for (const line of lines) assert.ok(!line.includes(TOKEN), line);
    });
    await page.close();
  } finally {
    await browser.close();
    await server.shutdown();
  }
});

// ---- Live feed and status across restarts ---------------------------------------------------------

type Browser = Awaited<ReturnType<typeof chromium.launch>>;
type Page = Awaited<ReturnType<Browser["newPage"]>>;

/** Waits for `cond` (polled every 20 ms, real time) or fails naming `what`. */
async function until(page: Page, what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await cond()) return;
    await page.waitForTimeout(20);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** A control plane on a fixed port, so a "restarted" bot answers at the same address. */
async function serve(control: FakeControl, token: string, port = 0) {
  const server = await startHttpServer({
    listen: `127.0.0.1:${port}`,
    controlToken: token,
    control,
    metrics: new Metrics(),
    log: memoryLogger("debug").log,
  });
  assert.ok(server);
  return server;
}

/** A page on a fake clock that counts the event-stream requests it makes. */
async function feedPage(browser: Awaited<ReturnType<typeof chromium.launch>>): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  await page.addInitScript(() => {
    const w = globalThis as unknown as { __eventFetches: number; fetch: typeof fetch };
    const original = w.fetch;
    w.__eventFetches = 0;
    w.fetch = (input, init) => {
      if (String(input).startsWith("/api/events")) w.__eventFetches++;
      return original(input, init);
    };
  });
  await page.clock.install({ time: Date.UTC(2025, 0, 1, 18, 5, 0) });
  return page;
}

const eventFetches = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { __eventFetches: number }).__eventFetches);

const chatTexts = (page: Page, channel: string) =>
  page.locator(`[data-channel="${channel}"] .chat li`).allTextContents();

function chatLine(text: string, time: number) {
  return { channel: "alpha", user: "ann", displayName: "Ann", text, time, bot: false };
}

async function login(page: Page, token: string): Promise<void> {
  await page.fill("#token", token);
  await page.click("#login button[type=submit]");
  await page.locator('[data-channel="alpha"]').waitFor();
}

/** Opens the dashboard of `server` in `browser`, logs in and waits for its live feed. */
async function openWithFeed(browser: Browser, server: { url: string }, control: FakeControl): Promise<Page> {
  const page = await feedPage(browser);
  await page.goto(server.url);
  await login(page, TOKEN);
  await until(page, "the first feed", () => control.listenerCount === 1);
  return page;
}

Deno.test("dashboard runs one live feed per tab, also when the token is entered again during a reconnect", async (t) => {
  const T2 = "ctl-dash-rotated-77aa11bb";
  const c1 = new FakeControl(["alpha"]);
  let server = await serve(c1, TOKEN);
  const port = server.addr.port;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await openWithFeed(browser, server, c1);

    await t.step("the feed waits to reconnect when the bot goes away", async () => {
      await server.shutdown();
      await page.locator("#pill-stream", { hasText: "reconnecting" }).waitFor();
    });

    const c2 = new FakeControl(["alpha"]);
    await t.step("the bot comes back with a rotated token: the next call asks for the token", async () => {
      server = await serve(c2, T2, port);
      await page.click("#reload");
      await page.locator("#login").waitFor({ state: "visible" });
    });

    await t.step(
      "entering the new token starts one feed; the loop that was waiting never opens one",
      async () => {
        const before = await eventFetches(page);
        await login(page, T2);
        await until(page, "the new feed", () => c2.listenerCount === 1);
        // Past the longest backoff: the old loop has woken up by now, whatever it was waiting for.
        await page.clock.runFor(31_000);
        await page.evaluate(() => Promise.resolve());
        assert.equal(await eventFetches(page) - before, 1);
        c2.emit(chatLine("one line", Date.UTC(2025, 0, 1, 18, 5, 40)));
        await page.locator('[data-channel="alpha"] .chat li', { hasText: "one line" }).waitFor();
        assert.equal((await chatTexts(page, "alpha")).filter((l) => l.includes("one line")).length, 1);
        assert.equal(c2.listenerCount, 1);
      },
    );
    await page.close();
  } finally {
    await browser.close();
    await server.shutdown();
  }
});

Deno.test("dashboard reconnects a feed that went silent", async (t) => {
  const control = new FakeControl(["alpha"]);
  const server = await serve(control, TOKEN);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await openWithFeed(browser, server, control);
    await page.locator("#pill-stream.ok").waitFor();

    await t.step("three heartbeats without a byte (not even a ping) open a new feed", async () => {
      // The server pings every 20 s of real time; on the page's fake clock a minute passes unheard.
      await page.clock.runFor(60_000);
      await until(page, "a second event-stream request", async () => (await eventFetches(page)) === 2);
      await until(page, "the new feed to replace the old one", () => control.listenerCount === 1);
      await page.locator("#pill-stream.ok", { hasText: "Live feed" }).waitFor();
    });

    await t.step("lines reach the page through the new feed, once", async () => {
      control.emit(chatLine("still here", Date.UTC(2025, 0, 1, 18, 6, 30)));
      await page.locator('[data-channel="alpha"] .chat li', { hasText: "still here" }).waitFor();
      assert.equal((await chatTexts(page, "alpha")).filter((l) => l.includes("still here")).length, 1);
    });

    await t.step("a feed whose answer never comes (not even its hello) is retried too", async () => {
      let requests = 0;
      // The first request after this is held forever, as a proxy that swallowed it would.
      await page.route("**/api/events", (route) => requests++ === 0 ? undefined : route.continue());
      const before = await eventFetches(page);
      await page.clock.runFor(60_000);
      await until(page, "the held request", () => requests === 1);
      await page.clock.runFor(15_000);
      await until(
        page,
        "a retry after the held request",
        async () => (await eventFetches(page)) - before === 2,
      );
      await until(page, "the feed back", () => control.listenerCount === 1);
      await page.locator("#pill-stream.ok").waitFor();
    });
    await page.close();
  } finally {
    await browser.close();
    await server.shutdown();
  }
});

Deno.test("dashboard across a bot restart: status goes grey, lines said meanwhile are shown", async (t) => {
  const t0 = Date.UTC(2025, 0, 1, 18, 4, 0);
  const c1 = new FakeControl(["alpha"]);
  let server = await serve(c1, TOKEN);
  const port = server.addr.port;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await openWithFeed(browser, server, c1);
    c1.emit(chatLine("before restart", t0));
    await page.locator('[data-channel="alpha"] .chat li', { hasText: "before restart" }).waitFor();
    await page.locator("#pill-db.ok").waitFor();

    await t.step("while the bot is unreachable, no status pill stays green", async () => {
      await server.shutdown();
      await page.locator("#pill-stream", { hasText: "reconnecting" }).waitFor();
      await page.clock.runFor(10_000);
      await page.locator("#pill-irc", { hasText: "unreachable" }).waitFor();
      for (const id of ["#pill-irc", "#pill-ollama", "#pill-db", "#pill-stream"]) {
        assert.doesNotMatch((await page.getAttribute(id, "class")) ?? "", /\bok\b/, id);
      }
      assert.equal(await page.textContent("#pill-ollama"), "Ollama unknown");
      assert.equal(await page.textContent("#pill-db"), "Database unknown");
    });

    const c2 = new FakeControl(["alpha"]);
    await t.step("a line said while the feed reconnects is shown after it reconnects", async () => {
      server = await serve(c2, TOKEN, port);
      c2.emit(chatLine("said while the feed was reconnecting", t0 + 1000));
      await page.clock.runFor(30_000);
      await until(page, "the feed to reconnect", () => c2.listenerCount === 1);
      await page.locator('[data-channel="alpha"] .chat li', { hasText: "said while the feed" }).waitFor();
      c2.emit(chatLine("after reconnect", t0 + 2000));
      await page.locator('[data-channel="alpha"] .chat li', { hasText: "after reconnect" }).waitFor();
      const texts = (await chatTexts(page, "alpha")).map((l) => l.replace(/^.*Ann: /, ""));
      assert.deepEqual(texts, ["before restart", "said while the feed was reconnecting", "after reconnect"]);
    });

    await t.step("status is green again once the bot answers", async () => {
      await page.clock.runFor(10_000);
      await page.locator("#pill-db.ok", { hasText: "Database ok" }).waitFor();
      await page.locator("#pill-ollama.ok", { hasText: "Ollama up" }).waitFor();
    });
    await page.close();
  } finally {
    await browser.close();
    await server.shutdown();
  }
});

Deno.test("dashboard is read-only exactly when the server refuses writes", async (t) => {
  const control = new FakeControl(["alpha"]);
  const server = await serve(control, "");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    const controls = async () => ({
      note: await page.locator("#readonly-note").isVisible(),
      threshold: await page.locator("#set-alpha-threshold").isDisabled(),
      save: await page.locator('[data-channel="alpha"] .save').isDisabled(),
      reset: await page.locator('[data-channel="alpha"] .reset').isDisabled(),
      part: await page.locator('[data-channel="alpha"] .part').isDisabled(),
      joinName: await page.locator("#join-name").isDisabled(),
      join: await page.locator("#join-form button").isDisabled(),
      reload: await page.locator("#reload").isDisabled(),
    });
    const allReadOnly = {
      note: true,
      threshold: true,
      save: true,
      reset: true,
      part: true,
      joinName: true,
      join: true,
      reload: true,
    };

    await t.step("without CONTROL_TOKEN every control that changes the bot is disabled", async () => {
      await page.goto(server.url);
      await page.locator('[data-channel="alpha"]').waitFor();
      assert.deepEqual(await controls(), allReadOnly);
    });

    await t.step("a token the tab kept from before the restart does not make it writable", async () => {
      await page.evaluate(() => sessionStorage.setItem("clank.controlToken", "old-token-from-before-1234"));
      await page.reload();
      await page.locator('[data-channel="alpha"]').waitFor();
      assert.deepEqual(await controls(), allReadOnly);
    });
    await page.close();
  } finally {
    await browser.close();
    await server.shutdown();
  }
});
