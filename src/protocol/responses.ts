/**
 * Classification of one received line (protocol.md §11 step 2): resend → ack → wait → busy →
 * action → error → capability → firmware info → position → temperature → everything else.
 * Pure: the quirks decide the patterns, the caller passes the active tool.
 */
import { isFirmwareLine, parseCapability, parseFirmwareLine, type FirmwareInfo } from "./firmware-info.ts";
import { looksLikePosition, parsePosition, type Position } from "./position.ts";
import type { Quirks } from "./quirks.ts";
import { looksLikeTemperature, parseTemperatures, type TemperatureReport } from "./temperature.ts";

/** How an error line affects the link and the job (design principle 6). */
export type ErrorClass = "fatal" | "halted" | "resendFollows" | "fakeOk" | "ignore" | "error";

export type Received =
  | { kind: "ok"; lineNumber?: number; plannerFree?: number; bufferFree?: number; report?: Received }
  | { kind: "resend"; lineNumber: number }
  | { kind: "wait" }
  | { kind: "busy"; reason: string }
  | { kind: "start" }
  | { kind: "action"; name: string; params: string }
  | { kind: "error"; errorClass: ErrorClass; text: string }
  | { kind: "capability"; name: string; enabled: boolean }
  | { kind: "firmware"; info: FirmwareInfo }
  | { kind: "position"; position: Position }
  | { kind: "temperature"; report: TemperatureReport }
  | { kind: "text"; text: string };

/** Quirk patterns compiled once per profile. */
export interface Grammar {
  busy: RegExp[];
  errors: [ErrorClass, RegExp[]][];
}

/** Compiles the patterns of a profile. */
export function compileGrammar(quirks: Quirks): Grammar {
  const compile = (list: string[]) => list.map((p) => new RegExp(p, "i"));
  return {
    busy: compile(quirks.busy.patterns),
    // Order matters: a resend-related error is never fatal even if it says "stopped".
    errors: [
      ["resendFollows", compile(quirks.errors.resendFollows)],
      ["fakeOk", compile(quirks.errors.fakeOk)],
      ["ignore", compile(quirks.errors.ignore)],
      ["fatal", compile(quirks.errors.fatal)],
      ["halted", compile(quirks.errors.halted)],
    ],
  };
}

/**
 * Classifies a line that has already had `\r` and NULs removed.
 * Example: `classify("Resend: 12", g, 0)` → `{ kind: "resend", lineNumber: 12 }`.
 */
export function classify(line: string, grammar: Grammar, currentTool: number): Received {
  const resend = parseResend(line);
  if (resend !== undefined) return { kind: "resend", lineNumber: resend };
  if (line.startsWith("ok") && (line.length === 2 || line.charCodeAt(2) === 32)) return parseOk(line, grammar, currentTool);
  if (line === "wait") return { kind: "wait" };
  if (line === "start") return { kind: "start" };
  for (const r of grammar.busy) if (r.test(line)) return { kind: "busy", reason: busyReason(line) };
  const action = parseAction(line);
  if (action) return action;
  if (isErrorLine(line)) return { kind: "error", errorClass: classifyError(line, grammar), text: line };
  const cap = parseCapability(line);
  if (cap) return { kind: "capability", ...cap };
  if (isFirmwareLine(line)) return { kind: "firmware", info: parseFirmwareLine(line) };
  if (looksLikePosition(line)) {
    const position = parsePosition(line);
    if (position) return { kind: "position", position };
  }
  if (looksLikeTemperature(line)) {
    const report = parseTemperatures(line, currentTool);
    if (report) return { kind: "temperature", report };
  }
  return { kind: "text", text: line };
}

/** `Resend: 12`, `Resend:12`, `rs N12`, `rs 12`, `rs N2 Expected checksum 67` → the first integer (§1.6). */
function parseResend(line: string): number | undefined {
  const lower = line.length > 8 ? line.slice(0, 8).toLowerCase() : line.toLowerCase();
  let rest: string;
  if (lower.startsWith("resend")) rest = line.slice(6);
  else if (lower.startsWith("rs ") || lower.startsWith("rs:")) rest = line.slice(2);
  else return undefined;
  const m = /^[\s:]*N?:?\s*(\d+)/i.exec(rest);
  return m ? Number(m[1]) : undefined;
}

function parseOk(line: string, grammar: Grammar, currentTool: number): Received {
  const rest = line.slice(2).trim();
  const ok: Extract<Received, { kind: "ok" }> = { kind: "ok" };
  if (rest === "") return ok;
  // ADVANCED_OK `ok N10 P15 B3` (N only when the acked line was numbered) or Repetier `ok 123`.
  const adv = /^(?:N(\d+)\s+)?P(\d+)\s+B(\d+)\s*$/.exec(rest);
  if (adv) {
    if (adv[1] !== undefined) ok.lineNumber = Number(adv[1]);
    ok.plannerFree = Number(adv[2]);
    ok.bufferFree = Number(adv[3]);
    return ok;
  }
  if (/^\d+$/.test(rest)) {
    ok.lineNumber = Number(rest);
    return ok;
  }
  // The remainder may carry a report: `ok T:…` (M105), `ok FIRMWARE_NAME:…` (Klipper), `ok C: X:…` (Smoothie).
  ok.report = classify(rest.startsWith("C: ") ? rest.slice(3) : rest, grammar, currentTool);
  return ok;
}

function busyReason(line: string): string {
  const at = line.indexOf("busy:");
  return line.slice(at + 5).trim();
}

/** `//action:pause`, Klipper's `// action:pause` → name and parameters (split at the first space). */
function parseAction(line: string): Received | undefined {
  if (!line.startsWith("//")) return undefined;
  const body = line.slice(2).trimStart();
  if (!body.startsWith("action:")) return undefined;
  const text = body.slice(7).trim();
  const space = text.indexOf(" ");
  return space < 0
    ? { kind: "action", name: text, params: "" }
    : { kind: "action", name: text.slice(0, space), params: text.slice(space + 1).trim() };
}

function isErrorLine(line: string): boolean {
  return line.startsWith("Error:") || line.startsWith("!!") || line.startsWith("fatal:") || line.startsWith("ERROR:");
}

function classifyError(line: string, grammar: Grammar): ErrorClass {
  for (const [cls, patterns] of grammar.errors) for (const r of patterns) if (r.test(line)) return cls;
  return "error";
}
