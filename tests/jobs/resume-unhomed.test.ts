/**
 * Resuming an interrupted print on a printer that refuses to move an axis it has not homed
 * (Marlin's NO_MOTION_BEFORE_HOMING: `echo:Home XYZ First`). The host lifts the nozzle first
 * and sends nothing more until the printer has done it; the refusal stops the resume before
 * anything moves (no G28 X Y dragging the nozzle across the print, no file lines run in the
 * air), the job fails saying what happened and what to do, the heaters go off, and the
 * interrupted print stays on offer — so on a printer that allows it, it resumes as before.
 */
import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CheckpointStore } from "../../src/jobs/checkpoints.ts";
import type { VirtualPrinterOptionsInput } from "../../src/virtual/options.ts";
import { layeredGcode, unframe } from "../helpers/gcode.ts";
import { jobEnded, startTestHost, upload, type TestHost } from "../helpers/host.ts";

const dataDir = mkdtempSync(join(tmpdir(), "layerline-unhomed-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function start(virtual: VirtualPrinterOptionsInput): Promise<{ host: TestHost; id: string; at: string }> {
  const host = await startTestHost({ dataDir, virtual: { timeScale: 20, ...virtual } });
  const id = host.printers.default()!.id;
  const at = `/api/v1/printers/${id}`;
  await host.waitFor(at, (p: any) => p.state === "operational" && p.firmware !== null);
  return { host, id, at };
}

/** What the host sent to the printer since it connected, without line numbers and polls. */
async function sent(host: TestHost, at: string): Promise<string[]> {
  const trace = await (await host.api(`${at}/trace`)).text();
  return trace
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { dir: string; line: string })
    .filter((e) => e.dir === "send")
    .map((e) => unframe(e.line))
    .filter((l) => !/^M10[5]\b|^M27\b/.test(l));
}

test("a resume the printer refuses to lift stops before anything moves, explains, and stays on offer", async () => {
  // A print well under way, and its checkpoint as a crash would leave it behind.
  let { host, id, at } = await start({});
  const gcode = layeredGcode({ layers: 12, objects: [{ name: "a", x: 20, y: 20 }, { name: "b", x: 60, y: 20 }], size: 20, feedrate: 1200, heat: { tool: 200, bed: 55 } });
  expect((await upload(host, "layers.gcode", gcode)).status).toBe(201);
  await host.waitFor("/api/v1/files/layers.gcode", (f: any) => f.analysis?.state === "done");
  expect((await host.post(`${at}/job`, { file: "layers.gcode" })).status).toBe(200);
  await host.waitFor(at, (p: any) => (p.job?.layer?.current ?? 0) >= 4, 60_000);
  await Bun.sleep(1_200); // a checkpoint (once a second) since that layer began
  const checkpoint = host.jobs.interrupted(id)!;
  expect(checkpoint.layer).not.toBeNull();
  const dbFile = host.db.filename;
  await host.close();
  const db = new Database(dbFile);
  new CheckpointStore(db).save(id, checkpoint);
  db.close();

  // The printer came back from a power cut built with NO_MOTION_BEFORE_HOMING.
  ({ host, id, at } = await start({ noMotionBeforeHoming: true }));
  try {
    const back = await host.waitFor(at, (p: any) => p.interrupted !== null);
    expect(back.interrupted).toMatchObject({ file: "layers.gcode", resumable: true });
    expect((await host.post(`${at}/job/interrupted/resume`)).status).toBe(200);
    const failed = await host.waitFor(at, jobEnded, 60_000);
    expect(failed.job.state).toBe("failed");
    expect(failed.job.reason).toContain('refused to lift the nozzle off the print ("echo:Home XYZ First")');
    expect(failed.job.reason).toContain("NO_MOTION_BEFORE_HOMING");
    expect(failed.job.reason).toContain("take the print off the bed and start it again");
    // Still on offer, as it was.
    expect(failed.interrupted).toMatchObject({ jobId: checkpoint.jobId, resumable: true, layer: { current: checkpoint.layer!.index + 1 } });
    expect(host.jobs.interrupted(id)?.jobId).toBe(checkpoint.jobId);

    // The lift went out, then nothing that moves: heaters off (the failure script).
    const lines = await sent(host, at);
    const lift = lines.indexOf("G1 Z2 F600");
    expect(lift).toBeGreaterThan(0);
    expect(lines).not.toContain("G28 X Y");
    const after = lines.slice(lift + 1);
    expect(after.filter((l) => /^G[0-3]\b/.test(l))).toEqual([]);
    expect(after).toContain("M104 S0");
    expect(after).toContain("M140 S0");
    // Nothing of the file went out either.
    expect(after.some((l) => /^G1 X/.test(l))).toBe(false);
  } finally {
    await host.close();
  }

  // The same interrupted print on a printer that moves before homing: it resumes and finishes.
  ({ host, id, at } = await start({}));
  try {
    await host.waitFor(at, (p: any) => p.interrupted?.jobId === checkpoint.jobId);
    expect((await host.post(`${at}/job/interrupted/resume`)).status).toBe(200);
    const done = await host.waitFor(at, jobEnded, 90_000);
    expect(done.job.state).toBe("done");
    expect(done.job.resumedFrom.layer).toBe(checkpoint.layer!.index);
    expect(await sent(host, at)).toContain("G28 X Y");
  } finally {
    await host.close();
  }
}, 240_000);
