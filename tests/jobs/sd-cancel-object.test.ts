/**
 * Cancelling an object in a print the firmware runs from its SD card, through the native API on
 * a real host: the host maps the name to the firmware's label (from the analysis of the file it
 * copied to the card, or of a host file of the same name and size) and sends the firmware's own
 * command (Marlin M486, Klipper EXCLUDE_OBJECT); where the firmware or the file cannot do it,
 * a clear refusal says why and what would make it possible.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { layeredGcode } from "../helpers/gcode.ts";
import { startTestHost, upload, type TestHost } from "../helpers/host.ts";
import type { VirtualPrinterOptionsInput } from "../../src/virtual/options.ts";

const PARTS = [
  { name: "cube_a", x: 20, y: 20 },
  { name: "cube_b", x: 60, y: 20 },
  { name: "cube_c", x: 100, y: 20 },
];
const gcode = (labels: "m486" | "exclude_object" | "comment") => layeredGcode({ layers: 30, objects: PARTS, labels, loops: 2, feedrate: 1200 });

let host: TestHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
});

/** A host whose virtual printer runs 20× real time, with `name` uploaded and analysed. */
async function setUp(virtual: VirtualPrinterOptionsInput, name: string, content: string) {
  host = await startTestHost({ virtual: { timeScale: 20, ...virtual } });
  const id = host.printers.default()!.id;
  const at = `/api/v1/printers/${id}`;
  await host.waitFor(at, (p: any) => p.state === "operational" && p.firmware !== null && p.sd.available);
  expect((await upload(host, name, content)).status).toBe(201);
  await host.waitFor(`/api/v1/files/${name}`, (f: any) => f.analysis?.state === "done");
  return { h: host, at };
}

/** Copies `name` to the card through the host (M28/M29), as `cardName`, and starts printing it from there. */
async function copyAndPrint(h: TestHost, at: string, name: string, cardName = name) {
  expect((await h.post(`${at}/sd/upload`, { file: name, name: cardName })).status).toBe(202);
  await h.waitFor(at, (p: any) => p.sd.upload === null && p.sd.files.some((f: any) => f.longName === cardName), 30_000);
  const card = ((await (await h.api(at)).json()) as any).sd.files.find((f: any) => f.longName === cardName);
  expect((await h.post(`${at}/sd/print`, { name: card.name })).status).toBe(200);
  return h.waitFor(at, (p: any) => p.job?.source === "sd" && p.job.state === "printing" && p.job.objects.length === 3 && (p.progress?.bytesSent ?? 0) > 0);
}

/** Asks to cancel `name` and expects a 409 refusal; returns its error. */
async function refused(h: TestHost, at: string, name: string) {
  const res = await h.post(`${at}/job/cancel-object`, { name });
  expect(res.status).toBe(409);
  return ((await res.json()) as any).error as { code: string; message: string; hint: string };
}

const sent = async (h: TestHost, at: string) => ((await (await h.api(`${at}/terminal`)).json()) as { lines: { dir: string; text: string }[] }).lines;

describe("cancelling an object in an SD print", () => {
  test("Marlin with CANCEL_OBJECTS: the object's index goes out as M486 P; the job shows it cancelled", async () => {
    const { h, at } = await setUp({}, "parts.gcode", gcode("m486"));
    // Under another name on the card: the host knows it by where it copied it from.
    const printing = await copyAndPrint(h, at, "parts.gcode", "plate-7.gcode");
    expect(printing.job.objects.map((o: any) => o.name)).toEqual(["cube_a", "cube_b", "cube_c"]);
    const sha = ((await (await h.api("/api/v1/files/parts.gcode")).json()) as any).sha256;
    expect(printing.job.sha256).toBe(sha); // the analysis of the file it was copied from
    expect(printing.job.layer).toBeNull(); // its comments stayed behind: no layers from the analysis

    const res = await h.post(`${at}/job/cancel-object`, { name: "cube_b" });
    expect(res.status).toBe(200);
    const after = await h.waitFor(at, (p: any) => p.job.objects.some((o: any) => o.name === "cube_b" && o.cancelled));
    expect(after.job.objects.filter((o: any) => o.cancelled).map((o: any) => o.name)).toEqual(["cube_b"]);
    expect(after.job.state).toBe("printing");
    const lines = await sent(h, at);
    expect(lines.some((l) => l.dir === "send" && /\bM486 P1\b/.test(l.text))).toBe(true);
    // The firmware's own report confirms it.
    expect(lines.some((l) => l.dir === "recv" && /Canceled: 1$/.test(l.text))).toBe(true);
    // Cancelling it again is harmless; an unknown name is a 404 listing the objects.
    expect((await h.post(`${at}/job/cancel-object`, { name: "cube_b" })).status).toBe(200);
    const unknown = await h.post(`${at}/job/cancel-object`, { name: "cube_z" });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as any).error.hint).toContain("cube_a, cube_b, cube_c");
    expect((await h.post(`${at}/job/cancel`)).status).toBe(200);
  }, 60_000);

  test("Marlin without CANCEL_OBJECTS: refused, saying why and what would make it possible", async () => {
    const { h, at } = await setUp({ cancelObjects: false }, "parts.gcode", gcode("m486"));
    await copyAndPrint(h, at, "parts.gcode");
    const error = await refused(h, at, "cube_b");
    expect(error.code).toBe("not_supported");
    expect(error.message).toContain("CANCEL_OBJECTS");
    expect(error.hint).toContain("host's files");
    const status = (await (await h.api(at)).json()) as any;
    expect(status.job.objects.every((o: any) => !o.cancelled)).toBe(true);
    expect(status.job.state).toBe("printing");
  }, 60_000);

  test("a file labelled with comments only: refused, the firmware does not see those labels", async () => {
    const { h, at } = await setUp({}, "parts.gcode", gcode("comment"));
    await copyAndPrint(h, at, "parts.gcode");
    const error = await refused(h, at, "cube_b");
    expect(error.message).toContain("labels its objects with comments");
    expect(error.hint).toContain("Label objects");
  }, 60_000);

  test("Klipper: a card file matched by name and size; EXCLUDE_OBJECT NAME= goes out", async () => {
    const content = gcode("exclude_object");
    // Klipper cannot be written over the serial line: the file is on its card already, and in the host's files.
    const { h, at } = await setUp({ personality: "klipper", sdFiles: [{ name: "parts.gcode", content }] }, "parts.gcode", content);
    expect((await h.post(`${at}/sd/refresh`)).status).toBe(200);
    await h.waitFor(at, (p: any) => p.sd.files.some((f: any) => f.name === "parts.gcode"));
    expect((await h.post(`${at}/sd/print`, { name: "parts.gcode" })).status).toBe(200);
    const printing = await h.waitFor(at, (p: any) => p.job?.state === "printing" && p.job.objects.length === 3 && p.job.layer !== null);
    // The same bytes: layers come from the analysis too.
    expect(printing.job.layer.count).toBe(30);
    expect((await h.post(`${at}/job/cancel-object`, { name: "cube_c" })).status).toBe(200);
    await h.waitFor(at, (p: any) => p.job.objects.some((o: any) => o.name === "cube_c" && o.cancelled));
    const lines = await sent(h, at);
    expect(lines.some((l) => l.dir === "send" && /EXCLUDE_OBJECT NAME=cube_c/.test(l.text))).toBe(true);
    expect(lines.some((l) => l.dir === "recv" && /Excluded objects: CUBE_C/.test(l.text))).toBe(true);
    expect((await h.post(`${at}/job/cancel`)).status).toBe(200);
  }, 60_000);

  test("an SD file the host knows nothing about: refused with how to make it known", async () => {
    const { h, at } = await setUp({}, "other.gcode", gcode("m486"));
    // The card's demo file has no counterpart in the host's files.
    expect((await h.post(`${at}/sd/print`, { name: "LAYERL~1.GCO" })).status).toBe(200);
    await h.waitFor(at, (p: any) => p.job?.source === "sd");
    expect((await refused(h, at, "cube_b")).message).toContain("does not know the objects");
  }, 60_000);
});
