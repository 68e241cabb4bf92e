/**
 * The compiled executables: built by build.ts, run from an empty folder with no node_modules,
 * the arm64 one under qemu-user.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildTarget } from "../../build.ts";
import { BROKER_USER, startBroker, subscriber } from "../helpers/mosquitto.ts";

let dir: string;
let x64: string;
let arm64: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "layerline-bin-"));
  [x64, arm64] = await Promise.all([
    buildTarget("x64", { outfile: join(dir, "layerline-linux-x64"), version: "9.9.9-test" }),
    buildTarget("arm64", { outfile: join(dir, "layerline-linux-arm64"), version: "9.9.9-test" }),
  ]);
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A port that is free right now (other test runs may share the machine). */
function freePort(): number {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

/** Starts a binary in an empty folder and waits for its first HTTP answer. */
async function runUntilAnswer(cmd: string[], ms: number) {
  const port = freePort();
  const cwd = mkdtempSync(join(dir, "run-"));
  const proc = Bun.spawn([...cmd, "--port", String(port), "--host", "127.0.0.1", "--data-dir", join(cwd, "data")], {
    cwd,
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: "/usr/bin:/bin", HOME: cwd },
  });
  const deadline = Date.now() + ms;
  try {
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/version`);
        if (res.ok) {
          const version = await res.json();
          // First start: every page leads to the wizard; headless setup from loopback gives a key.
          const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
          const htmx = await fetch(`http://127.0.0.1:${port}/public/htmx.min.js`);
          const setup = await fetch(`http://127.0.0.1:${port}/api/v1/setup`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ username: "admin", password: "binary-test-pw" }),
          });
          const { apiKey } = await setup.json();
          // The printer runs in a Worker embedded in the binary: it must come up and connect.
          let printers: any;
          while (Date.now() < deadline) {
            printers = await (await fetch(`http://127.0.0.1:${port}/api/v1/printers`, { headers: { "x-api-key": apiKey } })).json();
            if (printers.printers[0]?.state === "operational") break;
            await Bun.sleep(100);
          }
          return { version, page, htmx: { status: htmx.status, body: await htmx.text() }, printers };
        }
      } catch {
        // not listening yet
      }
      if (proc.exitCode !== null) throw new Error(`exited ${proc.exitCode}: ${await new Response(proc.stderr).text()}`);
      await Bun.sleep(100);
    }
    throw new Error("no HTTP answer in time");
  } finally {
    proc.kill();
    await proc.exited;
  }
}

describe("compiled binaries", () => {
  test("x64 runs from an empty folder and serves the UI with embedded assets", async () => {
    const r = await runUntilAnswer([x64], 20_000);
    expect(r.version).toMatchObject({ name: "Layerline", version: "9.9.9-test" });
    expect(r.page).toContain("Layerline");
    expect(r.page).toContain("Welcome to Layerline");
    expect(r.htmx.status).toBe(200);
    expect(r.htmx.body).toContain("htmx");
    expect(r.printers.printers[0]).toMatchObject({ transport: "virtual", state: "operational" });
  }, 30_000);

  test("x64 --help and --version", async () => {
    const help = Bun.spawnSync([x64, "--help"]);
    expect(help.stdout.toString()).toContain("--serial PATH");
    expect(Bun.spawnSync([x64, "--version"]).stdout.toString().trim()).toBe("9.9.9-test");
  });

  test("x64 builds the plugin registry and serves it, views and styles embedded", async () => {
    const cwd = mkdtempSync(join(dir, "registry-"));
    const entries = new URL("../fixtures/registry/entries", import.meta.url).pathname;
    const env = { PATH: "/usr/bin:/bin", HOME: cwd };
    const built = Bun.spawnSync([x64, "registry", "build", "--entries", entries, "--out", join(cwd, "site")], { cwd, env });
    expect(built.stdout.toString()).toContain("Built 9 of 9 entries");
    expect(built.exitCode).toBe(0);
    expect(await Bun.file(join(cwd, "site", "site.css")).text()).toContain(".plugin-page");
    const port = freePort();
    const proc = Bun.spawn([x64, "registry", "serve", "--site", join(cwd, "site"), "--data-dir", join(cwd, "data"), "--port", String(port), "--host", "127.0.0.1"], { cwd, env, stdout: "pipe", stderr: "pipe" });
    try {
      let home = "";
      for (let i = 0; i < 100 && !home; i++) {
        home = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text(), () => "");
        if (!home) await Bun.sleep(100);
      }
      expect(home).toContain("All plugins");
      const ping = { schema: 1, instance: crypto.randomUUID(), host: { version: "9.9.9-test", os: "linux", arch: "x64" }, plugins: [], events: [], prints: { started: 0, finished: 0 }, firmware: [] };
      const sent = await fetch(`http://127.0.0.1:${port}/api/v1/tracking/ping`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(ping) });
      expect(sent.status).toBe(204);
    } finally {
      proc.kill("SIGINT");
      expect(await proc.exited).toBe(0);
    }
  }, 30_000);

  test("x64 connects to an MQTT broker (MQTT.js embedded) and publishes its printer's state", async () => {
    const broker = await startBroker();
    const base = `binary/${crypto.randomUUID().slice(0, 6)}`;
    const watch = await subscriber(broker, [`${base}/#`]);
    const port = freePort();
    const cwd = mkdtempSync(join(dir, "mqtt-"));
    const proc = Bun.spawn([x64, "--port", String(port), "--host", "127.0.0.1", "--data-dir", join(cwd, "data")], { cwd, stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin", HOME: cwd } });
    try {
      let apiKey = "";
      for (let i = 0; i < 200 && !apiKey; i++) {
        const setup = await fetch(`http://127.0.0.1:${port}/api/v1/setup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "admin", password: "binary-test-pw" }) }).catch(() => null);
        if (setup?.status === 201) apiKey = (await setup.json()).apiKey;
        else await Bun.sleep(100);
      }
      const put = await fetch(`http://127.0.0.1:${port}/api/v1/mqtt`, {
        method: "PUT",
        headers: { "content-type": "application/json", "x-api-key": apiKey },
        body: JSON.stringify({ enabled: true, host: broker.host, port: broker.port, ...BROKER_USER, baseTopic: base }),
      });
      expect(put.status).toBe(200);
      expect((await watch.next((m) => m.topic === `${base}/status`)).text).toBe("online");
      const state = await watch.next((m) => /\/state$/.test(m.topic) && JSON.parse(m.text).state === "operational", 20_000);
      expect(JSON.parse(state.text).connected).toBe(true);
    } finally {
      proc.kill("SIGINT");
      await proc.exited;
      await watch.close();
      await broker.stop();
    }
    // Options rather than a URL: no DEP0169 url.parse warning from the library.
    expect(await new Response(proc.stderr).text()).not.toContain("DEP0169");
  }, 60_000);

  test("arm64 answers HTTP under qemu-aarch64", async () => {
    const r = await runUntilAnswer(["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", arm64], 120_000);
    expect(r.version.version).toBe("9.9.9-test");
    expect(r.htmx.status).toBe(200);
    expect(r.printers.printers[0].state).toBe("operational");
  }, 150_000);
});
