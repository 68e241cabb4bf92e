/**
 * The set of known firmware profiles: built-in files plus the user's own, resolved through their
 * `extends` chains; detection of which family a printer runs (protocol.md §8.1) and which
 * overlays its output gives away (§8.1 rows 12a–c), and the merged profile for a family plus
 * overlays.
 */
import { type ListPatch, mergeQuirks, mergeSet, parseQuirksFile, type Quirks, type QuirksFile, type QuirksProblem } from "./quirks.ts";

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
  /**
   * Each id's files in the order read: the first defines the profile, a later file with the same
   * id (the user's) amends it, field by field by the merge rules, as one more layer.
   */
  private readonly files = new Map<string, QuirksFile[]>();
  /** Where each id's first file came from (a user's file: its path), to name it in problems. */
  private readonly definedIn = new Map<string, string>();
  private readonly chains = new Map<string, QuirksFile[]>();
  private readonly composed = new Map<string, Quirks>();
  private readonly detectors: Detector[] = [];
  /** Any line pattern of any profile, to skip the per-profile tests for the usual line. */
  private readonly anyLine: RegExp | undefined;

  /** Later sources amend earlier ones with the same id (user files come after built-ins). */
  constructor(sources: QuirksSource[]) {
    const amendments = new Map<QuirksFile, string>();
    for (const { source, text } of sources) {
      const parsed = parseQuirksFile(source, text);
      if (Array.isArray(parsed)) {
        this.problems.push(...parsed);
        continue;
      }
      const layers = this.files.get(parsed.id);
      if (!layers) {
        this.files.set(parsed.id, [parsed]);
        this.definedIn.set(parsed.id, source);
        continue;
      }
      const overlay = this.isOverlay(parsed.id);
      if (parsed.overlay !== undefined && parsed.overlay !== overlay) {
        this.problems.push({ source, field: "overlay", message: `"${parsed.id}" is ${overlay ? "an overlay" : "a family"}; a file with its id amends it and cannot change that` });
        continue;
      }
      const amendment = { ...parsed, overlay };
      layers.push(amendment);
      amendments.set(amendment, source);
    }
    this.dropBrokenAmendments(amendments);
    for (const [id, layers] of this.files) {
      const chain = this.resolveChain(id);
      if (!chain) continue;
      const overlay = this.isOverlay(id);
      const merged = this.compose(overlay ? BASE_PROFILE : id, overlay ? [id] : []);
      if (!merged) continue;
      this.detectors.push({
        id,
        overlay,
        order: merged.detect.order,
        // A file's own patterns only (with its amendments): a family must not be detected by what it inherits.
        name: ownPatterns(layers, (f) => f.detect?.firmwareName),
        line: ownPatterns(layers, (f) => f.detect?.anyLine),
      });
    }
    this.detectors.sort((a, b) => a.order - b.order);
    const all = this.detectors.flatMap((d) => d.line.map((r) => `(?:${r.source})`));
    this.anyLine = all.length ? new RegExp(all.join("|"), "i") : undefined;
    if (!this.chains.has(BASE_PROFILE) || this.isOverlay(BASE_PROFILE)) {
      throw new Error(`firmware quirks: the base profile "${BASE_PROFILE}" is missing or invalid`);
    }
  }

  /**
   * An amendment that leaves its profile invalid is reported with its path and left out, so the
   * profile it meant to change works as before (a user's `generic.json` cannot stop the host).
   * Base profiles first: a child's chain holds its parents' amendments.
   */
  private dropBrokenAmendments(amendments: Map<QuirksFile, string>): void {
    const amended = [...this.files.entries()].filter(([, layers]) => layers.length > 1);
    const depth = (id: string) => {
      const chain = this.walk(id);
      return Array.isArray(chain) ? chain.length : 0;
    };
    amended.sort(([a], [b]) => depth(a) - depth(b));
    for (const [id, layers] of amended) {
      const problems = this.check(id);
      if (problems.length === 0) continue;
      const added = layers.splice(1);
      if (this.check(id).length > 0) continue; // broken without them too: reported when resolved
      const paths = added.map((f) => amendments.get(f)!).join(", ");
      for (const p of problems) this.problems.push({ source: paths, field: p.field, message: `${p.message} (once applied over "${id}")` });
    }
  }

  /** What is wrong with profile `id` as its files stand now (nothing cached). */
  private check(id: string): QuirksProblem[] {
    const overlay = this.isOverlay(id);
    const chain = this.walk(overlay ? BASE_PROFILE : id);
    if (!Array.isArray(chain)) return [chain];
    const merged = mergeQuirks(overlay ? [...chain, ...this.files.get(id)!] : chain);
    return Array.isArray(merged) ? merged : [];
  }

  /** Ids of all valid families (overlays excluded). */
  ids(): string[] {
    return [...this.chains.keys()].filter((id) => !this.isOverlay(id));
  }

  /** Ids of all valid overlays. */
  overlayIds(): string[] {
    return [...this.chains.keys()].filter((id) => this.isOverlay(id));
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

  /**
   * Family `id` and the families it extends, nearest first, ending with the base: `prusa` →
   * ["prusa", "marlin2", "generic"]. [] for an unknown id or an overlay.
   */
  lineage(id: string): string[] {
    const chain = this.resolveChain(id);
    if (!chain || this.isOverlay(id)) return [];
    return [...new Set(chain.map((f) => f.id).reverse())];
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
    if (!chain || this.isOverlay(family)) return undefined;
    const files = [...chain];
    for (const o of overlays) {
      if (this.isOverlay(o) && this.resolveChain(o)) files.push(...this.files.get(o)!);
    }
    const merged = mergeQuirks(files);
    if (Array.isArray(merged)) {
      if (overlays.length === 0) this.problems.push(...merged);
      return undefined;
    }
    this.composed.set(key, merged);
    return merged;
  }

  private isOverlay(id: string): boolean {
    return this.files.get(id)?.[0]!.overlay === true;
  }

  /** The layers from the base profile to `id` (an overlay: its own), or what is wrong with them. Not cached. */
  private walk(id: string): QuirksFile[] | QuirksProblem {
    const root = this.files.get(id);
    if (!root) return { source: id, field: "extends", message: `unknown profile "${id}"` };
    if (root[0]!.overlay) {
      // An overlay is a patch, not a chain: it may not extend anything.
      return root.some((f) => f.extends) ? { source: id, field: "extends", message: "an overlay cannot extend a profile" } : root;
    }
    const chain: QuirksFile[] = [];
    const seen = new Set<string>();
    let current: string | undefined = id;
    while (current) {
      if (seen.has(current)) return { source: id, field: "extends", message: `circular extends through "${current}"` };
      seen.add(current);
      const layers = this.files.get(current);
      if (!layers || layers[0]!.overlay) return { source: id, field: "extends", message: `extends unknown profile "${current}"` };
      chain.unshift(...layers);
      // The last layer that names a parent decides it.
      const parent = layers.findLast((f) => f.extends !== undefined)?.extends;
      current = parent ?? (current === BASE_PROFILE ? undefined : BASE_PROFILE);
    }
    return chain;
  }

  private resolveChain(id: string): QuirksFile[] | undefined {
    const done = this.chains.get(id);
    if (done) return done;
    const chain = this.walk(id);
    if (!Array.isArray(chain)) {
      if (this.files.has(id)) this.problems.push({ ...chain, source: this.definedIn.get(id) ?? chain.source });
      return undefined;
    }
    if (!this.isOverlay(id)) {
      const merged = mergeQuirks(chain);
      if (Array.isArray(merged)) {
        this.problems.push(...merged);
        return undefined;
      }
      this.composed.set(id, merged);
    }
    this.chains.set(id, chain);
    return chain;
  }
}

/** The patterns a profile's own files give a detection field (later layers patch earlier ones). */
function ownPatterns(layers: QuirksFile[], field: (f: QuirksFile) => ListPatch<string> | undefined): RegExp[] {
  let patterns: unknown[] = [];
  for (const f of layers) {
    const patch = field(f);
    if (patch !== undefined) patterns = mergeSet(patterns, patch);
  }
  return (patterns as string[]).map((p) => new RegExp(p, "i"));
}
