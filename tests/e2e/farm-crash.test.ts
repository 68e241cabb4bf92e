/**
 * A farm copy interrupted by a crash is printed once: the host is killed with SIGKILL while a farm
 * copy prints on the first of two printers and started again on the same data folder. The copy
 * stays taken while its printer offers to resume it (the second printer, free and with a clear
 * bed, does not get it); resuming carries the same copy on to the end, and the entry leaves the
 * queue with one copy printed. Discarding the interrupted print instead puts the copy back.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { layeredGcode } from "../helpers/gcode.ts";
import { jobEnded, setUpAdmin, spawnServe, waitUntil } from "../helpers/host.ts";

const dataDir = mkdtempSync(join(tmpdir(), "layerline-farm-crash-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const startHost = () => spawnServe(dataDir, [], 20);

test("kill -9 while a farm copy prints: the copy waits for its printer's decision; resumed, it is printed once; discarded, it goes back", async () => {
  let { proc, url } = await startHost();
  const key = await setUpAdmin(url);
  const api = (path: string, init: RequestInit = {}) => fetch(url + path, { ...init, headers: { "x-api-key": key, "content-type": "application/json", ...init.headers } });
  const json = async (path: string) => (await (await api(path)).json()) as any;
  const first = ((await json("/api/v1/printers")).printers[0].id) as string;
  const printer = (id: string) => () => json(`/api/v1/printers/${id}`);
  await waitUntil(printer(first), (p) => p.state === "operational" && p.firmware !== null); // identified: the farm takes no work before
  expect((await api("/api/v1/printers", { method: "POST", body: JSON.stringify({ name: "Second", transport: "virtual" }) })).status).toBe(201);
  await waitUntil(printer("second"), (p) => p.state === "operational" && p.firmware !== null); // identified: the farm takes no work before
  const form = new FormData();
  form.append("file", new Blob([layeredGcode({ layers: 30, objects: [{ name: "a", x: 20, y: 20 }], size: 20, feedrate: 1200 })]), "part.gcode");
  expect((await fetch(`${url}/api/v1/files`, { method: "POST", body: form, headers: { "x-api-key": key } })).status).toBe(201);
  await waitUntil(() => json("/api/v1/files/part.gcode"), (f) => f.analysis?.state === "done");
  expect((await api("/api/v1/farm/queue", { method: "POST", body: JSON.stringify({ file: "part.gcode", copies: 1 }) })).status).toBe(201);
  await waitUntil(printer(first), (p) => (p.job?.layer?.current ?? 0) >= 6);
  await Bun.sleep(1_500); // a checkpoint (once a second) since that layer began
  proc.kill(9);
  await proc.exited;

  ({ proc, url } = await startHost());
  try {
    const back = await waitUntil(printer(first), (p) => p.state === "operational" && p.interrupted !== null);
    await waitUntil(printer("second"), (p) => p.state === "operational" && p.firmware !== null); // identified: the farm takes no work before
    const queued = await json("/api/v1/farm/queue");
    expect(queued.items[0]).toMatchObject({ file: "part.gcode", copies: 1, printing: 1, remaining: 0 });
    expect(queued.items[0].runs).toEqual([expect.objectContaining({ printer: first, interrupted: true })]);
    // The second printer is free and its bed clear: before, it took the copy at once.
    expect(queued.printers.find((p: any) => p.id === "second")).toMatchObject({ bed: "clear", busy: null });
    await Bun.sleep(1_500);
    expect((await printer("second")()).job).toBeNull();

    expect((await api(`/api/v1/printers/${first}/job/interrupted/resume`, { method: "POST" })).status).toBe(200);
    const running = await json("/api/v1/farm/queue");
    expect(running.items[0].runs).toEqual([expect.objectContaining({ printer: first, outcome: null, interrupted: false })]);
    const done = await waitUntil(printer(first), jobEnded, 120_000);
    expect(done.job).toMatchObject({ state: "done", resumedFrom: { jobId: back.interrupted.jobId } });
    const finished = await waitUntil(() => json("/api/v1/farm/queue"), (q) => q.items.length === 0);
    expect(finished.recent.map((r: any) => [r.printer, r.outcome])).toEqual([[first, "done"]]);
    expect((await printer("second")()).job).toBeNull();

    // Once more, and this time the interrupted print is discarded: the copy goes back to the queue.
    expect((await api(`/api/v1/printers/${first}/bed-cleared`, { method: "POST" })).status).toBe(200);
    expect((await api("/api/v1/printers/second/bed-cleared", { method: "POST" })).status).toBe(200);
    // Only the first printer may take it: the second gets a print of its own first.
    expect((await api("/api/v1/printers/second/job", { method: "POST", body: JSON.stringify({ file: "part.gcode" }) })).status).toBe(200);
    expect((await api("/api/v1/farm/queue", { method: "POST", body: JSON.stringify({ file: "part.gcode", copies: 1 }) })).status).toBe(201);
    await waitUntil(printer(first), (p) => (p.job?.layer?.current ?? 0) >= 4);
    await Bun.sleep(1_500);
    proc.kill(9);
    await proc.exited;
    ({ proc, url } = await startHost());
    await waitUntil(printer(first), (p) => p.state === "operational" && p.interrupted !== null);
    expect((await json("/api/v1/farm/queue")).items[0]).toMatchObject({ printing: 1, remaining: 0 });
    expect((await api(`/api/v1/printers/${first}/job/interrupted`, { method: "DELETE" })).status).toBe(204);
    const requeued = await waitUntil(() => json("/api/v1/farm/queue"), (q) => q.items[0]?.remaining === 1);
    expect(requeued.items[0].runs).toEqual([expect.objectContaining({ printer: first, outcome: "failed", interrupted: false })]);
  } finally {
    proc.kill(9);
    await proc.exited;
  }
}, 240_000);
