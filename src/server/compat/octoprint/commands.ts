/**
 * OctoPrint's command bodies (`{"command": …, …}`), validated at the edge; and the G-code they
 * become. Pure.
 */
import * as v from "valibot";

const Num = v.pipe(v.number("must be a number"), v.finite());
const Temp = v.pipe(Num, v.minValue(0, "temperatures are ≥ 0"), v.maxValue(500, "temperatures are ≤ 500"));
const Bool = v.union([v.boolean(), v.picklist(["true", "false"])]);

export const JobCommand = v.variant("command", [
  v.object({ command: v.literal("start") }),
  v.object({ command: v.literal("restart") }),
  v.object({ command: v.literal("cancel") }),
  v.object({ command: v.literal("pause"), action: v.optional(v.picklist(["pause", "resume", "toggle"], 'action is "pause", "resume" or "toggle"'), "toggle") }),
]);

export const ConnectionCommand = v.variant("command", [
  v.object({
    command: v.literal("connect"),
    port: v.optional(v.string()),
    baudrate: v.optional(v.pipe(v.number(), v.integer())),
    printerProfile: v.optional(v.string()),
    save: v.optional(v.boolean()),
    autoconnect: v.optional(v.boolean()),
  }),
  v.object({ command: v.literal("disconnect") }),
  v.object({ command: v.literal("fake_ack") }),
]);

/**
 * A feed or flow rate as OctoPrint reads it (`_convert_rate_value`): a whole number is a
 * percentage (95), a fraction a factor (0.95 → 95 %); the result is the M220/M221 percentage.
 */
const RateFactor = v.pipe(
  Num,
  v.transform((f) => (Number.isInteger(f) ? f : Math.trunc(f * 100))),
  v.minValue(1, "factor: a percentage of at least 1 (a whole number such as 95), or a fraction such as 0.95"),
  v.maxValue(999, "factor: at most 999 %"),
);

const Axis = v.picklist(["x", "y", "z"], "axes are x, y and z");
export const PrintheadCommand = v.variant("command", [
  v.object({ command: v.literal("jog"), x: v.optional(Num), y: v.optional(Num), z: v.optional(Num), absolute: v.optional(v.boolean()), speed: v.optional(v.union([v.pipe(Num, v.minValue(1)), v.boolean()])) }),
  v.object({ command: v.literal("home"), axes: v.pipe(v.array(Axis), v.minLength(1, "name at least one axis")) }),
  v.object({ command: v.literal("feedrate"), factor: RateFactor }),
]);

const Tool = v.pipe(v.string(), v.regex(/^tool\d$/, 'tools are named "tool0", "tool1", …'));
export const ToolCommand = v.variant("command", [
  v.object({ command: v.literal("target"), targets: v.pipe(v.record(Tool, Temp), v.check((t) => Object.keys(t).length > 0, "name at least one tool")) }),
  v.object({ command: v.literal("offset"), offsets: v.record(Tool, v.pipe(Num, v.minValue(-50), v.maxValue(50))) }),
  v.object({ command: v.literal("select"), tool: Tool }),
  v.object({ command: v.literal("extrude"), amount: v.pipe(Num, v.minValue(-1000), v.maxValue(1000)), speed: v.optional(v.pipe(Num, v.minValue(1))) }),
  v.object({ command: v.literal("flowrate"), factor: RateFactor }),
]);

export const HeaterCommand = v.variant("command", [
  v.object({ command: v.literal("target"), target: Temp }),
  v.object({ command: v.literal("offset"), offset: v.pipe(Num, v.minValue(-50), v.maxValue(50)) }),
]);

const Line = v.pipe(v.string(), v.maxLength(256, "a command may be at most 256 characters"));
/** Values for `%(name)s` placeholders, as custom controls send them: one line of plain text each. */
const Parameters = v.record(
  v.string(),
  v.union([v.pipe(v.string(), v.maxLength(64), v.regex(/^[^\x00-\x1f\x7f]*$/, "must be one line of plain text")), v.number()], "must be text or a number"),
);
export const RawCommand = v.union(
  [
    v.object({ command: Line, parameters: v.optional(Parameters) }),
    v.object({ commands: v.pipe(v.array(Line), v.minLength(1), v.maxLength(1000)), parameters: v.optional(Parameters) }),
    v.object({ script: v.string() }),
  ],
  'send {"command": "M105"} or {"commands": ["G28", "M105"]} (up to 1,000 lines of at most 256 characters)',
);

export const FileCommand = v.variant("command", [
  v.object({ command: v.literal("select"), print: v.optional(Bool) }),
  v.object({ command: v.literal("unselect") }),
  // The destination is a folder ("" or "/" = the top) or a new path, as in OctoPrint.
  v.object({ command: v.literal("move"), destination: v.string() }),
  v.object({ command: v.literal("copy"), destination: v.string() }),
  v.object({ command: v.literal("analyse") }),
  v.object({ command: v.literal("slice") }),
]);

/** `POST /api/printer/sd`. */
export const SdCommand = v.object({ command: v.picklist(["init", "refresh", "release"], 'command must be "init", "refresh" or "release"') });

export const truthy = (value: unknown) => value === true || value === "true" || value === "1" || value === "yes" || value === "on";

export const toolIndex = (tool: string) => Number(tool.slice(4));

/** Readable message of the first problem of a failed parse. */
export function firstIssue(issues: readonly v.BaseIssue<unknown>[]): string {
  const issue = issues[0]!;
  const path = v.getDotPath(issue);
  return path ? `${path}: ${issue.message}` : issue.message;
}
