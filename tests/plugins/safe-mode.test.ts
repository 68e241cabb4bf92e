/**
 * Safe mode: `--safe` loads no third-party plugin; and a plugin that takes the whole process down
 * at start (here: native code raising SIGKILL in setup, as a native crash would) can do it only three
 * times in a row — the next start is in safe mode by itself, and says why, naming the plugin.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beginStart, CRASHES_BEFORE_SAFE_MODE, noteStart, START_RECORD_FILE, startWasHealthy } from "../../src/plugins/safe-mode.ts";
import { setUpAdmin, startTestHost } from "../helpers/host.ts";
import { routeEntry, writePlugin } from "./helpers.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const PLUGINS = new URL("../../plugins", import.meta.url).pathname;
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "layerline-safe-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const record = (dataDir: string) => JSON.parse(readFileSync(join(dataDir, START_RECORD_FILE), "utf8"));

/** The URL a host process prints once it runs. */
async function urlOf(proc: Bun.Subprocess<"ignore", "pipe", "pipe">): Promise<string> {
  const reader = proc.stdout.getReader();
  let out = "";
  while (!/https?:\/\/\S+/.test(out)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`exited ${await proc.exited}: ${out} ${await new Response(proc.stderr).text()}`);
    out += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return /(https?:\/\/[^\s)]+)/.exec(out)![1]!.replace("localhost", "127.0.0.1");
}

test("--safe: installed plugins stay off (with the reason), bundled ones run; a start that lasts counts as healthy", async () => {
  const dataDir = tempDir();
  writePlugin(join(dataDir, "plugins"), { id: "third-party", entry: routeEntry("x") });
  const host = await startTestHost({ dataDir, safe: true, setup: false, plugins: { bundledDirs: [join(PLUGINS, "print-stats")], healthyAfterMs: 1000 } });
  try {
    // Read before the first-run setup (password hashing) can take longer than healthyAfterMs.
    expect(record(dataDir)).toMatchObject({ unfinished: 1 });
    const key = await setUpAdmin(host.url);
    const api = (path: string) => host.anonymous(path, { headers: { "x-api-key": key } });
    const body = (await (await api("/api/v1/plugins")).json()) as any;
    expect(body.safeMode).toEqual({ on: true, reason: "Safe mode (--safe): third-party plugins are not loaded." });
    const byId = Object.fromEntries(body.plugins.map((p: any) => [p.id, p]));
    expect(byId["third-party"]).toMatchObject({ state: "disabled", reason: "safe mode: third-party plugins are not loaded" });
    expect(byId["print-stats"]).toMatchObject({ state: "enabled" });
    expect(await (await api("/plugins")).text()).toContain("Safe mode (--safe)");
    const deadline = Date.now() + 10_000;
    while (record(dataDir).unfinished !== 0 && Date.now() < deadline) await Bun.sleep(50);
    expect(record(dataDir)).toMatchObject({ unfinished: 0 });
  } finally {
    await host.close();
  }
}, 30_000);

test("--safe is documented in --help", () => {
  const help = Bun.spawnSync(["bun", MAIN, "--help"]).stdout.toString();
  expect(help).toContain("--safe            safe mode: load no third-party plugins");
});

test(`after ${CRASHES_BEFORE_SAFE_MODE} starts that crash, the next one is in safe mode by itself`, async () => {
  const dir = tempDir();
  const dataDir = join(dir, "data");
  mkdirSync(dataDir);
  writePlugin(join(dataDir, "plugins"), {
    id: "crasher",
    // process.exit() and process.kill() would be refused (tests/plugins/process-exit.test.ts): native code cannot be.
    entry: `import { definePlugin } from "layerline";\nimport { dlopen } from "bun:ffi";\nexport default definePlugin({ setup() { dlopen("libc.so.6", { raise: { args: ["i32"], returns: "i32" } }).symbols.raise(9); } });`,
  });
  const serve = () =>
    Bun.spawn(["bun", MAIN, "--port", "0", "--host", "127.0.0.1", "--data-dir", dataDir, "--virtual-time-scale", "100"], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, HOME: dir } });
  for (let i = 1; i <= CRASHES_BEFORE_SAFE_MODE; i++) {
    const proc = serve();
    expect(await proc.exited).toBe(137);
    expect(record(dataDir)).toMatchObject({ unfinished: i, loading: "crasher" });
  }
  const proc = serve();
  // The first start that runs is the first run: its admin's key serves the later start too.
  let key = "";
  const api = (url: string, path: string, init: RequestInit = {}) => fetch(url + path, { ...init, headers: { "x-api-key": key } });
  try {
    const url = await urlOf(proc);
    key = await setUpAdmin(url);
    const body = (await (await api(url, "/api/v1/plugins")).json()) as any;
    expect(body.safeMode.on).toBe(true);
    expect(body.safeMode.reason).toBe(
      `Safe mode: the last ${CRASHES_BEFORE_SAFE_MODE} starts ended before Layerline had run for 60 s, so third-party plugins are not loaded this time. Layerline stopped while the plugin crasher was loading. Disable or uninstall it, then restart.`,
    );
    expect(await (await api(url, "/plugins")).text()).toContain("Layerline stopped while the plugin crasher was loading.");
    expect(body.plugins.find((p: any) => p.id === "crasher")).toMatchObject({ state: "disabled", reason: "safe mode: third-party plugins are not loaded" });
    expect(body.plugins.find((p: any) => p.id === "print-stats")).toMatchObject({ state: "enabled" });
    const notices = (await (await api(url, "/api/v1/plugins/notices")).json()) as any;
    expect(notices.notices[0]).toMatchObject({ level: "error", plugin: null });
    // Disabling the culprit in safe mode keeps it off once the host is back to normal.
    expect((await api(url, "/api/v1/plugins/crasher/disable", { method: "POST" })).status).toBe(200);
  } finally {
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(0);
  }
  expect(record(dataDir)).toEqual({ unfinished: 0, loading: null, faulted: null, suspects: [] }); // a clean stop
  const normal = serve();
  try {
    const url = await urlOf(normal);
    const body = (await (await api(url, "/api/v1/plugins")).json()) as any;
    expect(body.safeMode.on).toBe(false);
    expect(body.plugins.find((p: any) => p.id === "crasher")).toMatchObject({ state: "disabled" });
  } finally {
    normal.kill("SIGINT");
    await normal.exited;
  }
}, 60_000);

test("the reason names every plugin the unfinished starts stopped on: the one loading, else the last to fault", () => {
  const dataDir = tempDir();
  const start = () => beginStart(dataDir, false);
  start();
  noteStart(dataDir, { faulted: "flaky" });
  start();
  noteStart(dataDir, { loading: "heavy" });
  noteStart(dataDir, { faulted: "flaky" });
  start();
  expect(start()).toEqual({
    safe: true,
    automatic: true,
    reason: `Safe mode: the last ${CRASHES_BEFORE_SAFE_MODE} starts ended before Layerline had run for 60 s, so third-party plugins are not loaded this time. Layerline stopped after the plugin flaky faulted, and while the plugin heavy was loading. Disable or uninstall them, then restart.`,
  });
  startWasHealthy(dataDir);
  noteStart(dataDir, { loading: "heavy" }); // notes after a healthy start count for nothing
  expect(start()).toEqual({ safe: false, reason: null, automatic: false });
  expect(record(dataDir)).toMatchObject({ unfinished: 1, suspects: [] });
});
