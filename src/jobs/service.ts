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
  checkpoint(printerId: string, checkpoint: Checkpoint | null): void;
  opened(session: PrinterSession): void;
}

const scriptsKey = (printerId: string) => `jobs.scripts.${printerId}`;
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
