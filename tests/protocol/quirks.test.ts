/**
 * Firmware quirks as data: every built-in file is valid, detection follows protocol.md §8.1 (names
 * contain each other), overlays patch a family, and a user's files in <data-dir>/firmware-quirks
 * add or override profiles without a rebuild — a broken one is reported with its path and field.
 */
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadQuirkSources } from "../../src/printers/quirks-sources.ts";
import { mergeQuirks, parseQuirksFile, type QuirksFile } from "../../src/protocol/quirks.ts";
import { QuirksLibrary } from "../../src/protocol/quirks-library.ts";
import { builtInLibrary } from "../helpers/quirks.ts";

const library = await builtInLibrary();
const BUILT_IN_SOURCES = (await loadQuirkSources(undefined)).sources;
const quirkSources = (await loadQuirkSources(undefined)).sources;

describe("the built-in profiles", () => {
  test("every file is valid, and the families and overlays of the issue are there", () => {
    expect(library.problems).toEqual([]);
    const families = library.ids();
    for (const id of ["generic", "marlin2", "marlin1", "prusa", "prusa-buddy", "repetier", "anet-a8-stock", "smoothieware", "rrf", "klipper", "malyan", "anycubic", "ultimaker2", "teacup"]) {
      expect(families).toContain(id);
    }
    expect(library.overlayIds().sort()).toEqual(["anycubic-marlin", "creality", "voxelab"]);
  });

  test.each([
    ["Klipper", "klipper"],
    ["RepRapFirmware for Duet 2 WiFi/Ethernet", "rrf"],
    ["Smoothieware", "smoothieware"],
    ["Prusa-Firmware-Buddy 6.1.3+7898 (Github)", "prusa-buddy"],
    ["Prusa-Firmware 3.13.3+7094_abcdef based on Marlin", "prusa"],
    ["Repetier_1.0.4", "repetier"],
    ["ANET_A8_1.0", "anet-a8-stock"],
    ["Malyan 2.9", "malyan"],
    ["Marlin Ultimaker2; Sprinter/grbl mashup for gen6", "ultimaker2"],
    ["Teacup", "teacup"],
    ["Marlin 1.1.9 (Github)", "marlin1"],
    ["Marlin bugfix-1.1.x (Github)", "marlin1"],
    ["Marlin 2.1.2.1 (Jul  1 2023 12:00:00)", "marlin2"],
    ["Marlin bugfix-2.1.x (Nov 21 2026 19:48:55)", "marlin2"],
  ])("FIRMWARE_NAME %p → %p (§8.1 order)", (name, id) => {
    expect(library.detectByName(name)).toBe(id);
  });

  test("lines give away families and overlays; everyday lines give away nothing", () => {
    expect(library.detectByLine("// Klipper state: Ready")).toEqual({ id: "klipper", overlay: false });
    expect(library.detectByLine("Smoothie Running @120MHz")).toEqual({ id: "smoothieware", overlay: false });
    expect(library.detectByLine("ok CBD make it.Date:Nov 21 2019 Time:16:32:55")).toEqual({ id: "anycubic", overlay: false });
    expect(library.detectByLine("echo: Last Updated: 2019-01-01 | Author: (Ender3)")).toEqual({ id: "creality", overlay: true });
    expect(library.detectByLine("echo:TF card ok")).toEqual({ id: "creality", overlay: true });
    expect(library.detectByLine("echo: Last Updated: 2017 | Author: (Jolly, xxxxxxxx.CO.)")).toEqual({ id: "anycubic-marlin", overlay: true });
    // §8.1 row 6: the M115 key gives Repetier away whatever the firmware's name.
    expect(library.detectByLine("FIRMWARE_NAME:Sprinter-fork COMPILED:2021 REPETIER_PROTOCOL:3")).toEqual({ id: "repetier", overlay: false });
    for (const line of ["ok", " T:20.00 /0.00 B:20.00 /0.00 @:0 B@:0", "echo:busy: processing", "Resend: 12"]) expect(library.detectByLine(line)).toBeUndefined();
  });

  test("an overlay patches the family it is applied to and keeps the rest", () => {
    const plain = library.get("marlin2");
    const creality = library.with("marlin2", ["creality"]);
    expect(creality.id).toBe("marlin2");
    expect(creality.overlays).toEqual(["creality"]);
    expect(creality.temperature.doubledWhen.length).toBeGreaterThan(0);
    expect(plain.temperature.doubledWhen).toEqual([]);
    expect(creality.busy).toEqual(plain.busy);
    expect(creality.safety.warnings[0]!.message).toContain("thermal runaway");
  });

  test("a family's lineage: itself and what it extends, nearest first (the farm queue's firmware fit reads it)", () => {
    expect(library.lineage("prusa")).toEqual(["prusa", "marlin2", "generic"]);
    expect(library.lineage("ultimaker2")).toEqual(["ultimaker2", "marlin1", "marlin2", "generic"]);
    expect(library.lineage("klipper")).toEqual(["klipper", "generic"]);
    expect(library.lineage("generic")).toEqual(["generic"]);
    expect(library.lineage("creality")).toEqual([]); // an overlay
    expect(library.lineage("nope")).toEqual([]);
  });
});

describe("how files merge (values replace, maps merge by key, sets add unless replaced)", () => {
  const generic = library.get("generic");
  const merge = (...files: object[]) => {
    const merged = mergeQuirks([generic, ...files.map((f) => ({ id: "test", ...f }) as QuirksFile)]);
    if (Array.isArray(merged)) throw new Error(JSON.stringify(merged));
    return merged;
  };

  test("an overlay that adds one ignorable error keeps the family's others", () => {
    const lib = new QuirksLibrary([
      ...quirkSources,
      { source: "user quiet.json", text: JSON.stringify({ id: "quiet", overlay: true, detect: { order: 500, anyLine: ["^echo:Quiet build"] }, errors: { ignore: ["Probe offset"] } }) },
    ]);
    expect(lib.problems).toEqual([]);
    const plain = lib.get("marlin2");
    const quiet = lib.with("marlin2", ["quiet"]);
    expect(quiet.errors.ignore).toEqual([...plain.errors.ignore, "Probe offset"]);
    expect(plain.errors.ignore.length).toBeGreaterThan(3);
    // The family's other sets are untouched.
    expect(quiet.errors.fatal).toEqual(plain.errors.fatal);
  });

  test("a list adds without duplicates; {replace} replaces; {remove, add} edits", () => {
    expect(merge({ errors: { ignore: ["Unknown command", "Probe offset"] } }).errors.ignore).toEqual([...generic.errors.ignore, "Probe offset"]);
    expect(merge({ errors: { ignore: { replace: ["Probe offset"] } } }).errors.ignore).toEqual(["Probe offset"]);
    expect(merge({ busy: { patterns: { replace: [] } } }).busy.patterns).toEqual([]);
    const edited = merge({ errors: { ignore: { remove: ["EEPROM CRC mismatch"], add: ["Probe offset"] } } }).errors.ignore;
    expect(edited).not.toContain("EEPROM CRC mismatch");
    expect(edited).toContain("Unknown command");
    expect(edited.at(-1)).toBe("Probe offset");
    // Sets of objects compare by value.
    const warning = generic.safety.warnings[0]!;
    expect(merge({ safety: { warnings: [warning, { pattern: "x", message: "y" }] } }).safety.warnings).toEqual([warning, { pattern: "x", message: "y" }]);
    // Later files patch the result of earlier ones, in chain order.
    expect(merge({ errors: { ignore: { replace: ["a"] } } }, { errors: { ignore: ["b"] } }).errors.ignore).toEqual(["a", "b"]);
  });

  test("maps merge key by key; values and command sequences replace", () => {
    const m = merge({ timeouts: { longRunningMs: { G29: 1_800_000 }, communicationMs: 45_000 }, sd: { cancelCommands: ["M524"] } });
    expect(m.timeouts.longRunningMs.G29).toBe(1_800_000);
    expect(m.timeouts.longRunningMs.G28).toBe(generic.timeouts.longRunningMs.G28!);
    expect(m.timeouts.communicationMs).toBe(45_000);
    expect(m.sd.cancelCommands).toEqual(["M524"]);
    expect(merge({ actions: { echoes: { M25: "" } } }).actions.echoes).toEqual({ ...generic.actions.echoes, M25: "" });
  });

  test("the built-in families keep what they meant to replace", () => {
    expect(library.get("marlin2").busy.patterns).toEqual(["^echo:busy: (processing|paused for user|paused for input)"]);
    expect(library.get("klipper").busy.patterns).toEqual([]);
    expect(library.get("klipper").emergency.commands).toEqual([]);
    expect(library.get("prusa").errors.fakeOk).toEqual([]);
    // …and add what they meant to add: Repetier ignores its Info lines and the generic ones.
    expect(library.get("repetier").errors.ignore).toEqual(expect.arrayContaining(["^Info:", "EEPROM CRC mismatch"]));
    expect(library.get("anet-a8-stock").safety.warnings.map((w) => w.pattern)).toEqual(["^Cap:THERMAL_PROTECTION:0", "FIRMWARE_NAME:ANET_A8_"]);
  });

  test("a malformed patch is reported with its field", () => {
    const parsed = parseQuirksFile("x.json", JSON.stringify({ id: "x", errors: { ignore: { replace: ["a"], add: ["b"] } } }));
    expect(Array.isArray(parsed) && parsed[0]!.field).toBe("errors.ignore");
    const bad = parseQuirksFile("y.json", JSON.stringify({ id: "y", errors: { ignore: { add: ["(unclosed"] } } }));
    expect(bad).toEqual([{ source: "y.json", field: "errors.ignore.0", message: expect.stringContaining("bad regular expression") }]);
  });
});

describe("the user's own files in <data-dir>/firmware-quirks", () => {
  test("a new family, an override of a built-in one, and a broken file reported with path and field", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "layerline-quirks-"));
    try {
      const dir = join(dataDir, "firmware-quirks");
      mkdirSync(dir);
      writeFileSync(
        join(dir, "my-ender.json"),
        JSON.stringify({ id: "my-ender", extends: "marlin2", detect: { order: 119, firmwareName: ["^Marlin 2\\.0\\.9\\.3"], anyLine: [] }, errors: { ignore: ["Probe offset"] } }),
      );
      writeFileSync(join(dir, "klipper.json"), JSON.stringify({ id: "klipper", extends: "generic", detect: { order: 10, firmwareName: ["Klipper"], anyLine: [] }, timeouts: { communicationMs: 60000 } }));
      writeFileSync(join(dir, "broken.json"), JSON.stringify({ id: "broken", ack: { okAfterResend: "sometimes" } }));
      writeFileSync(join(dir, "bad-regex.json"), JSON.stringify({ id: "bad-regex", busy: { patterns: ["(unclosed"] } }));
      // Named for its id, not its file: the problem must still name the file.
      writeFileSync(join(dir, "orphan-file.json"), JSON.stringify({ id: "orphan", extends: "nope" }));
      const { sources, problems } = await loadQuirkSources(dataDir);
      expect(problems).toEqual([]);
      const lib = new QuirksLibrary(sources);
      expect(lib.detectByName("Marlin 2.0.9.3 (Ender)")).toBe("my-ender");
      expect(lib.detectByName("Marlin 2.1.2")).toBe("marlin2");
      // A list adds to what the family has (the merge rule below).
      expect(lib.get("my-ender").errors.ignore).toEqual([...library.get("marlin2").errors.ignore, "Probe offset"]);
      expect(lib.get("my-ender").busy.intervalCommand).toBe("M113 S2"); // inherited from marlin2
      expect(lib.get("klipper").timeouts.communicationMs).toBe(60000);
      expect(lib.lineage("my-ender")).toEqual(["my-ender", "marlin2", "generic"]);
      expect(lib.problems).toEqual([
        { source: join(dir, "bad-regex.json"), field: "busy.patterns.0", message: expect.stringContaining("bad regular expression") },
        { source: join(dir, "broken.json"), field: "ack.okAfterResend", message: expect.any(String) },
        { source: join(dir, "orphan-file.json"), field: "extends", message: 'extends unknown profile "nope"' },
      ]);
      expect(lib.ids()).not.toContain("broken");
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test("a file with a built-in's id amends it field by field; one that would break it is reported and left out", () => {
    const user = (name: string, body: object) => ({ source: `/data/firmware-quirks/${name}`, text: JSON.stringify(body) });
    const lib = new QuirksLibrary([
      ...BUILT_IN_SOURCES,
      // Only the fields to change: the rest of the profile, its detection included, stays.
      user("generic.json", { id: "generic", timeouts: { communicationMs: 45000 } }),
      user("marlin2.json", { id: "marlin2", busy: { intervalCommand: "M113 S1" }, errors: { ignore: ["Probe offset"] } }),
      user("creality.json", { id: "creality", temperature: { doubledWhen: { add: ["^XX::"] } } }),
      // Breaks its profile (a parent that does not exist) or changes what the file is: reported, ignored.
      user("prusa.json", { id: "prusa", extends: "marlin-nope", timeouts: { communicationMs: 20000 } }),
      user("klipper.json", { id: "klipper", overlay: true }),
    ]);
    expect(lib.get("generic").timeouts.communicationMs).toBe(45000);
    expect(lib.get("generic").handshake.hello).toBe(library.get("generic").handshake.hello);
    // Every family inherits the amended base.
    expect(lib.get("rrf").timeouts.communicationMs).toBe(45000);
    expect(lib.detectByName("Marlin 2.1.2")).toBe("marlin2");
    expect(lib.get("marlin2").busy.patterns).toEqual(library.get("marlin2").busy.patterns);
    expect(lib.get("marlin2").busy.intervalCommand).toBe("M113 S1");
    expect(lib.get("marlin2").errors.ignore).toEqual([...library.get("marlin2").errors.ignore, "Probe offset"]);
    expect(lib.get("prusa").errors.ignore).toContain("Probe offset"); // prusa extends marlin2
    const withOverlay = lib.with("marlin2", ["creality"]);
    expect(withOverlay.overlays).toEqual(["creality"]);
    expect(withOverlay.temperature.doubledWhen).toEqual([...library.with("marlin2", ["creality"]).temperature.doubledWhen, "^XX::"]);
    expect(lib.detectByLine("TF card ok")).toEqual({ id: "creality", overlay: true });
    expect(lib.get("prusa").timeouts.communicationMs).toBe(45000);
    expect(lib.detectByName("Prusa-Firmware 3.14.1")).toBe("prusa");
    expect(lib.problems).toEqual([
      { source: "/data/firmware-quirks/klipper.json", field: "overlay", message: expect.stringContaining("cannot change that") },
      { source: "/data/firmware-quirks/prusa.json", field: "extends", message: 'extends unknown profile "marlin-nope" (once applied over "prusa")' },
    ]);
    expect(lib.ids()).toContain("klipper");
  });
});
