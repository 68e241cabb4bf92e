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
import { layeredGcode } from "../helpers/gcode.ts";
import { jobEnded, upload } from "../helpers/host.ts";
import { writePlugin } from "../plugins/helpers.ts";
import { startPtyPrinter, type PtyPrinter } from "./pty-printer.ts";

const TORUS = await Bun.file(new URL("../fixtures/ps25_ender3_torus_0.20normal_pla.gcode", import.meta.url).pathname).text();
/** Slow moves (10 mm at 10 mm/s): the printer's planner is always full, so lines wait in flight for their oks. */
const SLOW = layeredGcode({ layers: 6, objects: [{ name: "a", x: 10, y: 10 }, { name: "b", x: 30, y: 10 }], loops: 3, feedrate: 600 });

let printer: PtyPrinter | undefined;
afterEach(async () => {
  await printer?.close();
  printer = undefined;
});

/**
 * Prints `gcode` through a send hook that loops for ever at its `hangAt`-th G1 line (once: the
 * counter lives in the stopped thread); returns how many lines the printer still owed answers
 * for when the new thread took the link over.
 */
async function printThroughAHang(gcode: string, hangAt: number, options: { window?: number }, firmware: string[]): Promise<number> {
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
export default definePlugin({ gcode: { send(line, ctx) { if (line.startsWith("G1 ") && (ctx.state.n = ((ctx.state.n as number) ?? 0) + 1) === ${hangAt}) for (;;) {} } } });`,
  });
  await host.waitFor("/api/v1/plugins/hangs", (p: any) => p.printersRunning?.includes(id), 15_000);
  expect((await upload(host, "print.gcode", gcode)).status).toBe(201);
  const before = await printer.executed();
  const started = (await (await host.post(`/api/v1/printers/${id}/job`, { file: "print.gcode" })).json()) as any;
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
  const expected = gcode.split("\n").map(clean).filter(Boolean);
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
  expect(await printThroughAHang(TORUS, 4000, {}, ["--time-scale", "0"])).toBe(0);
}, 150_000);

test("windowed (ADVANCED_OK, 4 in flight): the lines in flight are answered, not sent again", async () => {
  // A printer 20 times faster than real, on slow moves.
  expect(await printThroughAHang(SLOW, 60, { window: 4 }, ["--time-scale", "20", "--advanced-ok"])).toBeGreaterThan(0);
}, 150_000);

test("an SD print: the new thread takes the link over and follows the firmware's print as the same job", async () => {
  printer = await startPtyPrinter({}, ["--time-scale", "20"]);
  const { host, printer: id, dataDir } = printer;
  const at = `/api/v1/printers/${id}`;
  expect((await upload(host, "slow.gcode", SLOW)).status).toBe(201);
  expect((await host.post(`${at}/sd/upload`, { file: "slow.gcode" })).status).toBe(202);
  const listed = await host.waitFor(at, (p: any) => p.sd.upload === null && p.sd.files.some((f: any) => f.longName === "slow.gcode"), 60_000);
  const card = listed.sd.files.find((f: any) => f.longName === "slow.gcode");
  // The hook loops on a command typed during the print (an SD print's own lines never pass the host).
  writePlugin(join(dataDir, "plugins"), {
    id: "hangs",
    entry: `import { definePlugin } from "layerline";\nexport default definePlugin({ gcode: { send(line) { if (line.startsWith("M117")) for (;;) {} } } });`,
  });
  await host.waitFor("/api/v1/plugins/hangs", (p: any) => p.printersRunning?.includes(id), 15_000);
  const before = await printer.executed();
  expect((await host.post(`${at}/sd/print`, { name: card.name })).status).toBe(200);
  const jobId = (await host.waitFor(at, (p: any) => p.job?.state === "printing" && (p.progress?.completion ?? 0) > 5, 30_000)).job.id;
  // The command's call was in the thread that got stuck: it fails, saying so (try again), not as a bug.
  const typed = await host.post(`${at}/commands`, { commands: ["M117 hello"] });
  expect(typed.status).toBe(503);
  expect(((await typed.json()) as any).error.code).toBe("printer_thread_restarted");
  await host.waitFor(at, (p: any) => (p.job?.notes?.length ?? 0) > 0, 30_000);
  const done = await host.waitFor(at, jobEnded, 120_000);
  expect(done.job).toMatchObject({ id: jobId, state: "done", source: "sd" });
  expect(done.job.notes[0]).toContain("the print went on after");
  const history = ((await (await host.api(`/api/v1/history?printer=${id}`)).json()) as any).items;
  expect(history.map((r: any) => [r.jobId, r.outcome])).toEqual([[jobId, "done"]]);
  // No second connection: the card print was never reset, and no second M115 went out.
  const ran = (await printer.executed()).slice(before.length);
  expect(ran.filter((c) => c.startsWith("M115"))).toEqual([]);
  expect(ran.filter((c) => c.startsWith("M110"))).toEqual(["M110 N0"]);
}, 150_000);

test("a receive hook that hangs: what the printer answered is not known, so the print is interrupted (resumable) on the link kept open", async () => {
  printer = await startPtyPrinter({ window: 4 }, ["--time-scale", "20", "--advanced-ok"]);
  const { host, printer: id, dataDir } = printer;
  const at = `/api/v1/printers/${id}`;
  writePlugin(join(dataDir, "plugins"), {
    id: "hangs",
    entry: `import { definePlugin } from "layerline";
export default definePlugin({ gcode: { receive(line, ctx) { if (line.startsWith("ok") && (ctx.state.n = ((ctx.state.n as number) ?? 0) + 1) === 60) for (;;) {} } } });`,
  });
  await host.waitFor("/api/v1/plugins/hangs", (p: any) => p.printersRunning?.includes(id), 15_000);
  expect((await upload(host, "slow.gcode", SLOW)).status).toBe(201);
  await host.waitFor("/api/v1/files/slow.gcode", (f: any) => f.analysis?.state === "done");
  const before = await printer.executed();
  expect((await host.post(`${at}/job`, { file: "slow.gcode" })).status).toBe(200);
  const jobId = (await host.waitFor(at, (p: any) => p.job?.state === "printing")).job.id;
  const after = await host.waitFor(at, (p: any) => p.interrupted !== null && p.state === "operational", 30_000);
  expect(after.interrupted).toMatchObject({ jobId, resumable: true });
  const history = ((await (await host.api(`/api/v1/history?printer=${id}`)).json()) as any).items;
  expect(history.map((r: any) => [r.jobId, r.outcome])).toEqual([[jobId, "failed"]]);
  expect(history[0].reason).toContain("it could not go on because it stopped while taking a reply from the printer");
  // The link was kept (no second connection); the after-failure script turned the heaters off on it
  // (once the printer has run the moves it still had queued).
  const ran = async () => (await printer!.executed()).slice(before.length);
  for (let i = 0; i < 100 && !(await ran()).includes("M104 S0"); i++) await Bun.sleep(100);
  expect(await ran()).toContain("M104 S0");
  expect((await ran()).filter((c) => c.startsWith("M115"))).toEqual([]);
}, 150_000);
