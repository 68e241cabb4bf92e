/**
 * The template language of the G-code scripts: small on purpose, and safe — it reads variables
 * and does arithmetic, nothing else (no code runs, no loops, no calls but a few pure functions).
 *
 *   {{ expr }}                      the value (numbers with at most 5 decimals)
 *   {% if cond %} … {% elif cond %} … {% else %} … {% endif %}
 *
 * Expressions: numbers, "strings", `null`, variables by path (`pause.z`, `job.file`), `+ - * /`,
 * parentheses, `a ?? b` (b when a has no value), comparisons `== != < <= > >=`, `and`, `or`,
 * `not`, and `min(a, b, …)`, `max(a, b, …)`, `round(a)`, `round(a, digits)`. A line in which a
 * variable has no value is left out of the script (and reported), so a restore move never goes
 * to "X" with nothing after it. Blank lines are dropped.
 * Example: `render(parse("G1 Z{{ pause.z + 5 }}"), { pause: { z: 1.2 } }).lines` is `["G1 Z6.2"]`.
 */

export class TemplateError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
  }
}

type Expr =
  | { kind: "literal"; value: Value }
  | { kind: "path"; path: string[]; line: number }
  | { kind: "unary"; op: "-" | "not"; arg: Expr }
  | { kind: "binary"; op: string; left: Expr; right: Expr }
  | { kind: "call"; name: "min" | "max" | "round"; args: Expr[] };

type Node = { kind: "text"; text: string } | { kind: "expr"; expr: Expr; line: number } | { kind: "if"; branches: { cond: Expr | null; body: Node[] }[] };

/** A parsed template. */
export interface Template {
  nodes: Node[];
  /** Every variable path it reads (`pause.z`), for checking them against the known ones. */
  paths: string[];
}

export type Value = number | string | boolean | null | undefined | { [key: string]: Value };

/** A value that is missing renders as this, and its line is left out. */
const MISSING = "\u0000";
const FUNCTIONS = new Set(["min", "max", "round"]);

/** Parses a template; throws a TemplateError naming the line of the first problem. */
export function parse(source: string): Template {
  const paths = new Set<string>();
  const root: Node[] = [];
  // Open blocks: where the next nodes go.
  const stack: { branches: { cond: Expr | null; body: Node[] }[]; line: number; hasElse: boolean }[] = [];
  const target = () => (stack.length ? stack[stack.length - 1]!.branches[stack[stack.length - 1]!.branches.length - 1]!.body : root);
  const tagRe = /\{\{([\s\S]*?)\}\}|\{%([\s\S]*?)%\}/g;
  let last = 0;
  const lineAt = (index: number) => source.slice(0, index).split("\n").length;
  for (let m = tagRe.exec(source); m; m = tagRe.exec(source)) {
    if (m.index > last) target().push({ kind: "text", text: source.slice(last, m.index) });
    last = m.index + m[0].length;
    const line = lineAt(m.index);
    if (m[1] !== undefined) {
      const expr = parseExpression(m[1], line, paths);
      target().push({ kind: "expr", expr, line });
      continue;
    }
    const tag = m[2]!.trim();
    const [word, ...rest] = tag.split(/\s+/);
    const arg = rest.join(" ");
    switch (word) {
      case "if": {
        const node: Node = { kind: "if", branches: [{ cond: parseExpression(arg, line, paths), body: [] }] };
        target().push(node);
        stack.push({ branches: node.branches, line, hasElse: false });
        break;
      }
      case "elif": {
        const open = stack[stack.length - 1];
        if (!open) throw new TemplateError("{% elif %} without {% if %}", line);
        if (open.hasElse) throw new TemplateError("{% elif %} after {% else %}", line);
        open.branches.push({ cond: parseExpression(arg, line, paths), body: [] });
        break;
      }
      case "else": {
        const open = stack[stack.length - 1];
        if (!open) throw new TemplateError("{% else %} without {% if %}", line);
        if (open.hasElse) throw new TemplateError("a second {% else %}", line);
        open.hasElse = true;
        open.branches.push({ cond: null, body: [] });
        break;
      }
      case "endif":
        if (!stack.pop()) throw new TemplateError("{% endif %} without {% if %}", line);
        break;
      default:
        throw new TemplateError(`unknown tag {% ${word ?? ""} %}: use if, elif, else or endif`, line);
    }
  }
  if (last < source.length) target().push({ kind: "text", text: source.slice(last) });
  const open = stack.pop();
  if (open) throw new TemplateError("{% if %} is never closed with {% endif %}", open.line);
  const unclosed = /\{\{|\{%/.exec(source.slice(last));
  if (unclosed) throw new TemplateError(`"${unclosed[0]}" is never closed`, lineAt(last + unclosed.index));
  return { nodes: root, paths: [...paths] };
}

/** The script's lines for these variables, and the lines left out because a value was missing. */
export function render(template: Template, vars: Record<string, Value>): { lines: string[]; skipped: string[] } {
  let text = "";
  const walk = (nodes: Node[]) => {
    for (const node of nodes) {
      if (node.kind === "text") text += node.text;
      else if (node.kind === "expr") text += show(evaluate(node.expr, vars));
      else {
        const branch = node.branches.find((b) => b.cond === null || truthy(evaluate(b.cond, vars)));
        if (branch) walk(branch.body);
      }
    }
  };
  walk(template.nodes);
  const lines: string[] = [];
  const skipped: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    if (line.includes(MISSING)) skipped.push(line.replaceAll(MISSING, "?"));
    else lines.push(line);
  }
  return { lines, skipped };
}

function show(v: Value): string {
  if (v === null || v === undefined || (typeof v === "number" && !Number.isFinite(v))) return MISSING;
  if (typeof v === "number") return String(Number(v.toFixed(5)));
  if (typeof v === "boolean") return v ? "1" : "0";
  if (typeof v === "object") return MISSING;
  return v.replace(/[\r\n]/g, " ");
}

function truthy(v: Value): boolean {
  if (v === null || v === undefined || v === false || v === "" || (typeof v === "number" && (v === 0 || Number.isNaN(v)))) return false;
  return true;
}

const has = (v: Value): boolean => v !== null && v !== undefined && !(typeof v === "number" && Number.isNaN(v));

function evaluate(e: Expr, vars: Record<string, Value>): Value {
  switch (e.kind) {
    case "literal":
      return e.value;
    case "path": {
      let v: Value = vars as Value;
      for (const key of e.path) {
        if (v === null || v === undefined || typeof v !== "object") return undefined;
        v = Object.hasOwn(v, key) ? v[key] : undefined;
      }
      return v;
    }
    case "unary": {
      const v = evaluate(e.arg, vars);
      if (e.op === "not") return !truthy(v);
      return typeof v === "number" ? -v : undefined;
    }
    case "call": {
      const args = e.args.map((a) => evaluate(a, vars));
      if (!args.every((a) => typeof a === "number")) return undefined;
      const nums = args as number[];
      if (e.name === "min") return Math.min(...nums);
      if (e.name === "max") return Math.max(...nums);
      const digits = Math.max(0, Math.min(6, Math.trunc(nums[1] ?? 0)));
      return Math.round(nums[0]! * 10 ** digits) / 10 ** digits;
    }
    case "binary": {
      if (e.op === "and") return truthy(evaluate(e.left, vars)) && truthy(evaluate(e.right, vars));
      if (e.op === "or") return truthy(evaluate(e.left, vars)) || truthy(evaluate(e.right, vars));
      const a = evaluate(e.left, vars);
      if (e.op === "??") return has(a) ? a : evaluate(e.right, vars);
      const b = evaluate(e.right, vars);
      switch (e.op) {
        case "==":
          return (has(a) ? a : null) === (has(b) ? b : null);
        case "!=":
          return (has(a) ? a : null) !== (has(b) ? b : null);
      }
      if (typeof a !== "number" || typeof b !== "number") {
        // "+" joins text; everything else needs numbers.
        if (e.op === "+" && (typeof a === "string" || typeof b === "string") && has(a) && has(b)) return `${show(a)}${show(b)}`;
        return e.op === "<" || e.op === "<=" || e.op === ">" || e.op === ">=" ? false : undefined;
      }
      switch (e.op) {
        case "+":
          return a + b;
        case "-":
          return a - b;
        case "*":
          return a * b;
        case "/":
          return b === 0 ? undefined : a / b;
        case "<":
          return a < b;
        case "<=":
          return a <= b;
        case ">":
          return a > b;
        case ">=":
          return a >= b;
      }
      return undefined;
    }
  }
}

// ---- expressions: a small recursive-descent parser --------------------------------------------

const TOKEN = /\s*(?:(\d+(?:\.\d*)?|\.\d+)|([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)|("(?:[^"\\]|\\.)*")|(\?\?|==|!=|<=|>=|[-+*/()<>,]))/y;

function parseExpression(source: string, line: number, paths: Set<string>): Expr {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  while (at < source.length) {
    if (/^\s*$/.test(source.slice(at))) break;
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(source);
    if (!m) throw new TemplateError(`cannot read "${source.slice(at).trim()}"`, line);
    tokens.push(m[1] ?? m[2] ?? m[3] ?? m[4]!);
    at = TOKEN.lastIndex;
  }
  if (tokens.length === 0) throw new TemplateError("an empty expression", line);
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++];
  const expect = (t: string) => {
    if (next() !== t) throw new TemplateError(`expected "${t}" in "${source.trim()}"`, line);
  };
  const level = (ops: string[], inner: () => Expr) => (): Expr => {
    let left = inner();
    while (ops.includes(peek() ?? "")) {
      const op = next()!;
      left = { kind: "binary", op, left, right: inner() };
    }
    return left;
  };
  const primary = (): Expr => {
    const t = next();
    if (t === undefined) throw new TemplateError(`"${source.trim()}" ends too early`, line);
    if (t === "(") {
      const e = or();
      expect(")");
      return e;
    }
    if (t === "-") return { kind: "unary", op: "-", arg: primary() };
    if (t === "not") return { kind: "unary", op: "not", arg: comparison() };
    if (/^(\d|\.\d)/.test(t)) return { kind: "literal", value: Number(t) };
    if (t.startsWith('"')) return { kind: "literal", value: JSON.parse(t) as string };
    if (t === "null") return { kind: "literal", value: null };
    if (t === "true" || t === "false") return { kind: "literal", value: t === "true" };
    if (/^[A-Za-z_]/.test(t)) {
      if (peek() === "(") {
        if (!FUNCTIONS.has(t)) throw new TemplateError(`unknown function ${t}(): use min, max or round`, line);
        next();
        const args: Expr[] = [];
        if (peek() !== ")") {
          args.push(or());
          while (peek() === ",") {
            next();
            args.push(or());
          }
        }
        expect(")");
        if (args.length === 0 || (t === "round" && args.length > 2)) throw new TemplateError(`${t}() takes ${t === "round" ? "one or two numbers" : "numbers"}`, line);
        return { kind: "call", name: t as "min" | "max" | "round", args };
      }
      if (t === "and" || t === "or") throw new TemplateError(`"${t}" needs something before it`, line);
      paths.add(t);
      return { kind: "path", path: t.split("."), line };
    }
    throw new TemplateError(`unexpected "${t}" in "${source.trim()}"`, line);
  };
  const product = level(["*", "/"], primary);
  const sum = level(["+", "-"], product);
  const fallback = level(["??"], sum);
  const comparison = level(["==", "!=", "<", "<=", ">", ">="], fallback);
  const and = level(["and"], comparison);
  const or = level(["or"], and);
  const expr = or();
  if (i < tokens.length) throw new TemplateError(`unexpected "${tokens[i]}" in "${source.trim()}"`, line);
  return expr;
}
