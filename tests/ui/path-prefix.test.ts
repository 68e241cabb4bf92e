/**
 * Layerline behind a real reverse proxy at a sub-path, in headless Chromium: the proxy (written
 * here with Bun.serve, as nginx's `location /lay/ { proxy_pass …/; proxy_set_header X-Script-Name /lay; }`)
 * strips `/lay` and names it in X-Script-Name; it forwards plain requests, server-sent events and
 * WebSocket upgrades. The browser logs in, watches the dashboard update live, uploads a file on the
 * Files page and opens the push socket; every request it makes goes to `/lay/…`.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Server, ServerWebSocket } from "bun";
import type { Browser } from "playwright-core";
import { ADMIN, startTestHost, type TestHost } from "../helpers/host.ts";
import { launchBrowser } from "../helpers/browser.ts";

const PREFIX = "/lay";
const TORUS = new URL("../fixtures/ps25_ender3_torus_0.20normal_pla.gcode", import.meta.url).pathname;

interface Upstream {
  socket?: WebSocket;
  queued: (string | Uint8Array)[];
}

/** A reverse proxy at `PREFIX` in front of `target`: what nginx's sub-path example does. */
function startProxy(target: string): Server<Upstream> {
  const upstream = new URL(target);
  // Headers that belong to one hop, not forwarded (Bun's fetch sets its own).
  const HOP = ["connection", "keep-alive", "upgrade", "transfer-encoding", "host", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions"];
  return Bun.serve<Upstream>({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(request, server) {
      const url = new URL(request.url);
      if (url.pathname !== PREFIX && !url.pathname.startsWith(`${PREFIX}/`)) return new Response("not under the proxy's location", { status: 404 });
      const path = url.pathname.slice(PREFIX.length) || "/";
      const headers = new Headers(request.headers);
      for (const h of HOP) headers.delete(h);
      headers.set("x-script-name", PREFIX);
      headers.set("x-forwarded-host", url.host);
      headers.set("x-forwarded-proto", "http");
      headers.set("x-forwarded-for", server.requestIP(request)?.address ?? "");
      if (request.headers.get("upgrade")?.toLowerCase() === "websocket") {
        const ws = new WebSocket(`ws://${upstream.host}${path}${url.search}`, { headers: headers.toJSON() } as unknown as string[]);
        const data: Upstream = { socket: ws, queued: [] };
        await new Promise<void>((resolve, reject) => {
          ws.addEventListener("open", () => resolve(), { once: true });
          ws.addEventListener("error", () => reject(new Error("upstream WebSocket failed")), { once: true });
        });
        return server.upgrade(request, { data }) ? undefined : new Response("upgrade failed", { status: 400 });
      }
      const res = await fetch(`${upstream.origin}${path}${url.search}`, {
        method: request.method,
        headers,
        body: request.body,
        redirect: "manual",
        // Uploads stream through as the browser sends them.
        duplex: "half",
        decompress: false,
      } as RequestInit);
      // Bun's fetch already undid any compression; the length may then differ.
      const out = new Headers(res.headers);
      out.delete("content-encoding");
      out.delete("content-length");
      return new Response(res.body, { status: res.status, statusText: res.statusText, headers: out });
    },
    websocket: {
      open(ws: ServerWebSocket<Upstream>) {
        const up = ws.data.socket!;
        up.addEventListener("message", (e) => ws.send(e.data as string));
        up.addEventListener("close", () => ws.close());
      },
      message(ws: ServerWebSocket<Upstream>, message) {
        ws.data.socket!.send(message);
      },
      close(ws: ServerWebSocket<Upstream>) {
        ws.data.socket!.close();
      },
    },
  });
}

let host: TestHost;
let proxy: Server<Upstream>;
let browser: Browser;

beforeAll(async () => {
  // Not set up: the browser passes first-run setup through the proxy.
  host = await startTestHost({ setup: false });
  proxy = startProxy(host.url);
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  proxy?.stop(true);
  await host?.close();
});

test("through a proxy at /lay: setup, login, live dashboard, an upload and the push socket, every request under /lay", async () => {
  const base = `http://127.0.0.1:${proxy.port}${PREFIX}`;
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const requests: string[] = [];
  const errors: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("websocket", (ws) => requests.push(ws.url()));
  page.on("pageerror", (e) => errors.push(e.message));
  // A resource the browser fetches by itself (the tab's icon) shows only as a console error.
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });

  // First run: the wizard, reached through the proxy, creates the admin and the virtual printer.
  await page.goto(`${base}/account`);
  await page.waitForURL(`${base}/setup`);
  await page.fill('input[name="username"]', ADMIN.username);
  await page.fill('input[name="password"]', ADMIN.password);
  await page.fill('input[name="confirm"]', ADMIN.password);
  await page.check('input[name="transport"][value="virtual"]');
  await page.click('button[type="submit"]');
  await page.waitForURL(`${base}/`);
  expect((await page.context().cookies()).find((c) => c.name === "layerline_session")?.path).toBe(PREFIX);

  // Log out, and in again on the way to the Files page: the login keeps the page asked for.
  await page.click('button:has-text("Log out")');
  await page.waitForURL(/\/lay\/login/);
  await page.goto(`${base}/files`);
  await page.waitForURL(/\/lay\/login\?next=/);
  await page.fill('input[name="username"]', ADMIN.username);
  await page.fill('input[name="password"]', ADMIN.password);
  await page.click('button[type="submit"]');
  await page.waitForURL(`${base}/files`);
  expect((await page.context().cookies()).find((c) => c.name === "layerline_session")?.path).toBe(PREFIX);

  // Upload on the Files page; the row arrives through the page's event stream.
  await page.waitForFunction(() => (document.querySelector("[sse-connect]") as any)?.["htmx-internal-data"]?.sseEventSource?.readyState === 1);
  await page.setInputFiles('#file-upload input[type="file"]', TORUS);
  await page.click('#file-upload button[type="submit"]');
  await page.locator('tr[data-file="ps25_ender3_torus_0.20normal_pla.gcode"]').waitFor({ timeout: 15_000 });
  await page.locator('tr[data-file="ps25_ender3_torus_0.20normal_pla.gcode"][data-analysis="done"]').waitFor({ timeout: 30_000 });

  // The dashboard: the printer's status and temperatures update live over the stream.
  await page.click(".topbar a.brand");
  await page.waitForURL(`${base}/`);
  await page.locator('.badge[data-state="operational"]').waitFor({ timeout: 15_000 });
  await page.fill('input[name="tool0"]', "190");
  await page.click('form[hx-post$="/temperature"] button[type="submit"]:not([name])');
  await page.locator('tr[data-heater="tool0"] td', { hasText: "190 °C" }).waitFor({ timeout: 10_000 });
  // The terminal's lines are pushed too.
  await page.locator("#terminal-lines", { hasText: "M104" }).waitFor({ timeout: 10_000 });

  // The top bar's Files link keeps its emphasis with its href under the prefix.
  expect(await page.locator(".topbar a", { hasText: "Files" }).evaluate((a) => getComputedStyle(a).fontWeight)).toBe("600");

  // The page knows its prefix; the push socket opens through the proxy's WebSocket forwarding.
  const prefix = await page.locator('meta[name="layerline-prefix"]').getAttribute("content");
  expect(prefix).toBe(PREFIX);
  const first = await page.evaluate(
    (prefix) =>
      new Promise<string>((resolve, reject) => {
        const ws = new WebSocket(`${location.origin.replace(/^http/, "ws")}${prefix}/sockjs/websocket`);
        ws.onmessage = (e) => {
          resolve(String(e.data));
          ws.close();
        };
        ws.onerror = () => reject(new Error("the push socket did not open"));
      }),
    prefix,
  );
  expect(JSON.parse(first)).toHaveProperty("connected");
  expect(requests.some((u) => u.endsWith(`${PREFIX}/sockjs/websocket`))).toBe(true);

  // A page of the settings and the API docs, for good measure.
  await page.goto(`${base}/settings`);
  await page.waitForURL(/\/lay\/settings\//);
  await page.click('.topbar a[href$="/api/v1/docs"]');
  await page.waitForURL(`${base}/api/v1/docs`);

  expect(requests.length).toBeGreaterThan(20);
  expect(requests.filter((u) => !new URL(u).pathname.startsWith(`${PREFIX}/`))).toEqual([]);
  expect(errors).toEqual([]);
  await page.close();
}, 120_000);
