import { describe, expect, test } from "bun:test";
import { ReadoutMatcher } from "../../src/controls/matcher.ts";
import {
  backtrackingRisk,
  checkControls,
  compileRegex,
  CONTROL_LIMITS,
  controlAt,
  EXAMPLE_CONTROLS,
  formatTemplate,
  octoprintControls,
  parameterValues,
  parseControlsText,
  readoutKey,
  readouts,
  substitute,
} from "../../src/controls/model.ts";

const errorsOf = (input: unknown): string[] => {
  const r = checkControls(input);
  if (r.ok) throw new Error("expected the definition to be refused");
  return r.errors;
};

describe("the definition", () => {
  test("OctoPrint's documented shapes are accepted: containers, commands, parameters with a slider, read-outs", () => {
    const r = checkControls([
      {
        name: "Fan",
        layout: "horizontal",
        collapsed: true,
        children: [
          { name: "Enable Fan", command: "M106 S%(speed)s", input: [{ name: "Speed (0-255)", parameter: "speed", default: 255, slider: { min: 0, max: 255 } }] },
          { name: "Disable Fan", command: "M107" },
        ],
      },
      { name: "Move X", commands: ["G91", "G1 X%(distance)s F%(speed)s", "G90"], confirm: "Move?", input: [{ name: "Distance", parameter: "distance", default: 10 }, { name: "Speed", parameter: "speed", default: 3000 }] },
      { name: "Get Position", command: "M114", regex: "X:([-+]?[0-9.]+) Y:([-+]?[0-9.]+)", template: "Position: X={0}, Y={1}" },
      { name: "Probe", regex: "Bed X: (?P<x>[-0-9.]+)", template: "probed at {x}" },
    ]);
    expect(r.ok).toBe(true);
  });

  test("OctoPrint's own answer shape ({controls: [...]}) is taken too, and the example set is valid", () => {
    expect(checkControls({ controls: EXAMPLE_CONTROLS }).ok).toBe(true);
    expect(parseControlsText(JSON.stringify(EXAMPLE_CONTROLS)).ok).toBe(true);
  });

  test("problems are said with their path, field and what is wrong", () => {
    expect(parseControlsText("[{")).toMatchObject({ ok: false, errors: [expect.stringContaining("not valid JSON")] });
    expect(errorsOf({ name: "x" })).toEqual([expect.stringContaining("controls: must be a list")]);
    expect(errorsOf([{ name: "Fan", children: [{ name: "On", command: 106 }] }])).toEqual(["controls[0].children[0].command: must be a line of G-code (text)"]);
    expect(errorsOf([{ name: "Oops", comand: "M84" }])[0]).toStartWith("controls[0].comand: unknown field");
    // Every problem at once, not only the first.
    const all = errorsOf([{ name: "Oops", comand: "M84" }, { name: "Slow", regex: "(a+)+", template: "{0}" }, { name: 5, command: "M84" }]);
    expect(all.map((e) => e.split(":")[0])).toEqual(["controls[0].comand", "controls[0]", "controls[1].regex", "controls[2].name"]);
    expect(all[2]).toContain("it repeats a group that repeats itself");
    expect(all[3]).toBe("controls[2].name: must be text");
    expect(errorsOf([{ name: "Script", script: "x.gcode" }])[0]).toContain("controls[0].script: script controls (Jinja2 templates) are not supported");
    expect(errorsOf([{ name: "Nothing" }])).toEqual([expect.stringContaining('controls[0]: needs "command" or "commands"')]);
    expect(errorsOf([{ name: "Both", command: "M84", commands: ["M84"] }])).toEqual([expect.stringContaining("both")]);
    expect(errorsOf([{ name: "Two lines", command: "G28\nM84" }])[0]).toContain("one line");
    expect(errorsOf([{ name: "Grid", layout: "diagonal", children: [] }])[0]).toStartWith("controls[0].layout: must be one of vertical, horizontal, horizontal_grid");
    expect(errorsOf([{ name: "Fan", command: "M106 S%(sped)s", input: [{ name: "Speed", parameter: "speed" }] }])[0]).toStartWith("controls[0].command: %(sped)s names no parameter");
    expect(errorsOf([{ name: "Fan", command: "M106 S50%", input: [{ name: "Speed", parameter: "speed" }] }])[0]).toContain("%%");
    expect(errorsOf([{ name: "Fan", command: "M106 S%(s)s", input: [{ name: "S", parameter: "s", default: 300, slider: { min: 0, max: 255 } }] }])[0]).toStartWith("controls[0].input[0].default: must be a number from 0 to 255");
    expect(errorsOf([{ name: "Fan", command: "M106 S%(s)s", input: [{ name: "S", parameter: "s", slider: { min: 5, max: 1 } }] }])[0]).toContain("min must be less than max");
    expect(errorsOf([{ name: "Pos", command: "M114", regex: "X:(\\d+)" }])[0]).toStartWith('controls[0].regex: needs a "template"');
    expect(errorsOf([{ name: "Pos", command: "M114", regex: "X:(\\d+)", template: "{0} {1}" }])[0]).toStartWith("controls[0].template: {1} names group 1, but the regex has 1 group");
  });

  test("a regex that does not compile, or that can backtrack catastrophically, is refused at save", () => {
    expect(errorsOf([{ name: "Pos", regex: "X:([0-9+", template: "{0}" }])[0]).toStartWith("controls[0].regex: is not a valid regular expression");
    for (const evil of ["(a+)+$", "(\\d+)*x", "(a|ab)*c", "((ab)*)+", "(x+x+)+y", "(.*a){25}", "(\\w)\\1"]) {
      expect({ evil, refused: typeof compileRegex(evil) === "string" }).toEqual({ evil, refused: true });
    }
    for (const fine of ["X:([-+]?[0-9.]+) Y:([-+]?[0-9.]+)", "^ok T:(\\d+\\.\\d+) /(\\d+)", "(?:ab)+c", "(a|b)c", "(\\d+)\\s*(mm)?", "[(+]+", "\\(+"]) {
      expect({ fine, risk: backtrackingRisk(fine) }).toEqual({ fine, risk: null });
    }
  });

  test("too many controls, too deep, or too large is refused with the limit", () => {
    const many = Array.from({ length: CONTROL_LIMITS.controls + 1 }, (_, i) => ({ name: `b${i}`, command: "M105" }));
    expect(errorsOf(many)).toEqual([`There are ${CONTROL_LIMITS.controls + 1} controls; at most ${CONTROL_LIMITS.controls} are allowed.`]);
    let deep: unknown = { name: "leaf", command: "M105" };
    for (let i = 0; i <= CONTROL_LIMITS.depth; i++) deep = { name: `level ${i}`, children: [deep] };
    expect(errorsOf([deep]).join()).toContain(`nested deeper than ${CONTROL_LIMITS.depth} levels`);
    expect(parseControlsText(" ".repeat(CONTROL_LIMITS.bytes + 1))).toMatchObject({ ok: false, errors: [expect.stringContaining("larger than 64 KiB")] });
  });
});

describe("parameters", () => {
  test("are filled in as OctoPrint's `line % parameters`", () => {
    expect(substitute(["M106 S%(speed)s", "M117 100%%", "G1 X%(x)d", "G1 Z%(z)f"], { speed: 128, x: "12.7", z: 0.5 }, true)).toEqual({
      ok: true,
      lines: ["M106 S128", "M117 100%", "G1 X12", "G1 Z0.500000"],
    });
    // Without inputs a line goes as written, % and all.
    expect(substitute(["M117 50%"], {}, false)).toEqual({ ok: true, lines: ["M117 50%"] });
    expect(substitute(["G1 X%(x)d"], { x: "left" }, true)).toMatchObject({ ok: false, error: expect.stringContaining("must be a number") });
  });

  test("take defaults, keep sliders in range and refuse line breaks", () => {
    const params = [
      { name: "Speed", parameter: "speed", default: 255, slider: { min: 0, max: 255 } },
      { name: "Text", parameter: "text", default: "hello" },
    ];
    expect(parameterValues(params, {})).toEqual({ ok: true, values: { speed: 255, text: "hello" } });
    expect(parameterValues(params, { speed: "64" })).toEqual({ ok: true, values: { speed: 64, text: "hello" } });
    expect(parameterValues(params, { speed: "300" })).toMatchObject({ ok: false, error: '"Speed" must be a number from 0 to 255.' });
    expect(parameterValues(params, { text: "hi\nM112" })).toMatchObject({ ok: false, error: '"Text" must be one line of plain text.' });
    expect(parameterValues([{ name: "X", parameter: "x" }], {})).toMatchObject({ ok: false, error: 'Enter a value for "X" (x).' });
  });

  test("controls are addressed by position; containers and read-outs without commands cannot be pressed", () => {
    const controls = (checkControls(EXAMPLE_CONTROLS) as { ok: true; controls: typeof EXAMPLE_CONTROLS }).controls;
    expect(controlAt(controls, "1.0")).toMatchObject({ name: "Set fan" });
    expect(controlAt(controls, "1")).toBeNull();
    expect(controlAt(controls, "9.9")).toBeNull();
    expect(controlAt(controls, "x")).toBeNull();
  });
});

describe("read-outs", () => {
  test("templates show the regex's groups, named groups, and n/a for a group that did not take part", () => {
    const re = compileRegex("X:(\\d+)(?: Y:(\\d+))?(?P<e> E)?") as RegExp;
    expect(formatTemplate("x={0} y={1} {e} {{literal}}", re.exec("X:10")!)).toBe("x=10 y=n/a n/a {literal}");
    expect(formatTemplate("{} and {}", re.exec("X:1 Y:2")!)).toBe("1 and 2");
  });

  test("the matcher follows received lines, the last match winning, within its per-second budget and line length", () => {
    const [position] = readouts(EXAMPLE_CONTROLS);
    const matcher = new ReadoutMatcher([position!], 3);
    expect(matcher.match(["ok", "X:1.00 Y:2.00 Z:3.00 E:0.00 Count X:0 Y:0 Z:0", "X:4.00 Y:5.00 Z:6.00"], 1000)).toEqual(new Map([[position!.key, "Position: X=4.00 Y=5.00 Z=6.00"]]));
    // The budget of 3 lines this second is spent: the next line waits for the next second's lines.
    expect(matcher.match(["X:7.00 Y:8.00 Z:9.00"], 1500).size).toBe(0);
    expect(matcher.match(["X:7.00 Y:8.00 Z:9.00"], 2000).get(position!.key)).toBe("Position: X=7.00 Y=8.00 Z=9.00");
    // Only the first part of a very long line is looked at.
    expect(matcher.match(["#".repeat(CONTROL_LIMITS.matchedLength) + "X:1 Y:1 Z:1"], 3000).size).toBe(0);
  });

  test("OctoPrint's shape adds key and template_key (MD5s) to read-outs", () => {
    const [out] = octoprintControls([{ name: "Pos", command: "M114", regex: "X:(\\d+)", template: "X {0}" }]) as Record<string, unknown>[];
    expect(out).toEqual({ name: "Pos", command: "M114", regex: "X:(\\d+)", template: "X {0}", key: new Bun.CryptoHasher("md5").update("X:(\\d+)").digest("hex"), template_key: new Bun.CryptoHasher("md5").update("X {0}").digest("hex") });
    expect(readoutKey("a", "b")).not.toBe(readoutKey("a", "c"));
  });
});
