/**
 * Old Marlin glued the ok onto its M30 reply (`File deleted:NAMEok`, protocol.md §4.3). Over the
 * real serial path, against the virtual printer answering that way: deleting a file from the SD
 * card works, the card is listed again at once (not after a 30 s timeout), and the link stays in
 * step for the commands that follow.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startPtyPrinter, type PtyPrinter } from "../helpers/pty-printer.ts";

let printer: PtyPrinter;

beforeAll(async () => {
  printer = await startPtyPrinter({}, ["--time-scale", "0", "--glued-delete-ok"]);
}, 30_000);

afterAll(() => printer?.close());

test("an SD delete answered `File deleted:NAMEok` is the deletion and the ok; the link stays in sync", async () => {
  const { host, printer: id } = printer;
  const sd = await (await host.api(`/api/v1/printers/${id}/sd`)).json();
  expect(sd.files.map((f: { name: string }) => f.name)).toEqual(["LAYERL~1.GCO"]);
  expect((await host.api(`/api/v1/printers/${id}/sd/LAYERL~1.GCO`, { method: "DELETE" })).status).toBe(202);
  // The listing that follows the delete goes out at once: well within the 30 s an unmatched ok would cost.
  await host.waitFor(`/api/v1/printers/${id}/sd`, (s: any) => s.files.length === 0, 5000);
  const trace = await (await host.api(`/api/v1/printers/${id}/trace`)).text();
  expect(trace).toContain('"dir":"recv","line":"File deleted:LAYERL~1.GCOok"');

  const before = (await printer.executed()).length;
  expect((await host.post(`/api/v1/printers/${id}/commands`, { commands: ["G28", "G1 X10 Y10 F3000"] })).status).toBe(200);
  const deadline = Date.now() + 5000;
  while (!(await printer.executed()).includes("G1 X10 Y10 F3000") && Date.now() < deadline) await Bun.sleep(20);
  expect((await printer.executed()).slice(before)).toEqual(["G28", "G1 X10 Y10 F3000"]);
  const status = await (await host.api(`/api/v1/printers/${id}`)).json();
  expect(status.state).toBe("operational");
  expect(status.link.timeouts).toBe(0);
  expect(status.problem).toBeNull();
}, 60_000);
