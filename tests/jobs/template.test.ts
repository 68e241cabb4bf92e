/**
 * The template language of the G-code scripts (pure): variables of every root (job, printer
 * profile, last position, temperatures, pause record), arithmetic and conditions, lines with a
 * missing value left out rather than sent half-written, and errors naming their line; and the
 * default scripts rendered the way a pause and a resume use them.
 */
import { describe, expect, test } from "bun:test";
import { checkScript, DEFAULT_SCRIPTS } from "../../src/jobs/scripts.ts";
import { parse, render, TemplateError, type Value } from "../../src/jobs/template.ts";

const vars: Record<string, Value> = {
  printer: { id: "p1", name: "Bench" },
  profile: { width: 220, depth: 200, height: 250, heatedBed: true, extruders: 1, name: "Ender", model: "Ender-3" },
  job: { file: "parts/box.gcode", name: "box.gcode", source: "host", layer: 12, layers: 40, completion: 30.25 },
  position: { x: 10, y: 20.5, z: 2.4, e: 100 },
  temperatures: { tool0: { actual: 209.8, target: 210 }, bed: { actual: 60, target: 60 } },
  pause: { x: 101.25, y: 88, z: 2.4, e: 512.12345678, relativeE: false, relative: false, feedrate: 1800, fan: 255, tool: 0, temperatures: { tool0: 210, bed: 60 }, toolTemperature: 210 },
};
const run = (source: string, v: Record<string, Value> = vars) => render(parse(source), v);
/** What reaches the printer: comment lines are cleaned away on the way out. */
const gcode = (source: string) => run(source).lines.filter((l) => !l.startsWith(";"));

describe("script templates", () => {
  test("every root's variables, arithmetic, functions and at most 5 decimals", () => {
    expect(run("M117 {{ job.name }} on {{ printer.name }}: layer {{ job.layer }}/{{ job.layers }}").lines).toEqual(["M117 box.gcode on Bench: layer 12/40"]);
    expect(run("G1 X{{ profile.width - 5 }} Y{{ profile.depth / 2 }} Z{{ min(position.z + 10, profile.height) }}").lines).toEqual(["G1 X215 Y100 Z12.4"]);
    expect(run("M104 S{{ temperatures.tool0.target }} ; now {{ round(temperatures.tool0.actual) }}").lines).toEqual(["M104 S210 ; now 210"]);
    expect(run("G92 E{{ pause.e }}").lines).toEqual(["G92 E512.12346"]);
    expect(run("M117 {{ round(job.completion, 1) }}%").lines).toEqual(["M117 30.3%"]);
  });

  test("conditions choose lines; blank lines are dropped", () => {
    const source = "{% if profile.heatedBed and pause.temperatures.bed > 0 %}M190 S{{ pause.temperatures.bed }}{% else %}; no bed{% endif %}\n\n{% if pause.relativeE %}M83{% elif not pause.relative %}M82{% endif %}";
    expect(run(source).lines).toEqual(["M190 S60", "M82"]);
    expect(run(source, { ...vars, profile: { heatedBed: false } }).lines).toEqual(["; no bed", "M82"]);
  });

  test("a line whose value is missing is left out and reported; ?? gives a fallback", () => {
    const out = run("G1 X{{ pause.x }}\nG1 F{{ nosuch.value }}\nM106 S{{ job.fan ?? 0 }}", { ...vars });
    expect(out.lines).toEqual(["G1 X101.25", "M106 S0"]);
    expect(out.skipped).toEqual([expect.stringContaining("G1 F")]);
    // With no print at all (job null), a script still renders what it can.
    expect(run("M117 {{ job.name }}\nM104 S0", { ...vars, job: null }).lines).toEqual(["M104 S0"]);
  });

  test("errors name their line; unknown roots are refused when saved", () => {
    expect(() => parse("M117 ok\n{% if pause.z %}G1 Z1")).toThrow(TemplateError);
    expect(() => parse("M117 ok\nG1 Z{{ pause.z + }}")).toThrow(/line 2/);
    expect(checkScript("afterPrintPaused", "G1 Z{{ where.z }}")).toEqual({ ok: false, message: expect.stringContaining('no variable "where.z"') });
    expect(checkScript("afterPrintPaused", "G1 Z{{ pause.z }}").ok).toBe(true);
  });

  test("the defaults: the pause script parks at the back, the resume script puts everything back", () => {
    const park = gcode(DEFAULT_SCRIPTS.afterPrintPaused);
    expect(park).toEqual(["M83", "G1 E-2 F2700", "G91", "G1 Z10 F600", "G90", "G1 X0 Y200 F6000"]);
    const back = gcode(DEFAULT_SCRIPTS.beforePrintResumed);
    expect(back).toEqual(["M190 S60", "M109 S210", "G90", "G1 X101.25 Y88 F6000", "G1 Z2.4 F600", "M83", "G1 E2 F2700", "M82", "G92 E512.12346", "G1 F1800", "M106 S255"]);
    expect(run(DEFAULT_SCRIPTS.afterPrintCancelled).lines).toEqual(["M104 S0", "M140 S0", "M107"]);
    expect(run(DEFAULT_SCRIPTS.afterPrintFailed).lines).toEqual(["M104 S0", "M140 S0", "M107"]);
    for (const [name, text] of Object.entries(DEFAULT_SCRIPTS)) expect(checkScript(name as keyof typeof DEFAULT_SCRIPTS, text).ok).toBe(true);
  });
});
