/**
 * Settings → Updates: the page shows the update service's live figures, its form changes the
 * source and schedule through the API's own schema (kept across a restart), and Check now /
 * Install work in a real browser against a signed release served on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import type { ProcessControl } from "../../src/update/process-control.ts";
import { currentTarget } from "../../src/update/manifest.ts";
import { VERSION } from "../../src/version.ts";
import { launchBrowser, loggedInPage } from "../helpers/browser.ts";
import { startTestHost, type TestHost } from "../helpers/host.ts";
import { login } from "../helpers/session.ts";
import { manifestFor, ReleaseServer, throwawayKey, type KeyPair } from "./helpers.ts";

let dir: string;
let dataDir: string;
let key: KeyPair;
let server: ReleaseServer;
let binary: string;
let host: TestHost;
let browser: Browser;

/** A binary this test process is not: installable, never re-executed. */
const control = (execPath: string): ProcessControl => ({ execPath, argv: [], cwd: dir, reexec: () => "not in a test", exit: () => undefined as never });
const start = () => startTestHost({ dataDir, update: { publicKey: key.publicKey, control: control(binary) } });

/** Posts the settings form as a browser does (urlencoded), with the admin's key. */
const postForm = (fields: Record<string, string>) =>
  host.api("/ui/update/settings", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(fields) });
const FORM = { channel: "stable", source: "built-in", url: "", checkHours: "24", selfTestSeconds: "120" };
const status = async () => (await host.api("/api/v1/update")).json();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "layerline-update-settings-"));
  dataDir = join(dir, "data");
  key = throwawayKey(dir);
  server = new ReleaseServer();
  mkdirSync(join(dir, "bin"));
  mkdirSync(dataDir);
  binary = join(dir, "bin", "layerline");
  // Big enough that a download stalled part-way shows its progress.
  writeFileSync(binary, `#!/bin/sh\necho 9.0.0\n#${"x".repeat(200_000)}\n`, { mode: 0o755 });
  host = await start();
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await host?.close();
  server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the page over HTTP", () => {
  test("shows the running version, the source, the schedule and the last check and update as the status says", async () => {
    let page = await (await host.api("/settings/update")).text();
    expect(page).toContain(`Layerline ${VERSION}`);
    expect(page).toContain(currentTarget()!);
    expect(page).toMatch(/data-channel>stable</);
    expect(page).toContain("none configured");
    expect(page).toMatch(/data-checks>every 24 hours, once a source is set</);
    expect(page).toMatch(/data-self-test>120 seconds/);
    expect(page).toMatch(/data-last-check>never</);
    expect(page).toContain("none since this host was set up");
    // Both settings pages are linked from each (for a logged-in person: the sub-nav is the page's).
    const { cookie } = await login(host);
    const seen = await (await host.anonymous("/settings/update", { headers: { cookie } })).text();
    expect(seen).toContain('<a href="/settings/update" aria-current="page">Updates</a>');
    expect(seen).toContain('<a href="/settings/tracking">Usage statistics</a>');
    expect(await (await host.anonymous("/settings/tracking", { headers: { cookie } })).text()).toContain('<a href="/settings/update">Updates</a>');

    // A failed check: the error in words with its hint; a rollback: why.
    await host.post("/api/v1/update/check", { url: `${server.url}/nothing/release.json` });
    host.update.settings.setLastResult({ outcome: "rolled-back", from: VERSION, to: "9.0.0", at: Date.UTC(2030, 0, 2, 3, 4), reason: "the printer “Ender” did not reconnect", dismissed: true });
    page = await (await host.api("/settings/update")).text();
    expect(page).toContain(`The update server answered 404 for ${server.url}/nothing/release.json.`);
    expect(page).toContain("Check the update URL and channel.");
    expect(page).toContain(`Layerline 9.0.0 was rolled back to ${VERSION}`);
    expect(page).toContain("2030-01-02 03:04 UTC");
    expect(page).toContain("Why: the printer “Ender” did not reconnect");
    host.update.settings.setLastResult({ outcome: "updated", from: "0.9.0", to: VERSION, at: Date.now(), reason: null, dismissed: true });
    expect(await (await host.api("/ui/update/status")).text()).toContain(`installed Layerline ${VERSION} (from 0.9.0)`);
  });

  test("the form changes channel, source, interval and self-test time; they stay across a restart", async () => {
    const url = `${server.url}/{channel}/release.json`;
    const res = await postForm({ channel: "beta", source: "custom", url, checkHours: "6", selfTestSeconds: "60" });
    expect(res.status).toBe(200);
    const form = await res.text();
    expect(form).toContain("Saved.");
    expect(form).toContain(`value="${url}"`);
    expect(res.headers.get("hx-trigger")).toBe("update-changed");
    expect(await status()).toMatchObject({ channel: "beta", url, checkHours: 6, selfTestSeconds: 60 });

    await host.close();
    host = await start();
    expect(await status()).toMatchObject({ channel: "beta", url, checkHours: 6, selfTestSeconds: 60 });
    const page = await (await host.api("/settings/update")).text();
    expect(page).toMatch(/data-channel>beta</);
    expect(page).toContain(`custom: <code>${url}</code>`);
    expect(page).toMatch(/data-checks>every 6 hours</);
    expect(page).toMatch(/<option value="beta" selected>/);

    // Back to the built-in source (none in a test build), checks off.
    await postForm({ ...FORM, channel: "beta", checkHours: "0", selfTestSeconds: "60" });
    expect(await status()).toMatchObject({ url: null, checkHours: 0 });
    expect(await (await host.api("/ui/update/status")).text()).toMatch(/data-checks>off</);
  }, 60_000);

  test("a bad value is refused beside its field, and nothing of that form is saved", async () => {
    const before = await status();
    const res = await postForm({ channel: "stable", source: "custom", url: "ftp://example.org/release.json", checkHours: "-1", selfTestSeconds: "2.5" });
    expect(res.status).toBe(200);
    const form = await res.text();
    expect(form).toContain('data-error="url">The manifest URL must be an http(s) URL, optionally with {channel}.</small>');
    expect(form).toContain('data-error="checkHours">The check interval must be 0 (off) or more hours.</small>');
    expect(form).toContain('data-error="selfTestSeconds">The self-test time must be a whole number of seconds.</small>');
    // The input comes back as typed, to be corrected.
    expect(form).toContain('value="ftp://example.org/release.json"');
    expect(form).not.toContain("Saved.");
    expect(await status()).toMatchObject({ channel: before.channel, url: before.url, checkHours: before.checkHours, selfTestSeconds: before.selfTestSeconds });

    const empty = await (await postForm({ ...FORM, source: "custom", checkHours: "" })).text();
    expect(empty).toContain('data-error="url">The manifest URL must be an http(s) URL');
    expect(empty).toContain('data-error="checkHours">The check interval must be a number of hours.</small>');
  });

  test("a body that is not the form is a 400 that says what is wrong", async () => {
    const json = await host.api("/ui/update/settings", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ channel: "beta", checkHours: 6 }) });
    expect(json.status).toBe(400);
    expect((await json.json()).error).toMatchObject({ code: "invalid_request", message: expect.stringContaining("source") });
    const twice = await host.api("/ui/update/settings", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "channel=beta&channel=stable&source=built-in&checkHours=1&selfTestSeconds=60" });
    expect(twice.status).toBe(400);
    expect((await twice.json()).error.message).toContain("channel");
    const garbage = await host.api("/ui/update/settings", { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
    expect(garbage.status).toBe(400);
  });
});

describe("the page in a browser", () => {
  test("a source set in the form, then Check now finds the served release; Install shows the download's progress and can be cancelled", async () => {
    server.publish("stable", await manifestFor(binary, { version: "9.0.0", key: key.privateKey, notes: "Faster uploads." }), { file: binary, stallAt: 50_000 });
    const page = await loggedInPage(browser, host, "/settings/update");
    try {
      const card = page.locator("#update-status");
      // A bad URL first: refused beside the field.
      await page.check('input[name="source"][value="custom"]');
      await page.fill("#update-url", "releases.example.org");
      await page.click('#update-settings button[type="submit"]');
      await expect(page.locator('[data-error="url"]').textContent()).resolves.toBe("The manifest URL must be an http(s) URL, optionally with {channel}.");

      await page.fill("#update-url", `${server.url}/{channel}/release.json`);
      await page.selectOption("#update-channel", "stable");
      await page.fill("#update-check-hours", "12");
      await page.click('#update-settings button[type="submit"]');
      await page.locator("#update-settings .saved").waitFor();
      // The status card reloads after the save.
      await card.locator('[data-checks]:text("every 12 hours")').waitFor();
      expect(await status()).toMatchObject({ url: `${server.url}/{channel}/release.json`, channel: "stable", checkHours: 12 });

      await card.locator('button:text("Check now")').click();
      await card.locator('[data-last-check]:has-text("Layerline 9.0.0 is available")').waitFor({ timeout: 10_000 });
      await card.locator(".release-notes summary").click();
      await expect(card.locator(".release-notes .notes").textContent()).resolves.toBe("Faster uploads.");
      expect((await status()).check).toMatchObject({ url: `${server.url}/{channel}/release.json`, verdict: "update", latest: { version: "9.0.0" } });

      page.on("dialog", (d) => void d.accept());
      await card.locator('button:text("Install Layerline 9.0.0")').click();
      // The release server stalls part-way: the card shows the download as the notice does.
      await card.locator('.update-notice[data-kind="progress"]:has-text("Downloading Layerline 9.0.0")').waitFor({ timeout: 10_000 });
      await card.locator("progress").waitFor();
      await card.locator('button:text("Cancel")').click();
      await card.locator(':text("The update was cancelled; nothing was installed.")').waitFor({ timeout: 10_000 });
      expect((await status()).job).toMatchObject({ state: "failed", error: { code: "cancelled" } });
    } finally {
      await page.close();
    }
  }, 60_000);

  test("the topbar's Settings link and the sub-nav lead to both settings pages", async () => {
    const page = await loggedInPage(browser, host, "/");
    try {
      await page.click('.topbar a:text("Settings")');
      await page.waitForURL(`${host.url}/settings/tracking`);
      await page.click('.settings-nav a:text("Updates")');
      await page.waitForURL(`${host.url}/settings/update`);
      await page.locator("#update-status [data-version]").waitFor();
      await page.click('.settings-nav a:text("Usage statistics")');
      await page.waitForURL(`${host.url}/settings/tracking`);
    } finally {
      await page.close();
    }
  }, 30_000);
});
