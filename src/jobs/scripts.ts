/**
 * The user's G-code scripts, per printer and event, and the printer profile they can read.
 * They run through the same pipeline as the plugins' scripts (`pushScript`): for each event the
 * user's lines come first, then each plugin's, and all pass the plugins' queue and send stages.
 * Written in the template language of `template.ts`; checked when saved.
 */
import * as v from "valibot";
import { SCRIPTS as PLUGIN_SCRIPTS, type ScriptName as PluginScriptName } from "../plugins/api.ts";
import { parse, TemplateError, type Template } from "./template.ts";

/** The events with a script: the plugins' (plugin API 1.x) and one more of the host's own. */
export const SCRIPTS = [...PLUGIN_SCRIPTS, "afterPrintFailed"] as const;
export type ScriptName = (typeof SCRIPTS)[number];

/** Whether plugins add lines to this script too. */
export const pluginsHave = (name: ScriptName): name is PluginScriptName => (PLUGIN_SCRIPTS as readonly string[]).includes(name);

/** What each event is called in the UI, and when it runs. */
export const SCRIPT_EVENTS: Record<ScriptName, { title: string; when: string }> = {
  afterConnected: { title: "After connecting", when: "once the printer answers" },
  beforePrintStarted: { title: "Before a print", when: "before the file's first line" },
  afterPrintDone: { title: "After a print", when: "after the file's last line" },
  afterPrintPaused: { title: "On pause", when: "when the host pauses a print, after the lines in flight" },
  beforePrintResumed: { title: "On resume", when: "before the file goes on after a pause" },
  afterPrintCancelled: { title: "On cancel", when: "after a print is cancelled" },
  afterPrintFailed: { title: "After a failure", when: "after a print failed while the printer still answers" },
};

/** Sensible defaults: park the head on pause and put everything back on resume; heaters off after a cancel or failure. */
export const DEFAULT_SCRIPTS: Record<ScriptName, string> = {
  afterConnected: "",
  beforePrintStarted: "",
  afterPrintDone: "",
  afterPrintPaused: [
    "; Park: retract a little, lift, move the head out of the way.",
    "M83",
    "G1 E-2 F2700",
    "G91",
    "G1 Z10 F600",
    "G90",
    "G1 X0 Y{{ profile.depth }} F6000",
  ].join("\n"),
  beforePrintResumed: [
    "; Heat up again if the heaters were turned down, go back, and restore what the pause changed.",
    "{% if pause.temperatures.bed %}M190 S{{ pause.temperatures.bed }}{% endif %}",
    "{% if pause.toolTemperature %}M109 S{{ pause.toolTemperature }}{% endif %}",
    "G90",
    "G1 X{{ pause.x }} Y{{ pause.y }} F6000",
    "G1 Z{{ pause.z }} F600",
    "M83",
    "G1 E2 F2700",
    "{% if pause.relativeE %}M83{% else %}M82{% endif %}",
    "G92 E{{ pause.e }}",
    "{% if pause.relative %}G91{% endif %}",
    "G1 F{{ pause.feedrate }}",
    "M106 S{{ pause.fan }}",
  ].join("\n"),
  afterPrintCancelled: ["M104 S0", "M140 S0", "M107"].join("\n"),
  afterPrintFailed: ["M104 S0", "M140 S0", "M107"].join("\n"),
};

/** The variables a script can read, with what they hold (the scripts page lists them). */
export const SCRIPT_VARIABLES: [path: string, what: string][] = [
  ["printer.id, printer.name", "the printer"],
  ["profile.width, profile.depth, profile.height", "its build volume, mm (the printer profile)"],
  ["profile.heatedBed, profile.extruders", "whether it has a heated bed; how many extruders"],
  ["job.file, job.name, job.source", "the print: its path, file name, host or sd (null when none)"],
  ["job.layer, job.layers, job.completion", "layer being printed, of how many; percent done"],
  ["position.x, position.y, position.z, position.e", "the last position the printer reported"],
  ["temperatures.tool0.actual, temperatures.bed.target, …", "the heaters now, °C"],
  ["pause.x, pause.y, pause.z, pause.e", "where the head and extruder were when the print was paused (file coordinates)"],
  ["pause.relativeE, pause.relative, pause.feedrate, pause.fan, pause.tool", "the modes, feed rate (mm/min), fan (0–255) and tool then"],
  ["pause.temperatures.tool0, pause.temperatures.bed, pause.toolTemperature", "the heater targets then; the active tool's"],
];
const ROOTS = new Set(["printer", "profile", "job", "position", "temperatures", "pause"]);


export const ScriptTextSchema = v.pipe(v.string(), v.maxLength(20_000, "a script may be at most 20,000 characters"));
/** A printer's scripts as stored: the text per event (missing = the default). */
export const ScriptsSchema = v.partial(v.object(Object.fromEntries(SCRIPTS.map((s) => [s, ScriptTextSchema])) as Record<ScriptName, typeof ScriptTextSchema>));
export type Scripts = Record<ScriptName, string>;

/** The scripts with defaults for the events not set. */
export function withDefaults(stored: Partial<Scripts>): Scripts {
  return Object.fromEntries(SCRIPTS.map((s) => [s, stored[s] ?? DEFAULT_SCRIPTS[s]])) as Scripts;
}

/** Parses a script and checks its variables; a problem in words, with the line. */
export function checkScript(name: ScriptName, text: string): { ok: true; template: Template } | { ok: false; message: string } {
  try {
    const template = parse(text);
    const unknown = template.paths.find((p) => !ROOTS.has(p.split(".")[0]!));
    if (unknown) return { ok: false, message: `${SCRIPT_EVENTS[name].title}: there is no variable "${unknown}" (they start with ${[...ROOTS].join(", ")})` };
    return { ok: true, template };
  } catch (e) {
    if (e instanceof TemplateError) return { ok: false, message: `${SCRIPT_EVENTS[name].title}, ${e.message}` };
    throw e;
  }
}
