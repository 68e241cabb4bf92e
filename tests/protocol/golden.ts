/**
 * Golden replays of real firmware transcripts and of protocol.md §9's samples: every received line
 * goes through a protocol engine (as the host would see it) and is described by the classification
 * the engine's profile gives it at that moment. `bun tests/protocol/golden.ts --write` rewrites the
 * reviewed expectation files.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { loadQuirkSources } from "../../src/printers/quirks-sources.ts";
import { ProtocolEngine, type EngineEvent } from "../../src/protocol/engine.ts";
import type { Quirks } from "../../src/protocol/quirks.ts";
import { QuirksLibrary } from "../../src/protocol/quirks-library.ts";
import { classify, compileGrammar, type Grammar, type Received } from "../../src/protocol/responses.ts";
import { parseTranscript, RAW_TRANSCRIPTS } from "./transcripts.ts";

const FIXTURES = join(import.meta.dir, "../fixtures");

/** The transcripts (not the expectation files), as paths under tests/fixtures. */
export function transcripts(): string[] {
  return ["serial-logs", "protocol-md"].flatMap((dir) =>
    readdirSync(join(FIXTURES, dir))
      .filter((f) => f.endsWith(".txt") && !f.endsWith(".expected.txt"))
      .sort()
      .map((f) => `${dir}/${f}`),
  );
}

/**
 * The profile a replay starts with. Real sessions start at generic and detect their firmware;
 * protocol.md's samples (except the connect one) start mid-session, so their family is named by
 * the file.
 */
function startingProfile(path: string): string {
  if (!path.startsWith("protocol-md/") || path.includes("connect")) return "generic";
  return Object.entries(PROFILE_NAMED).find(([word]) => path.includes(word))?.[1] ?? "marlin2";
}
/** The word in a §9 sample's file name → the quirks file of that family (Marlin when none). */
const PROFILE_NAMED: Record<string, string> = { repetier: "repetier", smoothie: "smoothieware", klipper: "klipper" };

/** A short, stable description of a classified line. */
export function describe(msg: Received): string {
  switch (msg.kind) {
    case "ok": {
      let s = "ok";
      if (msg.lineNumber !== undefined) s += ` N${msg.lineNumber}`;
      if (msg.bufferFree !== undefined) s += ` P${msg.plannerFree} B${msg.bufferFree}`;
      return msg.report ? `${s} + ${describe(msg.report)}` : s;
    }
    case "resend":
    case "skip":
      return `${msg.kind} ${msg.lineNumber}`;
    case "busy":
      return `busy ${msg.reason}`;
    case "action":
      return `action ${msg.name}${msg.params ? ` (${msg.params})` : ""}`;
    case "error":
      return `error ${msg.errorClass}`;
    case "capability":
      return `cap ${msg.name}=${msg.enabled ? 1 : 0}`;
    case "firmware":
      return `firmware ${msg.info.FIRMWARE_NAME ?? msg.info.NAME ?? "?"}`;
    case "position":
      return `position X${msg.position.x} Y${msg.position.y} Z${msg.position.z}`;
    case "temperature":
      return `temperature ${Object.entries(msg.report)
        .map(([k, r]) => `${k}=${r.actual}/${r.target ?? "-"}`)
        .join(" ")}`;
    case "target":
      return `target ${msg.heater}=${msg.target}`;
    case "sd":
      return `sd ${msg.message.type}`;
    default:
      return msg.kind;
  }
}

export interface Replay {
  /** One entry per received line: description TAB line. */
  classified: string[];
  events: EngineEvent[];
  profile: string;
  overlays: string[];
}

/** Replays a transcript's received lines through a fresh engine, 10 ms apart (or at their own times). */
export function replay(path: string, library: QuirksLibrary): Replay {
  const lines = parseTranscript(readFileSync(join(FIXTURES, path), "latin1"), RAW_TRANSCRIPTS.has(basename(path)));
  const engine = new ProtocolEngine({ quirks: library.get(startingProfile(path)), library });
  const events: EngineEvent[] = [];
  const classified: string[] = [];
  let now = 0;
  let grammarFor: Quirks | undefined;
  let grammar: Grammar | undefined;
  engine.open(now);
  const t0 = lines.find((l) => l.t !== undefined)?.t ?? 0;
  for (const l of lines) {
    now = l.t !== undefined ? Math.max(now, (l.t - t0) * 1000) : now + 10;
    engine.tick(now);
    if (l.dir === "send") continue;
    engine.receive(l.line, now);
    if (engine.profile !== grammarFor) {
      grammarFor = engine.profile;
      grammar = compileGrammar(engine.profile);
    }
    const line = l.line.replaceAll("\0", "").trim();
    classified.push(`${describe(classify(line, grammar!, engine.currentTool))}\t${line}`);
    events.push(...engine.takeEvents());
    engine.takeOutgoing();
  }
  return { classified, events, profile: engine.profile.id, overlays: engine.profile.overlays };
}

export function expectedPath(path: string): string {
  return join(FIXTURES, path.replace(/\.txt$/, ".expected.txt"));
}

if (import.meta.main && process.argv.includes("--write")) {
  const library = new QuirksLibrary((await loadQuirkSources(undefined)).sources);
  for (const file of transcripts()) {
    const r = replay(file, library);
    writeFileSync(expectedPath(file), `${r.classified.join("\n")}\n`);
    console.log(`${file}: ${r.classified.length} lines, profile ${[r.profile, ...r.overlays].join(" + ")}`);
  }
}
