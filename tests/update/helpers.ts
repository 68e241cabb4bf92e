/**
 * Helpers for the self-update tests: a throwaway signing key, a release server on loopback,
 * signed manifests, real builds (including a variant built from a patched copy of the source),
 * and running the compiled binary from a temp folder.
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { closeSync, cpSync, mkdirSync, openSync, mkdtempSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { sha256File } from "../../src/update/download.ts";
import type { Handover } from "../../src/update/handover.ts";
import type { ReleaseManifest, Requirements, SignedRelease } from "../../src/update/manifest.ts";
import { signManifest } from "../../src/update/signature.ts";
import { setUpAdmin } from "../helpers/host.ts";
import { NOT_STARTED } from "../../src/update/watchdog.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

export interface KeyPair {
  publicKey: KeyObject;
  privateKey: KeyObject;
  /** The public key as a PEM file, for --update-public-key. */
  publicKeyFile: string;
}

/** A fresh Ed25519 key pair; the public half is written into `dir`. */
export function throwawayKey(dir: string): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const publicKeyFile = join(dir, `public-${crypto.randomUUID().slice(0, 6)}.pem`);
  writeFileSync(publicKeyFile, publicKey.export({ type: "spki", format: "pem" }));
  return { publicKey, privateKey, publicKeyFile };
}

/** A signed manifest for one linux-x64 file, with overrides for the tampering tests. */
export async function manifestFor(
  file: string,
  options: { version: string; key: KeyObject; requires?: Requirements; migration?: string; notes?: string; channel?: "stable" | "beta"; sha256?: string; size?: number; minimumVersion?: string },
): Promise<SignedRelease & { manifest: ReleaseManifest }> {
  const manifest: ReleaseManifest = {
    format: 1,
    name: "layerline",
    version: options.version,
    channel: options.channel ?? "stable",
    published: new Date().toISOString(),
    minimumVersion: options.minimumVersion ?? "0.0.0",
    notes: options.notes ?? `Layerline ${options.version}: what changed.`,
    ...(options.migration ? { migration: options.migration } : {}),
    targets: {
      "linux-x64": {
        file: "layerline-linux-x64",
        size: options.size ?? Bun.file(file).size,
        sha256: options.sha256 ?? (await sha256File(file)),
        ...(options.requires ? { requires: options.requires } : {}),
      },
    },
  };
  return signManifest(manifest, options.key);
}

type Route = { manifest: unknown } | { file: string; truncateAt?: number; stallAt?: number } | { bytes: Uint8Array };

/** A release server on 127.0.0.1 (port 0): routes are set per test. */
export class ReleaseServer {
  private readonly routes = new Map<string, Route>();
  private readonly server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 60,
    fetch: (req) => this.answer(new URL(req.url).pathname),
  });
  readonly url = `http://127.0.0.1:${this.server.port}`;

  /** Serves a release under `/<name>/`: its manifest (release.json) and binary (layerline-linux-x64). */
  publish(name: string, manifest: unknown, binary: Route): string {
    this.routes.set(`/${name}/release.json`, { manifest });
    this.routes.set(`/${name}/layerline-linux-x64`, binary);
    return `${this.url}/${name}/release.json`;
  }

  stop(): void {
    this.server.stop(true);
  }

  private answer(path: string): Response {
    const route = this.routes.get(path);
    if (!route) return new Response("not found", { status: 404 });
    if ("manifest" in route) return Response.json(route.manifest);
    if ("bytes" in route) return new Response(new Blob([route.bytes as Uint8Array<ArrayBuffer>]));
    const cut = route.truncateAt ?? route.stallAt;
    if (cut === undefined) return new Response(Bun.file(route.file));
    // Announces the whole file, sends the first part, then ends the body (a download cut short)
    // or sends nothing more (a server that stalls).
    const size = Bun.file(route.file).size;
    const part = Bun.file(route.file).slice(0, cut);
    const stream = new ReadableStream({
      async start(controller) {
        controller.enqueue(new Uint8Array(await part.arrayBuffer()));
        if (route.stallAt === undefined) controller.close();
      },
    });
    return new Response(stream, { headers: { "content-length": String(size) } });
  }
}

/**
 * Builds the x64 binary from a copy of the source tree changed by `patch` (given the copy's root),
 * e.g. a release with a broken migration. node_modules is linked, not copied.
 */
export async function buildVariant(outfile: string, version: string, patch: (root: string) => void): Promise<string> {
  mkdirSync(dirname(outfile), { recursive: true });
  // Next to the output, so it goes when the test's folder goes.
  const copy = mkdtempSync(join(dirname(outfile), "source-"));
  for (const entry of ["src", "views", "public", "firmware-quirks", "plugins", "package.json", "build.ts", "tsconfig.json"]) {
    cpSync(join(ROOT, entry), join(copy, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
  patch(copy);
  const { buildTarget } = (await import(join(copy, "build.ts"))) as typeof import("../../build.ts");
  return buildTarget("x64", { outfile, version });
}

/** A port that is free right now. */
export function freePort(): number {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

/** A compiled host running from its own folder, with its output in a log file. */
export interface RunningBinary {
  dir: string;
  binary: string;
  dataDir: string;
  url: string;
  log: string;
  proc: ReturnType<typeof Bun.spawn>;
  api(path: string, init?: RequestInit): Promise<Response>;
  post(path: string, body?: unknown): Promise<Response>;
  /** Polls GET path (JSON) until `check` accepts it; tolerates a host that is restarting. */
  waitFor<T = any>(path: string, check: (body: T) => boolean, ms?: number): Promise<T>;
  logText(): Promise<string>;
  /** Stops the process started here (not one the watchdog started later). */
  stop(): Promise<void>;
}

/** Copies `binary` into a new folder under `parent` as `layerline` and starts it on a fixed free port. */
export async function runBinary(parent: string, binary: string, extraArgs: string[] = []): Promise<RunningBinary> {
  const dir = mkdtempSync(join(parent, "host-"));
  const path = join(dir, "layerline");
  cpSync(binary, path);
  const dataDir = join(dir, "data");
  mkdirSync(dataDir);
  return startBinary(path, dataDir, extraArgs);
}

/** Starts the binary at `path` (its folder is the working folder) on `dataDir`, on a fixed free port. */
export async function startBinary(path: string, dataDir: string, extraArgs: string[] = []): Promise<RunningBinary> {
  const dir = dirname(path);
  const port = freePort();
  const log = join(dir, "host.log");
  const logFd = openSync(log, "a");
  const proc = Bun.spawn([path, "--port", String(port), "--host", "127.0.0.1", "--data-dir", dataDir, "--virtual-time-scale", "4", ...extraArgs], {
    cwd: dir,
    stdin: "ignore",
    stdout: logFd,
    stderr: logFd,
    // No INVOCATION_ID: unsupervised, so the watchdog restarts the previous version itself.
    env: { PATH: "/usr/bin:/bin", HOME: dir },
  });
  closeSync(logFd);
  const url = `http://127.0.0.1:${port}`;
  const api = (p: string, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    const key = apiKeys.get(dataDir);
    if (key) headers.set("x-api-key", key);
    return fetch(url + p, { ...init, headers, signal: AbortSignal.timeout(10_000) });
  };
  const host: RunningBinary = {
    dir,
    binary: path,
    dataDir,
    url,
    log,
    proc,
    api,
    post: (p, body) => api(p, { method: "POST", headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) }),
    async waitFor(p, check, ms = 60_000) {
      const deadline = Date.now() + ms;
      let last: unknown = "no answer";
      while (Date.now() < deadline) {
        try {
          last = await (await api(p)).json();
          if (check(last as never)) return last as never;
        } catch {
          // restarting
        }
        await Bun.sleep(100);
      }
      throw new Error(`timed out waiting on ${p}; last answer: ${JSON.stringify(last).slice(0, 600)}\n--- host log ---\n${await Bun.file(log).text()}`);
    },
    logText: () => Bun.file(log).text(),
    async stop() {
      proc.kill();
      await proc.exited;
    },
  };
  await host.waitFor("/api/v1/version", (b) => typeof b.version === "string", 30_000);
  if (!apiKeys.has(dataDir)) apiKeys.set(dataDir, await setUpAdmin(url));
  return host;
}

/** The admin's API key of each data folder set up here (a host started again on it keeps its accounts). */
const apiKeys = new Map<string, string>();

/** Processes (ours) whose executable lies under `dir`, by pid. */
export function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/exe`).startsWith(dir)) pids.push(Number(entry));
    } catch {
      // gone or not visible
    }
  }
  return pids;
}

/** Stops every process started from binaries under `dir` (hosts, restarted hosts, watchdogs). */
export async function stopProcessesUnder(dir: string): Promise<void> {
  for (const pid of processesUnder(dir)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await Bun.sleep(100);
}

/** A handover record for `binary` and `dataDir` (an update from 1.0.0 to `to`), with changes. */
export function handoverFor(binary: string, dataDir: string, to: string, change: Partial<Handover> = {}): Handover {
  return {
    phase: "restarting",
    from: "1.0.0",
    to,
    process: null,
    execPath: binary,
    databaseFile: join(dataDir, "layerline.sqlite"),
    backup: null,
    printers: [],
    argv: [],
    cwd: dirname(binary),
    selfTestSeconds: 30,
    startedAt: Date.now(),
    deadline: Date.now() + 60_000,
    stage: NOT_STARTED,
    reason: null,
    ...change,
  };
}
