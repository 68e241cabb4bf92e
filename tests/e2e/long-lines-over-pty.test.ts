/**
 * Lines a Marlin printer cannot take, over the real serial path (socat pty, the virtual Marlin in
 * its own process, which cuts lines at MAX_CMD_SIZE like the real one): Klipper's
 * `EXCLUDE_OBJECT_DEFINE … POLYGON=[…]` lines (longer than Marlin reads) and `EXCLUDE_OBJECT_*`
 * are left out and the print completes with every other line run once; a line that must be sent
 * but is too long is refused before the print starts, naming the line, its length and the limit.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { clean } from "../../src/protocol/framing.ts";
import { layeredGcode } from "../helpers/gcode.ts";
import { jobEnded, upload } from "../helpers/host.ts";
import { startPtyPrinter, type PtyPrinter } from "../helpers/pty-printer.ts";

let printer: PtyPrinter;

beforeAll(async () => {
  printer = await startPtyPrinter();
}, 30_000);

afterAll(() => printer?.close());

const objects = [
  { name: "cube_A", x: 100, y: 100 },
  { name: "cube_B", x: 130.5, y: 100 },
  { name: "cube_C", x: 100, y: 130.5 },
];

test("a file with Klipper's object labels prints on Marlin: the labels are left out, every other line runs once", async () => {
  const { host, printer: id } = printer;
  const gcode = layeredGcode({ layers: 6, objects, labels: "exclude_object" });
  const lines = gcode.split("\n").map(clean).filter(Boolean);
  expect(lines.filter((l) => l.startsWith("EXCLUDE_OBJECT_DEFINE")).every((l) => l.length > 95)).toBe(true);
  expect((await upload(host, "klipper-labels.gcode", gcode)).status).toBe(201);
  await host.waitFor("/api/v1/files/klipper-labels.gcode", (f: any) => f.analysis?.state === "done");
  const before = (await printer.executed()).length;
  expect((await host.post(`/api/v1/printers/${id}/job`, { file: "klipper-labels.gcode" })).status).toBe(200);
  const status = await host.waitFor(`/api/v1/printers/${id}`, jobEnded, 60_000);
  expect(status.job.state).toBe("done");
  expect(status.job.objects.map((o: { name: string }) => o.name)).toEqual(["cube_A", "cube_B", "cube_C"]);
  expect((await printer.executed()).slice(before)).toEqual(lines.filter((l) => !l.startsWith("EXCLUDE_OBJECT_")));
  // No resend loop on the way: the long lines never reached the wire.
  expect(status.link.resendRequests).toBe(0);
}, 90_000);

test("a line too long for Marlin is refused before the print starts, naming the line, its length and the limit", async () => {
  const { host, printer: id } = printer;
  const message = `M117 Printing the calibration set for the new nozzle: stay close to the printer, please`;
  const gcode = layeredGcode({ layers: 2, objects, header: [message] });
  expect((await upload(host, "long-message.gcode", gcode)).status).toBe(201);
  await host.waitFor("/api/v1/files/long-message.gcode", (f: any) => f.analysis?.state === "done");
  const before = (await printer.executed()).length;
  const res = await host.post(`/api/v1/printers/${id}/job`, { file: "long-message.gcode" });
  expect(res.status).toBe(409);
  const { error } = await res.json();
  expect(error.code).toBe("line_too_long");
  expect(error.message).toContain("Line 2 of long-message.gcode");
  expect(error.message).toMatch(/: 9\d characters with its line number and checksum, and its firmware reads at most 95\. The print was not started\./);
  expect(error.hint).toContain("Shorten or remove that line");
  const status = await (await host.api(`/api/v1/printers/${id}`)).json();
  expect(status.state).toBe("operational");
  expect((await printer.executed()).length).toBe(before);
}, 60_000);
