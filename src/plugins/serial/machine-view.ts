/**
 * `ctx.machine` for serial-path plugins: the host's own tracker of the running job (the one
 * `JobRun.fed` applies every file line to) seen through getters. Made once per job, so reading it
 * for every line costs a property read and copies nothing; frozen, and the tracker stays out of
 * reach, so a plugin cannot change what the host's pause, resume and checkpoints rely on.
 * Example: `const m = machineView(run.tracker); run.fed(line); m.z` is the Z after that line.
 */
import type { MachineTracker } from "../../jobs/machine-state.ts";
import type { MachineState } from "../sdk.ts";

export function machineView(t: MachineTracker): MachineState {
  // Getters of an object literal are its own enumerable properties: `{ ...ctx.machine }`,
  // JSON.stringify and console.log show the values.
  return Object.freeze({
    get x() {
      return t.x;
    },
    get y() {
      return t.y;
    },
    get z() {
      return t.z;
    },
    get e() {
      return t.e;
    },
    get absolute() {
      return !t.relative;
    },
    get absoluteE() {
      return !t.relativeE;
    },
    get feedrate() {
      return t.feedrate;
    },
    get tool() {
      return t.tool;
    },
  });
}
