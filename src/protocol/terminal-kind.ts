/**
 * Which of the periodic chatter a terminal line is, so the terminal can hide what the user chooses
 * (OctoPrint's terminal filters): temperature reports and their polls, SD status and position
 * reports, `wait` and `busy:` lines. Read with the printer's own grammar, so Creality's doubled
 * characters, Klipper's `Not SD printing.` or Smoothie's SD status count as what they are. Pure.
 */
import { commandCode } from "./engine.ts";
import { unframe } from "./framing.ts";
import { classify, type Grammar, type Received } from "./responses.ts";

export type TerminalKind = "temperature" | "sd" | "position" | "wait" | "busy";

// The polls a host sends for those reports (M27 S1 and M27 C too: SD status commands).
const SENT: Record<string, TerminalKind> = { M105: "temperature", M27: "sd", M114: "position" };

/** The kind of a line sent to the printer (as framed: `N12 M105*34`) or received from it; undefined for anything else. */
export function terminalKind(dir: "send" | "recv", text: string, grammar: Grammar): TerminalKind | undefined {
  if (dir === "send") return SENT[commandCode(unframe(text).command)];
  return receivedKind(classify(text, grammar, 0));
}

function receivedKind(r: Received): TerminalKind | undefined {
  switch (r.kind) {
    case "temperature":
    case "target":
      return "temperature";
    case "position":
      return "position";
    case "wait":
      return "wait";
    case "busy":
      return "busy";
    case "sd":
      return r.message.type === "progress" || r.message.type === "notPrinting" ? "sd" : undefined;
    case "ok":
      // `ok T:…` answers M105; a bare `ok` is nobody's chatter.
      return r.report ? receivedKind(r.report) : undefined;
    default:
      return undefined;
  }
}
