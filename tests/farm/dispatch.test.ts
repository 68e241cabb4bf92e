/**
 * The farm queue's planner as tables: which entry goes to which printer, given the printers'
 * states, beds and profiles and what each file needs; and why the others wait.
 */
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { fileNeeds, misfit, notFree, planDispatch, type FarmEntryFacts, type FarmPrinterFacts, type FileNeeds } from "../../src/farm/dispatch.ts";
import { PrinterProfileSchema } from "../../src/printers/profile.ts";

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
  ...over,
});
const SMALL: FileNeeds = { area: { minX: 10, maxX: 60, minY: 10, maxY: 60, maxZ: 20 }, nozzle: 0.4, tools: 1, heatedBed: true };
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
  ];
  for (const [name, over, want] of cases) test(name, () => expect(notFree(printer("p", over))).toBe(want));
});

describe("a file fits a printer", () => {
  const cases: [string, Partial<FileNeeds>, Record<string, unknown>, string | null][] = [
    ["small part on the default 200 mm bed", {}, {}, null],
    ["purge line just off the bed (within the margin)", { area: { minX: -3, maxX: 60, minY: -3, maxY: 60, maxZ: 20 } }, {}, null],
    ["too wide", { area: { minX: 0, maxX: 250, minY: 0, maxY: 60, maxZ: 20 } }, {}, "it spans X 0…250, Y 0…60 mm; the bed is 200 × 200 mm"],
    ["fits a bigger bed", { area: { minX: 0, maxX: 250, minY: 0, maxY: 60, maxZ: 20 } }, { volume: { width: 300, depth: 300 } }, null],
    ["too tall", { area: { minX: 0, maxX: 50, minY: 0, maxY: 50, maxZ: 210 } }, {}, "it is 210 mm tall; the printer prints up to 200 mm"],
    ["centred origin: negative coordinates are on the bed", { area: { minX: -90, maxX: 90, minY: -90, maxY: 90, maxZ: 5 } }, { volume: { origin: "center" } }, null],
    ["lower-left origin: the same file is off the bed", { area: { minX: -90, maxX: 90, minY: -90, maxY: 90, maxZ: 5 } }, {}, "it spans X -90…90, Y -90…90 mm; the bed is 200 × 200 mm"],
    ["round bed: the corner of a square too big", { area: { minX: -90, maxX: 90, minY: -90, maxY: 90, maxZ: 5 } }, { volume: { origin: "center", formFactor: "circular" } }, "it reaches 127.3 mm from the centre of the 200 mm round bed"],
    ["round bed: a square inside", { area: { minX: -60, maxX: 60, minY: -60, maxY: 60, maxZ: 5 } }, { volume: { origin: "center", formFactor: "circular" } }, null],
    ["other nozzle", { nozzle: 0.6 }, {}, "it was sliced for a 0.6 mm nozzle; the printer has 0.4 mm"],
    ["the same nozzle, as a slicer's float", { nozzle: 0.4000001 }, {}, null],
    ["nozzle unknown: any", { nozzle: null }, { extruder: { nozzleDiameter: 0.8 } }, null],
    ["two extruders on one", { tools: 2 }, {}, "it uses 2 extruders; the printer has 1"],
    ["two extruders on two", { tools: 2 }, { extruder: { count: 2 } }, null],
    ["heated bed needed", {}, { heatedBed: false }, "it heats the bed; the printer has no heated bed"],
    ["cold bed file on a cold bed", { heatedBed: false }, { heatedBed: false }, null],
    ["extrudes nothing: any bed", { area: null }, { volume: { width: 10, depth: 10 } }, null],
  ];
  for (const [name, needs, prof, want] of cases) test(name, () => expect(misfit({ ...SMALL, ...needs }, profile(prof))).toBe(want));
});

describe("which entry goes where", () => {
  const big = { area: { minX: 0, maxX: 280, minY: 0, maxY: 280, maxZ: 50 }, nozzle: 0.4, tools: 1, heatedBed: true };
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
  const base = { printingArea: box, slicer: { nozzleDiameter: 0.6, temperatures: temps } as never, filament: [{ tool: 0, length: 100, custom: 0, volume: 1, weight: null }], heatUp: { waits: [], estimatedSeconds: 0 } };
  expect(fileNeeds(base)).toEqual({ area: { minX: 5, maxX: 95, minY: 5, maxY: 45, maxZ: 12 }, nozzle: 0.6, tools: 1, heatedBed: false });
  // A second tool that extrudes, and a bed heat wait.
  const two = { ...base, filament: [...base.filament, { tool: 1, length: 5, custom: 0, volume: 0, weight: null }], heatUp: { waits: [{ heater: "bed" as const, tool: 0, target: 60, offset: 10 }], estimatedSeconds: 60 } };
  expect(fileNeeds(two)).toMatchObject({ tools: 2, heatedBed: true });
  // The slicer's bed temperature says so too; an unused tool does not count.
  expect(fileNeeds({ ...base, slicer: { nozzleDiameter: null, temperatures: { ...temps, bed: 60 } } as never, filament: [...base.filament, { tool: 1, length: 0, custom: 0, volume: 0, weight: null }] })).toMatchObject({ tools: 1, heatedBed: true, nozzle: null });
});
