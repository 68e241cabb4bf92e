/**
 * A plugin's hook that never returns, mid-print, over the real serial path (a socat pty pair with
 * the virtual firmware in its own process, logging every command it runs): the watchdog restarts
 * the printer's thread without the plugin, the new thread takes the tty over as it is (never
 * reopened: the firmware sees no second connection) and the print goes on as the same job from
 * the first line the stopped thread had not written — every line of the file run exactly once, in
 * order — with one line in flight, and windowed (ADVANCED_OK, 4 lines in flight): stuck in a send
 * hook, in a receive hook (the replies it was reading are lost: a numbered probe asks the printer
 * where it is), while lines the printer had asked for again were being sent, and with the
 * printer's request for a line lost with the thread (sent again from what the stopped thread left);
 * and on Repetier and Smoothieware (which number lines too), and on Klipper (which does not: its
 * probe is told apart by its answer).
 */
import { afterEach, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clean } from "../../src/protocol/framing.ts";
import { layeredGcode } from "../helpers/gcode.ts";
import { jobEnded, upload } from "../helpers/host.ts";
import { writePlugin } from "../plugins/helpers.ts";
import { startPtyPrinter, type PtyPrinter } from "./pty-printer.ts";

const TORUS = await Bun.file(new URL("../fixtures/ps25_ender3_torus_0.20normal_pla.gcode", import.meta.url).pathname).text();
/** Slow moves (10 mm at 10 mm/s): the printer's planner is always full, so lines wait in flight for their oks. */
const SLOW = layeredGcode({ layers: 6, objects: [{ name: "a", x: 10, y: 10 }, { name: "b", x: 30, y: 10 }], loops: 3, feedrate: 600 });
/** A G1 counter the hooks share (`ctx.state` is one object per plugin and printer). */
const COUNT = `if (line.startsWith("G1 ")) ctx.state.g = ((ctx.state.g as number) ?? 0) + 1;`;

let printer: PtyPrinter | undefined;
afterEach(async () => {
  await printer?.close();
  printer = undefined;
});

/** A plugin that loops for ever in its `hook` at some point (`hooks`: its `gcode` hooks' source). */
interface Hanging {
  id: string;
  hooks: string;
  hook: "send hook" | "receive hook";
}

/**
 * Prints `gcode` through a plugin whose `hooks` (its `gcode` hooks' source) loop for ever at some
 * point, stuck in its `hook`; checks that the print went on as the same job, every line of the
 * file once, in order; returns the new thread's flight recorder right after the takeover.
 */
async function printThroughAHang(gcode: string, hooks: string, hook: "send hook" | "receive hook", options: { window?: number }, firmware: string[]): Promise<string> {
  return printThroughHangs(gcode, [{ id: "hangs", hooks, hook }], options, firmware);
}

/**
 * As printThroughAHang with several plugins that hang one after the other (each restart goes on
 * without the plugin that hung, so the next one hangs in a later thread); the job's notes name
 * each, in order.
 */
async function printThroughHangs(gcode: string, plugins: Hanging[], options: { window?: number }, firmware: string[]): Promise<string> {
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
  for (const p of plugins) writePlugin(join(dataDir, "plugins"), { id: p.id, entry: `import { definePlugin } from "layerline";\nexport default definePlugin({ gcode: { ${p.hooks} } });` });
  for (const p of plugins) await host.waitFor(`/api/v1/plugins/${p.id}`, (r: any) => r.printersRunning?.includes(id), 15_000);
  expect((await upload(host, "print.gcode", gcode)).status).toBe(201);
  const before = await printer.executed();
  const started = (await (await host.post(`/api/v1/printers/${id}/job`, { file: "print.gcode" })).json()) as any;
  expect(started).toBeDefined();
  const jobId = (await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.job?.state === "printing")).job.id;
  const done = await host.waitFor(`/api/v1/printers/${id}`, jobEnded, 120_000);

  // The same job, done, with what happened in its record; the plugins are disabled.
  expect(done.job).toMatchObject({ id: jobId, state: "done" });
  expect(done.job.notes).toHaveLength(plugins.length);
  plugins.forEach((p, i) =>
    expect(done.job.notes[i]).toMatch(new RegExp(`^The printer's thread stopped answering — the plugin ${p.id} \\(its ${p.hook}\\) never returned — and was restarted without it \\(the plugin is disabled\\); the print went on after \\d+\\.\\d s, from where it was\\.$`)),
  );
  for (const p of plugins) expect(((await (await host.api(`/api/v1/plugins/${p.id}`)).json()) as any).status).not.toBe("enabled");
  const history = ((await (await host.api(`/api/v1/history?printer=${id}`)).json()) as any).items;
  expect(history.map((r: any) => [r.jobId, r.outcome])).toEqual([[jobId, "done"]]);
  expect(history[0].notes).toBe(done.job.notes.join(" "));
  expect(notices.filter((n) => n.includes("the print went on after"))).toHaveLength(plugins.length);

  // Every line of the file exactly once, in order, checked line by line; the only other commands
  // are the probes the new thread may send to learn where the printer is (M105), and, while the
  // printer heats (busy), the keep-alive interval the host asks for (M113); with firmware that
  // does not report by itself, the host's temperature polls (M105) and, once the head stopped at
  // the end, its position poll (M114). The numbering goes
  // on (no M110), and there is no second connection: no second greeting or M115.
  const ran = (await printer.executed()).slice(before.length);
  const expected = gcode.split("\n").map(clean).filter(Boolean);
  const job = ran.filter((c) => !c.startsWith("M105") && !c.startsWith("M113") && !c.startsWith("M114"));
  for (let i = 0; i < Math.max(job.length, expected.length); i++) if (job[i] !== expected[i]) expect({ line: i + 1, ran: job[i] }).toEqual({ line: i + 1, ran: expected[i] });
  expect(ran.filter((c) => c.startsWith("M110"))).toEqual([]);
  const all = await printer.executed();
  expect(all.filter((c) => c.startsWith("M115"))).toHaveLength(1);
  const trace = await traced!;
  expect(trace).toMatch(/Took over the link: the printer answered the \d+ line/);
  // As many probes ran as the new thread sent (a firmware that does not report temperatures by
  // itself also ran the host's M105 polls); a thread stopped while it took over may have sent
  // some too, which only it had recorded.
  const probes = trace.match(/asking where it is with line/g)?.length ?? 0;
  if (firmware.includes("smoothie") || firmware.includes("klipper") || plugins.length > 1) expect(ran.filter((c) => c.startsWith("M105")).length).toBeGreaterThanOrEqual(probes);
  else expect(ran.filter((c) => c.startsWith("M105"))).toHaveLength(probes);
  return trace;
}

/** How many lines the printer still owed answers for when the new thread took the link over. */
const answered = (trace: string) => Number(/Took over the link: the printer answered the (\d+) line/.exec(trace)![1]);

/** A send hook that loops for ever at its `at`-th G1 line (once: the counter lives in the stopped thread). */
const sendHangsAt = (at: number) => `send(line, ctx) { ${COUNT} if (ctx.state.g === ${at}) for (;;) {} }`;

test("one line in flight: the print goes on as the same job, every line once, the tty never reopened", async () => {
  // An instant printer: the hook runs for a line only when nothing is in flight.
  const trace = await printThroughAHang(TORUS, sendHangsAt(4000), "send hook", {}, ["--time-scale", "0"]);
  expect(answered(trace)).toBe(0);
}, 150_000);

test("windowed (ADVANCED_OK, 4 in flight): the lines in flight are answered, not sent again", async () => {
  // A printer 20 times faster than real, on slow moves.
  const trace = await printThroughAHang(SLOW, sendHangsAt(60), "send hook", { window: 4 }, ["--time-scale", "20", "--advanced-ok"]);
  expect(answered(trace)).toBeGreaterThan(0);
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
  expect(ran.filter((c) => c.startsWith("M110"))).toEqual([]);
}, 150_000);

/** A receive hook that loops for ever on the `at`-th reply that starts with `start` once `after` G1 lines went out. */
const receiveHangsAt = (start: string, at: number, after = 0) =>
  `send(line, ctx) { ${COUNT} }, receive(line, ctx) { if (line.startsWith(${JSON.stringify(start)}) && ((ctx.state.g as number) ?? 0) >= ${after} && (ctx.state.r = ((ctx.state.r as number) ?? 0) + 1) === ${at}) for (;;) {} }`;

test("a receive hook that hangs, one line in flight: the ok it was taking is lost, a probe finds every line was taken, and the print goes on", async () => {
  const trace = await printThroughAHang(SLOW, receiveHangsAt("ok", 60), "receive hook", {}, ["--time-scale", "20"]);
  expect(trace).toContain("asking where it is with line");
}, 150_000);

test("a receive hook that hangs, windowed (ADVANCED_OK, 4 in flight): the replies it was reading are lost, and the print goes on", async () => {
  const trace = await printThroughAHang(SLOW, receiveHangsAt("ok", 60), "receive hook", { window: 4 }, ["--time-scale", "20", "--advanced-ok"]);
  expect(answered(trace)).toBeGreaterThan(0);
}, 150_000);

test("stuck while lines the printer asked for again were being sent (windowed): the copies in flight are rebuilt from what it wrote, and the print goes on", async () => {
  // Every 37th numbered line arrives damaged. After 40 G1 lines, at the printer's next request for
  // a line, once the copy of that line sent again is acknowledged, the send hook loops at the next
  // line: copies sent again are in flight, and copies the printer refused may still be.
  const hooks = `receive(line, ctx) {
    if (ctx.state.k === undefined && line.startsWith("Resend:") && ((ctx.state.g as number) ?? 0) >= 40) ctx.state.k = Number(line.slice(7));
    else if (ctx.state.k !== undefined && line.startsWith(\`ok N\${ctx.state.k} \`)) ctx.state.armed = true;
  }, send(line, ctx) { ${COUNT} if (ctx.state.armed && line.startsWith("G1 ")) for (;;) {} }`;
  const trace = await printThroughAHang(SLOW, hooks, "send hook", { window: 4 }, ["--time-scale", "20", "--advanced-ok", "--faults", JSON.stringify({ corrupt: { every: 37 } })]);
  expect(trace).toMatch(/still owed an answer \([^)]*sent again at the printer's request\)/);
}, 150_000);

test("the printer's request for a line lost with the stopped thread (one line in flight): the probe is refused, the line is sent again from what the thread left, and the print goes on", async () => {
  const hooks = receiveHangsAt("Resend:", 1, 40);
  const trace = await printThroughAHang(SLOW, hooks, "receive hook", {}, ["--time-scale", "20", "--faults", JSON.stringify({ corrupt: { every: 37 } })]);
  expect(trace).toContain("asking where it is with line");
  // The probe was refused, and the line it asked for went out again.
  expect(trace).toMatch(/"Resend: \d+"/);
}, 150_000);

/**
 * Two plugins that hang one after the other: the first mid-print in thread 1 (it leaves `marker`
 * first), the second in its receive hook at the first ok the thread after it reads once the first
 * hung — while that thread still takes the link over (the printer still owes it answers, or the
 * answer to its probe). The third thread takes over from the second as the second did from the
 * first.
 */
const markedHang = (marker: string, hooks: string) => hooks.replace("for (;;) {}", `{ require("node:fs").writeFileSync(${JSON.stringify(marker)}, ""); for (;;) {} }`);
const hangsWhileTakingOver = (marker: string) => `receive(line) { if (line.startsWith("ok") && require("node:fs").existsSync(${JSON.stringify(marker)})) for (;;) {} }`;

test("a second plugin hangs while the new thread still takes over (one line in flight: the answer to its probe): the next thread takes over from it, and the print goes on, every line once", async () => {
  const marker = join(tmpdir(), `layerline-hung-${process.pid}-${Date.now()}`);
  const trace = await printThroughHangs(
    SLOW,
    [
      { id: "hangs-first", hooks: markedHang(marker, receiveHangsAt("ok", 60, 40)), hook: "receive hook" },
      { id: "hangs-second", hooks: hangsWhileTakingOver(marker), hook: "receive hook" },
    ],
    {},
    ["--time-scale", "20"],
  );
  // The second thread's probe (its answer lost with it) was owed too, and is answered with the line the third asked with.
  expect(trace).toContain("asking where it is with line");
  expect(trace).toMatch(/The stopped thread's last line was \d+; 2 line\(s\) it had sent still owed an answer/);
  rmSync(marker, { force: true });
}, 150_000);

test("a second plugin hangs while the new thread still takes over (windowed, ADVANCED_OK): the answers it was owed are owed to the next thread, and the print goes on, every line once", async () => {
  const marker = join(tmpdir(), `layerline-hung-${process.pid}-${Date.now()}`);
  const trace = await printThroughHangs(
    SLOW,
    [
      { id: "hangs-first", hooks: markedHang(marker, sendHangsAt(60)), hook: "send hook" },
      { id: "hangs-second", hooks: hangsWhileTakingOver(marker), hook: "receive hook" },
    ],
    { window: 4 },
    ["--time-scale", "20", "--advanced-ok"],
  );
  expect(answered(trace)).toBeGreaterThan(1);
  rmSync(marker, { force: true });
}, 150_000);

// Other firmware families, one line in flight: Repetier acks a line on receipt (`ok <n>`) and says
// `wait` when idle; Smoothieware acks after running it, asks for a line again with `rs N<n>` and no
// ok after, and reports temperatures only when asked (the host polls M105 during the print).
for (const personality of ["repetier", "smoothie"]) {
  test(`${personality}: a send hook that hangs mid-print, and the print goes on, every line once`, async () => {
    await printThroughAHang(SLOW, sendHangsAt(60), "send hook", {}, ["--time-scale", "20", "--personality", personality]);
  }, 150_000);

  test(`${personality}: a receive hook that hangs on an ok mid-print (the ok is lost), and the print goes on, every line once`, async () => {
    await printThroughAHang(SLOW, receiveHangsAt("ok", 60), "receive hook", {}, ["--time-scale", "20", "--personality", personality]);
  }, 150_000);
}

for (const [personality, request] of [["repetier", "Resend:"], ["smoothie", "rs N"]] as const) {
  test(`${personality}: the printer's request for a line lost with the stopped thread, and the print goes on, every line once`, async () => {
    const trace = await printThroughAHang(SLOW, receiveHangsAt(request, 1, 40), "receive hook", {}, ["--time-scale", "20", "--personality", personality, "--faults", JSON.stringify({ corrupt: { every: 37 } })]);
    expect(trace).toContain("asking where it is with line");
  }, 150_000);
}

test("klipper (no line numbers): a receive hook that hangs on a plain ok (the ok is lost), a probe whose answer reads unlike a plain ok finds every line was taken, and the print goes on, every line once", async () => {
  // The 60th plain ok once 40 G1 lines went out: the answer to a file line (an M105 poll's reads `ok B:… T0:…`).
  const hooks = `send(line, ctx) { ${COUNT} }, receive(line, ctx) { if (line === "ok" && ((ctx.state.g as number) ?? 0) >= 40 && (ctx.state.r = ((ctx.state.r as number) ?? 0) + 1) === 60) for (;;) {} }`;
  const trace = await printThroughAHang(SLOW, hooks, "receive hook", {}, ["--time-scale", "20", "--personality", "klipper"]);
  expect(trace).toContain("asking where it is with line");
  expect(answered(trace)).toBe(1);
}, 150_000);
