/**
 * The set of known firmware profiles: built-in files plus the user's own, resolved through their
 * `extends` chains; detection of which family a printer runs (protocol.md §8.1) and which
 * overlays its output gives away (§8.1 rows 12a–c), and the merged profile for a family plus
 * overlays.
 */
import { listItems, mergeQuirks, parseQuirksFile, type Quirks, type QuirksFile, type QuirksProblem } from "./quirks.ts";

/** A quirks file's text and where it came from (a path, for error messages). */
export interface QuirksSource {
  source: string;
  text: string;
}

/** The base every profile extends, directly or not. */
export const BASE_PROFILE = "generic";

/** What a received line gives away: a family (e.g. Klipper's state lines) or an overlay (Creality's banner). */
export interface LineEvidence {
  id: string;
  overlay: boolean;
}

interface Detector {
  id: string;
  overlay: boolean;
  order: number;
  name: RegExp[];
  line: RegExp[];
}

export class QuirksLibrary {
  /** Problems found while loading; the files concerned are left out, the rest still work. */
  readonly problems: QuirksProblem[] = [];
  private readonly files = new Map<string, QuirksFile>();
  private readonly chains = new Map<string, QuirksFile[]>();
  private readonly composed = new Map<string, Quirks>();
  private readonly detectors: Detector[] = [];
  /** Any line pattern of any profile, to skip the per-profile tests for the usual line. */
  private readonly anyLine: RegExp | undefined;

  /** Later sources override earlier ones with the same id (user files come after built-ins). */
  constructor(sources: QuirksSource[]) {
    for (const { source, text } of sources) {
      const parsed = parseQuirksFile(source, text);
      if (Array.isArray(parsed)) this.problems.push(...parsed);
      else this.files.set(parsed.id, parsed);
    }
    for (const [id, file] of this.files) {
      const chain = this.resolveChain(id);
      if (!chain) continue;
      const merged = this.compose(file.overlay ? BASE_PROFILE : id, file.overlay ? [id] : []);
      if (!merged) continue;
      this.detectors.push({
        id,
        overlay: file.overlay === true,
        order: merged.detect.order,
        // A file's own patterns only: a family must not be detected by what it inherits.
        name: listItems(file.detect?.firmwareName).map((p) => new RegExp(p, "i")),
        line: listItems(file.detect?.anyLine).map((p) => new RegExp(p, "i")),
      });
    }
    this.detectors.sort((a, b) => a.order - b.order);
    const all = this.detectors.flatMap((d) => d.line.map((r) => `(?:${r.source})`));
    this.anyLine = all.length ? new RegExp(all.join("|"), "i") : undefined;
    if (!this.chains.has(BASE_PROFILE) || this.files.get(BASE_PROFILE)?.overlay) {
      throw new Error(`firmware quirks: the base profile "${BASE_PROFILE}" is missing or invalid`);
    }
  }

  /** Ids of all valid families (overlays excluded). */
  ids(): string[] {
    return [...this.chains.keys()].filter((id) => !this.files.get(id)!.overlay);
  }

  /** Ids of all valid overlays. */
  overlayIds(): string[] {
    return [...this.chains.keys()].filter((id) => this.files.get(id)!.overlay);
  }

  /** The merged profile for family `id` (the base profile when unknown). */
  get(id: string): Quirks {
    return this.compose(id, []) ?? this.compose(BASE_PROFILE, [])!;
  }

  /**
   * The family's profile with overlays applied in the order given (unknown ids are skipped).
   * Example: `library.with("marlin2", ["creality"]).temperature.doubledWhen`.
   */
  with(family: string, overlays: string[]): Quirks {
    return this.compose(family, overlays) ?? this.get(family);
  }

  /** Which family matches a FIRMWARE_NAME value; undefined when none does. */
  detectByName(firmwareName: string): string | undefined {
    for (const d of this.detectors) if (!d.overlay && d.name.some((r) => r.test(firmwareName))) return d.id;
    return undefined;
  }

  /** What a received line gives away (first match in detection order); undefined for most lines. */
  detectByLine(line: string): LineEvidence | undefined {
    if (!this.anyLine || !this.anyLine.test(line)) return undefined;
    for (const d of this.detectors) if (d.line.some((r) => r.test(line))) return { id: d.id, overlay: d.overlay };
    return undefined;
  }

  private compose(family: string, overlays: string[]): Quirks | undefined {
    const key = [family, ...overlays].join("+");
    const done = this.composed.get(key);
    if (done) return done;
    const chain = this.resolveChain(family);
    if (!chain || this.files.get(family)?.overlay) return undefined;
    const files = [...chain];
    for (const o of overlays) {
      const file = this.files.get(o);
      if (file?.overlay && this.resolveChain(o)) files.push(file);
    }
    const merged = mergeQuirks(files);
    if (Array.isArray(merged)) {
      if (overlays.length === 0) this.problems.push(...merged);
      return undefined;
    }
    this.composed.set(key, merged);
    return merged;
  }

  private resolveChain(id: string): QuirksFile[] | undefined {
    const done = this.chains.get(id);
    if (done) return done;
    const root = this.files.get(id);
    if (!root) return undefined;
    if (root.overlay) {
      // An overlay is a patch, not a chain: it may not extend anything.
      if (root.extends) {
        this.problems.push({ source: id, field: "extends", message: "an overlay cannot extend a profile" });
        return undefined;
      }
      this.chains.set(id, [root]);
      return [root];
    }
    const chain: QuirksFile[] = [];
    let current: string | undefined = id;
    while (current) {
      if (chain.some((f) => f.id === current)) {
        this.problems.push({ source: id, field: "extends", message: `circular extends through "${current}"` });
        return undefined;
      }
      const file = this.files.get(current);
      if (!file || file.overlay) {
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
    this.chains.set(id, chain);
    this.composed.set(id, merged);
    return chain;
  }
}
