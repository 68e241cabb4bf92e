/**
 * Where the print head is, followed from the G-code the printer is sent: absolute or relative
 * moves (G90/G91), absolute or relative extrusion (M82/M83), G92 resets, G28 homing. Enough to
 * park the head and put it back exactly, E included.
 */
import { gcodeNumber, parseGcode } from "layerline";

export interface Position {
  x: number | null;
  y: number | null;
  z: number | null;
  e: number;
  /** G90 (true) or G91. */
  absolute: boolean;
  /** M82 (true) or M83; G90/G91 set it too, as Marlin does. */
  absoluteE: boolean;
}

export const startPosition = (): Position => ({ x: null, y: null, z: null, e: 0, absolute: true, absoluteE: true });

/** Updates `p` for one sent line; returns the Z a move goes to (null when the line is no move). */
export function track(p: Position, line: string): number | null {
  const c = parseGcode(line);
  if (!c) return null;
  switch (c.code) {
    case "G90":
      p.absolute = p.absoluteE = true;
      return null;
    case "G91":
      p.absolute = p.absoluteE = false;
      return null;
    case "M82":
      p.absoluteE = true;
      return null;
    case "M83":
      p.absoluteE = false;
      return null;
    case "G92":
      for (const axis of ["X", "Y", "Z", "E"] as const) {
        const n = gcodeNumber(c, axis);
        if (n !== undefined) p[axis.toLowerCase() as "x" | "y" | "z" | "e"] = n;
      }
      return null;
    case "G28": {
      const all = !("X" in c.params || "Y" in c.params || "Z" in c.params);
      // Homed axes sit at an end stop whose coordinate the firmware knows; until the next move we don't.
      if (all || "X" in c.params) p.x = null;
      if (all || "Y" in c.params) p.y = null;
      if (all || "Z" in c.params) p.z = null;
      return null;
    }
    case "G0":
    case "G1":
    case "G2":
    case "G3": {
      for (const axis of ["X", "Y", "Z"] as const) {
        const n = gcodeNumber(c, axis);
        if (n === undefined) continue;
        const key = axis.toLowerCase() as "x" | "y" | "z";
        const before = p[key];
        p[key] = p.absolute ? n : before === null ? null : before + n;
      }
      const e = gcodeNumber(c, "E");
      if (e !== undefined) p.e = p.absoluteE ? e : p.e + e;
      return gcodeNumber(c, "Z") === undefined ? null : p.z;
    }
    default:
      return null;
  }
}
