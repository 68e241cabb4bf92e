/**
 * Plugins in the compiled x64 binary, run from an empty folder: the bundled plugins come out of
 * the binary and run (the G-code one in the printer's Worker too); a plugin installed from an
 * archive is TypeScript loaded at runtime, and reloads when its files change.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildTarget } from "../../build.ts";
import { setUpAdmin } from "../helpers/host.ts";
import { pluginArchive } from "./helpers.ts";

let dir: string;
let binary: string;
let proc: Bun.Subprocess<"ignore", "pipe", "pipe"> | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "layerline-plugin-bin-"));
  binary = await buildTarget("x64", { outfile: join(dir, "layerline-linux-x64"), version: "9.9.9-plugins" });
}, 180_000);
afterAll(async () => {
  proc?.kill();
  await proc?.exited;
  rmSync(dir, { recursive: true, force: true });
});

test("bundled and installed plugins run from the compiled binary", async () => {
  const cwd = mkdtempSync(join(dir, "run-"));
  const dataDir = join(cwd, "data");
  proc = Bun.spawn([binary, "--port", "0", "--host", "127.0.0.1", "--data-dir", dataDir], { cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin", HOME: cwd } });
  const reader = proc.stdout.getReader();
  let out = "";
  while (!/https?:\/\/\S+/.test(out)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`exited: ${out} ${await new Response(proc.stderr).text()}`);
    out += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const url = /(https?:\/\/[^\s)]+)/.exec(out)![1]!.replace("localhost", "127.0.0.1");
  const key = await setUpAdmin(url);
  const api = async (path: string, init: RequestInit = {}) => fetch(url + path, { ...init, headers: { "x-api-key": key } });
  const waitFor = async (path: string, check: (b: any) => boolean) => {
    let last: unknown;
    for (let i = 0; i < 200; i++) {
      last = await (await api(path)).json();
      if (check(last)) return last as any;
      await Bun.sleep(50);
    }
    throw new Error(`timed out on ${path}: ${JSON.stringify(last).slice(0, 400)}`);
  };

  // The bundled plugins: written out of the binary, loaded, the G-code one in the printer's Worker.
  const list = await waitFor("/api/v1/plugins", (b) => b.plugins.find((p: any) => p.id === "filament-change")?.printersRunning.length === 1);
  expect(Object.fromEntries(list.plugins.map((p: any) => [p.id, p.state]))).toEqual({ "filament-change": "enabled", "print-stats": "enabled", "webhook-notifier": "enabled" });
  expect(readdirSync(join(dataDir, "bundled-plugins")).sort()).toEqual(["filament-change", "print-stats", "webhook-notifier"]);
  expect(await (await api("/api/v1/plugins/print-stats/summary")).json()).toMatchObject({ total: { done: 0 } });

  // An installed plugin: TypeScript from the data folder, loaded by the binary at runtime.
  const entry = (value: string) => `import { definePlugin, type PluginContext } from "layerline";
interface Answer { value: string }
export default definePlugin({ setup(ctx: PluginContext) { ctx.route("GET", "/value", (): Answer => ({ value: ${JSON.stringify(value)} })); } });`;
  const form = new FormData();
  form.append("file", new Blob([pluginArchive({ id: "typed", entry: entry("first") }) as Uint8Array<ArrayBuffer>]), "typed.tgz");
  const installed = await api("/api/v1/plugins/install", { method: "POST", body: form });
  expect(installed.status).toBe(201);
  expect(await (await api("/api/v1/plugins/typed/value")).json()).toEqual({ value: "first" });
  writeFileSync(join(dataDir, "plugins", "typed", "index.ts"), entry("second"));
  await waitFor("/api/v1/plugins/typed/value", (b) => b.value === "second");
}, 60_000);
