import { afterAll, beforeAll, expect, test } from "bun:test";
import * as v from "valibot";
import { PingSchema } from "../../src/tracking/payload.ts";
import { buildPing } from "../../src/tracking/reporter.ts";
import { DEFAULT_REGISTRY_URL } from "../../src/tracking/settings.ts";
import { startTestHost, type TestHost } from "../helpers/host.ts";

const ID = "3f2b8c1d-4e5a-4b6c-8d7e-9f0a1b2c3d4e";
const base = { instance: ID, version: "0.1.0", host: { os: "linux", arch: "arm64" } as const, pending: { started: 0, finished: 0 }, firmware: [] };

test("the ping: plugins sorted and deduplicated, installs and uninstalls from the difference with the last one", () => {
  const first = buildPing({ ...base, installed: [{ id: "b", version: "1.0.0" }, { id: "a", version: "2.0.0" }, { id: "A", version: "2.0.1" }], reported: null });
  expect(first.plugins).toEqual([{ id: "A", version: "2.0.1" }, { id: "b", version: "1.0.0" }]);
  expect(first.events).toEqual([]); // no earlier list: nothing to compare with
  const next = buildPing({ ...base, installed: [{ id: "b", version: "1.1.0" }, { id: "c", version: "0.1.0" }], reported: first.plugins, pending: { started: 3, finished: 2 }, firmware: ["marlin2", "other", "marlin2"] });
  expect(next).toEqual({
    schema: 1,
    instance: ID,
    host: { version: "0.1.0", os: "linux", arch: "arm64" },
    plugins: [{ id: "b", version: "1.1.0" }, { id: "c", version: "0.1.0" }],
    events: [
      { event: "install", plugin: "c", version: "0.1.0" },
      { event: "uninstall", plugin: "A", version: "2.0.1" },
    ],
    prints: { started: 3, finished: 2 },
    firmware: ["marlin2", "other"],
  });
  expect(v.is(PingSchema, next)).toBe(true);
  // Whatever a plugin manager hands over, the ping stays valid (odd entries are left out).
  const odd = buildPing({ ...base, installed: [{ id: "../x", version: "1" }, { id: "ok", version: "not a version!" }, { id: "fine", version: "1.0.0" }], reported: null });
  expect(odd.plugins).toEqual([{ id: "fine", version: "1.0.0" }]);
  expect(v.is(PingSchema, odd)).toBe(true);
});

let host: TestHost;
beforeAll(async () => {
  host = await startTestHost({ tracking: { installedPlugins: () => [{ id: "filament-change", version: "1.2.0" }] } });
}, 30_000);
afterAll(() => host.close());

test("a new host has tracking off and never asked; the exact payload is shown all the same", async () => {
  const status = await (await host.api("/api/v1/tracking")).json();
  expect(status.enabled).toBeNull();
  expect(status.url).toBe(DEFAULT_REGISTRY_URL);
  expect(status.lastSend).toBeNull();
  expect(v.is(PingSchema, status.payload)).toBe(true);
  expect(status.payload.plugins).toEqual([{ id: "filament-change", version: "1.2.0" }]);
  expect(status.payload.host).toEqual({ version: "0.1.0", os: "linux", arch: process.arch === "arm64" ? "arm64" : "x64" });
  // The id shown is the id that will be sent: it stays the same.
  expect((await (await host.api("/api/v1/tracking")).json()).payload.instance).toBe(status.payload.instance);
  const send = await host.post("/api/v1/tracking/send");
  expect(send.status).toBe(409);
  expect((await send.json()).error.code).toBe("tracking_off");
});

test("the settings page shows what is sent and the exact JSON; its form switches tracking on and off", async () => {
  const page = await (await host.api("/settings/tracking")).text();
  expect(page).toContain("Anonymous usage statistics");
  expect(page).toContain("Never your IP address");
  const payload = (await (await host.api("/api/v1/tracking")).json()).payload;
  const escaped = JSON.stringify(payload, null, 2).replaceAll('"', "&quot;");
  expect(page).toContain(`<pre class="tracking-payload" data-payload>${escaped}</pre>`);
  expect(page).toContain('data-state="off"');

  const on = await host.api("/ui/tracking", { method: "POST", body: new URLSearchParams({ enabled: "on", url: "http://127.0.0.1:9/registry/" }) });
  const fragment = await on.text();
  expect(fragment).toContain('data-state="on"');
  expect(fragment).toContain("Send now");
  const status = await (await host.api("/api/v1/tracking")).json();
  expect(status.enabled).toBe(true);
  expect(status.url).toBe("http://127.0.0.1:9/registry");

  const bad = await host.api("/ui/tracking", { method: "POST", body: new URLSearchParams({ enabled: "on", url: "javascript:alert(1)" }) });
  expect(bad.headers.get("hx-retarget")).toBe("#toasts");
  const off = await host.api("/api/v1/tracking", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ enabled: false, url: null }) });
  expect((await off.json()).enabled).toBe(false);
  expect((await (await host.api("/api/v1/tracking")).json()).url).toBe(DEFAULT_REGISTRY_URL);
  const invalid = await host.api("/api/v1/tracking", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ enabled: "yes" }) });
  expect(invalid.status).toBe(400);
});

test("the wizard's question and the star button are fragments other pages include", async () => {
  const { trackingWizardFieldset, starButton } = await import("../../views/tracking.ts");
  const payload = (await (await host.api("/api/v1/tracking")).json()).payload;
  const fieldset = trackingWizardFieldset(payload).value;
  expect(fieldset).toContain('<input type="radio" name="tracking" value="off" checked>');
  expect(fieldset).toContain('<input type="radio" name="tracking" value="on">');
  expect(fieldset).toContain(JSON.stringify(payload, null, 2).replaceAll('"', "&quot;"));
  const star = starButton("filament-change", false, 12).value;
  expect(star).toContain('hx-post="/ui/tracking/star"');
  expect(star).toContain("hx-vals=\"{&quot;plugin&quot;:&quot;filament-change&quot;,&quot;starred&quot;:&quot;true&quot;}\"");
  expect(star).toContain('<span class="likes">12</span>');
});
