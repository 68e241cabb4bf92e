/**
 * Klipper after an emergency stop (protocol.md §6.2, §9.5c), over the real serial path against the
 * virtual printer's Klipper personality: Klipper shuts down but its pseudo-tty stays and it answers
 * every line, so the host keeps the link, shows the printer shut down with the reason and the
 * restart command, refuses prints meanwhile, and a FIRMWARE_RESTART typed in the terminal brings
 * it back.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { layeredGcode } from "../helpers/gcode.ts";
import { jobEnded, upload } from "../helpers/host.ts";
import { startPtyPrinter, type PtyPrinter } from "../helpers/pty-printer.ts";

let printer: PtyPrinter;

beforeAll(async () => {
  // Real time at 20×, so the print is still running when the stop comes.
  printer = await startPtyPrinter({}, ["--time-scale", "20", "--personality", "klipper"]);
}, 30_000);

afterAll(() => printer?.close());

/** Waits until the printer's log of executed commands satisfies `check`; its length then (0: never). */
async function executedUntil(check: (lines: string[]) => boolean): Promise<number> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const lines = await printer.executed();
    if (check(lines)) return lines.length;
    await Bun.sleep(50);
  }
  return 0;
}

test("M112 on Klipper: the link stays, the printer shows as shut down, FIRMWARE_RESTART recovers it", async () => {
  const { host, printer: id } = printer;
  const status = () => host.api(`/api/v1/printers/${id}`).then((r) => r.json() as Promise<any>);
  expect((await status()).firmware.profile).toBe("klipper");
  const gcode = layeredGcode({ layers: 40, loops: 4, objects: [{ name: "a", x: 20, y: 20, size: 40 }] });
  expect((await upload(host, "tall.gcode", gcode)).status).toBe(201);
  expect((await host.post(`/api/v1/printers/${id}/job`, { file: "tall.gcode" })).status).toBe(200);
  await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.job?.state === "printing" && p.progress?.linesSent > 20);

  // Typed in the terminal, as a user would.
  expect((await host.post(`/api/v1/printers/${id}/commands`, { commands: ["M112"] })).status).toBe(200);
  const stopped = await host.waitFor(`/api/v1/printers/${id}`, (p: any) => jobEnded(p) && p.problem !== null);
  expect(stopped.job).toMatchObject({ state: "failed", reason: "Emergency stop." });
  expect(stopped.state).toBe("operational"); // the link is kept
  expect(stopped.problem.code).toBe("emergency_stop");
  expect(stopped.problem.message).toContain("shut down");
  expect(stopped.problem.hint).toContain("FIRMWARE_RESTART");
  const executedAtStop = await executedUntil((l) => l.includes("M112"));
  expect(executedAtStop).toBeGreaterThan(0); // the log is written as the printer runs, a moment later

  // Shut down: no print starts, but the terminal works and every answer is acknowledged.
  const refused = await host.post(`/api/v1/printers/${id}/job`, { file: "tall.gcode" });
  expect(refused.status).toBe(409);
  expect((await refused.json()).error).toMatchObject({ code: "halted", hint: expect.stringContaining("FIRMWARE_RESTART") });
  expect((await host.post(`/api/v1/printers/${id}/commands`, { commands: ["G28"] })).status).toBe(200);
  await host.waitFor(`/api/v1/printers/${id}/terminal`, (t: any) => t.lines.some((l: any) => l.dir === "recv" && l.text === "!! Shutdown due to M112 command"));
  expect((await status()).state).toBe("operational");

  expect((await host.post(`/api/v1/printers/${id}/commands`, { commands: ["FIRMWARE_RESTART"] })).status).toBe(200);
  const back = await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.problem === null);
  expect(back.state).toBe("operational");
  expect(back.link.timeouts).toBe(0);
  // It takes commands again, and runs them.
  expect((await host.post(`/api/v1/printers/${id}/commands`, { commands: ["G28 X"] })).status).toBe(200);
  expect(await executedUntil((l) => l.slice(executedAtStop).includes("G28 X"))).toBeGreaterThan(0);
  const terminal = await (await host.api(`/api/v1/printers/${id}/terminal`)).json();
  expect(terminal.lines.some((l: any) => l.dir === "recv" && l.text === "// Klipper state: Ready")).toBe(true);
}, 90_000);
