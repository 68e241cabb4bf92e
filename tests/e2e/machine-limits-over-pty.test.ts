/**
 * The host reads the printer's own machine limits over the real serial path: the virtual printer
 * (as Prusa-Firmware, which prints a normal and a silent-mode set) on one end of a socat pty, the
 * host on the other. It asks with M503 once the firmware is identified, keeps the normal set in
 * the status, fills the empty profile with it, and reads it again on request after a change.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { defaultLimits } from "../../src/analysis/limits.ts";
import { startPtyPrinter, type PtyPrinter } from "../helpers/pty-printer.ts";

let printer: PtyPrinter;

beforeAll(async () => {
  printer = await startPtyPrinter({}, ["--time-scale", "0", "--personality", "prusa"]);
}, 30_000);

afterAll(() => printer?.close());

test("M503 on connecting: the firmware's limits in the status and the profile; asked again after M203", async () => {
  const { host } = printer;
  const at = `/api/v1/printers/${printer.printer}`;
  const d = defaultLimits();
  const status = await host.waitFor(at, (p: any) => p.limits !== null);
  expect(status.firmware.profile).toBe("prusa");
  expect(status.limits).toMatchObject({ maxFeedrate: d.maxFeedrate, maxAcceleration: d.maxAcceleration, maxJerk: d.maxJerk, printAcceleration: d.printAcceleration });
  expect(await printer.executed()).toContain("M503");
  await host.waitFor(`${at}/profile`, (p: any) => p.profile.limits?.maxFeedrate?.z === d.maxFeedrate.z);

  // The silent-mode set Prusa prints second caps X/Y at 172 mm/s; the normal one is taken.
  expect((await host.post(`${at}/commands`, { commands: ["M203 X200 Y200 Z12 E120"] })).status).toBe(200);
  expect((await host.post(`${at}/limits/query`)).status).toBe(202);
  const updated = await host.waitFor(at, (p: any) => p.limits?.maxFeedrate?.z === 12);
  expect(updated.limits.maxFeedrate).toEqual({ x: 200, y: 200, z: 12, e: 120 });
  // The profile has limits of its own by now: the new report is offered, not taken.
  expect((await (await host.api(`${at}/profile`)).json()).profile.limits.maxFeedrate.z).toBe(d.maxFeedrate.z);
}, 60_000);
