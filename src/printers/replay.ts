/**
 * `layerline replay TRACE.jsonl`: what a flight-recorder trace says, and whether the session
 * would run the same today.
 *
 * 1. The received lines go through the protocol engine at their recorded times: which firmware
 *    and quirks it recognises, how every line is classified, the errors with their class and
 *    policy, resend requests, resets.
 * 2. The commands the host sent (each line number's first transmission; resends and hellos left
 *    out) are sent again through the engine to the virtual printer, with the personality of the
 *    recognised firmware, on a simulated clock: every command must run exactly once, in order,
 *    and the lines of an SD upload (between M28 and M29) must be stored on the card once, in order.
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
    /** Lines written to a card file (M28 … M29), checked to arrive there once each, in order. */
    cardLines: number;
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
  // Lines between M28 and M29 go into a card file (an SD upload): stored, not run; M29 closes it.
  const toRun: string[] = [];
  const toWrite: string[] = [];
  // A person answered the printer's dialogs: M0/M1 wait for a click, and the host's M876 S<n> or
  // M108 that followed is the answer. Each answer goes out once the re-run printer waits for it.
  const answers = new Set<number>();
  let writing = false;
  let waiting = false;
  for (const [i, c] of commands.entries()) {
    if (writing) {
      if (/^M29\b/i.test(c)) writing = false;
      else toWrite.push(c);
      continue;
    }
    toRun.push(c);
    if (/^M28\b/i.test(c)) writing = true;
    if (waiting && /^(M876\s+S\d|M108\b)/i.test(c)) {
      answers.add(i);
      waiting = false;
    } else if (/^M[01]\b/i.test(c)) waiting = true;
  }
  const executed: string[] = [];
  const written: string[] = [];
  let live = false;
  const sim = new LinkSimulation({
    printer: { personality, timeScale: 0, onCardWrite: (l) => live && written.push(l) },
    quirks: library.get("generic"),
    library,
    // What the host sent, not what the printer read from its card (an SD print runs its file itself).
    onExecute: (l) => live && l.source === "serial" && executed.push(l.command),
  }).open();
  sim.run(() => sim.engine.identified && sim.engine.outstanding() === 0, 60_000);
  live = true;
  const start = sim.now;
  let next = 0;
  const upToAnswer: Iterator<string> = {
    next: () => (next < commands.length && !answers.has(next) ? { done: false, value: commands[next++]! } : { done: true, value: undefined }),
  };
  const waitsForPerson = () => /^M[01]\b/i.test(sim.firmware.state.blockedOn ?? "");
  const settled = () => sim.jobFinished && sim.engine.outstanding() === 0;
  sim.stream(upToAnswer);
  for (;;) {
    sim.run(() => settled() || sim.engine.state !== "operational" || (answers.has(next) && waitsForPerson()), 24 * 3_600_000);
    if (!answers.has(next) || sim.engine.state !== "operational") break;
    // Sent as the host sends a dialog's answer: at once, past the lines waiting for the click.
    sim.send(commands[next++]!);
    sim.stream(upToAnswer);
  }
  // The engine's own probes and polls run too; compare the commands the trace asked for.
  const wanted = new Set(toRun);
  const ran = executed.filter((c) => wanted.has(c));
  let mismatch: string | undefined;
  for (let i = 0; i < Math.max(ran.length, toRun.length); i++) {
    if (ran[i] !== toRun[i]) {
      mismatch = `command ${i + 1}: the trace sent "${toRun[i] ?? "(nothing)"}", the printer ran "${ran[i] ?? "(nothing)"}"`;
      break;
    }
  }
  for (let i = 0; mismatch === undefined && i < Math.max(written.length, toWrite.length); i++) {
    if (written[i] !== toWrite[i]) {
      mismatch = `card line ${i + 1}: the trace wrote "${toWrite[i] ?? "(nothing)"}", the printer stored "${written[i] ?? "(nothing)"}"`;
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
      commands: toRun.length,
      cardLines: toWrite.length,
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
    `Re-run against the virtual printer (${rr.personality}): ${rr.commands} commands` +
      (rr.cardLines ? ` and ${rr.cardLines} lines written to the card` : "") +
      ", " +
      (rr.executedInOrder ? (rr.cardLines ? "every one ran or was stored once, in order" : "every one ran once, in order") : `NOT the same: ${rr.mismatch}`) +
      ` (${rr.resendRequests} resend requests, ${rr.simulatedS.toFixed(1)} s simulated)`,
  );
  return out.join("\n");
}
