/**
 * Cancelling an object in an SD card print, end to end through the real serial path: the host
 * copies a file with Marlin's M486 labels to the virtual printer's card (its own process on a
 * socat pty, logging every command it executes), prints it from the card, and cancels one object
 * by name mid-print. The printer's log shows that object's moves skipped from the cancel on, and
 * every move of the other objects run.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { layeredGcode } from "../helpers/gcode.ts";
import { jobEnded, upload } from "../helpers/host.ts";
import { startPtyPrinter, type PtyPrinter } from "./pty-printer.ts";

const PARTS = [
  { name: "cube_a", x: 20, y: 20 },
  { name: "cube_b", x: 60, y: 20 },
  { name: "cube_c", x: 100, y: 20 },
];

let printer: PtyPrinter;

beforeAll(async () => {
  // Moves take time (20× real time), so the print is under way when the cancel comes.
  printer = await startPtyPrinter({}, ["--time-scale", "20"]);
}, 30_000);

afterAll(() => printer?.close());

test("an object cancelled by name in an SD print stops extruding; the others print to the end", async () => {
  const { host, printer: id } = printer;
  const at = `/api/v1/printers/${id}`;
  const gcode = layeredGcode({ layers: 12, objects: PARTS, labels: "m486", loops: 2, feedrate: 1200 });
  expect((await upload(host, "parts.gcode", gcode)).status).toBe(201);
  await host.waitFor("/api/v1/files/parts.gcode", (f: any) => f.analysis?.state === "done");
  expect((await host.post(`${at}/sd/upload`, { file: "parts.gcode" })).status).toBe(202);
  const listed = await host.waitFor(at, (p: any) => p.sd.upload === null && p.sd.files.some((f: any) => f.longName === "parts.gcode"), 60_000);
  const card = listed.sd.files.find((f: any) => f.longName === "parts.gcode");

  expect((await host.post(`${at}/sd/print`, { name: card.name })).status).toBe(200);
  // A third of the way in, cube_b is cancelled by name.
  await host.waitFor(at, (p: any) => p.job?.objects.length === 3 && (p.progress?.completion ?? 0) > 30, 60_000);
  expect((await host.post(`${at}/job/cancel-object`, { name: "cube_b" })).status).toBe(200);
  const done = await host.waitFor(at, jobEnded, 120_000);
  expect(done.job.state).toBe("done");
  expect(done.job.objects).toEqual([
    { name: "cube_a", cancelled: false },
    { name: "cube_b", cancelled: true },
    { name: "cube_c", cancelled: false },
  ]);

  // The printer's own log: which object each executed move belonged to, and whether it was skipped.
  let object: string | null = null;
  const moves: { object: string | null; skipped: boolean; afterCancel: boolean }[] = [];
  let cancelled = false;
  for (const line of await printer.executed()) {
    if (line === "M486 P1") cancelled = true;
    const label = /^M486 S(-?\d+)/.exec(line);
    if (label) object = Number(label[1]) >= 0 ? PARTS[Number(label[1])]!.name : null;
    if (/^G1 X/.test(line) && object) moves.push({ object, skipped: line.endsWith("; skipped (cancelled object)"), afterCancel: cancelled });
  }
  expect(cancelled).toBe(true);
  const b = moves.filter((m) => m.object === "cube_b");
  expect(b.filter((m) => !m.afterCancel).length).toBeGreaterThan(10); // it printed before…
  expect(b.filter((m) => !m.afterCancel).every((m) => !m.skipped)).toBe(true);
  expect(b.filter((m) => m.afterCancel).length).toBeGreaterThan(10); // …and not after:
  expect(b.filter((m) => m.afterCancel).every((m) => m.skipped)).toBe(true);
  const others = moves.filter((m) => m.object !== "cube_b");
  expect(others.filter((m) => m.afterCancel).length).toBeGreaterThan(20);
  expect(others.every((m) => !m.skipped)).toBe(true);
  // Every layer of every object was read from the card: 12 layers × 3 objects × (1 travel + 8 sides).
  expect(moves.length).toBe(12 * 3 * 9);
}, 180_000);
