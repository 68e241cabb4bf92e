import { describe, expect, test } from "bun:test";
import { frame } from "../../src/protocol/framing.ts";
import { Bench } from "./harness.ts";

const TEMP_OK = /^ok T:\d+\.\d{2} \/\d+\.\d{2} B:\d+\.\d{2} \/\d+\.\d{2} @:\d+ B@:\d+$/;

describe("virtual firmware: boot and identity", () => {
  test("boot banner has Marlin's shape", () => {
    const b = new Bench({}, 0, false);
    b.fw.boot(0);
    expect(b.fw.takeOutput().split("\n")).toEqual([
      "start",
      "PowerUp",
      "Marlin 2.1.2.4",
      "echo: Last Updated: 2024-06-11 | Author: (Layerline, virtual printer)",
      "echo: Compiled: Jun 11 2024",
      "echo: Free Memory: 41823  PlannerBufferBytes: 1280",
      "echo:No EEPROM.",
      "echo:Hardcoded Default Settings Loaded",
      "echo:SD card ok",
      "",
    ]);
    b.fw.boot(10, "external");
    expect(b.fw.takeOutput().split("\n").slice(0, 2)).toEqual(["start", " External Reset"]);
  });

  test("M115 reports FIRMWARE_NAME and the Cap list, then ok", () => {
    const b = new Bench();
    b.sendN(0, "M110 N0").sendN(1, "M115");
    const out = b.take();
    expect(out[0]).toBe("ok");
    expect(out[1]).toStartWith("FIRMWARE_NAME:Marlin 2.1.2.4 (");
    expect(out[1]).toContain(" PROTOCOL_VERSION:1.0 MACHINE_TYPE:Layerline Virtual EXTRUDER_COUNT:1 UUID:");
    const caps = out.slice(2, -1);
    expect(caps.every((l) => /^Cap:[A-Z0-9_]+:[01]$/.test(l))).toBe(true);
    for (const cap of [
      "AUTOREPORT_TEMP:1",
      "AUTOREPORT_POS:1",
      "EMERGENCY_PARSER:1",
      "HOST_ACTION_COMMANDS:1",
      "PROMPT_SUPPORT:1",
      "SDCARD:1",
      "EXTENDED_M20:1",
      "THERMAL_PROTECTION:1",
    ]) {
      expect(caps).toContain(`Cap:${cap}`);
    }
    expect(out.at(-1)).toBe("ok");
  });

  test("unknown commands are echoed, then acknowledged", () => {
    const b = new Bench();
    b.sendN(0, "M110 N0").sendN(1, "M9999").send("FOO BAR");
    expect(b.take()).toEqual(["ok", 'echo:Unknown command: "M9999"', "ok", 'echo:Unknown command: "FOO BAR"', "ok"]);
  });
});

describe("virtual firmware: line framing (Marlin 2.1 replies)", () => {
  test("good numbered lines get ok; M105 answers in its ok", () => {
    const b = new Bench();
    b.send("N0 M110 N0*125").sendN(1, "G1 X1 F600").sendN(2, "M105");
    const out = b.take();
    expect(out.slice(0, 2)).toEqual(["ok", "ok"]);
    expect(out[2]).toMatch(TEMP_OK);
    expect(b.executed.map(({ n, command }) => ({ n, command }))).toEqual([
      { n: 0, command: "M110 N0" },
      { n: 1, command: "G1 X1 F600" },
      { n: 2, command: "M105" },
    ]);
  });

  test("bad checksum: exact three lines, line not executed, resend accepted", () => {
    const b = new Bench();
    b.sendN(0, "M110 N0").sendN(1, "M105");
    b.take();
    b.send("N2 M105*112");
    expect(b.take()).toEqual(["Error:checksum mismatch, Last Line: 1", "Resend: 2", "ok"]);
    expect(b.executed.map((e) => e.n)).toEqual([0, 1]);
    b.send("N2 M105*37");
    expect(b.take()[0]).toMatch(TEMP_OK);
  });

  test("wrong line number: exact three lines", () => {
    const b = new Bench();
    b.sendN(0, "M110 N0").sendN(1, "M105").sendN(2, "M105");
    b.take();
    b.send("N4 M105*35");
    expect(b.take()).toEqual(["Error:Line Number is not Last Line Number+1, Last Line: 2", "Resend: 3", "ok"]);
  });

  test("line number without checksum: exact three lines", () => {
    const b = new Bench();
    b.sendN(0, "M110 N0").sendN(1, "M105").sendN(2, "M105").sendN(3, "M105");
    b.take();
    b.send("N4 M105");
    expect(b.take()).toEqual(["Error:No Checksum with line number, Last Line: 3", "Resend: 4", "ok"]);
  });

  test("the line-number check comes before the checksum check", () => {
    const b = new Bench();
    b.sendN(0, "M110 N0");
    b.take();
    b.send("N5 M105*1");
    expect(b.take()[0]).toBe("Error:Line Number is not Last Line Number+1, Last Line: 0");
  });

  test("M110 sets the line number in both forms", () => {
    const b = new Bench();
    b.sendN(7, "M110 N41"); // number after M110 wins
    b.sendN(42, "M105");
    b.send("M110 N99"); // unnumbered form, through the M110 handler
    b.sendN(100, "M105");
    b.send("N-1 M110 N-1*125"); // Printrun's reset: the next line is N0
    b.sendN(0, "M105");
    b.sendN(5, "M110"); // no N after M110: the line number itself
    b.sendN(6, "M105");
    const out = b.take();
    expect(out.filter((l) => l.startsWith("Error"))).toEqual([]);
    expect(out.length).toBe(8);
  });

  test("empty and comment-only lines get no ok; unnumbered lines are accepted any time", () => {
    const b = new Bench();
    b.sendN(0, "M110 N0").sendN(1, "M105");
    b.take();
    b.write("\n\r\n   \n; just a comment\n");
    expect(b.take()).toEqual([]);
    b.send("G1 X5 ; with a comment").sendN(2, "G1 X6");
    expect(b.take()).toEqual(["ok", "ok"]);
    expect(b.executed.slice(-2).map(({ n, command }) => ({ n, command }))).toEqual([
      { n: undefined, command: "G1 X5" },
      { n: 2, command: "G1 X6" },
    ]);
  });

  test("a repeat of the last accepted line is dropped silently and not executed again", () => {
    const b = new Bench();
    b.sendN(0, "M110 N0").sendN(1, "G1 X1 F600");
    b.take();
    b.sendN(1, "G1 X1 F600");
    expect(b.take()).toEqual([]);
    expect(b.executed.filter((e) => e.n === 1).length).toBe(1);
  });

  test("lines in flight after an error are each rejected, then the resend runs each once", () => {
    const b = new Bench();
    b.sendN(0, "M110 N0").sendN(1, "G1 X1 F600");
    b.take();
    const bad = frame(2, "G1 X2").replace("X2", "X3"); // a flipped bit: checksum no longer matches
    b.write(`${bad}\n${frame(3, "G1 X3")}\n${frame(4, "G1 X4")}\n`);
    expect(b.take()).toEqual([
      "Error:checksum mismatch, Last Line: 1",
      "Resend: 2",
      "ok",
      "Error:Line Number is not Last Line Number+1, Last Line: 1",
      "Resend: 2",
      "ok",
      "Error:Line Number is not Last Line Number+1, Last Line: 1",
      "Resend: 2",
      "ok",
    ]);
    b.write(`${frame(2, "G1 X2")}\n${frame(3, "G1 X3")}\n${frame(4, "G1 X4")}\n`);
    expect(b.take()).toEqual(["ok", "ok", "ok"]);
    expect(b.executed.map((e) => e.command)).toEqual(["M110 N0", "G1 X1 F600", "G1 X2", "G1 X3", "G1 X4"]);
  });

  test("output does not depend on how the bytes were chunked", () => {
    const stream =
      [frame(0, "M110 N0"), frame(1, "M105"), "N2 M105*9", frame(3, "G1 X1"), frame(2, "M105"), "M114", frame(3, "M115")].join(
        "\r\n",
      ) + "\n";
    const whole = new Bench({ seed: 3 });
    whole.write(stream);
    const bytewise = new Bench({ seed: 3 });
    for (const ch of stream) bytewise.write(ch);
    expect(bytewise.take()).toEqual(whole.take());
    expect(bytewise.executed).toEqual(whole.executed);
  });

  test("a line longer than Marlin's buffer is cut and fails its checksum", () => {
    const b = new Bench();
    b.sendN(0, "M110 N0");
    b.take();
    b.send(frame(1, `M117 ${"x".repeat(120)}`));
    expect(b.take()[0]).toStartWith("Error:");
    // 95 characters framed is the most it reads whole (MAX_CMD_SIZE 96 with its terminator).
    let fits = "M117 ";
    while (frame(1, `${fits}y`).length <= 95) fits += "y";
    expect(frame(1, fits).length).toBeGreaterThanOrEqual(94); // the checksum's digits vary
    b.send(frame(1, fits));
    expect(b.take()).toEqual(["ok"]);
  });

  test("Klipper reads lines of any length (its quirks profile has no limit)", () => {
    const b = new Bench({ personality: "klipper" });
    const define = `EXCLUDE_OBJECT_DEFINE NAME=part CENTER=10,10 POLYGON=[${Array.from({ length: 40 }, (_, i) => `[${i}.125,${i}.875]`).join(",")}]`;
    expect(define.length).toBeGreaterThan(600);
    b.send(frame(5, define));
    expect(b.take()).toEqual(["ok"]);
    expect(b.executed.map((l) => l.command)).toEqual([define]);
  });
});
