/**
 * The virtual printer cancels labelled objects as its firmware family does — Marlin's M486
 * (CANCEL_OBJECTS), Klipper's EXCLUDE_OBJECT — while it prints from its SD card: the cancelled
 * object's moves are skipped (the head stays, no filament moves), the others run; and with
 * NO_MOTION_BEFORE_HOMING it refuses every move until all axes are homed.
 */
import { describe, expect, test } from "bun:test";
import { layeredGcode } from "../helpers/gcode.ts";
import { Bench } from "./harness.ts";

const PARTS = [
  { name: "cube_a", x: 20, y: 20 },
  { name: "cube_b", x: 60, y: 20 },
  { name: "cube_c", x: 100, y: 20 },
];

/** Which object each executed line belongs to, by the labels of `gcode` read in order. */
function byObject(commands: { command: string; skipped?: boolean }[]) {
  let current: string | null = null;
  return commands.map((c) => {
    const m486 = /^M486 S(-?\d+)/.exec(c.command);
    if (m486) current = Number(m486[1]) >= 0 ? PARTS[Number(m486[1])]!.name : null;
    const start = /^EXCLUDE_OBJECT_START NAME=(\S+)/.exec(c.command);
    if (start) current = start[1]!;
    if (c.command.startsWith("EXCLUDE_OBJECT_END")) current = null;
    return { ...c, object: current };
  });
}

/** Prints `gcode` from the card; after `before` lines read from it, the host sends `cancel`. */
function printFromCard(options: { personality?: "marlin2" | "klipper"; cancelObjects?: boolean }, gcode: string, cancel: string, before: number) {
  // Moves take (simulated) time, so the print is under way when the host's command comes.
  const b = new Bench({ timeScale: 1, sdFiles: [{ name: "parts.gcode", content: gcode }], ...options });
  b.send("M23 parts.gcode").send("M24");
  while (b.executed.filter((e) => e.source === "sd").length < before) b.advanceTo(b.fw.nextWakeAt()!);
  b.send(cancel);
  b.until((l) => l.startsWith("Done printing file"));
  return { b, executed: byObject(b.executed.filter((e) => e.source === "sd")) };
}

describe("virtual printer: cancelling objects", () => {
  test("Marlin: M486 P1 mid-print skips object 1's moves from then on; the others go on; M486 reports it", () => {
    const gcode = layeredGcode({ layers: 6, objects: PARTS, labels: "m486" });
    const total = gcode.split("\n").filter((l) => l && !l.startsWith(";")).length;
    const { b, executed } = printFromCard({}, gcode, "M486 P1", Math.round(total / 2));
    const moves = executed.filter((e) => /^G1 /.test(e.command));
    const cut = executed.findIndex((e) => e.skipped);
    expect(cut).toBeGreaterThan(0);
    // Before the cancel every move ran; after it, every move of cube_b is skipped and no other.
    const before = moves.filter((e) => executed.indexOf(e) < cut && e.object === "cube_b");
    expect(before.length).toBeGreaterThan(5);
    expect(before.every((e) => !e.skipped)).toBe(true);
    expect(moves.filter((e) => executed.indexOf(e) >= cut && e.object === "cube_b").every((e) => e.skipped)).toBe(true);
    expect(moves.filter((e) => e.object !== "cube_b").every((e) => !e.skipped)).toBe(true);
    expect(moves.filter((e) => e.object === "cube_b" && e.skipped).length).toBeGreaterThan(5);
    // E went on as if extruded: it ends where the file's last E word puts it.
    expect(b.fw.state.position.e).toBeCloseTo(Number([...gcode.matchAll(/ E([\d.]+)/g)].pop()![1]), 3);
    b.take();
    b.send("M486");
    expect(b.take()).toContain("echo:Canceled: 1");
  });

  test("Marlin without CANCEL_OBJECTS: M486 is an unknown command and nothing is skipped", () => {
    const gcode = layeredGcode({ layers: 3, objects: PARTS, labels: "m486" });
    const { b, executed } = printFromCard({ cancelObjects: false }, gcode, "M486 P1", 20);
    expect(executed.some((e) => e.skipped)).toBe(false);
    expect(b.log.some((l) => l.line === 'echo:Unknown command: "M486 P1"')).toBe(true);
  });

  test("Klipper: EXCLUDE_OBJECT NAME= skips that object; a bare EXCLUDE_OBJECT lists the excluded", () => {
    const gcode = layeredGcode({ layers: 6, objects: PARTS, labels: "exclude_object" });
    const { b, executed } = printFromCard({ personality: "klipper" }, gcode, "EXCLUDE_OBJECT NAME=cube_c", 60);
    const moves = executed.filter((e) => /^G1 /.test(e.command));
    expect(moves.filter((e) => e.object === "cube_c" && e.skipped).length).toBeGreaterThan(5);
    expect(moves.filter((e) => e.object !== "cube_c").every((e) => !e.skipped)).toBe(true);
    b.take();
    b.send("EXCLUDE_OBJECT");
    expect(b.take()).toContain("// Excluded objects: CUBE_C");
  });
});

describe("virtual printer: NO_MOTION_BEFORE_HOMING", () => {
  test("every move is refused until X, Y and Z are homed; G92 does not count", () => {
    const b = new Bench({ timeScale: 0, noMotionBeforeHoming: true });
    b.send("G92 Z5").send("G91").send("G1 Z2 F600").send("G90");
    expect(b.take()).toEqual(["ok", "ok", "echo:Home XYZ First", "ok", "ok"]);
    b.send("G28 X Y");
    b.take();
    b.send("G1 Z3");
    expect(b.take()).toEqual(["echo:Home Z First", "ok"]);
    expect(b.fw.state.position.z).toBe(5);
    b.send("G28").send("G1 Z3");
    b.take();
    expect(b.fw.state.position.z).toBe(3);
  });
});
