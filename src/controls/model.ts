/**
 * Custom controls (OctoPrint's `controls` of config.yaml): the **pure** model. Containers group
 * controls; commands send G-code, with parameters filled in as OctoPrint does (`%(name)s`);
 * read-outs show what a regex finds in the printer's replies through a template (`{0}`, `{name}`).
 * Everything a definition can hold is checked here, once, when it is saved: the shape, the sizes,
 * placeholders that name a parameter, and regexes that compile and do not backtrack
 * catastrophically — so pressing a control or matching a line never meets a surprise.
 */
import { createHash } from "node:crypto";
import * as v from "valibot";

export const CONTROL_LIMITS = {
  /** Controls in all (containers count too). */
  controls: 200,
  /** Containers inside containers. */
  depth: 5,
  /** The definition as JSON. */
  bytes: 64 * 1024,
  commandsPerControl: 50,
  lineLength: 256,
  inputsPerControl: 10,
  readouts: 32,
  regexLength: 200,
  templateLength: 200,
  /** A received line is matched on at most its first this many characters. */
  matchedLength: 300,
  /** A parameter's value as text. */
  valueLength: 64,
} as const;

const Name = v.pipe(v.string("must be text"), v.maxLength(100, "must be at most 100 characters"));
const Line = v.pipe(
  v.string("must be a line of G-code (text)"),
  v.maxLength(CONTROL_LIMITS.lineLength, `must be at most ${CONTROL_LIMITS.lineLength} characters`),
  v.check((s) => !/[\r\n]/.test(s), 'must be one line (no line breaks); use "commands" for several lines'),
);
const Slider = v.pipe(
  v.object({
    min: v.number("must be a number"),
    max: v.number("must be a number"),
    step: v.optional(v.pipe(v.number("must be a number"), v.gtValue(0, "must be more than 0"))),
  }, "must be an object {min, max, step}"),
  v.check((s) => s.min < s.max, "min must be less than max"),
);
const ParameterSchema = v.object({
  name: Name,
  parameter: v.pipe(v.string("must be text"), v.regex(/^[A-Za-z_][A-Za-z0-9_]{0,31}$/, "must be a name of letters, digits and _ (not starting with a digit), as used in %(name)s")),
  default: v.optional(v.union([v.string(), v.number()], "must be text or a number")),
  slider: v.optional(Slider),
}, 'must be a parameter: an object such as {"name": "Speed", "parameter": "speed"}');
const CommandSchema = v.object({
  name: v.optional(Name),
  command: v.optional(Line),
  commands: v.optional(v.pipe(v.array(Line, "must be a list of G-code lines"), v.minLength(1, "must hold at least one line"), v.maxLength(CONTROL_LIMITS.commandsPerControl, `must hold at most ${CONTROL_LIMITS.commandsPerControl} lines`))),
  confirm: v.optional(v.pipe(v.string("must be text"), v.maxLength(500, "must be at most 500 characters"))),
  input: v.optional(v.pipe(v.array(ParameterSchema, "must be a list of parameters"), v.maxLength(CONTROL_LIMITS.inputsPerControl, `must hold at most ${CONTROL_LIMITS.inputsPerControl} parameters`))),
  regex: v.optional(v.pipe(v.string("must be text"), v.minLength(1, "must not be empty"), v.maxLength(CONTROL_LIMITS.regexLength, `must be at most ${CONTROL_LIMITS.regexLength} characters`))),
  template: v.optional(v.pipe(v.string("must be text"), v.maxLength(CONTROL_LIMITS.templateLength, `must be at most ${CONTROL_LIMITS.templateLength} characters`))),
  /** What a read-out shows before its first match. */
  default: v.optional(v.pipe(v.string("must be text"), v.maxLength(200, "must be at most 200 characters"))),
  // OctoPrint's layout hints, kept so a definition copied from config.yaml round-trips.
  width: v.optional(v.union([v.string(), v.number()], "must be a number")),
  offset: v.optional(v.union([v.string(), v.number()], "must be a number")),
  additionalClasses: v.optional(v.pipe(v.string("must be text"), v.maxLength(200))),
}, 'must be a control: an object such as {"name": "Motors off", "command": "M84"}');

export type ControlParameter = v.InferOutput<typeof ParameterSchema>;
export type CommandControl = v.InferOutput<typeof CommandSchema>;
export interface ContainerControl {
  name?: string;
  layout?: "vertical" | "horizontal" | "horizontal_grid";
  collapsed?: boolean;
  children: Control[];
}
export type Control = ContainerControl | CommandControl;

const LAYOUTS = ["vertical", "horizontal", "horizontal_grid"] as const;
const ContainerSchema: v.GenericSchema<unknown, ContainerControl> = v.object({
  name: v.optional(Name),
  layout: v.optional(v.picklist(LAYOUTS, `must be one of ${LAYOUTS.join(", ")}`)),
  collapsed: v.optional(v.boolean("must be true or false")),
  children: v.array(v.lazy(() => ControlSchema), "must be a list of controls"),
}, "must be a container: an object with children");
/** A control is a container when it has `children`, else a command or read-out. */
export const ControlSchema: v.GenericSchema<unknown, Control> = v.lazy((input) =>
  typeof input === "object" && input !== null && "children" in input ? ContainerSchema : (CommandSchema as v.GenericSchema<unknown, Control>),
);
export const ControlsSchema = v.array(ControlSchema, "must be a list of controls");

export const isContainer = (c: Control): c is ContainerControl => "children" in c;

const CONTAINER_FIELDS = new Set(["name", "layout", "collapsed", "children"]);
const COMMAND_FIELDS = new Set(Object.keys(CommandSchema.entries));
const PARAMETER_FIELDS = new Set(Object.keys(ParameterSchema.entries));
const REFUSED: Record<string, string> = {
  script: "script controls (Jinja2 templates) are not supported; list the G-code in \"commands\" instead",
  javascript: "controls that run JavaScript are not supported",
  enabled: "\"enabled\" (JavaScript) is not supported; a control is pressable while the printer is connected",
};

export type ControlsResult = { ok: true; controls: Control[] } | { ok: false; errors: string[] };

/** A path as people read it: `controls[0].children[2].command`. */
function pathText(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

/** Checks text (as typed in Settings → Custom controls or sent to the API) and says every problem in words. */
export function parseControlsText(text: string): ControlsResult {
  if (new TextEncoder().encode(text).length > CONTROL_LIMITS.bytes) return { ok: false, errors: [`The definition is larger than ${CONTROL_LIMITS.bytes / 1024} KiB; keep fewer or shorter controls.`] };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, errors: [`This is not valid JSON: ${(e as Error).message}. Check quotes, commas and brackets.`] };
  }
  return checkControls(json);
}

/** Checks a parsed definition: the list itself, or `{"controls": [...]}` as OctoPrint's API shows it. */
export function checkControls(input: unknown): ControlsResult {
  const list = typeof input === "object" && input !== null && !Array.isArray(input) && "controls" in input ? (input as { controls: unknown }).controls : input;
  if (JSON.stringify(list ?? null).length > CONTROL_LIMITS.bytes) return { ok: false, errors: [`The definition is larger than ${CONTROL_LIMITS.bytes / 1024} KiB; keep fewer or shorter controls.`] };
  const errors: string[] = [];
  if (!Array.isArray(list)) return { ok: false, errors: ['controls: must be a list of controls, e.g. [{"name": "Motors off", "command": "M84"}]'] };
  // Every problem at once: misspelt fields beside wrong values, each control checked on its own,
  // so one save shows them all.
  unknownFields(list, ["controls"], errors, 1);
  const controls: Control[] = [];
  const counts = { controls: 0, readouts: 0 };
  list.forEach((item, i) => {
    const parsed = v.safeParse(ControlSchema, item);
    if (!parsed.success) {
      for (const issue of parsed.issues) errors.push(`${pathText(["controls", i, ...(issue.path ?? []).map((p) => p.key as string | number)])}: ${issue.message}`);
      return;
    }
    controls.push(parsed.output);
    checkControl(parsed.output, ["controls", i], 1, counts, errors);
  });
  if (counts.controls > CONTROL_LIMITS.controls) errors.push(`There are ${counts.controls} controls; at most ${CONTROL_LIMITS.controls} are allowed.`);
  if (counts.readouts > CONTROL_LIMITS.readouts) errors.push(`There are ${counts.readouts} read-outs (regex and template); at most ${CONTROL_LIMITS.readouts} are allowed.`);
  return errors.length ? { ok: false, errors: errors.slice(0, 20) } : { ok: true, controls };
}

/** Fields a control cannot have: misspellings and OctoPrint's features Layerline does not offer. */
function unknownFields(list: unknown[], at: (string | number)[], errors: string[], depth: number): void {
  list.forEach((c, i) => {
    if (typeof c !== "object" || c === null || Array.isArray(c)) return; // the schema says it
    const here = [...at, i];
    const container = "children" in c;
    const allowed = container ? CONTAINER_FIELDS : COMMAND_FIELDS;
    for (const key of Object.keys(c)) {
      if (allowed.has(key)) continue;
      const why = REFUSED[key] ?? (container && COMMAND_FIELDS.has(key) ? "a container (with children) cannot also be a command or read-out" : `unknown field; a ${container ? "container" : "control"} may have ${[...allowed].join(", ")}`);
      errors.push(`${pathText([...here, key])}: ${why}`);
    }
    const record = c as Record<string, unknown>;
    if (container && Array.isArray(record.children) && depth < CONTROL_LIMITS.depth + 1) unknownFields(record.children, [...here, "children"], errors, depth + 1);
    if (!container && Array.isArray(record.input)) {
      record.input.forEach((p, j) => {
        if (typeof p !== "object" || p === null) return;
        for (const key of Object.keys(p)) if (!PARAMETER_FIELDS.has(key)) errors.push(`${pathText([...here, "input", j, key])}: unknown field; a parameter may have ${[...PARAMETER_FIELDS].join(", ")}`);
      });
    }
  });
}

function checkControl(c: Control, at: (string | number)[], depth: number, counts: { controls: number; readouts: number }, errors: string[]): void {
  counts.controls++;
  const where = pathText(at);
  if (isContainer(c)) {
    if (depth > CONTROL_LIMITS.depth) {
      errors.push(`${where}: containers are nested deeper than ${CONTROL_LIMITS.depth} levels`);
      return;
    }
    c.children.forEach((child, i) => checkControl(child, [...at, "children", i], depth + 1, counts, errors));
    return;
  }
  if (c.command !== undefined && c.commands !== undefined) errors.push(`${where}: has both "command" and "commands"; keep one`);
  const readout = c.regex !== undefined || c.template !== undefined;
  if (readout) {
    counts.readouts++;
    if (c.regex === undefined) errors.push(`${where}.template: needs a "regex" whose groups it shows`);
    else if (c.template === undefined) errors.push(`${where}.regex: needs a "template" that shows what it finds, e.g. "Position: {0}"`);
    else {
      const compiled = compileRegex(c.regex);
      if (typeof compiled === "string") errors.push(`${where}.regex: ${compiled}`);
      else {
        const problem = templateProblem(c.template, compiled);
        if (problem) errors.push(`${where}.template: ${problem}`);
      }
    }
  }
  const lines = commandLines(c);
  if (lines.length === 0 && !readout) errors.push(`${where}: needs "command" or "commands" (G-code to send), or "regex" and "template" (a read-out)`);
  if (!c.name && lines.length > 0) errors.push(`${where}.name: a button needs a name`);
  const params = c.input ?? [];
  const names = new Set<string>();
  params.forEach((p, j) => {
    if (names.has(p.parameter)) errors.push(`${where}.input[${j}].parameter: "${p.parameter}" is used twice in this control`);
    names.add(p.parameter);
    if (p.slider && p.default !== undefined) {
      const d = Number(p.default);
      if (!Number.isFinite(d) || d < p.slider.min || d > p.slider.max) errors.push(`${where}.input[${j}].default: must be a number from ${p.slider.min} to ${p.slider.max} (the slider's range)`);
    }
  });
  if (params.length > 0) {
    lines.forEach((line, k) => {
      const problem = placeholderProblem(line, names);
      if (problem) errors.push(`${where}.${c.command !== undefined ? "command" : `commands[${k}]`}: ${problem}`);
    });
  }
}

/** The G-code lines a command control sends (before parameters are filled in). */
export function commandLines(c: CommandControl): string[] {
  return c.command !== undefined ? [c.command] : (c.commands ?? []);
}

// ── Parameters ────────────────────────────────────────────────────────────────

const PLACEHOLDER = /%(?:(%)|\(([A-Za-z_][A-Za-z0-9_]*)\)([sdif])|(.?))/g;

function placeholderProblem(line: string, names: Set<string>): string | null {
  for (const m of line.matchAll(PLACEHOLDER)) {
    if (m[1]) continue;
    if (m[2] !== undefined) {
      if (!names.has(m[2])) return `%(${m[2]})${m[3]} names no parameter of this control (it has ${[...names].join(", ")})`;
      continue;
    }
    return 'a "%" must start a parameter such as %(speed)s, or be written %% for a literal %';
  }
  return null;
}

export type ParameterValues = Record<string, string | number>;

/**
 * The lines with their parameters filled in, as OctoPrint's `line % parameters`: `%(name)s` as
 * text, `%(name)d`/`%(name)i` as a whole number, `%(name)f` with six decimals, `%%` a literal `%`.
 * Controls without parameters are sent exactly as written.
 */
export function substitute(lines: string[], values: ParameterValues, hasInput: boolean): { ok: true; lines: string[] } | { ok: false; error: string } {
  if (!hasInput) return { ok: true, lines };
  const out: string[] = [];
  for (const line of lines) {
    let error = "";
    const filled = line.replace(PLACEHOLDER, (whole, percent: string | undefined, name: string | undefined, conv: string | undefined) => {
      if (percent) return "%";
      if (name === undefined) {
        error ||= `"${line}" has a "%" that starts no parameter`;
        return whole;
      }
      if (!(name in values)) {
        error ||= `the parameter "${name}" has no value`;
        return whole;
      }
      const value = values[name]!;
      if (conv === "s") return String(value);
      const n = Number(value);
      if (!Number.isFinite(n) || String(value).trim() === "") {
        error ||= `the parameter "${name}" must be a number (it is "${value}")`;
        return whole;
      }
      return conv === "f" ? n.toFixed(6) : String(Math.trunc(n));
    });
    if (error) return { ok: false, error };
    if (filled.length > CONTROL_LIMITS.lineLength) return { ok: false, error: `with its parameters, "${filled.slice(0, 40)}…" is longer than ${CONTROL_LIMITS.lineLength} characters` };
    out.push(filled);
  }
  return { ok: true, lines: out };
}

/**
 * The values to fill in: those given, else each parameter's default. A slider's value must be a
 * number in its range; text never holds line breaks or control characters (it would smuggle
 * another command onto the wire).
 */
export function parameterValues(params: ControlParameter[], given: Record<string, unknown>): { ok: true; values: ParameterValues } | { ok: false; error: string } {
  const values: ParameterValues = {};
  for (const p of params) {
    const raw = given[p.parameter] ?? p.default;
    if (raw === undefined || raw === "") return { ok: false, error: `Enter a value for "${p.name}" (${p.parameter}).` };
    if (typeof raw !== "string" && typeof raw !== "number") return { ok: false, error: `"${p.name}" (${p.parameter}) must be text or a number.` };
    const text = String(raw).trim();
    if (text.length > CONTROL_LIMITS.valueLength) return { ok: false, error: `"${p.name}" must be at most ${CONTROL_LIMITS.valueLength} characters.` };
    if (/[\x00-\x1f\x7f]/.test(text)) return { ok: false, error: `"${p.name}" must be one line of plain text.` };
    if (p.slider) {
      const n = Number(text);
      if (text === "" || !Number.isFinite(n) || n < p.slider.min || n > p.slider.max) return { ok: false, error: `"${p.name}" must be a number from ${p.slider.min} to ${p.slider.max}.` };
      values[p.parameter] = n;
    } else values[p.parameter] = typeof raw === "number" ? raw : text;
  }
  return { ok: true, values };
}

// ── Read-outs ─────────────────────────────────────────────────────────────────

/**
 * A read-out's regex as JavaScript runs it (OctoPrint's are Python's: `(?P<name>…)` becomes
 * `(?<name>…)`), or why it is refused: it does not compile, or it nests repetition in a way that
 * can take exponential time on a line that almost matches.
 */
export function compileRegex(pattern: string): RegExp | string {
  const js = pattern.replace(/\(\?P</g, "(?<").replace(/\(\?P=(\w+)\)/g, "\\k<$1>");
  let re: RegExp;
  try {
    re = new RegExp(js);
  } catch (e) {
    return `is not a valid regular expression: ${(e as Error).message.replace(/^Invalid regular expression: /, "")}`;
  }
  const risk = backtrackingRisk(js);
  return risk ? `${risk}; it could take very long on some lines. Write it without repeating a repeated or alternative group, e.g. "X:(\\S+)" instead of "X:((\\d|\\.)+)+"` : re;
}

/**
 * Why a pattern may backtrack catastrophically, or null: an unbounded or large repetition (`*`,
 * `+`, `{n,}`, `{25}`) of a group that itself repeats without bound or holds alternatives (`(a+)+`,
 * `(a|ab)*`), and back-references. A heuristic on the pattern's structure; the line length bound
 * at match time covers the polynomial rest.
 */
export function backtrackingRisk(pattern: string): string | null {
  interface Frame {
    repeats: boolean;
    alternatives: boolean;
  }
  const stack: Frame[] = [{ repeats: false, alternatives: false }];
  let closed: Frame | null = null; // the group just closed, if the next token quantifies it
  let i = 0;
  const unbounded = (at: number): number => {
    const ch = pattern[at];
    if (ch === "*" || ch === "+") return 1;
    if (ch === "{") {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(at));
      // A large count repeats as badly as no bound: (.*a){25} is a polynomial of degree 25.
      if (m && (m[2] === undefined ? Number(m[1]) > 20 : m[3] === "" || Number(m[3]) > 20)) return m[0].length;
    }
    return 0;
  };
  while (i < pattern.length) {
    const ch = pattern[i]!;
    const top = stack[stack.length - 1]!;
    if (ch === "\\") {
      if (/[1-9k]/.test(pattern[i + 1] ?? "")) return "it uses a back-reference";
      i += 2;
      closed = null;
    } else if (ch === "[") {
      i++;
      if (pattern[i] === "^") i++;
      if (pattern[i] === "]") i++;
      while (i < pattern.length && pattern[i] !== "]") i += pattern[i] === "\\" ? 2 : 1;
      i++;
      closed = null;
    } else if (ch === "(") {
      stack.push({ repeats: false, alternatives: false });
      i++;
      closed = null;
    } else if (ch === ")") {
      const frame = stack.length > 1 ? stack.pop()! : top;
      stack[stack.length - 1]!.repeats ||= frame.repeats;
      i++;
      closed = frame;
      continue;
    } else if (ch === "|") {
      top.alternatives = true;
      i++;
      closed = null;
    } else {
      const len = unbounded(i);
      if (len) {
        if (closed && closed.repeats) return "it repeats a group that repeats itself (like (a+)+)";
        if (closed && closed.alternatives) return "it repeats a group of alternatives (like (a|ab)*)";
        top.repeats = true;
        i += len;
      } else i++;
      closed = null;
      continue;
    }
  }
  return null;
}

const TEMPLATE_FIELD = /\{\{|\}\}|\{([^{}]*)\}|[{}]/g;

function templateProblem(template: string, re: RegExp): string | null {
  const groups = new RegExp(`${re.source}|`).exec("")!.length - 1;
  const named = new Set(Object.keys(new RegExp(`${re.source}|`).exec("")!.groups ?? {}));
  for (const m of template.matchAll(TEMPLATE_FIELD)) {
    if (m[0] === "{{" || m[0] === "}}") continue;
    if (m[1] === undefined) return 'a single "{" or "}" must be written "{{" or "}}"';
    const field = m[1];
    if (field === "") continue;
    if (/^\d+$/.test(field)) {
      if (Number(field) >= groups) return `{${field}} names group ${field}, but the regex has ${groups} group${groups === 1 ? "" : "s"} ({0} is the first)`;
    } else if (!named.has(field)) return `{${field}} is neither a group number such as {0} nor a named group of the regex`;
  }
  return null;
}

/** The template filled from a match, as OctoPrint's `template.format(*groups)`: unmatched groups read "n/a". */
export function formatTemplate(template: string, match: RegExpExecArray): string {
  let next = 0;
  const groups = match.slice(1);
  return template.replace(TEMPLATE_FIELD, (whole, field: string | undefined) => {
    if (whole === "{{") return "{";
    if (whole === "}}") return "}";
    if (field === undefined) return whole;
    const value = field === "" ? groups[next++] : /^\d+$/.test(field) ? groups[Number(field)] : match.groups?.[field];
    return value ?? "n/a";
  });
}

/** A read-out's key: the same regex and template show the same value, wherever they appear. */
export function readoutKey(regex: string, template: string): string {
  return createHash("md5").update(`${regex}\u0000${template}`).digest("hex").slice(0, 16);
}

export interface Readout {
  key: string;
  regex: RegExp;
  template: string;
  default: string;
  /** OctoPrint's names for it: its regex's and its template's MD5 (`key`, `template_key`). */
  octoprint: { key: string; templateKey: string };
}

const md5 = (s: string) => createHash("md5").update(s).digest("hex");

/** Every read-out of a (checked) definition, compiled, one per key. */
export function readouts(controls: Control[]): Readout[] {
  const out = new Map<string, Readout>();
  walk(controls, (c) => {
    if (isContainer(c) || c.regex === undefined || c.template === undefined) return;
    const re = compileRegex(c.regex);
    if (typeof re === "string") return;
    const key = readoutKey(c.regex, c.template);
    if (!out.has(key)) out.set(key, { key, regex: re, template: c.template, default: c.default ?? "", octoprint: { key: md5(c.regex), templateKey: md5(c.template) } });
  });
  return [...out.values()];
}

function walk(controls: Control[], visit: (c: Control, path: number[]) => void, at: number[] = []): void {
  controls.forEach((c, i) => {
    visit(c, [...at, i]);
    if (isContainer(c)) walk(c.children, visit, [...at, i]);
  });
}

// ── Addressing and OctoPrint's shape ──────────────────────────────────────────

/** A control's address: its position in the tree, "1.0" = the first child of the second control. */
export const controlPath = (path: number[]): string => path.join(".");

/** The command control at `path`, or null. */
export function controlAt(controls: Control[], path: string): CommandControl | null {
  if (!/^\d{1,3}(\.\d{1,3}){0,7}$/.test(path)) return null;
  let list = controls;
  let found: Control | undefined;
  for (const [n, part] of path.split(".").entries()) {
    if (n > 0) {
      if (!found || !isContainer(found)) return null;
      list = found.children;
    }
    found = list[Number(part)];
  }
  return found && !isContainer(found) && commandLines(found).length > 0 ? found : null;
}

/**
 * The definition as OctoPrint's `GET /api/printer/command/custom` answers it: as configured, with
 * each read-out's `key` (the regex's MD5) and `template_key` (the template's), by which OctoPrint's
 * clients tell the read-outs apart.
 */
export function octoprintControls(controls: Control[]): unknown[] {
  const one = (c: Control): unknown => {
    if (isContainer(c)) return { ...c, children: c.children.map(one) };
    if (c.regex !== undefined && c.template !== undefined) return { ...c, key: md5(c.regex), template_key: md5(c.template) };
    return { ...c };
  };
  return controls.map(one);
}

/** A sensible set to start from: preheat, cool down, a fan slider, motors off, a position read-out. */
export const EXAMPLE_CONTROLS: Control[] = [
  {
    name: "Temperature",
    layout: "horizontal",
    children: [
      { name: "Preheat PLA", commands: ["M104 S200", "M140 S60"] },
      { name: "Preheat PETG", commands: ["M104 S235", "M140 S80"] },
      { name: "Cool down", commands: ["M104 S0", "M140 S0"] },
    ],
  },
  {
    name: "Fan",
    layout: "horizontal",
    children: [
      { name: "Set fan", command: "M106 S%(speed)s", input: [{ name: "Speed (0-255)", parameter: "speed", default: 255, slider: { min: 0, max: 255, step: 1 } }] },
      { name: "Fan off", command: "M107" },
    ],
  },
  {
    name: "Motion",
    layout: "horizontal",
    children: [
      { name: "Motors off", command: "M84", confirm: "Turn the motors off? The printer loses its position." },
      { name: "Get position", command: "M114", regex: "X:([-+]?[0-9.]+) Y:([-+]?[0-9.]+) Z:([-+]?[0-9.]+)", template: "Position: X={0} Y={1} Z={2}" },
    ],
  },
];
