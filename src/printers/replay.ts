/**
 * `layerline replay TRACE.jsonl`: what a flight-recorder trace says, and whether the session
 * would run the same today.
 *
 * 1. The received lines go through the protocol engine at their recorded times: which firmware
 *    and quirks it recognises, how every line is classified, the errors with their class and
 *    policy, resend requests, resets.
 * 2. The commands the host sent (each line number's first transmission; resends and hellos left
 *    out) are sent again through the engine to the virtual printer, with the personality of the
 *    recognised firmware, on a simulated clock: every command must run exactly once, in order.
 */
import * as v from "valibot";
import { ProtocolEngine, type EngineEvent } from "../protocol/engine.ts";
import { unframe } from "../protocol/framing.ts";
import type { QuirksLibrary } from "../protocol/quirks-library.ts";
import { classify, compileGrammar, type Grammar } from "../protocol/responses.ts";
import { LinkSimulation } from "../virtual/link-simulation.ts";
import type { PersonalityId } from "../virtual/personalities.ts";
import type { TraceEntry } from "./flight-recorder.ts";

const TraceEntrySchema = v.object({
  t: v.number(),
  dir: v.picklist(["send", "recv", "info"]),
  line: v.string(),
});

/** A trace file read: its entries, and the lines that were not entries (1-based line numbers). */
export interface ParsedTrace {
  entries: TraceEntry[];
  bad: number[];
}

export function parseTrace(text: string): ParsedTrace {
  const entries: TraceEntry[] = [];
  const bad: number[] = [];
  text.split("\n").forEach((raw, i) => {
    if (raw.trim() === "") return;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      bad.push(i + 1);
      return;
    }
    const r = v.safeParse(TraceEntrySchema, json);
    if (r.success) entries.push(r.output);
    else bad.push(i + 1);
  });
  return { entries, bad };
}

export interface ReplayReport {
  lines: { sent: number; received: number; info: number; unreadable: number };
  durationS: number;
  firmware: string | undefined;
  profile: string;
  overlays: string[];
  /** Received lines per classification (`ok`, `temperature`, `busy`, `error fatal`, …). */
  kinds: Record<string, number>;
  errors: { text: string; errorClass: string; policy: string }[];
  resendRequests: number;
  resets: number;
  /** The re-run against the virtual printer. */
  rerun: {
    personality: PersonalityId;
    commands: number;
    executedInOrder: boolean;
    /** The first difference, when there is one. */
    mismatch?: string;
    resendRequests: number;
    simulatedS: number;
  };
}

/** The virtual personality closest to a quirks profile. */
function personalityFor(profile: string): PersonalityId {
  if (profile === "prusa" || profile === "prusa-buddy") return "prusa";
  if (profile === "repetier" || profile === "anet-a8-stock") return "repetier";
  if (profile === "smoothieware") return "smoothie";
  if (profile === "klipper") return "klipper";
  return "marlin2";
}

/** The commands the host meant to send: first transmissions by line number, without hellos. */
export function commandsOf(entries: TraceEntry[]): string[] {
  const commands: string[] = [];
  let highest = -1;
  for (const e of entries) {
    if (e.dir !== "send") continue;
    const parts = unframe(e.line);
    if (parts.lineNumber === undefined) continue; // bare emergency lines and console commands
    if (parts.command.startsWith("M110")) {
      highest = parts.lineNumber; // a hello restarts the numbering
      continue;
    }
    if (parts.lineNumber <= highest) continue; // a resend
    highest = parts.lineNumber;
    if (parts.command === "M112") continue; // it would halt the re-run
    commands.push(parts.command);
  }
  return commands;
}

export function replayTrace(trace: ParsedTrace, library: QuirksLibrary): ReplayReport {
  const { entries } = trace;
  const engine = new ProtocolEngine({ quirks: library.get("generic"), library });
  const events: EngineEvent[] = [];
  const kinds: Record<string, number> = {};
  const t0 = entries[0]?.t ?? 0;
  let grammarFor = engine.profile;
  let grammar: Grammar = compileGrammar(grammarFor);
  engine.open(0);
  for (const e of entries) {
    const now = e.t - t0;
    engine.tick(now);
    if (e.dir !== "recv") continue;
    engine.receive(e.line, now);
    if (engine.profile !== grammarFor) {
      grammarFor = engine.profile;
      grammar = compileGrammar(grammarFor);
    }
    const c = classify(e.line.trim(), grammar, engine.currentTool);
    const key = c.kind === "error" ? `error ${c.errorClass}` : c.kind === "sd" ? `sd ${c.message.type}` : c.kind;
    kinds[key] = (kinds[key] ?? 0) + 1;
    events.push(...engine.takeEvents());
    engine.takeOutgoing();
    // A recorded session goes on after what this engine would call an error; follow it.
    if (engine.state === "error") engine.open(now);
  }
  const firmware = [...events].reverse().find((e) => e.type === "firmware") as Extract<EngineEvent, { type: "firmware" }> | undefined;
  const personality = personalityFor(engine.profile.id);

  const commands = commandsOf(entries);
  const executed: string[] = [];
  let live = false;
  const sim = new LinkSimulation({
    printer: { personality, timeScale: 0 },
    quirks: library.get("generic"),
    library,
    onExecute: (l) => live && executed.push(l.command),
  }).open();
  sim.run(() => sim.engine.identified && sim.engine.outstanding() === 0, 60_000);
  live = true;
  const start = sim.now;
  sim.stream(commands[Symbol.iterator]());
  sim.run(() => (sim.jobFinished && sim.engine.outstanding() === 0) || sim.engine.state !== "operational", 24 * 3_600_000);
  // The engine's own probes and polls run too; compare the commands the trace asked for.
  const wanted = new Set(commands);
  const ran = executed.filter((c) => wanted.has(c));
  let mismatch: string | undefined;
  for (let i = 0; i < Math.max(ran.length, commands.length); i++) {
    if (ran[i] !== commands[i]) {
      mismatch = `command ${i + 1}: the trace sent "${commands[i] ?? "(nothing)"}", the printer ran "${ran[i] ?? "(nothing)"}"`;
      break;
    }
  }

  return {
    lines: {
      sent: entries.filter((e) => e.dir === "send").length,
      received: entries.filter((e) => e.dir === "recv").length,
      info: entries.filter((e) => e.dir === "info").length,
      unreadable: trace.bad.length,
    },
    durationS: entries.length ? (entries.at(-1)!.t - t0) / 1000 : 0,
    firmware: firmware?.name,
    profile: engine.profile.id,
    overlays: engine.profile.overlays,
    kinds,
    errors: events.flatMap((e) => (e.type === "firmwareError" && e.errorClass !== "resendFollows" ? [{ text: e.text, errorClass: e.errorClass, policy: e.policy }] : [])),
    resendRequests: engine.stats.resendRequests,
    resets: events.filter((e) => e.type === "reset").length,
    rerun: {
      personality,
      commands: commands.length,
      executedInOrder: mismatch === undefined,
      ...(mismatch ? { mismatch } : {}),
      resendRequests: sim.engine.stats.resendRequests,
      simulatedS: (sim.now - start) / 1000,
    },
  };
}

/** The report for people. */
export function formatReport(path: string, r: ReplayReport): string {
  const out = [
    `Trace ${path}: ${r.lines.sent} lines sent, ${r.lines.received} received, ${r.lines.info} notes over ${r.durationS.toFixed(1)} s` +
      (r.lines.unreadable ? ` (${r.lines.unreadable} unreadable lines skipped)` : ""),
    `Firmware: ${r.firmware ?? "not identified in the trace"} → quirks ${[r.profile, ...r.overlays].join(" + ")}`,
    `Received lines: ${Object.entries(r.kinds)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")}`,
    `Resend requests: ${r.resendRequests}; resets: ${r.resets}`,
  ];
  if (r.errors.length) {
    out.push(`Firmware errors (${r.errors.length}):`);
    for (const e of r.errors.slice(0, 20)) out.push(`  ${e.errorClass} → ${e.policy}: ${e.text}`);
  }
  const rr = r.rerun;
  out.push(
    `Re-run against the virtual printer (${rr.personality}): ${rr.commands} commands, ` +
      (rr.executedInOrder ? "every one ran once, in order" : `NOT the same: ${rr.mismatch}`) +
      ` (${rr.resendRequests} resend requests, ${rr.simulatedS.toFixed(1)} s simulated)`,
  );
  return out.join("\n");
}
