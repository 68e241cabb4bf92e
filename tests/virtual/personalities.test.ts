/**
 * The virtual printer's personalities against the host engine: each is recognised as its quirks
 * profile, and a print through a damaged link still runs every line once; their own words (ok
 * forms, resend forms, temperature lines, SD dialects, shutdowns) are what protocol.md shows.
 */
import { describe, expect, test } from "bun:test";
import { PERSONALITIES, type PersonalityId } from "../../src/virtual/personalities.ts";
import { Bench } from "./harness.ts";
import { connect } from "./sim.ts";
const PROFILE: Record<PersonalityId, string> = { marlin2: "marlin2", prusa: "prusa", repetier: "repetier", smoothie: "smoothieware", klipper: "klipper" };

const program = (n: number) => ["G90", "M83", ...Array.from({ length: n }, (_, i) => `G1 X${(i % 100) + 1} Y${(i * 7) % 100} E0.01 F6000`)];

describe("each personality with the host engine", () => {
  for (const personality of PERSONALITIES) {
    test(`${personality}: recognised as "${PROFILE[personality]}", a print with damaged and lost lines runs once`, () => {
      // Klipper takes every line as it comes (no line numbers), so only a clean link makes sense.
      const faults = personality === "klipper" ? {} : { corrupt: { probability: 0.02 }, drop: { probability: 0.01 } };
      const { sim, events, executed } = connect({ personality, seed: 11, faults }, 4);
      expect(sim.engine.profile.id).toBe(PROFILE[personality]);
      const fw = events.find((e) => e.type === "firmware")!;
      expect(fw).toMatchObject({ profile: PROFILE[personality] });
      const before = executed.length;
      const p = program(1500);
      sim.stream(p[Symbol.iterator]());
      expect(sim.run(() => sim.jobFinished && sim.engine.outstanding() === 0, 1e8)).toBe(true);
      expect(executed.slice(before).filter((c) => !/^M10[5]|^M27|^M114/.test(c))).toEqual(p);
      if (personality !== "klipper") expect(sim.engine.stats.resendRequests).toBeGreaterThan(10);
    });
  }
});

describe("the words of each firmware", () => {
  test("Marlin with ADVANCED_OK: ok N.. P.. B.. with its queue and planner", () => {
    const b = new Bench({ timeScale: 1, advancedOk: true });
    b.sendN(0, "M110 N0").sendN(1, "G1 X10 F600");
    expect(b.take()).toEqual(["ok N0 P16 B3", "ok N1 P15 B3"]);
  });

  test("Repetier: ok with the line number on receipt, blank + Resend:, skip for duplicates, wait when idle", () => {
    const b = new Bench({ personality: "repetier", timeScale: 0 });
    b.sendN(0, "M110 N0").sendN(1, "M105");
    expect(b.take()).toEqual(["ok", "ok 1", expect.stringMatching(/^T:\d+\.\d\d \/0 B:\d+\.\d\d \/0 B@:0 @:0$/)]); // the ok comes first
    b.send("N2 M105*99");
    expect(b.take()).toEqual(["", "Resend:2", "ok"]);
    b.sendN(1, "M105");
    expect(b.take()).toEqual(["skip 1", "ok"]);
    b.wait(1000);
    expect(b.take()).toEqual(["wait"]);
    b.sendN(2, "M104 S200");
    expect(b.take()).toEqual(["ok 2", "TargetExtr0:200"]);
  });

  test("Smoothieware: rs N<n> with no ok, empty lines acked, console commands unacked, @ without colon", () => {
    const b = new Bench({ personality: "smoothie", timeScale: 0 });
    b.sendN(0, "M110 N0").send("N1 M105*99");
    expect(b.take()).toEqual(["ok", "rs N1"]);
    b.send("").send("version");
    expect(b.take()).toEqual(["ok", expect.stringMatching(/^Build version: /)]);
    b.sendN(1, "M105").sendN(2, "M114");
    expect(b.take()).toEqual([expect.stringMatching(/^ok T:\d+\.\d \/0\.0 @0 B:\d+\.\d \/0\.0 @0$/), "ok C: X:0.0000 Y:0.0000 Z:0.0000 E:0.0000"]);
  });

  test("Klipper: M115 inside the ok, no line checks, unknown commands, shutdown after M112 until FIRMWARE_RESTART", () => {
    const b = new Bench({ personality: "klipper", timeScale: 0 });
    b.send("N7 M115*0").send("FOO").send("M105");
    expect(b.take()).toEqual(["ok FIRMWARE_NAME:Klipper FIRMWARE_VERSION:v0.12.0-layerline", '// Unknown command:"FOO"', "ok", expect.stringMatching(/^ok B:\d+\.\d \/0\.0 T0:/)]);
    b.send("M112");
    expect(b.take()).toEqual(["// Klipper state: Shutdown", "ok"]); // protocol.md §9.5c
    b.send("G28");
    expect(b.take()).toEqual(["// Shutdown due to M112 command", "!! Shutdown due to M112 command", "ok"]);
    b.send("M105").send("M21"); // not ready: a placeholder report, the card init taken silently
    expect(b.take()).toEqual(["ok T:0", "ok"]);
    b.send("FIRMWARE_RESTART").send("STATUS");
    expect(b.take()).toEqual(["// Klipper state: Ready", "ok", "// Klipper state: Ready", "ok"]);
    b.send("M112").send("RESTART");
    expect(b.take()).toEqual(["// Klipper state: Shutdown", "ok", "// Klipper state: Ready", "ok"]);
  });

  test("Prusa: temperatures with P:/A:, heat-wait lines without target, reboot after a kill", () => {
    const b = new Bench({ personality: "prusa", timeScale: 50 });
    b.sendN(0, "M110 N0").sendN(1, "M105");
    expect(b.take()[1]).toMatch(/^ok T:\d+\.\d \/0\.0 B:\d+\.\d \/0\.0 T0:\d+\.\d \/0\.0 @:0 B@:0 P:[\d.-]+ A:26\.4$/);
    b.send("M112");
    expect(b.take()).toEqual(["Error:Printer halted. kill() called!", "M112 called. Emergency Stop."]);
    b.wait(1000);
    expect(b.take()[0]).toBe("start");
    b.sendN(0, "M110 N0").sendN(1, "M109 S60").wait(1);
    expect(b.take()[1]).toMatch(/^T:\d+\.\d E:0 W:\?$/);
    b.sendN(2, "M190 S40").wait(60_000);
    expect(b.take().find((l) => l.includes(" B:"))).toMatch(/^T:\d+\.\d E:0 B:\d+\.\d$/);
  });
});

describe("the SD card (through the engine, as the host uses it)", () => {
  test("list with long names, upload with M28/M29, select and print with progress, delete", () => {
    const { sim, events, executed } = connect({ advancedOk: true }, 4);
    const lists = () => events.flatMap((e) => (e.type === "sd" && e.message.type === "list" ? [e.message.files] : []));
    expect(lists()[0]).toEqual([{ name: "LAYERL~1.GCO", size: 288, longName: "layerline-demo.gcode", modified: expect.any(Number) }]);

    // Upload: every line between M28 and M29 is stored, not run.
    const upload = ["M28 cube.gcode", "G28", "G1 X10 Y10 F3000", "G1 X20 Y10", "M29"];
    const before = executed.length;
    sim.stream(upload[Symbol.iterator]());
    expect(sim.run(() => sim.jobFinished && sim.engine.outstanding() === 0, 60_000)).toBe(true);
    expect(executed.slice(before)).toEqual(["M28 cube.gcode"]);
    sim.send("M20 L T");
    sim.run(() => lists().length === 2, 5000);
    expect(lists()[1]!.map((f) => [f.name, f.longName, f.size])).toEqual([
      ["LAYERL~1.GCO", "layerline-demo.gcode", 288],
      ["CUBE.GCO", "cube.gcode", 32],
    ]);

    // Print it from the card: the firmware runs the file's lines; progress arrives by auto-report.
    sim.send("M23 CUBE.GCO").send("M24");
    expect(sim.run(() => events.some((e) => e.type === "sd" && e.message.type === "done"), 60_000)).toBe(true);
    const sdTypes = events.filter((e) => e.type === "sd").map((e) => (e as { message: { type: string } }).message.type);
    expect(sdTypes).toContain("fileOpened");
    expect(executed.slice(-3)).toEqual(["G28", "G1 X10 Y10 F3000", "G1 X20 Y10"]);

    sim.send("M30 CUBE.GCO").send("M20 L");
    sim.run(() => lists().length === 3, 5000);
    expect(lists()[2]!.map((f) => f.name)).toEqual(["LAYERL~1.GCO"]);
  });

  test("M28 puts the file on the card at once: a reset before M29 leaves the lines written so far", () => {
    const b = new Bench();
    b.sendN(0, "M110 N0").sendN(1, "M21").sendN(2, "M28 part.gcode").take();
    b.sendN(3, "G28").sendN(4, "G1 X10").take();
    b.reboot("external");
    b.sendN(0, "M110 N0").sendN(1, "M21").take();
    b.sendN(2, "M20 L");
    expect(b.take()).toContain("PART.GCO 11 part.gcode"); // "G28\n" and "G1 X10\n"
    // Printed from the card: the two lines are the file.
    b.sendN(3, "M23 PART.GCO").sendN(4, "M24");
    b.wait(5000);
    expect(b.executed.filter((e) => e.source === "sd").map((e) => e.command)).toEqual(["G28", "G1 X10"]);
  });

  test("with gluedDeleteOk, M30 answers as old Marlin did: `File deleted:NAMEok`, and nothing else", () => {
    const b = new Bench({ gluedDeleteOk: true });
    b.sendN(0, "M110 N0").sendN(1, "M21").take();
    b.sendN(2, "M30 LAYERL~1.GCO");
    expect(b.take()).toEqual(["File deleted:LAYERL~1.GCOok"]);
    b.sendN(3, "M30 LAYERL~1.GCO"); // gone now: the failure keeps its own line and ok
    expect(b.take()).toEqual(["Deletion failed, File: LAYERL~1.GCO.", "ok"]);
  });

  test("pause and resume keep the position; the status line shows it", () => {
    const b = new Bench({ timeScale: 1 });
    b.sendN(0, "M110 N0").sendN(1, "M23 LAYERL~1.GCO").sendN(2, "M24");
    b.wait(3000);
    b.sendN(3, "M25").sendN(4, "M27"); // read once the homing at the file's start is done
    const status = b.until((l) => l.startsWith("SD printing byte")).line;
    const pos = Number(/byte (\d+)\//.exec(status)![1]);
    b.take();
    expect(pos).toBeGreaterThan(0);
    b.wait(5000).sendN(5, "M27");
    expect(b.take()).toContain(`SD printing byte ${pos}/288`);
    b.sendN(6, "M24").wait(120_000).sendN(7, "M27");
    const out = b.take();
    expect(out).toContain("Done printing file");
    expect(out).toContain("Not SD printing");
  });
});
