/**
 * Property tests: whatever arrives on the serial line — random bytes, any mix of real firmware
 * lines from the transcripts — the engine never throws and never desynchronises line numbers:
 * every numbered line it writes carries a valid checksum, new lines count up by one from the last
 * hello, and a line it repeats is byte for byte the line first sent with that number. With the
 * virtual printer on the other end and noise mixed into its replies, a job still runs exactly once.
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ProtocolEngine } from "../../src/protocol/engine.ts";
import { unframe } from "../../src/protocol/framing.ts";
import { LinkSimulation } from "../../src/virtual/link-simulation.ts";
import { SeededRandom } from "../../src/virtual/random.ts";
import { builtInLibrary } from "../helpers/quirks.ts";
import { parseTranscript, RAW_TRANSCRIPTS } from "./transcripts.ts";

const library = await builtInLibrary();
const FIXTURES = join(import.meta.dir, "../fixtures");

/** Every line a firmware sent in any transcript we have. */
const CORPUS = [
  ...readdirSync(join(FIXTURES, "serial-logs"))
    .filter((f) => !f.endsWith(".expected.txt"))
    .flatMap((f) => parseTranscript(readFileSync(join(FIXTURES, "serial-logs", f), "latin1"), RAW_TRANSCRIPTS.has(f))),
  ...readdirSync(join(FIXTURES, "protocol-md")).flatMap((f) => parseTranscript(readFileSync(join(FIXTURES, "protocol-md", f), "utf8"))),
]
  .filter((l) => l.dir === "recv")
  .map((l) => l.line);

function randomBytes(r: SeededRandom): string {
  let s = "";
  const n = r.below(90);
  for (let i = 0; i < n; i++) s += String.fromCharCode(r.below(256));
  return s;
}

/** Checks the numbering invariant on everything the engine writes. */
class WireCheck {
  private sent = new Map<number, string>();
  private highest = -1;
  /** `restarting`: the engine (re)started the link in this step, so its M110 hello restarts the numbering. */
  check(line: string, restarting: boolean): void {
    const parts = unframe(line);
    if (parts.lineNumber === undefined) return; // bare M112, console lines
    expect(parts.checksumOk).toBe(true);
    const n = parts.lineNumber;
    // A hello sent again in its other form (`handshake.retryHello`) restarts the numbering too;
    // a resend of line 0 is the same bytes.
    if (parts.command.startsWith("M110") && (restarting || (n === 0 && line !== this.sent.get(0)))) {
      this.sent.clear();
      this.highest = n;
      this.sent.set(n, line);
      return;
    }
    if (n <= this.highest) {
      expect(line).toBe(this.sent.get(n)!); // a repeat is the identical line
    } else {
      expect(n).toBe(this.highest + 1); // new lines count up by one
      this.highest = n;
      this.sent.set(n, line);
    }
  }
}

test(`random bytes and mixes of ${CORPUS.length} real firmware lines: no throw, no numbering slip`, () => {
  const r = new SeededRandom(2024);
  let steps = 0;
  for (let round = 0; round < 300; round++) {
    const engine = new ProtocolEngine({ quirks: library.get("generic"), library, window: 1 + r.below(6) });
    const wire = new WireCheck();
    let now = 0;
    const acked = new Set<number>();
    let tag = 0;
    const check = () => {
      const events = engine.takeEvents();
      const restarting = events.some((e) => e.type === "state" && e.state === "handshake");
      for (const line of engine.takeOutgoing()) wire.check(line, restarting);
      for (const e of events) {
        if (e.type === "acked") {
          expect(acked.has(e.tag)).toBe(false); // each line acknowledged at most once
          acked.add(e.tag);
        }
      }
    };
    engine.open(now);
    check();
    for (let i = 0; i < 400; i++, steps++) {
      const pick = r.next();
      if (pick < 0.3) engine.receive(randomBytes(r), now);
      else if (pick < 0.75) engine.receive(CORPUS[r.below(CORPUS.length)]!, now);
      else if (pick < 0.85) engine.receive(r.next() < 0.5 ? "ok" : `Resend: ${r.below(40)}`, now);
      else if (pick < 0.95) engine.enqueue(`G1 X${r.below(200)} Y${r.below(200)}`, now, tag++);
      else {
        now += r.below(40_000);
        engine.tick(now);
      }
      check();
      if (engine.state === "error" || engine.state === "closed") {
        engine.open(now);
        check();
      }
    }
  }
  expect(steps).toBe(120_000);
});

test("noise mixed into the printer's replies does not stop a job or change what runs", () => {
  const r = new SeededRandom(7);
  const executed: string[] = [];
  let job = false;
  const sim = new LinkSimulation({
    printer: { timeScale: 0, seed: 5, advancedOk: true },
    quirks: library.get("generic"),
    library,
    window: 4,
    onExecute: (l) => job && l.command.startsWith("G1 ") && executed.push(l.command),
    // One line in ten is followed by a burst of garbage bytes.
    deliver: (line) => (r.next() < 0.1 ? [line, randomBytes(r), randomBytes(r)] : [line]),
  }).open();
  expect(sim.run(() => sim.engine.identified && sim.engine.outstanding() === 0, 60_000)).toBe(true);
  job = true;
  const program = Array.from({ length: 5000 }, (_, i) => `G1 X${i % 150} Y${(i * 3) % 150} E${(i / 100).toFixed(2)}`);
  sim.stream(program[Symbol.iterator]());
  expect(sim.run(() => sim.jobFinished && sim.engine.outstanding() === 0, 1e9)).toBe(true);
  expect(executed).toEqual(program);
});
