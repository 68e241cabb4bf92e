/**
 * The farm queue's planner as tables: which entry goes to which printer, given the printers'
 * states, beds and profiles and what each file needs; and why the others wait.
 */
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { analyseBytes } from "../../src/analysis/analysis.ts";
import { fileNeeds, misfit, notFree, planDispatch, type FarmEntryFacts, type FarmPrinterFacts, type FileNeeds } from "../../src/farm/dispatch.ts";
import { firmwareNeed } from "../../src/farm/firmware.ts";
import { PrinterProfileSchema } from "../../src/printers/profile.ts";
import { fixture } from "../analysis/helpers.ts";

const profile = (p: Record<string, unknown> = {}) => v.parse(PrinterProfileSchema, p);
const printer = (id: string, over: Partial<FarmPrinterFacts> = {}): FarmPrinterFacts => ({
  id,
  name: id.toUpperCase(),
  state: "operational",
  jobRunning: false,
  interrupted: false,
  ownQueue: "idle",
  bed: "clear",
  autoStart: false,
  profile: profile(),
  firmware: ["marlin2", "generic"],
  ...over,
});
/** A box-shaped part: its extents and its outline. */
const block = (minX: number, maxX: number, minY: number, maxY: number, maxZ: number): Pick<FileNeeds, "area" | "hull"> => ({
  area: { minX, maxX, minY, maxY, maxZ },
  hull: [[minX, minY], [maxX, minY], [maxX, maxY], [minX, maxY]],
});
/** A round part of radius `r` about (cx, cy), as a slicer's 64-sided outline. */
const disc = (cx: number, cy: number, r: number): Pick<FileNeeds, "area" | "hull"> => ({
  area: { minX: cx - r, maxX: cx + r, minY: cy - r, maxY: cy + r, maxZ: 5 },
  hull: Array.from({ length: 64 }, (_, i) => [cx + r * Math.cos((i * Math.PI) / 32), cy + r * Math.sin((i * Math.PI) / 32)] as [number, number]),
});
const SMALL: FileNeeds = { ...block(10, 60, 10, 60, 20), nozzle: 0.4, tools: 1, heatedBed: true, firmware: null };
const entry = (id: string, over: Partial<FarmEntryFacts> = {}): FarmEntryFacts => ({ id, file: `${id}.gcode`, remaining: 1, missing: false, needs: SMALL, ...over });
const starts = (entries: FarmEntryFacts[], printers: FarmPrinterFacts[]) => planDispatch(entries, printers).starts.map((s) => `${s.entry}→${s.printer}`);

describe("a printer is free", () => {
  const cases: [string, Partial<FarmPrinterFacts>, string | null][] = [
    ["operational, idle, bed cleared", {}, null],
    ["not connected", { state: "closed" }, "not ready (closed)"],
    ["in error", { state: "error" }, "not ready (error)"],
    ["printing", { state: "printing", jobRunning: true }, "printing"],
    ["paused", { state: "paused", jobRunning: true }, "printing"],
    ["an interrupted print waits", { interrupted: true }, "an interrupted print waits for you to resume or discard it"],
    ["its own queue waits for its bed", { ownQueue: "awaiting-confirmation" }, "its own queue is using it"],
    ["its own queue prints", { ownQueue: "printing" }, "its own queue is using it"],
    ["last print done, bed not cleared", { bed: "printed" }, "waiting for the bed to be cleared"],
    ["last print done, auto-start", { bed: "printed", autoStart: true }, null],
    ["last print failed, auto-start", { bed: "stopped", autoStart: true }, "waiting for the bed to be cleared"],
    ["a print was handed to it", { bed: "printing" }, "waiting for the bed to be cleared"],
    ["interrupted print, even with auto-start and a clear bed", { interrupted: true, autoStart: true }, "an interrupted print waits for you to resume or discard it"],
    // Operational before it answered M115: which files it may take is not known yet.
    ["connected, its firmware not yet identified", { firmware: null }, "not ready (its firmware is being identified)"],
    ["connected, its firmware not recognised", { firmware: ["generic"] }, null],
  ];
  for (const [name, over, want] of cases) test(name, () => expect(notFree(printer("p", over))).toBe(want));
});

describe("a file fits a printer", () => {
  const round = { volume: { origin: "center", formFactor: "circular" } };
  const cases: [string, Partial<FileNeeds>, Record<string, unknown>, string | null][] = [
    ["small part on the default 200 mm bed", {}, {}, null],
    ["purge line just off the bed (within the margin)", block(-3, 60, -3, 60, 20), {}, null],
    ["too wide", block(0, 250, 0, 60, 20), {}, "it spans X 0…250, Y 0…60 mm; the bed is 200 × 200 mm"],
    ["fits a bigger bed", block(0, 250, 0, 60, 20), { volume: { width: 300, depth: 300 } }, null],
    ["too tall", block(0, 50, 0, 50, 210), {}, "it is 210 mm tall; the printer prints up to 200 mm"],
    ["centred origin: negative coordinates are on the bed", block(-90, 90, -90, 90, 5), { volume: { origin: "center" } }, null],
    ["lower-left origin: the same file is off the bed", block(-90, 90, -90, 90, 5), {}, "it spans X -90…90, Y -90…90 mm; the bed is 200 × 200 mm"],
    ["round bed: the corner of a square too big", block(-90, 90, -90, 90, 5), round, "it reaches 127.3 mm from the centre of the 200 mm round bed, 27.3 mm past its edge"],
    ["round bed: a square inside", block(-60, 60, -60, 60, 5), round, null],
    // Its box's corners are 140 mm from the centre; the part itself reaches 99 mm.
    ["round bed: a round part of nearly the bed's diameter", disc(0, 0, 99), round, null],
    ["round bed: a round part a little too big", disc(0, 0, 110), round, "it reaches 110 mm from the centre of the 200 mm round bed, 10 mm past its edge"],
    ["round bed, lower-left origin: the centre is the middle of the bed", disc(100, 100, 99), { volume: { formFactor: "circular" } }, null],
    ["round bed, lower-left origin: a part round the origin is off it", disc(0, 0, 50), { volume: { formFactor: "circular" } }, "it reaches 191.4 mm from the centre of the 200 mm round bed, 91.4 mm past its edge"],
    ["other nozzle", { nozzle: 0.6 }, {}, "it was sliced for a 0.6 mm nozzle; the printer has 0.4 mm"],
    ["the same nozzle, as a slicer's float", { nozzle: 0.4000001 }, {}, null],
    ["nozzle unknown: any", { nozzle: null }, { extruder: { nozzleDiameter: 0.8 } }, null],
    ["two extruders on one", { tools: 2 }, {}, "it uses 2 extruders; the printer has 1"],
    ["two extruders on two", { tools: 2 }, { extruder: { count: 2 } }, null],
    ["heated bed needed", {}, { heatedBed: false }, "it heats the bed; the printer has no heated bed"],
    ["cold bed file on a cold bed", { heatedBed: false }, { heatedBed: false }, null],
    ["extrudes nothing: any bed", { area: null, hull: [] }, { volume: { width: 10, depth: 10 } }, null],
  ];
  for (const [name, needs, prof, want] of cases) test(name, () => expect(misfit({ ...SMALL, ...needs }, profile(prof), null)).toBe(want));

  test("a real delta file with a purge arc round the bed: its outline fits where its box would not", async () => {
    // FLSun QQS Pro (PrusaSlicer): a G3 prime arc of radius 109.8 mm about the centre; its box's
    // corners (X ±54.7, Y −109.8) are 122.7 mm from it.
    const result = analyseBytes(await fixture("ps25_flsun_qqspro_delta_screw_0.20quality_pla_g3arcs_thumb.gcode")).result;
    const needs = fileNeeds(result);
    const bed = (width: number) => profile({ volume: { width, depth: width, height: 300, origin: "center", formFactor: "circular" }, heatedBed: true });
    expect(misfit(needs, bed(220), null)).toBeNull();
    expect(misfit(needs, bed(260), null)).toBeNull();
    expect(misfit(needs, bed(200), null)).toBe("it reaches 109.8 mm from the centre of the 200 mm round bed, 9.8 mm past its edge");
  });
});

describe("a file runs on a printer's firmware", () => {
  const MARLIN = ["marlin2", "generic"];
  const PRUSA = ["prusa", "marlin2", "generic"];
  const KLIPPER = ["klipper", "generic"];
  const cases: [string, string | null, string[], string[] | null, string | null][] = [
    ["sliced for Klipper, on Marlin", "klipper", [], PRUSA, 'it was sliced for Klipper (G-code flavour "klipper"); the printer runs Marlin firmware, which skips Klipper\'s commands as unknown — with them whatever they do, such as heating and homing in a start macro'],
    ["sliced for Klipper, on Klipper", "klipper", [], KLIPPER, null],
    ["sliced for Klipper, on a user's profile that extends Klipper", "klipper", [], ["my-voron", "klipper", "generic"], null],
    ["sliced for Klipper, on a printer never connected", "klipper", [], null, null],
    ["sliced for Klipper, on firmware nobody recognised", "klipper", [], ["generic"], null],
    ["Marlin flavour calling Klipper macros, on Marlin", "marlin", ["print_start", "print_end"], MARLIN, "it calls Klipper macros (print_start, print_end); the printer runs Marlin firmware, which skips Klipper's commands as unknown — with them whatever they do, such as heating and homing in a start macro"],
    ["Marlin flavour calling Klipper macros, on Klipper", "marlin", ["print_start", "print_end"], KLIPPER, null],
    ["sliced for RepRapFirmware, on Marlin", "reprapfirmware", [], MARLIN, 'it was sliced for RepRapFirmware (G-code flavour "reprapfirmware"); the printer runs Marlin firmware, which reads its temperature commands (G10 P… S…) as retractions and does not know its waits (M116)'],
    ["sliced for RepRapFirmware, on RepRapFirmware", "reprapfirmware", [], ["rrf", "generic"], null],
    ["UltiGCode on an Ultimaker 2", "ultigcode", [], ["ultimaker2", "marlin1", "marlin2", "generic"], null],
    ["UltiGCode on Klipper", "ultigcode", [], KLIPPER, 'it was sliced for UltiGCode (Ultimaker 2) (G-code flavour "ultigcode"); the printer runs Klipper firmware, which would not heat: the file leaves heating and retraction to an Ultimaker 2\'s own firmware'],
    ["Marlin flavour on Klipper: most firmware runs it", "marlin2", [], KLIPPER, null],
    ["no flavour, no macros", null, [], PRUSA, null],
  ];
  for (const [name, flavour, macros, lineage, want] of cases) test(name, () => expect(misfit({ ...SMALL, firmware: firmwareNeed(flavour, macros) }, profile(), lineage)).toBe(want));

  test("an entry sliced for Klipper waits for the Klipper printer", () => {
    const klipperFile = entry("k", { needs: { ...SMALL, firmware: firmwareNeed("klipper", []) } });
    const plan = planDispatch([klipperFile, entry("m")], [printer("mk3", { firmware: PRUSA }), printer("voron", { firmware: KLIPPER, state: "printing", jobRunning: true })]);
    expect(plan.starts.map((s) => `${s.entry}→${s.printer}`)).toEqual(["m→mk3"]);
    expect(plan.waiting.k).toBe("Waiting for a free printer it fits: VORON (printing).");
  });
});

describe("which entry goes where", () => {
  const big: FileNeeds = { ...block(0, 280, 0, 280, 50), nozzle: 0.4, tools: 1, heatedBed: true, firmware: null };
  const large = profile({ volume: { width: 300, depth: 300, height: 300 } });
  const cases: [string, FarmEntryFacts[], FarmPrinterFacts[], string[]][] = [
    ["one entry, two free printers: the first printer", [entry("a")], [printer("p1"), printer("p2")], ["a→p1"]],
    ["two entries, two printers: one each, in order", [entry("a"), entry("b")], [printer("p1"), printer("p2")], ["a→p1", "b→p2"]],
    ["three copies on two printers: two now", [entry("a", { remaining: 3 })], [printer("p1"), printer("p2")], ["a→p1", "a→p2"]],
    ["no copies left: nothing", [entry("a", { remaining: 0 })], [printer("p1")], []],
    ["the busy printer is skipped", [entry("a")], [printer("p1", { state: "printing", jobRunning: true }), printer("p2")], ["a→p2"]],
    ["bed not cleared: nothing starts", [entry("a")], [printer("p1", { bed: "printed" })], []],
    ["bed not cleared but auto-start", [entry("a")], [printer("p1", { bed: "printed", autoStart: true })], ["a→p1"]],
    ["an interrupted print: never", [entry("a")], [printer("p1", { interrupted: true })], []],
    ["a big file waits for the big printer; the small one goes on past it", [entry("big", { needs: big }), entry("small")], [printer("p1"), printer("p2", { profile: large })], ["big→p2", "small→p1"]],
    ["a big file with only the small printer free: the small file takes it", [entry("big", { needs: big }), entry("small")], [printer("p1"), printer("p2", { profile: large, state: "printing", jobRunning: true })], ["small→p1"]],
    ["missing and unanalysed files wait; the next goes", [entry("gone", { missing: true }), entry("new", { needs: "pending" }), entry("c")], [printer("p1")], ["c→p1"]],
    ["no printers", [entry("a")], [], []],
  ];
  for (const [name, entries, printers, want] of cases) test(name, () => expect(starts(entries, printers)).toEqual(want));

  test("each waiting entry says why", () => {
    const plan = planDispatch(
      [entry("big", { needs: { ...big, area: { ...big.area!, maxX: 400 } } }), entry("gone", { missing: true }), entry("new", { needs: "pending" }), entry("bad", { needs: { unreadable: "not G-code" } }), entry("a"), entry("b"), entry("done", { remaining: 0 })],
      [printer("p1"), printer("p2", { bed: "printed" })],
    );
    expect(plan.starts).toEqual([{ entry: "a", printer: "p1", file: "a.gcode" }]);
    expect(plan.waiting).toEqual({
      big: "Fits no printer: P1: it spans X 0…400, Y 0…280 mm; the bed is 200 × 200 mm; P2: it spans X 0…400, Y 0…280 mm; the bed is 200 × 200 mm.",
      gone: "The file was deleted after it was queued; it will not print.",
      new: "Waiting for the file's analysis (its size decides which printers it fits).",
      bad: "The file could not be analysed (not G-code), so no printer is known to fit it; print it on a printer directly.",
      b: "Waiting for a free printer it fits: P1 (taken by an earlier entry), P2 (waiting for the bed to be cleared).",
    });
  });
});

test("what a file needs, from its analysis", () => {
  const box = { minX: 5, maxX: 95, minY: 5, maxY: 45, minZ: 0.2, maxZ: 12 };
  const temps = { firstLayerNozzle: null, nozzle: null, firstLayerBed: null, bed: null, chamber: null };
  const hull: [number, number][] = [[5, 5], [95, 5], [95, 45], [5, 45]];
  const base = { printingArea: box, printingHull: hull, slicer: { nozzleDiameter: 0.6, temperatures: temps, gcodeFlavour: "marlin2" } as never, filament: [{ tool: 0, length: 100, custom: 0, volume: 1, weight: null }], heatUp: { waits: [], estimatedSeconds: 0 }, macros: [] };
  expect(fileNeeds(base)).toEqual({ area: { minX: 5, maxX: 95, minY: 5, maxY: 45, maxZ: 12 }, hull, nozzle: 0.6, tools: 1, heatedBed: false, firmware: null });
  // The firmware it needs: by the slicer's flavour, or by the macros it calls.
  expect(fileNeeds({ ...base, slicer: { nozzleDiameter: 0.6, temperatures: temps, gcodeFlavour: "klipper" } as never }).firmware).toEqual({ dialect: "Klipper", evidence: 'it was sliced for Klipper (G-code flavour "klipper")' });
  expect(fileNeeds({ ...base, macros: ["PRINT_START", "SET_VELOCITY_LIMIT", "BED_MESH_CALIBRATE", "PRINT_END"] }).firmware).toEqual({ dialect: "Klipper", evidence: "it calls Klipper macros (PRINT_START, SET_VELOCITY_LIMIT, BED_MESH_CALIBRATE, …)" });
  // A second tool that extrudes, and a bed heat wait.
  const two = { ...base, filament: [...base.filament, { tool: 1, length: 5, custom: 0, volume: 0, weight: null }], heatUp: { waits: [{ heater: "bed" as const, tool: 0, target: 60, offset: 10 }], estimatedSeconds: 60 } };
  expect(fileNeeds(two)).toMatchObject({ tools: 2, heatedBed: true });
  // The slicer's bed temperature says so too; an unused tool does not count.
  expect(fileNeeds({ ...base, slicer: { nozzleDiameter: null, temperatures: { ...temps, bed: 60 } } as never, filament: [...base.filament, { tool: 1, length: 0, custom: 0, volume: 0, weight: null }] })).toMatchObject({ tools: 1, heatedBed: true, nozzle: null });
});
