/**
 * Manual control of the machine — the G-code of a jog, a homing, an extrusion — as the dashboard
 * and OctoPrint's printhead/tool commands send it. Pure.
 */

/** Profile speeds (mm/min) OctoPrint uses for manual moves by default. */
export const AXIS_SPEED = { x: 6000, y: 6000, z: 200, e: 300 } as const;

/** A move of the given axes, relative unless `absolute`; the printer is left in absolute mode. */
export function jogGcode(c: { x?: number; y?: number; z?: number; absolute?: boolean; speed?: number | boolean }): string[] {
  const axes = (["x", "y", "z"] as const).filter((a) => c[a] !== undefined);
  if (axes.length === 0) return [];
  const speed = typeof c.speed === "number" ? c.speed : Math.min(...axes.map((a) => AXIS_SPEED[a]));
  const move = `G1 ${axes.map((a) => `${a.toUpperCase()}${c[a]}`).join(" ")} F${Math.round(speed)}`;
  return c.absolute ? ["G90", move] : ["G91", move, "G90"];
}

export const homeGcode = (axes: string[]) => [`G28 ${axes.map((a) => `${a.toUpperCase()}0`).join(" ")}`];

/** Extrude (or retract, negative) `amount` mm, in relative E, then back to absolute E and XYZ. */
export const extrudeGcode = (amount: number, speed: number = AXIS_SPEED.e) => ["G91", "M83", `G1 E${amount} F${Math.round(speed)}`, "M82", "G90"];
