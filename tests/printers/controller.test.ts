/**
 * The printer controller (transport + engine + job streaming) against the virtual printer with
 * injected line faults: the resend path must deliver every line exactly once, in order.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { PrinterController } from "../../src/printers/controller.ts";
import { isJobRunning } from "../../src/printers/status.ts";
import { loadQuirkSources } from "../../src/printers/quirks-sources.ts";
import { clean } from "../../src/protocol/framing.ts";
import { QuirksLibrary } from "../../src/protocol/quirks-library.ts";
import type { ExecutedLine } from "../../src/virtual/options.ts";
import { layeredGcode } from "../helpers/gcode.ts";

const TORUS = new URL("../fixtures/ps25_ender3_torus_0.20normal_pla.gcode", import.meta.url).pathname;

/** The built-in profiles with a short communication timeout, so a dropped line is noticed fast. */
async function quickTimeoutLibrary(): Promise<QuirksLibrary> {
  const { sources } = await loadQuirkSources(undefined);
  const override = { id: "generic", timeouts: { communicationMs: 300, communicationBusyMs: 300 } };
  const generic = JSON.parse(sources.find((s) => s.source.endsWith("generic.json"))!.text);
  return new QuirksLibrary([
    ...sources,
    { source: "test", text: JSON.stringify({ ...generic, ...override, timeouts: { ...generic.timeouts, ...override.timeouts } }) },
    { source: "test", text: JSON.stringify({ id: "marlin2", extends: "generic", detect: { order: 120, firmwareName: ["^Marlin"], anyLine: [] } }) },
  ]);
}

test("a print survives corrupted and dropped lines: every line executed exactly once, in order", async () => {
  const executed: string[] = [];
  const controller = new PrinterController({
    record: { id: "t", name: "t", transport: "virtual", port: null, baud: 115200, window: 1, autoconnect: true, isDefault: true, createdAt: 0 },
    library: await quickTimeoutLibrary(),
    filesDir: dirname(TORUS),
    virtual: {
      timeScale: 0,
      seed: 7,
      faults: { corrupt: { probability: 0.01 }, drop: { lines: [500, 5000, 12000] } },
      onExecute: (l: ExecutedLine) => executed.push(l.command),
    },
    publish: () => {},
  });
  expect((await controller.connect()).ok).toBe(true);
  // Connected once the connect sequence (auto-reports, prompt support, SD listing) is through.
  for (let i = 0; i < 200 && !(controller.status.state === "operational" && controller.status.sd.files.length > 0); i++) await Bun.sleep(10);
  expect(controller.status.state).toBe("operational");

  const before = executed.length;
  expect((await controller.startJob("ps25_ender3_torus_0.20normal_pla.gcode")).ok).toBe(true);
  for (let i = 0; i < 3000 && isJobRunning(controller.status.job?.state); i++) await Bun.sleep(10);
  expect(controller.status.job?.state).toBe("done");

  const expected = (await Bun.file(TORUS).text()).split("\n").map(clean).filter(Boolean);
  // Lost-ok recovery provokes a reply with M105; those are the host's own, not the file's.
  const fromJob = executed.slice(before).filter((c) => c !== "M105");
  expect(fromJob).toEqual(expected);
  expect(controller.status.link.resendRequests).toBeGreaterThan(100);
  expect(controller.status.link.timeouts).toBeGreaterThanOrEqual(3);
  await controller.dispose();
}, 60_000);

test("a printer that resets mid-print: the job stops safely, the link comes back by itself", async () => {
  const controller = new PrinterController({
    record: { id: "r", name: "r", transport: "virtual", port: null, baud: 115200, window: 4, autoconnect: true, isDefault: true, createdAt: 0 },
    library: await quickTimeoutLibrary(),
    filesDir: dirname(TORUS),
    virtual: { timeScale: 0, advancedOk: true, faults: { reset: { lines: [3000] } } },
    publish: () => {},
  });
  expect((await controller.connect()).ok).toBe(true);
  for (let i = 0; i < 200 && !(controller.status.state === "operational" && controller.status.sd.files.length > 0); i++) await Bun.sleep(10);
  expect((await controller.startJob("ps25_ender3_torus_0.20normal_pla.gcode")).ok).toBe(true);
  for (let i = 0; i < 1000 && isJobRunning(controller.status.job?.state); i++) await Bun.sleep(10);
  expect(controller.status.job?.state).toBe("failed");
  expect(controller.status.job?.reason).toContain("restarted");
  for (let i = 0; i < 300 && !(controller.status.state === "operational" && controller.status.firmware); i++) await Bun.sleep(10);
  expect(controller.status.state).toBe("operational");
  expect(controller.send(["M105"]).ok).toBe(true); // and it takes commands again
  await controller.dispose();
}, 30_000);

test("without the file's analysis, a line too long for the firmware stops the print before it; the lines before ran once", async () => {
  const dir = mkdtempSync(join(tmpdir(), "layerline-long-line-"));
  const gcode = layeredGcode({ layers: 3, objects: [{ name: "a", x: 10, y: 10 }], labels: "exclude_object" }).replace(";LAYER_CHANGE\n;Z:0.600", `;LAYER_CHANGE\n;Z:0.600\nM117 ${"z".repeat(100)}`);
  writeFileSync(join(dir, "long.gcode"), gcode);
  const executed: string[] = [];
  const controller = new PrinterController({
    record: { id: "l", name: "l", transport: "virtual", port: null, baud: 115200, window: 1, autoconnect: true, isDefault: true, createdAt: 0 },
    library: new QuirksLibrary((await loadQuirkSources(undefined)).sources),
    filesDir: dir,
    virtual: { timeScale: 0, onExecute: (l: ExecutedLine) => executed.push(l.command) },
    publish: () => {},
  });
  try {
    expect((await controller.connect()).ok).toBe(true);
    for (let i = 0; i < 200 && !(controller.status.state === "operational" && controller.status.sd.files.length > 0); i++) await Bun.sleep(10);
    const before = executed.length;
    expect((await controller.startJob("long.gcode")).ok).toBe(true); // no plan: nothing known about the file yet
    for (let i = 0; i < 500 && isJobRunning(controller.status.job?.state); i++) await Bun.sleep(10);
    const lines = gcode.split("\n");
    const at = lines.findIndex((l) => l.startsWith("M117")) + 1;
    expect(controller.status.job?.state).toBe("failed");
    expect(controller.status.job?.reason).toContain(`Line ${at} of long.gcode is too long for this printer`);
    expect(controller.status.job?.reason).toContain("reads at most 95. The print was stopped before that line.");
    const sent = lines.slice(0, at - 1).map(clean).filter((l) => l && !l.startsWith("EXCLUDE_OBJECT_"));
    // The after-failure script (heaters off) follows the file's lines.
    expect(executed.slice(before, before + sent.length)).toEqual(sent);
    expect(executed.slice(before + sent.length).some((l) => l.startsWith("M117"))).toBe(false);
    expect(controller.status.state).toBe("operational");
  } finally {
    await controller.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);

test("asking for the machine limits: the report lands in the status; never while a file is copied to the SD card", async () => {
  const controller = new PrinterController({
    record: { id: "q", name: "q", transport: "virtual", port: null, baud: 115200, window: 1, autoconnect: true, isDefault: true, createdAt: 0 },
    library: new QuirksLibrary((await loadQuirkSources(undefined)).sources),
    filesDir: dirname(TORUS),
    // A slow wire, so the upload below is still running when the question comes.
    virtual: { timeScale: 0, baudRate: 19200 },
    publish: () => {},
  });
  expect((await controller.connect()).ok).toBe(true);
  for (let i = 0; i < 500 && controller.status.limits === null; i++) await Bun.sleep(10);
  expect(controller.status.limits?.maxFeedrate).toEqual({ x: 300, y: 300, z: 5, e: 25 });
  expect((await controller.sdUpload("ps25_ender3_torus_0.20normal_pla.gcode")).ok).toBe(true);
  const asked = controller.queryLimits();
  expect(asked.ok ? "" : asked.error.code).toBe("busy");
  await controller.dispose();
}, 30_000);
