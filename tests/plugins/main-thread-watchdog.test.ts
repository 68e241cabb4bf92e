/**
 * The main thread's watchdog, for real: `layerline serve` runs a plugin whose route never returns,
 * which stops the web interface and the API. The watchdog notices, writes the plugin down, waits
 * for a running print to end, and starts Layerline again in place (the same process); the next
 * start disables the plugin and says why, and a print that ended meanwhile is in the history as it
 * ended — not offered as interrupted.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setUpAdmin, waitUntil } from "../helpers/host.ts";
import { writePlugin } from "./helpers.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const LOOPER = `import { definePlugin } from "layerline";
export default definePlugin({
  setup(ctx) {
    ctx.route("GET", "/ok", () => ({ ok: true }));
    ctx.route("GET", "/spin", () => { for (;;) {} });
  },
});
`;

/** A host process with the looping plugin installed, and what it prints. */
async function startHost(entry = LOOPER) {
  const dataDir = mkdtempSync(join(tmpdir(), "layerline-hang-"));
  dirs.push(dataDir);
  writePlugin(join(dataDir, "plugins"), { id: "looper", entry });
  const proc = Bun.spawn(["bun", MAIN, "--port", "0", "--host", "127.0.0.1", "--data-dir", dataDir, "--virtual-time-scale", "20", "--plugin-hang-seconds", "2"], {
    stdout: "pipe",
    stderr: "pipe",
  });
  let out = "";
  let err = "";
  void drain(proc.stdout, (text) => (out += text));
  void drain(proc.stderr, (text) => (err += text));
  /** The address of the `n`-th start (1: the first; each start prints its own, the port being 0). */
  const started = async (n: number, ms = 60_000): Promise<string> => {
    const until = Date.now() + ms;
    for (;;) {
      const urls = [...out.matchAll(/is running on (https?:\/\/[^\s)]+)/g)].map((m) => m[1]!.replace("localhost", "127.0.0.1"));
      if (urls.length >= n) return urls[n - 1]!;
      if (proc.exitCode !== null) throw new Error(`the host exited (${proc.exitCode}): ${out}\n${err}`);
      if (Date.now() > until) throw new Error(`no start number ${n}: ${out}\n${err}`);
      await Bun.sleep(50);
    }
  };
  return { proc, started, stderr: () => err };
}

async function drain(stream: ReadableStream<Uint8Array>, add: (text: string) => void): Promise<void> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  for (let r = await reader.read(); !r.done; r = await reader.read()) add(decoder.decode(r.value, { stream: true }));
}

const client = (key: string) => (url: string, path: string, init: RequestInit = {}) =>
  fetch(url + path, { ...init, headers: { "x-api-key": key, "content-type": "application/json", ...init.headers } });

test("a route that never returns: the plugin is disabled and Layerline starts again in place, answering again", async () => {
  const host = await startHost();
  try {
    const first = await host.started(1);
    const api = client(await setUpAdmin(first));
    expect(await (await api(first, "/api/v1/plugins/looper/ok")).json()).toEqual({ ok: true });
    // The request never gets an answer: the main thread loops in the plugin.
    void api(first, "/api/v1/plugins/looper/spin", { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
    const second = await host.started(2);
    expect(host.proc.exitCode).toBeNull(); // the same process, started again by execve
    const plugins = (await (await api(second, "/api/v1/plugins")).json()) as any;
    const looper = plugins.plugins.find((p: any) => p.id === "looper");
    expect(looper.state).toBe("disabled");
    expect(looper.reason).toContain("its route never returned");
    expect(host.stderr()).toContain("the plugin looper has not returned from its route");
    // Enabled again by a person, it works until it is asked to spin.
    expect((await api(second, "/api/v1/plugins/looper/enable", { method: "POST" })).status).toBe(200);
    expect(await (await api(second, "/api/v1/plugins/looper/ok")).json()).toEqual({ ok: true });
  } finally {
    host.proc.kill("SIGKILL");
    await host.proc.exited;
  }
}, 90_000);

test("a print running when the main thread got stuck ends first; it is in the history as done, not offered as interrupted", async () => {
  const host = await startHost();
  try {
    const first = await host.started(1);
    const key = await setUpAdmin(first);
    const api = client(key);
    const printer = async (url: string) => {
      const id = ((await (await api(url, "/api/v1/printers")).json()) as any).printers[0].id as string;
      return (await (await api(url, `/api/v1/printers/${id}`)).json()) as any;
    };
    const id = (await waitUntil(() => printer(first), (p) => p.state === "operational")).id as string;
    // About 8 s of moves at 20× real time: the print outlasts the 2 s the watchdog waits.
    const moves = Array.from({ length: 160 }, (_, i) => `G1 X${i % 2 ? 100 : 0} F6000`).join("\n");
    const form = new FormData();
    form.append("file", new Blob([`G28\nG90\n${moves}\n`]), "long.gcode");
    expect((await fetch(`${first}/api/v1/files`, { method: "POST", body: form, headers: { "x-api-key": key } })).status).toBe(201);
    expect((await api(first, `/api/v1/printers/${id}/job`, { method: "POST", body: JSON.stringify({ file: "long.gcode" }) })).status).toBe(200);
    await waitUntil(() => printer(first), (p) => p.job?.state === "printing", 30_000);
    void api(first, "/api/v1/plugins/looper/spin", { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
    const until = Date.now() + 30_000;
    while (!host.stderr().includes("a print or an upload is running") && Date.now() < until) await Bun.sleep(50);
    expect(host.stderr()).toContain("Layerline starts again once it has ended");
    const second = await host.started(2);
    expect(host.proc.exitCode).toBeNull();
    const back = await waitUntil(() => printer(second), (p) => p.state === "operational");
    expect(back.interrupted).toBeNull();
    const history = (await (await api(second, `/api/v1/history?printer=${id}`)).json()) as any;
    expect(history.items[0]).toMatchObject({ file: "long.gcode", outcome: "done" });
    expect(typeof history.items[0].endedAt).toBe("number");
  } finally {
    host.proc.kill("SIGKILL");
    await host.proc.exited;
  }
}, 120_000);

test("a module that loops when it is loaded: the start goes through without it the second time", async () => {
  const host = await startHost(`for (;;) {}\nexport default {};\n`);
  try {
    // The first start never gets as far as printing its address: plugins load before it is ready.
    const url = await host.started(1);
    expect(host.stderr()).toContain("the plugin looper has not returned from its module code at load");
    expect(host.proc.exitCode).toBeNull();
    const api = client(await setUpAdmin(url));
    const plugins = (await (await api(url, "/api/v1/plugins")).json()) as any;
    expect(plugins.plugins.find((p: any) => p.id === "looper")).toMatchObject({ state: "disabled" });
    expect(plugins.plugins.find((p: any) => p.id === "looper").reason).toContain("its module code at load never returned");
  } finally {
    host.proc.kill("SIGKILL");
    await host.proc.exited;
  }
}, 90_000);
