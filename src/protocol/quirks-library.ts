/**
 * The set of known firmware profiles: built-in files plus the user's own, resolved through their
 * `extends` chains, and detection of which one a printer runs (protocol.md §8.1).
 */
import { mergeQuirks, parseQuirksFile, type Quirks, type QuirksFile, type QuirksProblem } from "./quirks.ts";

/** A quirks file's text and where it came from (a path, for error messages). */
export interface QuirksSource {
  source: string;
  text: string;
}

/** The base every profile extends, directly or not. */
export const BASE_PROFILE = "generic";

export class QuirksLibrary {
  /** Problems found while loading; the files concerned are left out, the rest still work. */
  readonly problems: QuirksProblem[] = [];
  private readonly files = new Map<string, QuirksFile>();
  private readonly resolved = new Map<string, Quirks>();
  private readonly detectors: { id: string; order: number; name: RegExp[]; line: RegExp[] }[] = [];

  /** Later sources override earlier ones with the same id (user files come after built-ins). */
  constructor(sources: QuirksSource[]) {
    for (const { source, text } of sources) {
      const parsed = parseQuirksFile(source, text);
      if (Array.isArray(parsed)) this.problems.push(...parsed);
      else this.files.set(parsed.id, parsed);
    }
    for (const id of this.files.keys()) {
      const profile = this.resolve(id);
      if (!profile) continue;
      this.detectors.push({
        id,
        order: profile.detect.order,
        name: profile.detect.firmwareName.map((p) => new RegExp(p, "i")),
        line: profile.detect.anyLine.map((p) => new RegExp(p, "i")),
      });
    }
    this.detectors.sort((a, b) => a.order - b.order);
    if (!this.resolved.has(BASE_PROFILE)) {
      throw new Error(`firmware quirks: the base profile "${BASE_PROFILE}" is missing or invalid`);
    }
  }

  /** Ids of all valid profiles. */
  ids(): string[] {
    return [...this.resolved.keys()];
  }

  /** The merged profile for `id`, or the base profile when unknown. */
  get(id: string): Quirks {
    return this.resolved.get(id) ?? this.resolved.get(BASE_PROFILE)!;
  }

  /** Which profile matches a FIRMWARE_NAME value; undefined when none does. */
  detectByName(firmwareName: string): string | undefined {
    for (const d of this.detectors) if (d.name.some((r) => r.test(firmwareName))) return d.id;
    return undefined;
  }

  /** Which profile a received line (banner, odd report) gives away; undefined when none. */
  detectByLine(line: string): string | undefined {
    for (const d of this.detectors) if (d.line.some((r) => r.test(line))) return d.id;
    return undefined;
  }

  private resolve(id: string, seen: string[] = []): Quirks | undefined {
    const done = this.resolved.get(id);
    if (done) return done;
    const chain: QuirksFile[] = [];
    let current: string | undefined = id;
    while (current) {
      if (seen.includes(current) || chain.some((f) => f.id === current)) {
        this.problems.push({ source: id, field: "extends", message: `circular extends through "${current}"` });
        return undefined;
      }
      const file = this.files.get(current);
      if (!file) {
        this.problems.push({ source: id, field: "extends", message: `extends unknown profile "${current}"` });
        return undefined;
      }
      chain.unshift(file);
      current = file.extends ?? (current === BASE_PROFILE ? undefined : BASE_PROFILE);
    }
    const merged = mergeQuirks(chain);
    if (Array.isArray(merged)) {
      this.problems.push(...merged);
      return undefined;
    }
    this.resolved.set(id, merged);
    return merged;
  }
}
