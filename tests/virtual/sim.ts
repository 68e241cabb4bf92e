/**
 * The host engine and the virtual printer on one simulated clock, connected and identified, with
 * every engine event and executed command collected; and a small-segment program.
 */
import { expect } from "bun:test";
import type { EngineEvent } from "../../src/protocol/engine.ts";
import { LinkSimulation } from "../../src/virtual/link-simulation.ts";
import type { VirtualPrinterOptionsInput } from "../../src/virtual/options.ts";
import { builtInLibrary } from "../helpers/quirks.ts";

const library = await builtInLibrary();

/** A simulation past the handshake; `events` and `executed` keep everything from the start. */
export function connect(printer: VirtualPrinterOptionsInput, window = 1) {
  const events: EngineEvent[] = [];
  const executed: string[] = [];
  const sim = new LinkSimulation({
    printer: { timeScale: 0, ...printer },
    quirks: library.get("generic"),
    library,
    window,
    onEvent: (e) => events.push(e),
    onExecute: (l) => executed.push(l.command),
  }).open();
  expect(sim.run(() => sim.engine.identified && sim.engine.outstanding() === 0, 60_000)).toBe(true);
  return { sim, events, executed };
}

/**
 * A zigzag of `n` moves of 0.2 mm at 60 mm/s (F3600), with short coordinates, as a small-segment
 * file must have to fit 115200 baud (300 lines a second).
 */
export function* smallSegments(n: number): Generator<string> {
  yield "M83";
  yield "M302 P1";
  yield "G1 X10 Y10 F3600";
  let x = 10;
  let y = 10;
  let dir = 1;
  for (let i = 0; i < n; i++) {
    x += 0.2 * dir;
    if (x > 190 || x < 10) {
      dir = -dir;
      y += 0.4;
    }
    yield `G1 X${x.toFixed(1)} Y${y.toFixed(1)} E.01`;
  }
}
