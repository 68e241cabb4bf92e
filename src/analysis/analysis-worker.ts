/**
 * The analysis Worker: reads one file at a time in 1 MiB chunks (one reused buffer, so memory is
 * flat for any size), feeds the pure analysis, reports progress and posts the result. It runs
 * off the main thread, so HTTP and the printers never wait for it. A paused job waits between
 * chunks (analysis can be limited to idle printers).
 */
import { open } from "node:fs/promises";
import { Analysis, AnalysisError } from "./analysis.ts";
import { METADATA_WINDOW } from "./metadata.ts";
import type { FromAnalyser, ToAnalyser } from "./worker-protocol.ts";

declare const self: Worker;

const CHUNK = 1024 * 1024;
const PROGRESS_MS = 200;

let paused = false;
let resume: (() => void) | null = null;
const cancelled = new Set<number>();
const jobs: Extract<ToAnalyser, { type: "analyse" }>[] = [];
let running = false;

const post = (msg: FromAnalyser) => self.postMessage(msg);

self.onmessage = (event: MessageEvent<ToAnalyser>) => {
  const msg = event.data;
  if (msg.type === "analyse") {
    jobs.push(msg);
    void drain();
  } else if (msg.type === "pause") paused = true;
  else if (msg.type === "resume") {
    paused = false;
    resume?.();
    resume = null;
  } else if (msg.type === "cancel") cancelled.add(msg.id);
};

async function drain(): Promise<void> {
  if (running) return;
  running = true;
  while (jobs.length > 0) await run(jobs.shift()!);
  running = false;
}

async function run(job: Extract<ToAnalyser, { type: "analyse" }>): Promise<void> {
  const started = performance.now();
  let size = 0;
  let mtime = 0;
  let sha256: string | null = null;
  let handle;
  try {
    handle = await open(job.path, "r");
    const st = await handle.stat();
    size = st.size;
    mtime = st.mtimeMs;
    const head = new Uint8Array(Math.min(size, METADATA_WINDOW));
    await handle.read(head, 0, head.length, 0);
    const tail = new Uint8Array(Math.min(size, METADATA_WINDOW));
    await handle.read(tail, 0, tail.length, size - tail.length);
    const analysis = new Analysis(head, tail, { limits: job.limits });
    const hasher = job.hash ? new Bun.CryptoHasher("sha256") : null;
    const buffer = new Uint8Array(CHUNK);
    let done = 0;
    let reported = performance.now();
    for (;;) {
      if (paused) await new Promise<void>((r) => (resume = r));
      if (cancelled.delete(job.id)) return;
      const { bytesRead } = await handle.read(buffer, 0, CHUNK, done);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      hasher?.update(chunk);
      analysis.push(chunk);
      done += bytesRead;
      const now = performance.now();
      if (now - reported >= PROGRESS_MS) {
        reported = now;
        post({ type: "progress", id: job.id, done, total: size });
      }
    }
    sha256 = hasher ? hasher.digest("hex") : null;
    const { result, thumbnails } = analysis.finish(performance.now() - started);
    post({ type: "result", id: job.id, sha256, size, mtime, result, thumbnails });
  } catch (e) {
    const error =
      e instanceof AnalysisError
        ? { code: e.code, message: e.message, hint: e.hint }
        : { code: "unreadable", message: `The file could not be analysed: ${(e as Error).message}`, hint: "If the file was changed or removed meanwhile, analyse it again." };
    post({ type: "error", id: job.id, sha256, size, mtime, error });
  } finally {
    await handle?.close();
  }
}
