import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

/** ../shared/data/gcode beside the project (in a worktree, beside one of its parents). */
export function sharedGcode(): string {
  for (let dir = join(import.meta.dir, ".."); dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, "../shared/data/gcode");
    if (existsSync(join(candidate, "manifest.json"))) return candidate;
  }
  throw new Error("../shared/data/gcode not found beside the project");
}
