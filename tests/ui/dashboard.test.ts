import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { launchBrowser, loggedInPage as login } from "../helpers/browser.ts";
import { ADMIN, startTestHost, upload, type TestHost } from "../helpers/host.ts";

const TORUS = new URL("../fixtures/ps25_ender3_torus_0.20normal_pla.gcode", import.meta.url).pathname;

let host: TestHost;
let browser: Browser;

beforeAll(async () => {
  host = await startTestHost();
  browser = await launchBrowser();
}, 60_000);
const loggedInPage = () => login(browser, host);

afterAll(async () => {
  await browser?.close();
  await host?.close();
});

test("the dashboard shows the live virtual printer, uploads a file and prints it", async () => {
  const page = await loggedInPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));

  // The virtual printer is connected and its temperatures arrive over SSE.
  await page.locator('.badge[data-state="operational"]').waitFor({ timeout: 15_000 });
  await page.locator('tr[data-heater="tool0"] .actual').waitFor();
  await expect(page.locator("h1").first().textContent()).resolves.toContain("Virtual printer");

  // Temperatures update live: set a target and watch the row change without reloading.
  await page.fill('input[name="tool0"]', "190");
  await page.click('form[hx-post$="/temperature"] button[type="submit"]:not([name])');
  await page.locator('tr[data-heater="tool0"] td', { hasText: "190 °C" }).waitFor({ timeout: 10_000 });

  // Upload through the form; the file list updates in place.
  await page.setInputFiles('#upload input[type="file"]', TORUS);
  await page.click('#upload button[type="submit"]');
  const row = page.locator('tr[data-file="ps25_ender3_torus_0.20normal_pla.gcode"]');
  await row.waitFor({ timeout: 15_000 });

  // Print it and watch it run to the end.
  await row.locator("button", { hasText: "Print" }).click();
  await page.locator('.job[data-job-state="printing"], .job[data-job-state="done"]').first().waitFor({ timeout: 10_000 });
  await page.locator('.job[data-job-state="done"]').waitFor({ timeout: 60_000 });
  await expect(page.locator(".job .completion").textContent()).resolves.toBe("100.0 %");

  // The terminal shows the traffic. (It keeps the last 300 lines, so after a 15,000-line print
  // the handshake's M110 is only still there if pushes were dropped: assert on the print's lines.)
  // Its lines come in batches of their own, so the end's note may follow the "done" badge.
  await page.locator("#terminal-lines", { hasText: "Job done" }).waitFor({ timeout: 5_000 });
  const terminal = (await page.locator("#terminal-lines").textContent()) ?? "";
  expect(terminal).toMatch(/› N\d+ G1 /);
  expect(terminal).toContain("Job done");
  expect(errors).toEqual([]);
  await page.close();
}, 120_000);

test("a file just uploaded, on the dashboard or elsewhere, is offered at once for copying to the SD card", async () => {
  const page = await loggedInPage();
  await page.locator('.badge[data-state="operational"]').waitFor({ timeout: 15_000 });
  const offered = (name: string) => page.locator(`form.sd-copy option[value="${name}"]`);
  await expect(offered("for-the-card.gcode").count()).resolves.toBe(0);
  await page.setInputFiles('#upload input[type="file"]', { name: "for-the-card.gcode", mimeType: "text/plain", buffer: Buffer.from("G28\nG1 X10 E1\n") });
  await page.click('#upload button[type="submit"]');
  await offered("for-the-card.gcode").waitFor({ state: "attached", timeout: 10_000 });
  // An upload from the files page (or a slicer) reaches an open dashboard too.
  expect((await upload(host, "from-the-slicer.gcode", "G28\nG1 X10 E1\n")).status).toBe(201);
  await offered("from-the-slicer.gcode").waitFor({ state: "attached", timeout: 10_000 });
  await page.close();
}, 30_000);

test("the jog pad moves the head by the chosen step and the position follows", async () => {
  const page = await loggedInPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.locator('.badge[data-state="operational"]').waitFor({ timeout: 15_000 });
  await page.locator("button", { hasText: "Home all" }).click();
  const terminal = page.locator("#terminal-lines");
  await terminal.locator("span.send", { hasText: "G28" }).first().waitFor({ state: "attached" });
  // The default step is 10 mm: Z up goes relative, moves, and returns to absolute.
  const jog = page.locator("form.jog");
  await jog.getByRole("button", { name: "Move Z up by the step" }).click();
  await terminal.locator("span.send", { hasText: "G1 Z10 F200" }).first().waitFor({ state: "attached" });
  // A smaller step, along X the other way.
  await jog.locator('input[name="step"][value="1"]').check();
  await jog.getByRole("button", { name: "Move X right by the step" }).click();
  await terminal.locator("span.send", { hasText: "G1 X1 F6000" }).first().waitFor({ state: "attached" });
  await jog.getByRole("button", { name: "Move Y forward by the step" }).click();
  await terminal.locator("span.send", { hasText: "G1 Y1 F6000" }).first().waitFor({ state: "attached" });
  const sent = (await terminal.locator("span.send").allTextContents()).join("\n");
  expect(sent).toMatch(/G91[\s\S]*G1 Z10 F200[\s\S]*G90/);
  // The printer went there: its reported position is the sum of the moves.
  expect((await host.post(`/api/printer/command`, { command: "M114" })).status).toBe(204);
  await terminal.locator("span.recv, span", { hasText: "X:1.00 Y:1.00 Z:10.00" }).first().waitFor({ state: "attached", timeout: 10_000 });
  // A forged move is refused in words, not with a 500.
  const refused = await host.api(`/ui/printers/${(await (await host.api("/api/v1/printers")).json()).printers[0].id}/jog`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "x-requested-with": "htmx" },
    body: "move=e%2B&step=10",
  });
  expect(refused.status).toBeLessThan(500);
  expect(await refused.text()).toContain("Choose a step");
  expect(errors).toEqual([]);
  await page.close();
}, 60_000);

test("an action that fails explains why in a toast", async () => {
  const page = await loggedInPage();
  await page.locator('.badge[data-state="operational"]').waitFor({ timeout: 15_000 });
  await page.click('form[hx-post$="/temperature"] button[type="submit"]:not([name])'); // no value typed
  await expect(page.locator("#toasts .toast.error").textContent()).resolves.toContain("Enter a target temperature");
  await page.evaluate(() => document.querySelectorAll("#toasts .toast").forEach((t) => t.remove()));
  // The same when the form was re-rendered while its request was out (its answer is retargeted to the toasts).
  await clickWhileReRendered(page, "/temperature", 'form[hx-post$="/temperature"]', 'form[hx-post$="/temperature"] button[type="submit"]:not([name])');
  await expect(page.locator("#toasts .toast.error").textContent({ timeout: 10_000 })).resolves.toContain("Enter a target temperature");
  await page.close();
}, 30_000);

test("a read-only user watches without controls; a control left on a page from before is refused, naming the permission", async () => {
  const viewer = { username: "viewer", password: "viewer's long password" };
  expect((await host.post("/api/v1/users", { username: viewer.username, password: viewer.password, group: "users" })).status).toBe(201);
  const page = await login(browser, host, "/", undefined, viewer);
  page.on("dialog", (d) => void d.accept());
  await page.locator('.badge[data-state="operational"]').waitFor({ timeout: 15_000 });
  const stop = page.locator("button.danger:text('Emergency stop')");
  await stop.waitFor();
  // A page that misses the change (open pages reload on it, see permission-change.test.ts; this one
  // drops the event, as a page whose stream is down does) keeps its button: the server refuses it.
  await page.evaluate(() => document.getElementById("viewer-changed")!.remove());
  // An admin makes the operator read-only while the page is open: its button is refused.
  host.accounts.setGroup(host.accounts.users.byName(viewer.username)!, "readonly");
  // The live panel is re-rendered on every status change: here while the request is out, so the
  // refusal comes back to a button no longer in the page.
  await clickWhileReRendered(page, "/emergency-stop", "button.danger", "button.danger:text('Emergency stop')");
  await expect(page.locator("#toasts .toast.error").first().textContent({ timeout: 10_000 })).resolves.toContain("“control” permission");
  const { printers } = await (await host.api("/api/v1/printers")).json();
  expect(printers[0].state).toBe("operational");
  // Loaded again, the page shows the printer and its files without the controls.
  await page.reload();
  await page.locator('.badge[data-state="operational"]').waitFor({ timeout: 15_000 });
  await page.locator('tr[data-heater="tool0"] .actual').waitFor();
  // Plugins' cards too: they are told what the viewer may do (print-stats offers no Reset).
  await page.locator('.plugin-slot[data-plugin="print-stats"] .print-stats').waitFor();
  const controls = page.locator("button[hx-post], form[hx-post]").evaluateAll((all) => all.map((e) => e.outerHTML));
  await expect(controls).resolves.toEqual([]);
  await expect(page.locator('a[href="/settings/tracking"]').count()).resolves.toBe(0);
  await page.close();
}, 60_000);

test("when the session has ended, a click leads through the login back to the page it was made on", async () => {
  const page = await loggedInPage();
  await page.goto(`${host.url}/files`);
  await page.context().clearCookies();
  await page.locator("button[hx-post], button[hx-get], [hx-post] button").first().click();
  await page.waitForURL(/\/login\?next=%2Ffiles/);
  await page.fill('input[name="username"]', ADMIN.username);
  await page.fill('input[name="password"]', ADMIN.password);
  await page.click('button[type="submit"]');
  await page.waitForURL(`${host.url}/files`);
  await page.close();
}, 30_000);

test("on a phone's screen no page is wider than the screen", async () => {
  for (const path of ["/", "/files", "/queue", "/history", "/users", "/account", "/plugins", "/plugins/repository", "/settings/tracking", "/settings/update"]) {
    const page = await login(browser, host, path, { width: 375, height: 667 });
    await page.waitForLoadState("networkidle");
    // What sticks out, named, so a failure says where to look.
    const outside = await page.evaluate(() =>
      document.documentElement.scrollWidth > innerWidth
        ? Array.from(document.querySelectorAll("body *")).filter((e) => e.getBoundingClientRect().right > innerWidth + 1 && !e.closest("#terminal-lines, .card table")).map((e) => `${e.tagName}.${e.className}`).slice(-3)
        : [],
    );
    expect(outside.map((e) => `${path}: ${e}`)).toEqual([]);
    await page.close();
  }
}, 60_000);

/**
 * Clicks `click` and, while its request (to a path ending in `action`) is out, replaces `control`
 * with a copy — as the live panel's re-rendering does — so the answer comes back to an element no
 * longer in the page.
 */
async function clickWhileReRendered(page: Page, action: string, control: string, click: string): Promise<void> {
  let out!: () => void;
  const isOut = new Promise<void>((resolve) => (out = resolve));
  let answer!: () => void;
  const answered = new Promise<void>((resolve) => (answer = resolve));
  const path = (url: URL) => url.pathname.endsWith(action);
  let passed!: Promise<void>;
  await page.route(path, (route) => {
    out();
    passed = answered.then(() => route.continue());
    return passed;
  });
  await page.click(click);
  await isOut;
  await page.evaluate((selector) => {
    const e = document.querySelector(selector)!;
    e.replaceWith(e.cloneNode(true));
  }, control);
  answer();
  await passed;
  await page.unroute(path);
}
