import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHost, type Host, type HostOptions } from "../../src/host.ts";

export const ADMIN = { username: "admin", password: "correct horse battery" };

export interface TestHost extends Host {
  dataDir: string;
  /** The full-scope API key of the admin created at setup ("" with `setup: false`). */
  apiKey: string;
  /** fetch() against the host, with the admin's API key unless the request names its own credentials. */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** fetch() with no credentials at all. */
  anonymous(path: string, init?: RequestInit): Promise<Response>;
  /** POST JSON. */
  post(path: string, body?: unknown): Promise<Response>;
  /** Polls `GET path` until `check` accepts the JSON body, or fails after `ms`. */
  waitFor<T = any>(path: string, check: (body: T) => boolean, ms?: number): Promise<T>;
  close(): Promise<void>;
}

export interface TestHostOptions extends Partial<HostOptions> {
  /** Complete first-run setup (create the admin and a key; on a data folder set up before, a new key); default true. */
  setup?: boolean;
}

/**
 * First-run setup of the host at `url`, as a headless install does it (POST /api/v1/setup from
 * loopback, or with the --setup-token): creates the admin and returns its full-scope API key.
 */
export async function setUpAdmin(url: string, setupToken?: string): Promise<string> {
  const res = await fetch(`${url}/api/v1/setup`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(setupToken ? { "x-setup-token": setupToken } : {}) },
    body: JSON.stringify(ADMIN),
  });
  if (res.status !== 201) throw new Error(`setup failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { apiKey: string }).apiKey;
}

/** A data folder set up before (a host started again on it): a new key for its admin, as `layerline apikey create` makes one. */
function existingAdminKey(host: Host): string {
  const admin = host.accounts.users.byName(ADMIN.username);
  if (!admin) throw new Error(`the data folder has no user "${ADMIN.username}" to make a key for`);
  return host.accounts.createKey(admin, { name: "tests", scope: "full" }).key;
}

/** A real host on 127.0.0.1 with a fresh data folder; the virtual printer runs instantly by default. */
export async function startTestHost(options: TestHostOptions = {}): Promise<TestHost> {
  const { setup = true, ...hostOptions } = options;
  const dataDir = hostOptions.dataDir ?? mkdtempSync(join(tmpdir(), "layerline-test-"));
  const host = await startHost({
    dataDir,
    port: 0,
    host: "127.0.0.1",
    virtual: { timeScale: 0 },
    log: () => {},
    ...hostOptions,
  });
  const apiKey = !setup ? "" : host.accounts.adminExists() ? existingAdminKey(host) : await setUpAdmin(host.url, hostOptions.setupToken);
  const anonymous = (path: string, init?: RequestInit) => fetch(host.url + path, init);
  const api = (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    const hasOwn = headers.has("x-api-key") || headers.has("authorization") || headers.has("cookie") || /[?&]apikey=/.test(path);
    if (apiKey && !hasOwn) headers.set("x-api-key", apiKey);
    return fetch(host.url + path, { ...init, headers });
  };
  return {
    ...host,
    dataDir,
    apiKey,
    api,
    anonymous,
    post: (path, body) =>
      api(path, { method: "POST", headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) }),
    async waitFor(path, check, ms = 20_000) {
      const deadline = Date.now() + ms;
      let last: unknown;
      while (Date.now() < deadline) {
        last = await (await api(path)).json();
        if (check(last as never)) return last as never;
        await Bun.sleep(25);
      }
      throw new Error(`timed out waiting on ${path}; last answer: ${JSON.stringify(last).slice(0, 500)}`);
    },
    async close() {
      await host.stop();
      if (!hostOptions.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Uploads a file through the native API. */
export async function upload(host: TestHost, name: string, content: Blob | string, folder?: string): Promise<Response> {
  const form = new FormData();
  form.append("file", typeof content === "string" ? new Blob([content]) : content, name);
  if (folder) form.append("path", folder);
  return host.api("/api/v1/files", { method: "POST", body: form });
}

/** A concrete URL for a registered route pattern, acting on `printer`. */
export function routeUrl(pattern: string, printer: string, rest = "x.gcode"): string {
  return pattern.replace(":printer", printer).replace(":id", printer).replace(":origin", "local").replace(/:[a-z_]+/g, "x").replace("*", rest);
}

/** A test host whose default printer is connected and idle, and that printer's id. */
export async function readyHost(options: TestHostOptions = {}): Promise<{ host: TestHost; printer: string }> {
  const host = await startTestHost(options);
  await host.waitFor("/api/job", (j: any) => j.state === "Operational");
  const printer = (await (await host.api("/api/v1/printers")).json()).printers[0].id as string;
  return { host, printer };
}

/** A host running as its own process (`bun src/main.ts`), for measuring it from outside. */
export interface HostProcess {
  url: string;
  pid: number;
  api(path: string, init?: RequestInit): Promise<Response>;
  /** Resident memory of the host process in bytes (VmRSS). */
  rss(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Spawns `layerline serve` (`bun src/main.ts`) on loopback with `dataDir` and `args` (the virtual
 * printer `timeScale` times real time); resolves once it printed its URL, draining its output after.
 */
export async function spawnServe(dataDir: string, args: string[] = [], timeScale = 100): Promise<{ proc: Bun.Subprocess<"ignore", "pipe", "inherit">; url: string }> {
  const main = new URL("../../src/main.ts", import.meta.url).pathname;
  const proc = Bun.spawn(["bun", main, "--port", "0", "--host", "127.0.0.1", "--data-dir", dataDir, "--virtual-time-scale", String(timeScale), ...args], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = proc.stdout.getReader();
  let out = "";
  while (!/https?:\/\/\S+/.test(out)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`host process exited before it was ready: ${out}`);
    out += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  void proc.stdout.pipeTo(new WritableStream()); // keep draining its output
  return { proc, url: /(https?:\/\/[^\s)]+)/.exec(out)![1]!.replace("localhost", "127.0.0.1") };
}

/** Starts `bun src/main.ts` on a fresh data folder, or on `dataDir` (removed by close() either way). */
export async function startHostProcess(args: string[] = [], dataDir = mkdtempSync(join(tmpdir(), "layerline-proc-"))): Promise<HostProcess> {
  const { proc, url } = await spawnServe(dataDir, args);
  const apiKey = await setUpAdmin(url);
  return {
    url,
    pid: proc.pid,
    api: (path, init = {}) => {
      const headers = new Headers(init.headers);
      headers.set("x-api-key", apiKey);
      return fetch(url + path, { ...init, headers });
    },
    async rss() {
      const status = await Bun.file(`/proc/${proc.pid}/status`).text();
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
    },
    async close() {
      proc.kill("SIGINT");
      await proc.exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Asks `get` every 100 ms until `ok` holds (a host process's API, say); throws with the last answer after `ms`. */
export async function waitUntil<T>(get: () => Promise<T>, ok: (v: T) => boolean, ms = 60_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > until) throw new Error(`timed out; last: ${JSON.stringify(v).slice(0, 600)}`);
    await Bun.sleep(100);
  }
}

/** For `waitFor` on a printer: its job has ended (done, cancelled or failed). */
export const jobEnded = (p: any): boolean => p.job?.state === "done" || p.job?.state === "cancelled" || p.job?.state === "failed";
