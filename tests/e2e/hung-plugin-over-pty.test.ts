/**
 * A plugin's send hook that never returns, mid-print, over the real serial path (a socat pty pair
 * with the virtual firmware in its own process, logging every command it runs): the watchdog
 * restarts the printer's thread without the plugin, the new thread takes the tty over as it is
 * (never reopened: the firmware sees no second connection) and the print goes on as the same job
 * from the first line the stopped thread had not written — every line of the file run exactly
 * once, in order — with one line in flight, and windowed (ADVANCED_OK, 4 lines in flight).
 */
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { clean } from "../../src/protocol/framing.ts";
import { jobEnded, upload } from "../helpers/host.ts";
import { writePlugin } from "../plugins/helpers.ts";
import { startPtyPrinter, type PtyPrinter } from "./pty-printer.ts";

const TORUS = new URL("../fixtures/ps25_ender3_torus_0.20normal_pla.gcode", import.meta.url).pathname;
/** The hook loops for ever at this G1 line of the print, once (the counter lives in its thread). */
const HANG_AT = 4000;

let printer: PtyPrinter | undefined;
afterEach(async () => {
  await printer?.close();
  printer = undefined;
});

/** Prints the torus through a hang; returns how many lines the printer still owed answers for at the takeover. */
async function printThroughAHang(options: { window?: number }, firmware: string[]): Promise<number> {
  printer = await startPtyPrinter(options, firmware);
  const { host, printer: id, dataDir } = printer;
  const notices: string[] = [];
  // The new thread's flight recorder right after the takeover (later lines push its note out of the ring).
  let traced: Promise<string> | undefined;
  host.bus.on("printer.event", ({ event }) => {
    if (event.type !== "notice") return;
    notices.push(event.message);
    if (event.message.includes("the print went on")) traced ??= host.api(`/api/v1/printers/${id}/trace`).then((r) => r.text());
  });
  writePlugin(join(dataDir, "plugins"), {
    id: "hangs",
    entry: `import { definePlugin } from "layerline";
export default definePlugin({ gcode: { send(line, ctx) { if (line.startsWith("G1 ") && (ctx.state.n = ((ctx.state.n as number) ?? 0) + 1) === ${HANG_AT}) for (;;) {} } } });`,
  });
  await host.waitFor("/api/v1/plugins/hangs", (p: any) => p.printersRunning?.includes(id), 15_000);
  expect((await upload(host, "torus.gcode", Bun.file(TORUS))).status).toBe(201);
  const before = await printer.executed();
  const started = (await (await host.post(`/api/v1/printers/${id}/job`, { file: "torus.gcode" })).json()) as any;
  expect(started).toBeDefined();
  const jobId = (await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.job?.state === "printing")).job.id;
  const done = await host.waitFor(`/api/v1/printers/${id}`, jobEnded, 120_000);

  // The same job, done, with what happened in its record; the plugin is disabled.
  expect(done.job).toMatchObject({ id: jobId, state: "done" });
  expect(done.job.notes).toHaveLength(1);
  expect(done.job.notes[0]).toMatch(/^The printer's thread stopped answering — the plugin hangs \(its send hook\) never returned — and was restarted without it \(the plugin is disabled\); the print went on after \d+\.\d s, from where it was\.$/);
  expect(((await (await host.api("/api/v1/plugins/hangs")).json()) as any).status).not.toBe("enabled");
  const history = ((await (await host.api(`/api/v1/history?printer=${id}`)).json()) as any).items;
  expect(history.map((r: any) => [r.jobId, r.outcome])).toEqual([[jobId, "done"]]);
  expect(history[0].notes).toBe(done.job.notes[0]);
  expect(notices.filter((n) => n.includes("the print went on after"))).toHaveLength(1);

  // Every line of the file exactly once, in order; the only other commands are the one renumbering
  // the lines after the takeover (M110) and, while the printer heats (busy), the keep-alive
  // interval the host asks for (M113). No second connection: no second greeting or M115.
  const ran = (await printer.executed()).slice(before.length);
  const expected = (await Bun.file(TORUS).text()).split("\n").map(clean).filter(Boolean);
  expect(ran.filter((c) => !c.startsWith("M110") && !c.startsWith("M113"))).toEqual(expected);
  expect(ran.filter((c) => c.startsWith("M110"))).toEqual(["M110 N0"]);
  const all = await printer.executed();
  expect(all.filter((c) => c.startsWith("M115"))).toHaveLength(1);
  const trace = await traced!;
  const answered = /Took over the link: the printer answered the (\d+) line/.exec(trace);
  expect(answered).not.toBeNull();
  return Number(answered![1]);
}

test("one line in flight: the print goes on as the same job, every line once, the tty never reopened", async () => {
  // An instant printer: the hook runs for a line only when nothing is in flight.
  expect(await printThroughAHang({}, ["--time-scale", "0"])).toBe(0);
}, 150_000);

test("windowed (ADVANCED_OK, 4 in flight): the lines in flight are answered, not sent again", async () => {
  // A printer 30 times faster than real: its planner is full, so lines wait in flight for their oks.
  expect(await printThroughAHang({ window: 4 }, ["--time-scale", "30", "--advanced-ok"])).toBeGreaterThan(0);
}, 150_000);
