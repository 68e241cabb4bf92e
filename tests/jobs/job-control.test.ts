/**
 * Job control through the native API on a real host (virtual printer, loopback HTTP, sqlite):
 * the states between the steps, the pause record and the user's scripts with their variables,
 * cancelling one object by name, restart, and the errors a client gets for bad requests.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { layeredGcode } from "../helpers/gcode.ts";
import { jobEnded, readyHost, upload, waitUntil, type TestHost } from "../helpers/host.ts";

let host: TestHost;
let at: string;
const THREE = layeredGcode({ layers: 40, objects: [{ name: "left", x: 20, y: 20 }, { name: "middle", x: 60, y: 20 }, { name: "right", x: 100, y: 20 }], size: 20, feedrate: 600 });

beforeAll(async () => {
  // Slow enough to act mid-print: the virtual printer runs 40× real time.
  const ready = await readyHost({ virtual: { timeScale: 40 } });
  host = ready.host;
  at = `/api/v1/printers/${ready.printer}`;
  expect((await upload(host, "three.gcode", THREE)).status).toBe(201);
  await host.waitFor("/api/v1/files/three.gcode", (f: any) => f.analysis?.state === "done");
}, 30_000);
afterAll(() => host?.close());

const patch = (path: string, body: unknown) => host.api(path, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const terminal = async () => ((await (await host.api(`${at}/terminal`)).json()) as { lines: { dir: string; text: string }[] }).lines;

describe("job control", () => {
  test("scripts: defaults listed with their variables; a bad template is refused with its line; null resets", async () => {
    const scripts = (await (await host.api(`${at}/scripts`)).json()) as any;
    expect(scripts.scripts.afterPrintPaused.isDefault).toBe(true);
    expect(scripts.scripts.afterPrintPaused.text).toContain("G1 X0 Y{{ profile.depth }}");
    expect(scripts.variables.map((v: any) => v.path)).toContain("pause.x, pause.y, pause.z, pause.e");
    const bad = await patch(`${at}/scripts`, { beforePrintStarted: "M117 hi\nM117 {{ nosuch.thing }}" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.message).toContain('no variable "nosuch.thing"');
    expect((await patch(`${at}/scripts`, { nosuch: "G28" })).status).toBe(400);
    const saved = (await (await patch(`${at}/scripts`, { beforePrintStarted: "M117 Printing {{ job.name }} on {{ printer.name }}", afterPrintCancelled: "M117 cancelled\nM104 S0" })).json()) as any;
    expect(saved.scripts.beforePrintStarted).toMatchObject({ isDefault: false, text: "M117 Printing {{ job.name }} on {{ printer.name }}" });
  });

  test("start → printing, pause → pausing → paused with the position recorded, resume, cancel one object, cancel", async () => {
    expect((await host.post(`${at}/job`, { file: "three.gcode" })).status).toBe(200);
    const printing = await host.waitFor(at, (p: any) => p.job?.state === "printing" && p.job.layer?.current >= 3);
    expect(printing.job.objects).toEqual([{ name: "left", cancelled: false }, { name: "middle", cancelled: false }, { name: "right", cancelled: false }]);
    expect(printing.progress.timeLeft).toBeGreaterThan(0);
    expect(printing.progress.timeLeftOrigin).toMatch(/^analysis/);
    expect(printing.progress.line).toBeGreaterThan(0);
    expect((await terminal()).some((l) => l.dir === "send" && /M117 Printing three\.gcode on Virtual printer/.test(l.text))).toBe(true);

    expect((await host.post(`${at}/job/pause`)).status).toBe(200);
    const paused = await host.waitFor(at, (p: any) => p.job?.state === "paused");
    expect(paused.state).toBe("paused");
    expect(paused.job.pause).toMatchObject({ relativeE: false, relative: false, fan: 255 });
    expect(paused.job.pause.x).toBeGreaterThanOrEqual(20);
    // The default pause script parked the head at the back (profile depth 200).
    expect((await terminal()).some((l) => l.dir === "send" && /G1 X0 Y200 F6000/.test(l.text))).toBe(true);
    const { status, json } = await host.post(`${at}/job/pause`).then(async (r) => ({ status: r.status, json: (await r.json()) as any }));
    expect(status).toBe(409);
    expect(json.error.code).toBe("not_printing");

    expect((await host.post(`${at}/job/resume`)).status).toBe(200);
    await host.waitFor(at, (p: any) => p.job?.state === "printing" && p.job.pause === null);
    expect((await terminal()).some((l) => l.dir === "send" && new RegExp(`G92 E${paused.job.pause.e}\\b`).test(l.text))).toBe(true);

    const unknown = await host.post(`${at}/job/cancel-object`, { name: "nosuch" });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as any).error.hint).toContain("left, middle, right");
    expect((await host.post(`${at}/job/cancel-object`, {})).status).toBe(400);
    const cancelled = (await (await host.post(`${at}/job/cancel-object`, { name: "middle" })).json()) as any;
    expect(cancelled.job.objects).toEqual([{ name: "left", cancelled: false }, { name: "middle", cancelled: true }, { name: "right", cancelled: false }]);

    expect((await host.post(`${at}/job/cancel`)).status).toBe(200);
    const ended = await host.waitFor(at, jobEnded);
    expect(ended.job).toMatchObject({ state: "cancelled", reason: "Cancelled by the user." });
    expect(ended.state).toBe("operational");
    expect((await terminal()).some((l) => l.dir === "send" && /M117 cancelled/.test(l.text))).toBe(true);
  }, 60_000);

  test("resume while the print is still pausing says so (not 'the print is not paused: pause it first')", async () => {
    // A dwell in flight keeps the print pausing: 200 s at 40× real time is 5 s.
    expect((await upload(host, "dwell.gcode", "G28\nG1 X10 F3000\nG4 S200\nG1 X20\nG1 X30\n")).status).toBe(201);
    expect((await host.post(`${at}/job`, { file: "dwell.gcode" })).status).toBe(200);
    await host.waitFor(at, (p: any) => p.busy !== null || (p.job?.state === "printing" && p.progress?.line >= 3));
    expect((await host.post(`${at}/job/pause`)).status).toBe(200);
    const pausing = await host.waitFor(at, (p: any) => p.job?.state === "pausing" || p.job?.state === "paused");
    expect(pausing.job.state).toBe("pausing");
    const early = (await (await host.post(`${at}/job/resume`)).json()) as any;
    expect(early.error).toMatchObject({ code: "not_paused", message: expect.stringContaining("still pausing") });
    await host.waitFor(at, (p: any) => p.job?.state === "paused", 20_000);
    expect((await host.post(`${at}/job/cancel`)).status).toBe(200);
    await host.waitFor(at, jobEnded, 20_000);
  }, 60_000);

  test("the printer asks (//action:pause, resume, cancel): the job follows, with the same scripts and records", async () => {
    const say = (text: string) => host.post(`${at}/commands`, { commands: [`M118 A1 ${text}`] });
    expect((await host.post(`${at}/job`, { file: "three.gcode" })).status).toBe(200);
    await host.waitFor(at, (p: any) => p.job?.state === "printing" && p.job.layer?.current >= 2);
    expect((await say("action:pause")).status).toBe(200);
    const paused = await host.waitFor(at, (p: any) => p.job?.state === "paused");
    expect(paused.job.pause).toMatchObject({ relativeE: false, fan: 255 });
    expect((await say("action:resume")).status).toBe(200);
    await host.waitFor(at, (p: any) => p.job?.state === "printing" && p.job.pause === null);
    expect((await terminal()).some((l) => l.dir === "send" && new RegExp(`G92 E${paused.job.pause.e}\\b`).test(l.text))).toBe(true);
    expect((await say("action:cancel")).status).toBe(200);
    const ended = await host.waitFor(at, jobEnded);
    expect(ended.job).toMatchObject({ state: "cancelled", reason: "Cancelled from the printer." });
  }, 60_000);

  test("the printer asks to start (//action:start: the queue's next file) and to be disconnected (//action:disconnect)", async () => {
    const say = (text: string) => host.post(`${at}/commands`, { commands: [`M118 A1 ${text}`] });
    await host.api(`${at}/queue`, { method: "DELETE" });
    expect((await say("action:start")).status).toBe(200);
    const refused = await host.waitFor(`${at}/queue`, (q: any) => q.notice?.message?.startsWith("The printer asked to start a print"));
    expect(refused.notice).toMatchObject({ level: "warning", message: expect.stringContaining("The queue is empty.") });
    expect((await host.post(`${at}/queue`, { file: "three.gcode" })).status).toBe(201);
    expect((await say("action:start")).status).toBe(200);
    const printing = await host.waitFor(at, (p: any) => p.job?.state === "printing");
    expect(printing.job.file).toBe("three.gcode");
    expect((await host.post(`${at}/job/cancel`)).status).toBe(200);
    await host.waitFor(at, jobEnded);
    expect((await say("action:disconnect")).status).toBe(200);
    await host.waitFor(at, (p: any) => p.state === "closed");
    expect((await terminal()).some((l) => l.dir === "info" && l.text.includes("The printer asked to be disconnected"))).toBe(true);
    expect((await host.post(`${at}/connect`)).status).toBe(200);
    await host.waitFor(at, (p: any) => p.state === "operational" && p.firmware !== null);
    await host.api(`${at}/queue`, { method: "DELETE" });
  }, 60_000);

  test("restart starts the file again from its first line; nothing to restart or cancel is a clear 409", async () => {
    const restarted = await host.post(`${at}/job/restart`);
    expect(restarted.status).toBe(200);
    const again = await host.waitFor(at, (p: any) => p.job?.state === "printing");
    expect(again.job.file).toBe("three.gcode");
    expect(again.job.objects.every((o: any) => !o.cancelled)).toBe(true);
    // The running print's own checkpoint is not an interrupted print: resume and discard say there is none, as GET does.
    const printer = at.split("/").pop()!;
    await waitUntil(async () => host.jobs.interrupted(printer), (cp) => cp !== undefined, 10_000);
    expect((await host.api(`${at}/job/interrupted`)).status).toBe(404);
    expect(((await (await host.post(`${at}/job/interrupted/resume`)).json()) as any).error.code).toBe("no_interrupted_job");
    expect((await host.api(`${at}/job/interrupted`, { method: "DELETE" })).status).toBe(404);
    expect(host.jobs.interrupted(printer)).toBeDefined(); // a crash now can still be recovered from
    expect((await host.post(`${at}/job/restart`)).status).toBe(409); // printing, not paused
    expect((await host.post(`${at}/job/cancel`)).status).toBe(200);
    await host.waitFor(at, jobEnded);
    expect((await host.post(`${at}/job/cancel`)).status).toBe(409);
    expect((await host.post(`${at}/job/cancel-object`, { name: "left" })).status).toBe(409);
    expect((await host.api(`${at}/job/interrupted`)).status).toBe(404);
  }, 60_000);

  test("the printer profile: read, change part of it, bad values refused; scripts read it", async () => {
    const { profile } = (await (await host.api(`${at}/profile`)).json()) as any;
    expect(profile.volume).toMatchObject({ width: 200, depth: 200, height: 200, origin: "lowerleft" });
    const changed = ((await (await patch(`${at}/profile`, { volume: { depth: 180 }, heatedChamber: true })).json()) as any).profile;
    expect(changed.volume).toMatchObject({ width: 200, depth: 180 });
    expect(changed.heatedChamber).toBe(true);
    const bad = await patch(`${at}/profile`, { volume: { depth: -5 } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.message).toContain("volume.depth");
    expect(((await (await host.api(`${at}/profile`)).json()) as any).profile.volume.depth).toBe(180);
    // The default pause script parks at the back of the bed the profile describes.
    expect((await host.post(`${at}/job`, { file: "three.gcode" })).status).toBe(200);
    await host.waitFor(at, (p: any) => p.job?.state === "printing");
    expect((await host.post(`${at}/job/pause`)).status).toBe(200);
    await host.waitFor(at, (p: any) => p.job?.state === "paused");
    expect((await terminal()).some((l) => l.dir === "send" && /G1 X0 Y180 F6000/.test(l.text))).toBe(true);
    expect((await host.post(`${at}/job/cancel`)).status).toBe(200);
    await host.waitFor(at, jobEnded);
  }, 60_000);

  test("a file its analysis found no text G-code in (binary G-code, CR-only line ends) is not sent to the printer, nor copied to its card", async () => {
    const files = { "boat.bgcode.gcode": "GCDE\u0001\u0000\u0000\u0000binary blocks follow", "mac.gcode": "G28\rG1 X10 Y10\rM84\r" };
    for (const [name, text] of Object.entries(files)) {
      expect((await upload(host, name, text)).status).toBe(201);
      await host.waitFor(`/api/v1/files/${name}`, (f: any) => f.analysis?.state === "error");
      for (const path of [`${at}/job`, `${at}/sd/upload`]) {
        const refused = await host.post(path, { file: name });
        expect(refused.status).toBe(400);
        const { error } = (await refused.json()) as any;
        expect(error.code).toBe("not_printable");
        expect(error.message).toContain(`${name} cannot be sent to a printer:`);
        expect(error.hint.length).toBeGreaterThan(0);
      }
    }
    expect((await (await host.api(at)).json()).job?.file).not.toBe("mac.gcode");
    // A text file still starts.
    expect((await host.post(`${at}/job`, { file: "three.gcode" })).status).toBe(200);
    expect((await host.post(`${at}/job/cancel`)).status).toBe(200);
    await host.waitFor(at, jobEnded);
  }, 60_000);
});
