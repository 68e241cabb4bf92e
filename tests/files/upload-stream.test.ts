/**
 * Uploads are streamed to disk: a body of over 2 GB (past 2^31 bytes, where 32-bit sizes would
 * break) generated on the fly does not grow the host's memory, and an upload cut off mid-stream leaves no file and no temporary file.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { startHostProcess, startTestHost, type HostProcess, type TestHost } from "../helpers/host.ts";

let host: TestHost;
/** The memory test measures a host in its own process, so the client's buffers do not count. */
let separate: HostProcess;
beforeAll(async () => {
  host = await startTestHost();
  separate = await startHostProcess();
  // The analysis of the big file is not what this test is about.
  for (const h of [host, separate]) {
    await h.api("/api/v1/analysis/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ onlyWhenIdle: false }) });
  }
}, 30_000);
afterAll(async () => {
  await host.close();
  await separate.close();
});

const BOUNDARY = "----layerline-stream-test";
const enc = new TextEncoder();

/** A multipart body of `megabytes` of G-code made on the fly from one reused 64 KiB block. */
function generatedUpload(name: string, megabytes: number, stopAfter = Infinity, onStop?: () => void): ReadableStream<Uint8Array> {
  const lines: string[] = [];
  for (let i = 0; lines.join("\n").length < 70_000; i++) lines.push(`G1 X${(i % 200) + 0.5} Y${(i * 7) % 200}.25 E0.04213`);
  const block = enc.encode(lines.join("\n").slice(0, 64 * 1024 - 1) + "\n");
  const total = megabytes * 1024 * 1024;
  let sent = -1;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      if (sent < 0) {
        sent = 0;
        c.enqueue(enc.encode(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: text/x.gcode\r\n\r\nM83\nG1 Z0.2 F1200\n`));
      } else if (sent >= stopAfter) {
        await Bun.sleep(200);
        onStop?.();
      } else if (sent < total) {
        c.enqueue(block);
        sent += block.length;
      } else {
        c.enqueue(enc.encode(`\r\n--${BOUNDARY}--\r\n`));
        c.close();
      }
    },
  });
}

const post = (body: ReadableStream<Uint8Array>, signal?: AbortSignal, to: { api: TestHost["api"] } = host) =>
  to.api("/api/v1/files", {
    method: "POST",
    body,
    signal,
    headers: { "content-type": `multipart/form-data; boundary=${BOUNDARY}` },
    // @ts-expect-error Bun streams a ReadableStream request body
    duplex: "half",
  });

test("a 2 GB upload streams to disk with bounded memory", async () => {
  const before = await separate.rss();
  let peak = before;
  const sampler = setInterval(async () => (peak = Math.max(peak, await separate.rss())), 20);
  try {
    const res = await post(generatedUpload("big.gcode", 2049), undefined, separate);
    clearInterval(sampler);
    expect(res.status).toBe(201);
    const stored = await res.json();
    expect(stored.size).toBeGreaterThan(2 ** 31);
    expect(stored.sha256).toMatch(/^[0-9a-f]{64}$/);
    const growth = (peak - before) / 1024 / 1024;
    console.log(`upload of ${(stored.size / 1024 / 1024).toFixed(0)} MB: resident memory ${(before / 1024 / 1024).toFixed(0)} MB before, grew by ${growth.toFixed(1)} MB at most`);
    // Only the host process is measured: chunks awaiting the GC, never the body.
    expect(growth).toBeLessThan(120);
  } finally {
    clearInterval(sampler);
    await separate.api("/api/v1/files/big.gcode", { method: "DELETE" });
  }
}, 180_000);

test("an upload cut off mid-stream leaves nothing behind", async () => {
  const controller = new AbortController();
  const res = post(generatedUpload("partial.gcode", 50, 8 * 1024 * 1024, () => controller.abort()), controller.signal);
  await expect(res).rejects.toThrow();
  // The server notices the closed connection and removes the temporary file.
  const filesDir = join(host.dataDir, "files");
  const deadline = Date.now() + 10_000;
  while (readdirSync(filesDir).length > 0 && Date.now() < deadline) await Bun.sleep(50);
  expect(readdirSync(filesDir)).toEqual([]);
  const { files } = await (await host.api("/api/v1/files")).json();
  expect(files).toEqual([]);
}, 30_000);
