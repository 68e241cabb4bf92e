/**
 * The plugin pages in Chromium: the manager (disable, enable), a settings form made from a
 * plugin's schema, the repository browser (search, filter, one-click install) over a local index,
 * the bundled dashboard card and navbar item, and a notice when a faulty plugin is disabled.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { launchBrowser, loggedInPage } from "../helpers/browser.ts";
import { startTestHost, type TestHost } from "../helpers/host.ts";
import { pluginArchive, routeEntry } from "../plugins/helpers.ts";

const INDEX = new URL("../fixtures/octoprint-plugins.json", import.meta.url).pathname;

let host: TestHost;
let browser: Browser;
let server: ReturnType<typeof Bun.serve>;
const archive = pluginArchive({ id: "hello-repo", version: "1.0.0", entry: routeEntry("hello from the repository") });

beforeAll(async () => {
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/hello-repo-1.0.0.tgz") return new Response(archive as Uint8Array<ArrayBuffer>);
      if (path !== "/plugins.json") return new Response("not found", { status: 404 });
      const index = await Bun.file(INDEX).json();
      index.push({
        id: "hello-repo",
        title: "Hello from the repository",
        description: "A Layerline plugin that says hello.",
        author: "Layerline tests",
        version: "1.0.0",
        archive: `http://127.0.0.1:${server.port}/hello-repo-1.0.0.tgz`,
        sha256: new Bun.CryptoHasher("sha256").update(archive).digest("hex"),
        size: archive.byteLength,
        compatibility: { layerline: "^1.0.0" },
        github: { latest_release: { name: "1.0.0", date: new Date().toISOString().slice(0, 10) }, stars: 3, issues: { open: 1, closed: 0 } },
        stats: { instances_month: 1, install_events_month: 1, instances_week: 1, install_events_week: 1 },
      });
      return Response.json(index);
    },
  });
  host = await startTestHost();
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await host?.close();
  server?.stop(true);
});

async function open(path: string): Promise<{ page: Page; errors: string[] }> {
  const page = await loggedInPage(browser, host, path);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  return { page, errors };
}

test("the manager lists plugins with their state; disable and enable in place", async () => {
  const { page, errors } = await open("/plugins");
  const row = page.locator('li.plugin[data-plugin="print-stats"]');
  await expect(row.locator(".plugin-state").textContent()).resolves.toBe("Enabled");
  await expect(page.locator('li.plugin[data-plugin="filament-change"] .small').textContent()).resolves.toContain("G-code queue");
  await row.locator("button", { hasText: "Disable" }).click();
  await page.locator('li.plugin[data-plugin="print-stats"][data-state="disabled"]').waitFor();
  await page.locator('li.plugin[data-plugin="print-stats"] button', { hasText: "Enable" }).click();
  await page.locator('li.plugin[data-plugin="print-stats"][data-state="enabled"]').waitFor();
  expect(errors).toEqual([]);
  await page.close();
}, 60_000);

test("a plugin's settings form: a wrong value is named, a right one saved", async () => {
  const { page, errors } = await open("/plugins/webhook-notifier");
  await page.fill("#setting-url", "ftp://nope");
  await page.selectOption("#setting-format", "discord");
  await page.click('form.settings button[type="submit"]');
  await expect(page.locator("form.settings .error").first().textContent()).resolves.toBe("must be an http(s) address");
  await page.fill("#setting-url", "https://discord.example/hook");
  await page.uncheck("#setting-onDone");
  await page.click('form.settings button[type="submit"]');
  await page.locator("form.settings .saved").waitFor();
  const { values } = (await (await host.api("/api/v1/plugins/webhook-notifier/settings")).json()) as any;
  expect(values).toMatchObject({ url: "https://discord.example/hook", format: "discord", onDone: false, onFailed: true });
  // The plugin's own section is on its page.
  await page.locator('button[hx-post="/api/v1/plugins/webhook-notifier/test"]').waitFor();
  expect(errors).toEqual([]);
  await page.close();
}, 60_000);

test("the repository browser: search, filter, one-click install", async () => {
  const { page, errors } = await open("/plugins/repository");
  await expect(page.locator(".repo-status").textContent()).resolves.toContain("No plugin repository is configured");
  await page.fill('input[name="url"]', `http://127.0.0.1:${server.port}/plugins.json`);
  // Saving fetches the index under the new settings, then reloads the page.
  const reloaded = page.waitForEvent("load");
  await page.click('form[hx-post="/ui/plugins/repository/settings"] button[type="submit"]');
  await reloaded;
  await host.waitFor("/api/v1/plugins/repository", (b: any) => b.repository.entries === 302);
  await page.reload();
  await expect(page.locator("#repo-results > p.muted").textContent()).resolves.toBe("302 plugins.");
  await page.fill('input[name="q"]', "bed level");
  await page.locator("#repo-results > p.muted", { hasText: "7 plugins." }).waitFor();
  await expect(page.locator(".repo-results li").first().getAttribute("data-id")).resolves.toBe("bedlevelvisualizer");
  await expect(page.locator('li[data-id="bedlevelvisualizer"] .compat').textContent()).resolves.toBe("not installable");
  await page.fill('input[name="q"]', "");
  await page.check('input[name="compatible"]');
  await page.locator("#repo-results > p.muted", { hasText: "1 plugin." }).waitFor();
  await expect(page.locator(".repo-results li").getAttribute("data-id")).resolves.toBe("hello-repo");
  await page.locator('li[data-id="hello-repo"] button', { hasText: "Install" }).click();
  await page.locator('li[data-id="hello-repo"] .badge', { hasText: "installed 1.0.0" }).waitFor();
  expect(await (await host.api("/api/v1/plugins/hello-repo/value")).json()).toEqual({ value: "hello from the repository" });
  await page.goto(`${host.url}/plugins`);
  await page.locator('li.plugin[data-plugin="hello-repo"][data-state="enabled"]').waitFor();
  expect(errors).toEqual([]);
  await page.close();
}, 60_000);

test("the dashboard shows plugin fragments; a disabled faulty plugin is announced until dismissed", async () => {
  const { page, errors } = await open("/");
  await page.locator('.plugin-cards .plugin-slot[data-plugin="print-stats"] h2', { hasText: "Print statistics" }).waitFor({ timeout: 10_000 });
  await page.locator('.plugin-nav .print-stats-nav', { hasText: "prints today" }).waitFor();

  // A plugin whose status handler throws: installed while the page is open.
  const form = new FormData();
  form.append(
    "file",
    new Blob([pluginArchive({ id: "status-hater", entry: `import { definePlugin } from "layerline";\nexport default definePlugin({ setup(ctx) { ctx.on("printer.status", () => { throw new Error("no thanks"); }); } });` }) as Uint8Array<ArrayBuffer>]),
    "p.tgz",
  );
  expect((await host.api("/api/v1/plugins/install", { method: "POST", body: form })).status).toBe(201);
  await host.post("/api/v1/printers/virtual-printer/commands", { commands: ["M104 S100", "M104 S110", "M104 S0"] });
  const notice = page.locator('#plugin-notices .plugin-notice[data-plugin="status-hater"]');
  await notice.waitFor({ timeout: 15_000 });
  await expect(notice.textContent()).resolves.toContain("was disabled after 3 faults");
  await notice.locator("button", { hasText: "Dismiss" }).click();
  await notice.waitFor({ state: "detached" });
  expect(errors).toEqual([]);
  await page.close();
}, 60_000);
