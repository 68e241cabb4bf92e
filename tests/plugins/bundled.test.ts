/**
 * The bundled plugins as a user meets them: every file is embedded; the webhook notifier tells a
 * web address when a print ends (and shows its deliveries); print statistics count prints and
 * show them on the dashboard, in the navbar, beside a file and as JSON.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { BUNDLED_FILES } from "../../src/plugins/bundled.ts";
import { registerLayerlineModule } from "../../src/plugins/virtual-module.ts";
import { startTestHost, upload, type TestHost } from "../helpers/host.ts";

const PLUGINS = new URL("../../plugins/", import.meta.url).pathname;

test("every file of plugins/ is embedded in the binary (src/plugins/bundled.ts lists it)", () => {
  const onDisk: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else onDisk.push(relative(PLUGINS, join(dir, e.name)));
    }
  };
  walk(PLUGINS);
  expect(BUNDLED_FILES.flat().map((f) => relative(PLUGINS, f)).sort()).toEqual(onDisk.sort());
  for (const files of BUNDLED_FILES) expect(files[0]!.endsWith("/package.json")).toBe(true);
});

describe("webhook notifier", () => {
  test("message formats", async () => {
    registerLayerlineModule();
    const { message } = await import("../../plugins/webhook-notifier/index.ts");
    const base = { url: "https://x", format: "json", onDone: true, onFailed: true, onCancelled: false, onPaused: false, secret: "s3cret" } as const;
    const e = { printer: "p1", file: "cube.gcode", state: "done", reason: null } as const;
    expect(JSON.parse(message({ ...base }, e, "Ender", 3725).body)).toEqual({
      event: "print.done",
      printer: { id: "p1", name: "Ender" },
      file: "cube.gcode",
      reason: null,
      printTime: 3725,
      text: "✅ cube.gcode finished on Ender after 1h 2m",
    });
    expect(message({ ...base }, e, "Ender", null).headers).toEqual({ "x-layerline-secret": "s3cret", "content-type": "application/json" });
    expect(JSON.parse(message({ ...base, format: "discord" }, { ...e, state: "failed", reason: "Thermal runaway" }, "Ender", 60).body)).toEqual({ content: "❌ cube.gcode failed on Ender after 1m 0s (Thermal runaway)" });
    expect(JSON.parse(message({ ...base, format: "slack" }, e, "Ender", null).body)).toEqual({ text: "✅ cube.gcode finished on Ender" });
    const ntfy = message({ ...base, format: "ntfy", secret: "" }, { ...e, state: "cancelled" }, "Ender", null);
    expect(ntfy).toEqual({ body: "⏹ cube.gcode was cancelled on Ender", headers: { "content-type": "text/plain; charset=utf-8", title: "Print was cancelled", tags: "printer" } });
  });
});

describe("in a running host", () => {
  let host: TestHost;
  let receiver: ReturnType<typeof Bun.serve>;
  const received: { body: any; secret: string | null }[] = [];

  beforeAll(async () => {
    receiver = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        received.push({ body: await req.json(), secret: req.headers.get("x-layerline-secret") });
        return new Response("ok");
      },
    });
    host = await startTestHost({ plugins: { bundledDirs: [join(PLUGINS, "webhook-notifier"), join(PLUGINS, "print-stats")] } });
    await host.waitFor("/api/v1/printers/virtual-printer", (p: any) => p.state === "operational");
  }, 30_000);
  afterAll(async () => {
    await host?.close();
    receiver?.stop(true);
  });

  test("a finished print is posted to the webhook and counted by the statistics", async () => {
    const put = await host.api("/api/v1/plugins/webhook-notifier/settings", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ url: `http://127.0.0.1:${receiver.port}/hook`, secret: "s3cret" }),
    });
    expect(put.status).toBe(200);
    expect((await upload(host, "cube.gcode", "G28\nG1 X10 Y10 Z1 F3000\nG1 X20 E1\nM84\n")).status).toBe(201);
    expect((await host.post("/api/v1/printers/virtual-printer/job", { file: "cube.gcode" })).status).toBe(200);
    await host.waitFor("/api/v1/printers/virtual-printer", (p: any) => p.job?.state === "done");
    for (let i = 0; i < 200 && received.length === 0; i++) await Bun.sleep(20);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ secret: "s3cret", body: { event: "print.done", printer: { id: "virtual-printer", name: "Virtual printer" }, file: "cube.gcode", reason: null } });
    expect(typeof received[0]!.body.printTime).toBe("number");
    const { deliveries } = (await (await host.api("/api/v1/plugins/webhook-notifier/deliveries")).json()) as any;
    expect(deliveries[0]).toMatchObject({ what: "cube.gcode finished", status: 200, error: null });

    // The test button (in the plugin's settings section) posts too and shows the result.
    const section = await (await host.api("/plugins/webhook-notifier")).text();
    expect(section).toContain('hx-post="/api/v1/plugins/webhook-notifier/test"');
    const test = await (await host.post("/api/v1/plugins/webhook-notifier/test")).text();
    expect(test).toContain("test-message.gcode finished");
    expect(received).toHaveLength(2);

    // Statistics: the JSON summary, the dashboard card, the navbar, the file's row.
    const summary = (await (await host.api("/api/v1/plugins/print-stats/summary")).json()) as any;
    expect(summary.total).toMatchObject({ done: 1, failed: 0, cancelled: 0 });
    expect(summary.recent[0]).toMatchObject({ printer: "virtual-printer", file: "cube.gcode", state: "done" });
    const card = await (await host.api("/ui/plugins/slot/dashboard.card?printer=virtual-printer")).text();
    expect(card).toContain('<b data-stat="done">1</b> finished');
    expect(card).toContain(">Reset</button>"); // the admin may press it (a read-only viewer is not offered it: tests/ui/dashboard.test.ts)
    expect(await (await host.api("/ui/plugins/slot/navbar.item")).text()).toContain("1 print today");
    expect(await (await host.api("/ui/plugins/slot/file.actions?path=cube.gcode")).text()).toContain("Printed 1× (1 finished)");
    const reset = await (await host.post("/api/v1/plugins/print-stats/reset?printer=virtual-printer")).text();
    expect(reset).toContain('<b data-stat="done">0</b> finished');
  }, 60_000);

  test("a delivery that fails is recorded, not thrown at the host", async () => {
    receiver.stop(true);
    expect((await host.post("/api/v1/printers/virtual-printer/job", { file: "cube.gcode" })).status).toBe(200);
    await host.waitFor("/api/v1/plugins/webhook-notifier/deliveries", (b: any) => b.deliveries.length === 3, 20_000);
    const { deliveries } = (await (await host.api("/api/v1/plugins/webhook-notifier/deliveries")).json()) as any;
    expect(deliveries[0]).toMatchObject({ status: 0, what: "cube.gcode finished" });
    expect(deliveries[0].error).toBeTruthy();
    expect(((await (await host.api("/api/v1/plugins/webhook-notifier")).json()) as any)).toMatchObject({ state: "enabled", faults: [] });
  }, 30_000);
});
