/**
 * The main thread's part of print jobs: what a printer's Worker gets to run a job well (the
 * plan: the file's analysis and how long earlier prints took), the users' scripts and printer
 * profiles, and crash recovery — storing each running job's checkpoint, showing an interrupted
 * print at the next start, and resuming it from its last layer start.
 */
import type { Database } from "bun:sqlite";
import * as v from "valibot";
import type { AnalysisStore } from "../analysis/store.ts";
import type { SettingsStore } from "../db/settings.ts";
import type { FileStorage } from "../files/storage.ts";
import type { Result } from "../printers/controller.ts";
import type { PrinterSession } from "../printers/session.ts";
import type { SdFile } from "../printers/status.ts";
import { CheckpointStore } from "./checkpoints.ts";
import { planFrom, type Checkpoint, type JobPlan } from "./plan.ts";
import { interruptedSummary, notResumable, resumeFrom } from "./recovery.ts";
import { readProfile, updateProfile, type PrinterProfile } from "../printers/profile.ts";
import { ScriptsSchema, withDefaults, type Scripts } from "./scripts.ts";

export interface JobServiceOptions {
  db: Database;
  settings: SettingsStore;
  files: FileStorage;
  analyses: AnalysisStore;
  /** Average seconds of earlier successful prints of a file (by content hash) on a printer, if any. */
  averagePrintTime?: (sha256: string, printerId: string) => number | null;
}

/** What a printer session asks of the jobs side (see src/printers/manager.ts). */
export interface JobLink {
  planFor(printerId: string, file: string): JobPlan;
  sdPlanFor(printerId: string, card: SdFile): JobPlan | null;
  sdCopied(printerId: string, cardName: string, file: string): void;
  checkpoint(printerId: string, checkpoint: Checkpoint | null): void;
  opened(session: PrinterSession): void;
}

const scriptsKey = (printerId: string) => `jobs.scripts.${printerId}`;
/** Which host file each card file (by upper-case name) was copied from, per printer. */
const sdOriginsKey = (printerId: string) => `jobs.sdOrigins.${printerId}`;
const SdOriginsSchema = v.record(v.string(), v.object({ file: v.string(), sha256: v.nullable(v.string()) }));
const SD_ORIGINS_KEPT = 200;
const fail = (code: string, message: string, hint: string): Result<never> => ({ ok: false, error: { code, message, hint } });

export class JobService implements JobLink {
  private readonly checkpoints: CheckpointStore;

  constructor(private readonly options: JobServiceOptions) {
    this.checkpoints = new CheckpointStore(options.db);
  }

  planFor(printerId: string, file: string): JobPlan {
    const sha256 = this.options.files.get(file)?.sha256 ?? null;
    const analysis = sha256 ? this.options.analyses.result(sha256) : undefined;
    const average = sha256 ? (this.options.averagePrintTime?.(sha256, printerId) ?? null) : null;
    return planFrom(sha256, analysis, average);
  }

  /** A host file was copied to the printer's card as `cardName`: an SD print of it knows its analysis. */
  sdCopied(printerId: string, cardName: string, file: string): void {
    const key = sdOriginsKey(printerId);
    const origins = this.options.settings.get(key, SdOriginsSchema, {});
    delete origins[cardName.toUpperCase()];
    origins[cardName.toUpperCase()] = { file, sha256: this.options.files.get(file)?.sha256 ?? null };
    const names = Object.keys(origins);
    for (const old of names.slice(0, Math.max(0, names.length - SD_ORIGINS_KEPT))) delete origins[old];
    this.options.settings.set(key, origins);
  }

  /**
   * What the host knows about a file on the printer's card: the host file it was copied from,
   * else the one host file of the same name (the same size deciding between several). Its
   * objects and overall estimates always; its layers, line count and pace only when the card
   * holds the same bytes (a copy made over the serial line loses its comments). Null when no
   * host file matches or it has no analysis.
   */
  sdPlanFor(printerId: string, card: SdFile): JobPlan | null {
    const files = this.options.files;
    const origins = this.options.settings.get(sdOriginsKey(printerId), SdOriginsSchema, {});
    const origin = origins[card.name.toUpperCase()] ?? (card.longName ? origins[card.longName.toUpperCase()] : undefined);
    let sha256 = origin ? (origin.sha256 ?? files.get(origin.file)?.sha256 ?? null) : null;
    if (!origin) {
      const names = [card.name, card.longName].filter((n): n is string => !!n).map((n) => n.toLowerCase());
      const candidates = files.list().filter((f) => names.includes(f.name.toLowerCase()));
      const sameSize = candidates.filter((f) => f.size === card.size);
      sha256 = (sameSize.length === 1 ? sameSize[0] : candidates.length === 1 ? candidates[0] : undefined)?.sha256 ?? null;
    }
    const analysis = sha256 ? this.options.analyses.result(sha256) : undefined;
    if (!sha256 || !analysis) return null;
    const plan = planFrom(sha256, analysis, this.options.averagePrintTime?.(sha256, printerId) ?? null);
    return analysis.bytes === card.size ? plan : { ...plan, layers: [], lines: null, pace: null };
  }

  checkpoint(printerId: string, checkpoint: Checkpoint | null): void {
    // The Worker sends a job's checkpoints in order and none after its null.
    if (checkpoint === null) this.checkpoints.remove(printerId);
    else this.checkpoints.save(printerId, checkpoint);
  }

  /** A new session: its scripts and profile, and the print it was running when the host stopped. */
  opened(session: PrinterSession): void {
    void session.setScripts(this.scripts(session.id), this.profile(session.id));
    const cp = this.checkpoints.get(session.id);
    if (cp) void session.setInterrupted(interruptedSummary(cp, this.whyNot(cp)));
  }

  /** Resumes the interrupted print from the start of the layer it was printing. */
  async resumeInterrupted(session: PrinterSession): Promise<Result> {
    const cp = this.checkpoints.get(session.id);
    if (!cp) return fail("no_interrupted_job", "There is no interrupted print on this printer.", "Start a print instead.");
    const why = this.whyNot(cp);
    if (why) return fail("not_resumable", `The interrupted print of ${cp.file} cannot be resumed: ${why}`, "Discard it and start the print again.");
    const path = this.options.files.absolute(cp.file);
    const before = await Bun.file(path).slice(0, cp.layer!.offset).bytes();
    let newlines = 0;
    for (let i = before.indexOf(10); i >= 0; i = before.indexOf(10, i + 1)) newlines++;
    // The resumed job writes its own checkpoints over this one (its first already at its start).
    return session.startJob(cp.file, resumeFrom(cp, newlines));
  }

  /** Forgets the interrupted print. */
  async discardInterrupted(session: PrinterSession): Promise<Result> {
    if (!this.checkpoints.get(session.id)) return fail("no_interrupted_job", "There is no interrupted print on this printer.", "Nothing to discard.");
    this.checkpoints.remove(session.id);
    return session.setInterrupted(null);
  }

  interrupted(printerId: string): Checkpoint | undefined {
    return this.checkpoints.get(printerId);
  }

  scripts(printerId: string): Partial<Scripts> {
    return this.options.settings.get(scriptsKey(printerId), ScriptsSchema, {});
  }

  /** Every script with defaults filled in. */
  effectiveScripts(printerId: string): Scripts {
    return withDefaults(this.scripts(printerId));
  }

  profile(printerId: string): PrinterProfile {
    return readProfile(this.options.settings, printerId);
  }

  /** Stores the scripts given (an empty text means: none; `null`: back to the default) and hands them to the printer. */
  async setScripts(session: PrinterSession, changes: Partial<Record<keyof Scripts, string | null>>): Promise<Result> {
    const next: Partial<Scripts> = { ...this.scripts(session.id) };
    for (const [name, text] of Object.entries(changes) as [keyof Scripts, string | null][]) {
      if (text === null) delete next[name];
      else next[name] = text;
    }
    this.options.settings.set(scriptsKey(session.id), v.parse(ScriptsSchema, next));
    return session.setScripts(next, this.profile(session.id));
  }

  /** Merges a partial printer profile and hands it to the printer; a problem in words, or null. */
  async updateProfile(session: PrinterSession, patch: Record<string, unknown>): Promise<string | null> {
    const problem = updateProfile(this.options.settings, session.id, patch);
    if (problem) return problem;
    await session.setScripts(this.scripts(session.id), this.profile(session.id));
    return null;
  }

  private whyNot(cp: Checkpoint): string | null {
    const file = this.options.files.get(cp.file);
    return notResumable(cp, file ? file.sha256 : undefined);
  }
}
