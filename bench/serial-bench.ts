/**
 * What the serial benchmarks share: the built binary (rebuilt when the sources are newer), socat
 * pty pairs, the instant-ok peer (bench/ok-peer.c, built with cc), a running host with a printer
 * on a pty, and CPU time read from /proc. Everything runs on 127.0.0.1 and stops by itself.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildTarget } from "../build.ts";
import { clean } from "../src/protocol/framing.ts";
import { setUpAdmin } from "../tests/helpers/host.ts";
import { createPtyPair } from "../tests/helpers/pty.ts";

export const ROOT = join(import.meta.dir, "..");
export const BINARY = join(ROOT, "dist/layerline-linux-x64");
export const TORUS = join(ROOT, "tests/fixtures/ps25_ender3_torus_0.20normal_pla.gcode");
export const START = "LLBENCH-START";
export const END = "LLBENCH-END";

function newestSource(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, name.name);
    newest = Math.max(newest, name.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** The x64 binary, built now if it is missing or older than the sources (LAYERLINE_BENCH_BINARY: another build, e.g. to compare). */
export async function binary(): Promise<string> {
  if (process.env.LAYERLINE_BENCH_BINARY) return process.env.LAYERLINE_BENCH_BINARY;
  const stale = !existsSync(BINARY) || ["src", "views", "public", "firmware-quirks"].some((d) => newestSource(join(ROOT, d)) > statSync(BINARY).mtimeMs);
  if (stale) {
    console.log("building dist/layerline-linux-x64 …");
    await buildTarget("x64");
  }
  return BINARY;
}

/** A scratch folder removed at exit. */
export function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "layerline-bench-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The instant-ok peer, compiled into `dir`. */
export function buildPeer(dir: string): string {
  const out = join(dir, "ok-peer");
  const cc = Bun.spawnSync(["cc", "-O2", "-o", out, join(import.meta.dir, "ok-peer.c")], { stderr: "pipe" });
  if (cc.exitCode !== 0) throw new Error(`cc failed: ${cc.stderr.toString()}`);
  return out;
}

/** A socat pty pair (the tests' helper). */
export const ptyPair = createPtyPair;

/**
 * CPU seconds (user + system) a process's threads have used, from each thread's schedstat (ns).
 * /proc/PID/stat counts in 10 ms ticks, ±10 % of a host's ~0.1 s for the file; a thread that ended
 * before the reading is not counted (none of the measured ones do).
 */
export function cpuSeconds(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return ns / 1e9;
}

/** The peer's markers as they arrive: resolves `started`/`ended` with the time and the line count. */
export interface PeerRun {
  started: Promise<{ ns: number; lines: number }>;
  ended: Promise<{ ns: number; lines: number }>;
  /** Every 250th line: when it arrived (unix ms) and how many had. */
  progress: { ms: number; lines: number }[];
  stop(): Promise<void>;
}

export function startPeer(peer: string, tty: string, onMarker?: (kind: "start" | "end") => void, advancedOk = false): PeerRun {
  const proc = Bun.spawn([peer, tty, START, END, ...(advancedOk ? ["advanced"] : [])], { stdout: "pipe", stderr: "inherit" });
  let resolveStart!: (v: { ns: number; lines: number }) => void;
  let resolveEnd!: (v: { ns: number; lines: number }) => void;
  const started = new Promise<{ ns: number; lines: number }>((r) => (resolveStart = r));
  const ended = new Promise<{ ns: number; lines: number }>((r) => (resolveEnd = r));
  const progress: PeerRun["progress"] = [];
  void (async () => {
    const decoder = new TextDecoder();
    const reader = proc.stdout.getReader();
    let buf = "";
    for (;;) {
      const { value: chunk, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(chunk);
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const [kind, ns, lines] = buf.slice(0, nl).split(" ");
        buf = buf.slice(nl + 1);
        if (kind === "p") progress.push({ ms: Number(ns) / 1e6, lines: Number(lines) });
        else if (kind === "start" || kind === "end") {
          onMarker?.(kind);
          (kind === "start" ? resolveStart : resolveEnd)({ ns: Number(ns), lines: Number(lines) });
        }
      }
    }
  })();
  return {
    started,
    ended,
    progress,
    async stop() {
      proc.kill();
      await proc.exited;
    },
  };
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

export interface RunningHost {
  url: string;
  pid: number;
  printer: string;
  /** The admin's full-scope key (the host is set up from loopback at start). */
  key: string;
  api(path: string, init?: RequestInit): Promise<Response>;
  json<T = any>(path: string, init?: RequestInit): Promise<T>;
  waitFor<T = any>(path: string, check: (body: T) => boolean, ms?: number): Promise<T>;
  stop(): Promise<void>;
}

/** The binary serving on a free port with one serial printer on `tty`. */
export async function startHost(bin: string, dir: string, tty: string, baud = 115200, extraArgs: string[] = []): Promise<RunningHost> {
  const port = freePort();
  const proc = Bun.spawn([bin, "--port", String(port), "--host", "127.0.0.1", "--data-dir", join(dir, `data-${port}`), "--serial", tty, "--baud", String(baud), ...extraArgs], {
    stdout: "ignore",
    stderr: "inherit",
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/api/v1/version`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 1000) throw new Error("the host did not start");
    await Bun.sleep(10);
  }
  // First run from loopback, as a headless install does it; then everything with the key.
  const key = await setUpAdmin(url);
  const api = (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set("x-api-key", key);
    return fetch(url + path, { ...init, headers });
  };
  const json = async (path: string, init?: RequestInit) => (await api(path, init)).json();
  const printer = (await json("/api/v1/printers")).printers[0].id as string;
  const waitFor = async <T>(path: string, check: (body: T) => boolean, ms = 600_000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const body = (await json(path)) as T;
      if (check(body)) return body;
      if (Date.now() > deadline) throw new Error(`timed out waiting on ${path}`);
      await Bun.sleep(50);
    }
  };
  return {
    url,
    pid: proc.pid,
    printer,
    key,
    api,
    json,
    waitFor,
    async stop() {
      proc.kill("SIGINT");
      await proc.exited;
    },
  };
}

/** Uploads `text` as `name`; with `analysed`, resolves once the host's analysis of it is done. */
export async function uploadFile(host: RunningHost, name: string, text: string | Blob, analysed = false): Promise<void> {
  const form = new FormData();
  form.append("file", typeof text === "string" ? new Blob([text]) : text, name);
  const up = await host.api("/api/v1/files", { method: "POST", body: form });
  if (up.status !== 201) throw new Error(`upload failed: ${up.status} ${await up.text()}`);
  if (analysed) await host.waitFor(`/api/v1/files/${name}`, (f: any) => f.analysis?.state === "done");
}

/** Uploads `text` as `name` and prints it; resolves when the job has ended. */
export async function printFile(host: RunningHost, name: string, text: string | Blob): Promise<any> {
  await uploadFile(host, name, text);
  return printUploaded(host, name);
}

/** Prints the uploaded file `name`; resolves when the job has ended. */
export async function printUploaded(host: RunningHost, name: string): Promise<any> {
  const job = await host.api(`/api/v1/printers/${host.printer}/job`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ file: name }),
  });
  if (job.status !== 200) throw new Error(`job failed to start: ${job.status} ${await job.text()}`);
  return host.waitFor(`/api/v1/printers/${host.printer}`, (p: any) => ["done", "cancelled", "failed"].includes(p.job?.state));
}

/** The benchmark file: the torus (`times` over) between the two markers. */
export async function benchFile(times = 1): Promise<string> {
  const torus = await Bun.file(TORUS).text();
  return `M117 ${START}\n${Array.from({ length: times }, () => torus).join("\n")}\nM117 ${END}\n`;
}

/** The lines of G-code a host sends from `text` (comments and blank lines are not sent). */
export function commandLines(text: string): number {
  return text.split("\n").filter((l) => clean(l) !== "").length;
}

/** The median of some numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}
