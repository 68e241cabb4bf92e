/**
 * Cancelling objects by the firmware's own command (SD card prints): which command each family's
 * quirks give for an object of the file's analysis, the refusals in words, the firmware's answers
 * read back; and the Worker-side bookkeeping (`CardObjects`) of a request and its answer.
 */
import { describe, expect, test } from "bun:test";
import { firmwareCancelCommand, reportedCancelled, saysUnsupported } from "../../src/jobs/firmware-objects.ts";
import type { PlannedObject } from "../../src/jobs/plan.ts";
import { CardObjects, OBJECT_TAG } from "../../src/printers/card-objects.ts";
import { builtInQuirksLibrary } from "../../src/printers/quirks-sources.ts";

const library = builtInQuirksLibrary();
const marlin = library.get("marlin2").cancelObject;
const klipper = library.get("klipper").cancelObject;
const firmware = { name: "Marlin 2.1.2.4", capabilities: { SDCARD: true } };
const m486 = (name: string, index: number): PlannedObject => ({ name, ranges: [], source: "m486", index });
const OBJECTS = [m486("cube_a", 0), m486("cube_b", 1), m486("cube_c", 2)];

describe("the firmware's command for an object", () => {
  test("Marlin: M486 P<index> for M486-labelled objects", () => {
    expect(firmwareCancelCommand(marlin, firmware, OBJECTS[1]!, false)).toEqual({ ok: true, command: "M486 P1" });
  });

  test("Klipper: EXCLUDE_OBJECT NAME=, quoted when the name has spaces", () => {
    const k = { name: "Klipper", capabilities: {} };
    expect(firmwareCancelCommand(klipper, k, { name: "part_1", ranges: [], source: "exclude_object" }, false)).toEqual({ ok: true, command: "EXCLUDE_OBJECT NAME=part_1" });
    expect(firmwareCancelCommand(klipper, k, { name: "my part", ranges: [], source: "exclude_object" }, false)).toEqual({ ok: true, command: 'EXCLUDE_OBJECT NAME="my part"' });
  });

  test("refusals say why and what would make it possible", () => {
    const generic = firmwareCancelCommand(library.get("repetier").cancelObject, { name: "Repetier_1.0.4", capabilities: {} }, OBJECTS[0]!, false);
    expect(generic).toMatchObject({ ok: false, error: { code: "not_supported", message: expect.stringContaining("Repetier_1.0.4 cannot cancel one object"), hint: expect.stringContaining("host's files") } });
    const old = firmwareCancelCommand(library.get("marlin1").cancelObject, { name: "Marlin 1.1.9", capabilities: {} }, OBJECTS[0]!, false);
    expect(old).toMatchObject({ ok: false, error: { message: expect.stringContaining("Marlin 1.x has no command") } });
    const missing = firmwareCancelCommand(marlin, firmware, OBJECTS[0]!, true);
    expect(missing).toMatchObject({ ok: false, error: { message: expect.stringContaining("CANCEL_OBJECTS"), hint: expect.stringContaining("Enable it in the firmware") } });
    const comments = firmwareCancelCommand(marlin, firmware, { name: "cube_a", ranges: [], source: "comment" }, false);
    expect(comments).toMatchObject({ ok: false, error: { message: expect.stringContaining("labels its objects with comments, which Marlin 2.1.2.4 does not act on"), hint: expect.stringContaining("Firmware-specific") } });
    const klipperLabels = firmwareCancelCommand(klipper, { name: "Klipper", capabilities: {} }, OBJECTS[0]!, false);
    expect(klipperLabels).toMatchObject({ ok: false, error: { message: expect.stringContaining("labelled with EXCLUDE_OBJECT commands") } });
  });

  test("answers read back: the report by index or name, and 'unknown command' for this command only", () => {
    expect(reportedCancelled(marlin, "echo:Canceled: 0 2", OBJECTS)).toEqual(["cube_a", "cube_c"]);
    expect(reportedCancelled(marlin, "echo:Active Object: 1", OBJECTS)).toBeNull();
    const k = [{ name: "part_1", ranges: [], source: "exclude_object" as const }, { name: "part_2", ranges: [], source: "exclude_object" as const }];
    expect(reportedCancelled(klipper, "// Excluded objects: PART_2", k)).toEqual(["part_2"]);
    expect(reportedCancelled(klipper, "// Excluded objects: ", k)).toEqual([]);
    expect(saysUnsupported(marlin, 'echo:Unknown command: "M486 P1"')).toBe(true);
    expect(saysUnsupported(marlin, 'echo:Unknown command: "M862.3 P MK3S"')).toBe(false);
    expect(saysUnsupported(klipper, '// Unknown command:"EXCLUDE_OBJECT"')).toBe(true);
  });
});

describe("CardObjects: a request and the firmware's answer", () => {
  function setUp() {
    const sent: [string, number][] = [];
    const notices: string[] = [];
    let cancelled: string[] = [];
    const cards = new CardObjects({
      profile: () => marlin,
      firmware: () => ({ ...firmware, profile: "marlin2", overlays: [] }),
      cancelled: () => cancelled,
      send: (line, tag) => sent.push([line, tag]),
      mayAsk: () => true,
      skips: (names) => (cancelled = [...new Set([...cancelled, ...names])]),
      notice: (m) => notices.push(m),
    });
    cards.begin(OBJECTS);
    return { cards, sent, notices, cancelled: () => cancelled };
  }

  test("acknowledged without complaint: the object is cancelled, with what the firmware reports", async () => {
    const { cards, sent, cancelled } = setUp();
    const answer = cards.cancel(OBJECTS[1]!);
    expect(sent).toEqual([["M486 P1", OBJECT_TAG], ["M486", OBJECT_TAG]]);
    cards.acked();
    cards.reply("echo:Canceled: 0 1", OBJECTS); // cube_a was cancelled on the printer's display
    cards.acked();
    expect(await answer).toEqual({ ok: true, value: { cancelled: ["cube_a", "cube_b"] } });
    expect(cancelled()).toEqual(["cube_a", "cube_b"]);
    // Asking again for one already cancelled sends nothing.
    expect(cards.cancel(OBJECTS[0]!)).toEqual({ ok: true, value: { cancelled: ["cube_a", "cube_b"] } });
    expect(sent.length).toBe(2);
    cards.end();
  });

  test("'Unknown command' before the acknowledgement: refused, remembered, and said", async () => {
    const { cards, notices, cancelled } = setUp();
    const answer = cards.cancel(OBJECTS[2]!);
    cards.reply('echo:Unknown command: "M486 P2"', OBJECTS);
    cards.acked();
    cards.reply('echo:Unknown command: "M486"', OBJECTS);
    cards.acked();
    expect(await answer).toMatchObject({ ok: false, error: { code: "not_supported", message: expect.stringContaining("CANCEL_OBJECTS") } });
    expect(cancelled()).toEqual([]);
    expect(notices[0]).toContain("cube_c was not cancelled");
    expect(cards.missing).toBe(true);
    expect(cards.cancel(OBJECTS[0]!)).toMatchObject({ ok: false, error: { code: "not_supported" } });
    cards.end();
  });

  test("the print ends before the answer: the waiting call is told", async () => {
    const { cards } = setUp();
    const answer = cards.cancel(OBJECTS[0]!);
    expect(cards.cancel(OBJECTS[1]!)).toMatchObject({ ok: false, error: { code: "busy" } });
    cards.end();
    expect(await answer).toMatchObject({ ok: false, error: { code: "not_printing" } });
  });
});
