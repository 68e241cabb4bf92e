/**
 * The virtual printer's object labels and their cancelling, as the firmware does it while it
 * prints (from its card or from the host): Marlin's CANCEL_OBJECTS (`M486 S<i>` labels, `M486
 * P<i>` / `C` cancel, `U` un-cancels, `T` resets, bare `M486` reports) and Klipper's
 * exclude_object (`EXCLUDE_OBJECT_START/END NAME=`, `EXCLUDE_OBJECT NAME=` / `CURRENT=1` /
 * `RESET=1`, bare `EXCLUDE_OBJECT` lists). While the active object is cancelled, moves are
 * skipped the Marlin way: the head stays, E is set as if extruded (no filament moves).
 */
import type { GcodeCommand } from "./gcode.ts";

export class ObjectLabels {
  /** The labelled object being printed: its M486 index or upper-case name; null outside any. */
  private active: string | null = null;
  private readonly cancelled = new Set<string>();

  /** Whether moves are skipped now (inside a cancelled object). */
  get skipping(): boolean {
    return this.active !== null && this.cancelled.has(this.active);
  }

  /** Power-on: no object, none cancelled. */
  reset(): void {
    this.active = null;
    this.cancelled.clear();
  }

  /** Marlin's M486; returns what it prints. */
  m486(cmd: GcodeCommand): string[] {
    const int = (letter: string) => Math.trunc(cmd.value(letter) ?? 0);
    if (cmd.has("T")) this.reset();
    if (cmd.has("S")) this.active = int("S") >= 0 ? String(int("S")) : null;
    if (cmd.has("C") && this.active !== null) this.cancelled.add(this.active);
    if (cmd.has("P")) this.cancelled.add(String(int("P")));
    if (cmd.has("U")) this.cancelled.delete(String(int("U")));
    if (["T", "S", "C", "P", "U"].some((l) => cmd.has(l))) return [];
    const out: string[] = [];
    if (this.active !== null) out.push(`echo:Active Object: ${this.active}`);
    if (this.cancelled.size) out.push(`echo:Canceled:${[...this.cancelled].sort((a, b) => Number(a) - Number(b)).map((i) => ` ${i}`).join("")}`);
    return out;
  }

  /** Klipper's EXCLUDE_OBJECT commands (`text` is the whole line); returns what it prints. */
  excludeObject(text: string): string[] {
    const word = text.split(/\s+/)[0]!.toUpperCase();
    const name = /NAME=("([^"]*)"|'([^']*)'|(\S+))/i.exec(text);
    const key = name ? (name[2] ?? name[3] ?? name[4]!).toUpperCase() : null;
    switch (word) {
      case "EXCLUDE_OBJECT_START":
        this.active = key;
        return [];
      case "EXCLUDE_OBJECT_END":
        this.active = null;
        return [];
      case "EXCLUDE_OBJECT_DEFINE":
        return [];
      case "EXCLUDE_OBJECT":
        if (/RESET=1/i.test(text)) this.cancelled.clear();
        else if (/CURRENT=1/i.test(text) && this.active !== null) this.cancelled.add(this.active);
        else if (key) this.cancelled.add(key);
        else return [`// Excluded objects: ${[...this.cancelled].join(" ")}`];
        return [];
      default:
        return [`// Unknown command:"${word}"`];
    }
  }
}
