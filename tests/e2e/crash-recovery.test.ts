/**
 * Crash recovery, for real: a host process prints a layered file on each of two virtual printers,
 * is killed with SIGKILL mid-print, and started again on the same data folder. The next start
 * shows each printer's own interrupted print, and the history says when and where each stopped;
 * resuming one sends the recovery prologue and then the file from the first line of the layer it
 * was printing — read back from the serial log the host wrote — and leaves the other's alone.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clean } from "../../src/protocol/framing.ts";
import { layeredGcode, unframe } from "../helpers/gcode.ts";
import { jobEnded, setUpAdmin, spawnServe, waitUntil } from "../helpers/host.ts";

const dataDir = mkdtempSync(join(tmpdir(), "layerline-crash-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const startHost = () => spawnServe(dataDir, [], 20);

test("kill -9 mid-print on two printers, start again: each print is reported, one resumes from the start of its layer", async () => {
  const LAYERS = 30;
  const gcode = layeredGcode({ layers: LAYERS, objects: [{ name: "a", x: 20, y: 20 }, { name: "b", x: 60, y: 20 }], size: 20, feedrate: 1200, heat: { tool: 200, bed: 55 } });
  let { proc, url } = await startHost();
  const key = await setUpAdmin(url);
  const api = (path: string, init: RequestInit = {}) => fetch(url + path, { ...init, headers: { "x-api-key": key, "content-type": "application/json", ...init.headers } });
  const printerById = async (id: string) => (await (await api(`/api/v1/printers/${id}`)).json()) as any;
  const printer = async () => printerById(((await (await api("/api/v1/printers")).json()) as any).printers[0].id as string);
  const id = (await waitUntil(printer, (p) => p.state === "operational")).id as string;
  // A second printer on the same host prints a file of its own.
  expect((await api("/api/v1/printers", { method: "POST", body: JSON.stringify({ name: "Second", transport: "virtual" }) })).status).toBe(201);
  const second = () => printerById("second");
  await waitUntil(second, (p) => p.state === "operational");
  const other = layeredGcode({ layers: 40, objects: [{ name: "c", x: 100, y: 100 }], size: 30, feedrate: 1200 });

  for (const [name, text] of [["layers.gcode", gcode], ["other, \"big\".gcode", other]] as const) {
    const form = new FormData();
    form.append("file", new Blob([text]), name);
    expect((await fetch(`${url}/api/v1/files`, { method: "POST", body: form, headers: { "x-api-key": key } })).status).toBe(201);
    await waitUntil(async () => (await (await api(`/api/v1/files/${encodeURIComponent(name)}`)).json()) as any, (f) => f.analysis?.state === "done");
  }
  expect((await api(`/api/v1/printers/${id}/job`, { method: "POST", body: JSON.stringify({ file: "layers.gcode" }) })).status).toBe(200);
  expect((await api("/api/v1/printers/second/job", { method: "POST", body: JSON.stringify({ file: 'other, "big".gcode' }) })).status).toBe(200);
  // Well into the print, and a checkpoint (once a second) written since that layer began.
  const running = await waitUntil(printer, (p) => (p.job?.layer?.current ?? 0) >= 8);
  expect(running.job.state).toBe("printing");
  await waitUntil(second, (p) => (p.job?.layer?.current ?? 0) >= 4);
  await Bun.sleep(1_500);
  proc.kill(9);
  await proc.exited;

  ({ proc, url } = await startHost());
  try {
    const back = await waitUntil(printer, (p) => p.state === "operational" && p.interrupted !== null);
    const secondBack = await waitUntil(second, (p) => p.state === "operational" && p.interrupted !== null);
    expect(secondBack.interrupted).toMatchObject({ file: 'other, "big".gcode', resumable: true });
    expect(secondBack.interrupted.jobId).not.toBe(back.interrupted.jobId);
    // The history keeps when, how far and where each print stopped (from its last checkpoint).
    const cut = ((await (await api("/api/v1/history")).json()) as any).items;
    expect(cut).toHaveLength(2);
    for (const [p, i] of [[id, back.interrupted], ["second", secondBack.interrupted]] as const) {
      const row = cut.find((e: any) => e.printer === p);
      expect(row).toMatchObject({ jobId: i.jobId, file: i.file, outcome: "failed", endedAt: i.at });
      expect(row.printTime).toBeGreaterThan(0);
      expect(row.filament).toBeGreaterThan(0);
      expect(row.reason).toContain(`It stopped at layer ${i.layer.current} of ${i.layer.count}`);
    }
    expect(back.job).toBeNull();
    const interrupted = back.interrupted;
    expect(interrupted).toMatchObject({ file: "layers.gcode", source: "host", resumable: true, reason: null });
    expect(interrupted.layer.current).toBeGreaterThanOrEqual(8);
    expect(interrupted.layer.current).toBeLessThan(LAYERS);
    expect((await api(`/api/v1/printers/${id}/job/interrupted`)).status).toBe(200);

    expect((await api(`/api/v1/printers/${id}/job/interrupted/resume`, { method: "POST" })).status).toBe(200);
    const resumed = await waitUntil(printer, (p) => p.job !== null);
    expect(resumed.interrupted).toBeNull();
    expect(resumed.job.resumedFrom.layer).toBe(interrupted.layer.current - 1);
    const done = await waitUntil(printer, jobEnded, 120_000);
    expect(done.job.state).toBe("done");
    expect((await api(`/api/v1/printers/${id}/job/interrupted`)).status).toBe(404);
    // The other printer's interrupted print is still offered; the history has the resumed print too.
    expect((await second()).interrupted).toMatchObject({ jobId: secondBack.interrupted.jobId, resumable: true });
    const rows = ((await (await api(`/api/v1/history?printer=${id}`)).json()) as any).items;
    expect(rows.map((e: any) => [e.outcome, e.resumed])).toEqual([["done", true], ["failed", false]]);
    // The two parts are linked, and the file's statistics count the print once, as done.
    expect(rows[0].resumedFrom).toBe(rows[1].id);
    expect(rows[1].resumedAs).toBe(rows[0].id);
    const stats = (await (await api(`/api/v1/history/stats?sha256=${rows[0].sha256}&printer=${id}`)).json()) as any;
    expect(stats).toMatchObject({ prints: 1, successes: 1, failures: 0 });
    expect(stats.averagePrintTime).toBeCloseTo(rows[0].printTime + rows[1].printTime, 5);

    // What was sent after the restart: the prologue, then the file from the layer's first line on.
    const log = await (await api(`/api/v1/printers/${id}/trace?source=log`)).text();
    const sent = log
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { dir: string; line: string })
      .filter((e) => e.dir === "send")
      .map((e) => unframe(e.line))
      // The connect sequence may still be going out when the resume starts (it waits for the lift).
      .filter((l) => !/^(M115|M155|M154|M27 S\d|M876 P1|M21|M20|M503)\b/.test(l));
    const homed = sent.lastIndexOf("G28 X Y");
    expect(homed).toBeGreaterThan(0);
    const before = sent.slice(homed - 8, homed);
    expect(before).toEqual(["M140 S55", "M104 T0 S200", "M190 S55", "M109 T0 S200", expect.stringMatching(/^G92 Z[\d.]+$/), "G91", "G1 Z2 F600", "G90"]);
    const z = String(Number((interrupted.layer.current * 0.2).toFixed(3))); // as G-code writes it: 2, 1.8
    expect(sent.slice(homed + 1, homed + 7)).toEqual([`G1 Z${z} F600`, "M83", "G1 E2 F300", "M82", expect.stringMatching(/^G92 E[\d.]+$/), "M106 S255"]);
    // The file from the layer's `G1 Z` on, each line once, to the end (skipping the feed-rate line).
    const fileLines = gcode.split("\n").map(clean).filter(Boolean);
    const layerStart = fileLines.indexOf(`G1 Z${(interrupted.layer.current * 0.2).toFixed(3)} F600`);
    expect(layerStart).toBeGreaterThan(0);
    const afterPrologue = sent.slice(homed + 1).filter((l) => !/^M10[5]\b|^M27\b/.test(l));
    const resumedAt = afterPrologue.indexOf(fileLines[layerStart]!);
    expect(resumedAt).toBeGreaterThan(0);
    expect(afterPrologue.slice(resumedAt, resumedAt + fileLines.length - layerStart)).toEqual(fileLines.slice(layerStart));
  } finally {
    proc.kill("SIGINT");
    await proc.exited;
  }
}, 180_000);
