import { describe, expect, test } from "bun:test";
import { parseFirmwareLine } from "../../src/protocol/firmware-info.ts";
import { parsePosition } from "../../src/protocol/position.ts";
import { classify, compileGrammar } from "../../src/protocol/responses.ts";
import { parseTemperatures } from "../../src/protocol/temperature.ts";
import { builtInLibrary } from "../helpers/quirks.ts";

const library = await builtInLibrary();
const grammar = compileGrammar(library.get("marlin2"));
const kind = (line: string) => classify(line, grammar, 0).kind;

describe("temperature reports (§4.1)", () => {
  test("Marlin single hotend, in an ok and as an auto-report", () => {
    expect(parseTemperatures("ok T:210.00 /210.00 B:60.00 /60.00 @:127 B@:0", 0)).toEqual({
      tool0: { actual: 210, target: 210 },
      bed: { actual: 60, target: 60 },
    });
    expect(parseTemperatures(" T:23.12 /0.00 B:22.87 /0.00 @:0 B@:0", 0)?.bed).toEqual({ actual: 22.87, target: 0 });
  });

  test("Marlin multi-hotend: the duplicate T: of the active tool is dropped", () => {
    const r = parseTemperatures("ok T:210.00 /210.00 B:60.00 /60.00 T0:210.00 /210.00 T1:25.00 /0.00 @:127 B@:0 @0:127 @1:0", 1);
    expect(Object.keys(r!).sort()).toEqual(["bed", "tool0", "tool1"]);
    expect(r!.tool1).toEqual({ actual: 25, target: 0 });
  });

  test("chamber, heat-wait without target, Prusa extras, Klipper order", () => {
    expect(parseTemperatures(" T:187.43 /210.00 B:59.97 /60.00 C:35.10 /40.00 @:127 B@:31 W:?", 0)?.chamber).toEqual({ actual: 35.1, target: 40 });
    expect(parseTemperatures("T:195.3 E:0 W:?", 0)).toEqual({ tool0: { actual: 195.3, target: undefined } });
    const prusa = parseTemperatures("ok T:20.2 /0.0 B:19.1 /0.0 T0:20.2 /0.0 @:0 B@:0 P:19.8 A:26.4", 0)!;
    expect(prusa.tool0!.actual).toBe(20.2);
    expect(prusa.P!.actual).toBe(19.8);
    expect(parseTemperatures("ok B:60.0 /60.0 T0:210.0 /210.0", 0)).toEqual({ bed: { actual: 60, target: 60 }, tool0: { actual: 210, target: 210 } });
    expect(parseTemperatures("T:210 /210 @127 B:60.0 /60.0 @0", 2)!.tool2!.actual).toBe(210);
  });

  test("a tool with several heaters (RepRapFirmware) and raw ADC values (Marlin SHOW_TEMP_ADC_VALUES) keep their targets", () => {
    expect(parseTemperatures("ok T:25.1 /0.0 T0:25.1 25.3 /200.0 /200.0 B:24.3 /60.0", 0)).toEqual({ tool0: { actual: 25.1, target: 200 }, bed: { actual: 24.3, target: 60 } });
    expect(parseTemperatures("ok T:210.00 (3456) /210.00 (1234) B:60.00 (999) /60.00 (888) @:127 B@:0", 0)).toEqual({
      tool0: { actual: 210, target: 210 },
      bed: { actual: 60, target: 60 },
    });
  });

  test("CoreXY M114 counts are not a bed temperature", () => {
    expect(kind("X:242.00 Y:-9.00 Z:4.00 E:0.00 Count A:23300 B:25100 Z:1600")).toBe("position");
  });
});

describe("line classification (§11 step 2)", () => {
  test("acks with and without payloads", () => {
    expect(classify("ok", grammar, 0)).toEqual({ kind: "ok" });
    expect(classify("ok N10 P15 B3", grammar, 0)).toEqual({ kind: "ok", lineNumber: 10, plannerFree: 15, bufferFree: 3 });
    expect(classify("ok 123", grammar, 0)).toEqual({ kind: "ok", lineNumber: 123 });
    const withTemp = classify("ok T:19.37 /0.00 B:19.37 /0.00 @:0 B@:0", grammar, 0);
    expect(withTemp.kind === "ok" && withTemp.report?.kind).toBe("temperature");
    expect(kind("okay")).toBe("text");
  });

  test("every resend form", () => {
    for (const line of ["Resend: 12", "Resend:12", "rs N12", "rs 12", "rs N12 Expected checksum 67"]) {
      expect(classify(line, grammar, 0)).toEqual({ kind: "resend", lineNumber: 12 });
    }
  });

  test("busy, actions, errors, capabilities, firmware, start", () => {
    expect(classify("echo:busy: processing", grammar, 0)).toEqual({ kind: "busy", reason: "processing" });
    expect(classify("//action:prompt_begin M0 Stop", grammar, 0)).toEqual({ kind: "action", name: "prompt_begin", params: "M0 Stop" });
    expect(classify("// action:pause", grammar, 0)).toEqual({ kind: "action", name: "pause", params: "" });
    expect(classify("Error:checksum mismatch, Last Line: 1", grammar, 0)).toMatchObject({ errorClass: "resendFollows" });
    expect(classify("Error:Thermal Runaway, system stopped! Heater_ID: 0", grammar, 0)).toMatchObject({ errorClass: "fatal" });
    expect(classify("Error:Printer halted. kill() called!", grammar, 0)).toMatchObject({ errorClass: "fatal" });
    expect(classify("Error:Printer stopped due to errors. Fix the error and use M999 to restart.", grammar, 0)).toMatchObject({ errorClass: "halted" });
    expect(classify("Error:EEPROM CRC mismatch - (stored) 1 != 2 (calculated)!", grammar, 0)).toMatchObject({ errorClass: "ignore" });
    expect(classify("Cap:AUTOREPORT_TEMP:1", grammar, 0)).toEqual({ kind: "capability", name: "AUTOREPORT_TEMP", enabled: true });
    expect(kind("start")).toBe("start");
    expect(kind("echo:SD card ok")).toBe("sd");
    expect(kind("echo:Unknown command: \"M9999\"")).toBe("text");
  });

  test("SD replies of every dialect (§4.3)", () => {
    const sd = (line: string, g = grammar) => {
      const r = classify(line, g, 0);
      return r.kind === "sd" ? r.message : r.kind;
    };
    expect(sd("File opened: TEST.GCO Size: 42")).toEqual({ type: "fileOpened", name: "TEST.GCO", size: 42 });
    expect(sd("File opened:/sd/benchy.gcode Size:3145728")).toEqual({ type: "fileOpened", name: "/sd/benchy.gcode", size: 3145728 });
    expect(sd("File opened")).toEqual({ type: "fileOpened" });
    expect(sd("File selected")).toEqual({ type: "fileSelected" });
    expect(sd("SD printing byte 32/42")).toEqual({ type: "progress", pos: 32, size: 42 });
    expect(sd("SD printing byte 0/0")).toEqual({ type: "notPrinting" });
    expect(sd("Not SD printing.")).toEqual({ type: "notPrinting" });
    expect(sd("Done printing file")).toEqual({ type: "done" });
    expect(sd("Writing to file: NEW.GCO")).toEqual({ type: "writing", name: "NEW.GCO" });
    expect(sd("Done saving file.")).toEqual({ type: "saved" });
    expect(sd("File deleted:NEW.GCO")).toEqual({ type: "deleted", name: "NEW.GCO" });
    expect(sd("open failed, File: nope.gco.")).toEqual({ type: "openFailed", name: "nope.gco" });
    expect(sd("echo:SD init fail")).toEqual({ type: "cardFail", text: "echo:SD init fail" });
    expect(sd("Card successfully initialized.")).toEqual({ type: "cardOk" });
    expect(classify("Error:volume.init failed", grammar, 0)).toMatchObject({ kind: "error", errorClass: "sd" });
    const smoothie = compileGrammar(library.get("smoothieware"));
    expect(sd("Not currently playing", smoothie)).toEqual({ type: "notPrinting" });
    expect(sd("SD print is paused at 100/200", smoothie)).toEqual({ type: "progress", pos: 100, size: 200 });
  });

  test("per-firmware lines: Repetier skip and target lines, Klipper errors, Smoothie halts", () => {
    const repetier = compileGrammar(library.get("repetier"));
    expect(classify("skip 12", repetier, 0)).toEqual({ kind: "skip", lineNumber: 12 });
    expect(classify("TargetExtr1:210", repetier, 0)).toEqual({ kind: "target", heater: "tool1", target: 210 });
    expect(classify("TargetBed:60", repetier, 0)).toEqual({ kind: "target", heater: "bed", target: 60 });
    expect(classify("busy:heating", repetier, 0)).toEqual({ kind: "busy", reason: "heating" });
    expect(classify("fatal:Heater decoupled during rising - Printer stopped", repetier, 0)).toMatchObject({ errorClass: "fatal" });
    const klipper = compileGrammar(library.get("klipper"));
    expect(classify("!! Printer is not ready", klipper, 0)).toMatchObject({ kind: "error", errorClass: "error" });
    expect(classify("// Klipper state: Shutdown", klipper, 0)).toMatchObject({ kind: "error", errorClass: "fatal" });
    expect(classify("// Klipper state: Ready", klipper, 0).kind).toBe("text");
    expect(classify("!! Unable to open file", klipper, 0)).toMatchObject({ errorClass: "sd" });
    const smoothie = compileGrammar(library.get("smoothieware"));
    expect(classify("!!", smoothie, 0)).toMatchObject({ errorClass: "halted" });
    expect(classify("ok C: X:0.0000 Y:1.0000 Z:2.0000 E:0.0000", smoothie, 0)).toEqual({ kind: "ok", report: { kind: "position", position: { x: 0, y: 1, z: 2, e: 0 } } });
    expect(classify("ok - ignored", smoothie, 0)).toMatchObject({ kind: "ok" });
    const prusa = compileGrammar(library.get("prusa"));
    expect(classify("Error:No Line Number with checksum, Last Line: 11", prusa, 0)).toMatchObject({ errorClass: "resendFollows" });
    expect(classify("Error:No Line Number with checksum, Last Line: 11", grammar, 0)).toMatchObject({ errorClass: "fakeOk" });
  });

  test("Creality's doubled temperature lines are read once undoubled (overlay)", () => {
    const creality = compileGrammar(library.with("marlin2", ["creality"]));
    expect(classify("TT::27.7627.76  //0.000.00  BB::39.3539.35  //0.000.00  @@::00  BB@@::00", creality, 0)).toEqual({
      kind: "temperature",
      report: { tool0: { actual: 27.76, target: 0 }, bed: { actual: 39.35, target: 0 } },
    });
    expect(classify("TT::27.7627.76  //0.000.00", grammar, 0).kind).toBe("text"); // plain Marlin does not guess
  });

  test("firmware lines of several families", () => {
    const marlin = parseFirmwareLine(
      "FIRMWARE_NAME:Marlin 2.1.2.1 (Jul  1 2023 12:00:00) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 MACHINE_TYPE:Ender-3 V2 EXTRUDER_COUNT:1 UUID:cede2a2f",
    );
    expect(marlin.FIRMWARE_NAME).toBe("Marlin 2.1.2.1 (Jul  1 2023 12:00:00)");
    expect(marlin.MACHINE_TYPE).toBe("Ender-3 V2");
    expect(parseFirmwareLine("FIRMWARE_NAME:Smoothieware, FIRMWARE_URL:http%3A//smoothieware.org, X-SOURCE_CODE_URL:https://x").FIRMWARE_NAME).toBe("Smoothieware");
    expect(parseFirmwareLine("NAME. Malyan\tVER: 3.8\tMODEL: M100").NAME).toBe("Malyan");
    expect(parsePosition("X:10.00 Y:20.00 Z:5.00 E:0.00 Count X:800 Y:1600 Z:2000")).toEqual({ x: 10, y: 20, z: 5, e: 0 });
  });

  test("the real Marlin 2.1 transcript classifies without surprises", async () => {
    const text = await Bun.file(new URL("../fixtures/serial-logs/marlin-2.1-native_full-session_resend-sd-busy-m112.txt", import.meta.url)).text();
    const counts: Record<string, number> = {};
    for (const raw of text.split("\n")) {
      const m = /^\[\s*[\d.]+\] << (.*)$/.exec(raw);
      if (!m) continue;
      const k = classify(m[1]!, grammar, 0).kind;
      counts[k] = (counts[k] ?? 0) + 1;
    }
    expect(counts.resend).toBeGreaterThanOrEqual(3);
    expect(counts.capability).toBeGreaterThanOrEqual(30);
    expect(counts.firmware).toBe(1);
    expect(counts.busy).toBeGreaterThan(10);
    expect(counts.start).toBeGreaterThanOrEqual(1);
    expect(counts.error).toBeGreaterThanOrEqual(4);
  });
});
