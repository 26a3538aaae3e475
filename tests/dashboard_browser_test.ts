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
