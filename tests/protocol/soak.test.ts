/**
 * Soak: a long print through a faulty link, host engine and virtual printer on one simulated
 * clock. Every kind of link fault fires on about 1 % of lines: flipped bits both ways, lost lines
 * both ways, a missing ok after a resend request, spurious resend requests, silences longer than
 * the ack timeout, and slow heaters holding the line with busy keep-alives. The firmware's own
 * log of what it ran must be the file, every line exactly once, in order.
 *
 * Short in CI; the full million with `LAYERLINE_SOAK_LINES=1000000 bun test tests/protocol/soak.test.ts`.
 * (Resets are not in this mix: a reset ends the print by design; tests/virtual/faults.test.ts covers it.)
 */
import { expect, test } from "bun:test";
import { LinkSimulation } from "../../src/virtual/link-simulation.ts";
import { builtInLibrary } from "../helpers/quirks.ts";

const LINES = Number(process.env.LAYERLINE_SOAK_LINES ?? 20_000);
const library = await builtInLibrary();

const P = 0.01;
const FAULTS = {
  corrupt: { probability: P },
  drop: { probability: P },
  corruptReply: { probability: P },
  dropReply: { probability: P },
  missingOkAfterResend: { probability: P },
  spuriousResend: { probability: P },
  silence: { probability: P, ms: 8000 },
  busyHeater: { probability: P, ms: 4000 },
};

/** A program whose lines are all different, so "once, in order" is checkable line by line. */
function line(i: number): string {
  return `G1 X${(i % 200) + 1} Y${(i * 7) % 200} E${(i / 1000).toFixed(3)}`;
}

for (const [name, window, printer] of [
  ["ping-pong", 1, {}],
  ["windowed (ADVANCED_OK)", 4, { advancedOk: true }],
] as const) {
  test(`soak, ${name}: ${LINES} lines with 1% faults of every kind run exactly once, in order`, () => {
    let next = 0; // the next job line the firmware must run
    const problems: string[] = [];
    let jobStarted = false;
    let failure: unknown;
    const sim = new LinkSimulation({
      printer: { timeScale: 0, seed: 42, faults: FAULTS, ...printer },
      quirks: library.get("generic"),
      library,
      window,
      onEvent: (e) => {
        if (e.type === "state" && e.state === "error") failure = e.problem;
      },
      onExecute: (l) => {
        if (!jobStarted || !l.command.startsWith("G1 ")) return; // the host's own commands (M105 probes…)
        if (l.command !== line(next)) problems.push(`line ${next}: expected "${line(next)}", ran "${l.command}"`);
        else next++;
      },
    }).open();
    expect(sim.run(() => sim.engine.identified && sim.engine.outstanding() === 0, 600_000)).toBe(true);
    jobStarted = true;
    let i = 0;
    const started = performance.now();
    sim.stream({ next: () => (i < LINES ? { value: line(i++), done: false } : { value: undefined, done: true }) });
    const finished = sim.run(() => (sim.jobFinished && sim.engine.outstanding() === 0) || sim.engine.state !== "operational", 1e12);
    const wall = (performance.now() - started) / 1000;
    const f = sim.firmware.state.faults;
    const s = sim.engine.stats;
    console.log(
      `soak ${name}: ${LINES} lines in ${wall.toFixed(1)} s wall (${(sim.now / 3_600_000).toFixed(1)} h simulated); faults fired: ` +
        `corrupt ${f.corrupt}, drop ${f.drop}, corruptReply ${f.corruptReply}, dropReply ${f.dropReply}, missingOkAfterResend ${f.missingOkAfterResend}, ` +
        `spuriousResend ${f.spuriousResend}, silence ${f.silence}, busyHeater ${f.busyHeater}; host: ${s.resendRequests} resend requests, ` +
        `${s.linesResent} lines resent, ${s.timeouts} timeouts, ${s.lostOks} lost oks found, ${s.lateOks} late oks ignored`,
    );
    expect(problems.slice(0, 5)).toEqual([]);
    expect(failure).toBeUndefined();
    expect(finished).toBe(true);
    expect(sim.engine.state).toBe("operational");
    expect(next).toBe(LINES);
    // Every kind really fired (a missing ok can only follow a resend request, 1 % of those).
    for (const kind of Object.keys(FAULTS) as (keyof typeof FAULTS)[]) {
      expect(f[kind]).toBeGreaterThan(kind === "missingOkAfterResend" ? 0 : LINES * P * 0.5);
    }
  }, 600_000);
}
