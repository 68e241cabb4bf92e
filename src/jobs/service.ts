/**
 * The main thread's part of print jobs: what a printer's Worker gets to run a job well (the
 * plan: the file's analysis and how long earlier prints took), the users' scripts and printer
 * profiles, and crash recovery — storing each running job's checkpoint, showing an interrupted
 * print at the next start, and resuming it from its last layer start.
 *
 * Machine limits: each printer's profile holds its own (filled in from the firmware's report
 * when it has none, see `limitsReported`). Stored analyses are planned with the default
 * printer's; a job on a printer whose limits differ starts with the stored plan and switches to
 * its file re-planned with its own limits as soon as that is done (a few seconds at most).
 */
import type { Database } from "bun:sqlite";
import * as v from "valibot";
import { limitsKey, type MachineLimitsPatch } from "../analysis/limits.ts";
import type { AnalysisResult } from "../analysis/result.ts";
import type { AnalysisStore } from "../analysis/store.ts";
import type { SettingsStore } from "../db/settings.ts";
import type { Bus } from "../events.ts";
import type { FileStorage } from "../files/storage.ts";
import type { Result } from "../printers/controller.ts";
import type { PrinterSession } from "../printers/session.ts";
import type { Problem, SdFile } from "../printers/status.ts";
import { CheckpointStore } from "./checkpoints.ts";
import { planFrom, type Checkpoint, type JobPlan } from "./plan.ts";
import { interruptedSummary, notResumable, resumeFrom } from "./recovery.ts";
import { profileLimits, readProfile, updateProfile, type PrinterProfile, type ProfileProblem } from "../printers/profile.ts";
import { ScriptsSchema, withDefaults, type Scripts } from "./scripts.ts";

export interface JobServiceOptions {
  db: Database;
  settings: SettingsStore;
  files: FileStorage;
  analyses: AnalysisStore;
  /** Average seconds of earlier successful prints of a file (by content hash) on a printer, if any. */
  averagePrintTime?: (sha256: string, printerId: string) => number | null;
  /** Printer profile changes go out on it (`printer.profile`); firmware reports come in (`printer.status`). */
  bus?: Bus;
  /** Plans a file with a printer's own limits, for a job on it (the analysis queue). */
  replanner?: Replanner;
}

/** Re-plans a file with other machine limits (src/analysis/queue.ts). */
export interface Replanner {
  planned(sha256: string, limits: MachineLimitsPatch | undefined): AnalysisResult | undefined;
  replan(path: string, limits: MachineLimitsPatch | undefined): Promise<AnalysisResult | undefined>;
}

/** What a printer session asks of the jobs side (see src/printers/manager.ts). */
export interface JobLink {
  /**
   * The plan for printing `file` on the printer; when its analysis must be re-planned with the
   * printer's own limits, `replanned` gets that plan later.
   */
  planFor(printerId: string, file: string, replanned?: (plan: JobPlan) => void): JobPlan;
  /** Why `file` must not be sent to a printer (its analysis found no text G-code in it), or null. */
  unprintable(file: string): Problem | null;
  sdPlanFor(printerId: string, card: SdFile): JobPlan | null;
  sdCopied(printerId: string, cardName: string, file: string): void;
  checkpoint(printerId: string, checkpoint: Checkpoint | null): void;
  /** A new thread of the printer: its scripts and profile, and (unless `offerInterrupted` is false) the print it left interrupted. */
  opened(session: PrinterSession, offerInterrupted?: boolean): void;
  /** The running or interrupted job's latest checkpoint on the printer. */
  interrupted(printerId: string): Checkpoint | undefined;
}

/** Analysis errors (src/analysis/analysis.ts) that mean the file holds no text G-code a printer could read. */
const UNPRINTABLE = new Set(["bgcode", "binary", "not_gcode"]);

const scriptsKey = (printerId: string) => `jobs.scripts.${printerId}`;
/** Which host file each card file (by upper-case name) was copied from, per printer. */
const sdOriginsKey = (printerId: string) => `jobs.sdOrigins.${printerId}`;
const SdOriginsSchema = v.record(v.string(), v.object({ file: v.string(), sha256: v.nullable(v.string()) }));
const SD_ORIGINS_KEPT = 200;
const fail = (code: string, message: string, hint: string): Result<never> => ({ ok: false, error: { code, message, hint } });

export class JobService implements JobLink {
  private readonly checkpoints: CheckpointStore;
  /** The last firmware report seen per printer (so each is looked at once). */
  private readonly reported = new Map<string, string>();
  private readonly unsubscribe: (() => void) | undefined;

  constructor(private readonly options: JobServiceOptions) {
    this.checkpoints = new CheckpointStore(options.db);
    const bus = options.bus;
    if (bus) {
      const onStatus = ({ id, status }: { id: string; status: { limits: MachineLimitsPatch | null } }) => this.limitsReported(id, status.limits);
      bus.on("printer.status", onStatus);
      this.unsubscribe = () => bus.off("printer.status", onStatus);
    }
  }

  stop(): void {
    this.unsubscribe?.();
  }

  unprintable(file: string): Problem | null {
    const sha256 = this.options.files.get(file)?.sha256;
    const state = sha256 ? this.options.analyses.state(sha256) : undefined;
    // Binary G-code, UTF-16 or CR-only text, garbage: the firmware would get junk (or one endless line).
    if (state?.status !== "error" || !UNPRINTABLE.has(state.error.code)) return null;
    return { code: "not_printable", message: `${file} cannot be sent to a printer: ${state.error.message}`, hint: state.error.hint };
  }

  planFor(printerId: string, file: string, replanned?: (plan: JobPlan) => void): JobPlan {
    const sha256 = this.options.files.get(file)?.sha256 ?? null;
    const analysis = sha256 ? this.options.analyses.result(sha256) : undefined;
    const average = sha256 ? (this.options.averagePrintTime?.(sha256, printerId) ?? null) : null;
    const limits = this.limits(printerId);
    const own = limits !== undefined;
    if (!analysis || !sha256 || limitsKey(analysis.printerLimits) === limitsKey(limits)) return planFrom(sha256, analysis, average, own);
    const replanner = this.options.replanner;
    const kept = replanner?.planned(sha256, limits);
    if (kept) return planFrom(sha256, kept, average, own);
    // Planned with another printer's limits: good enough to start with, re-planned meanwhile.
    void replanner?.replan(file, limits).then((result) => {
      if (result) replanned?.(planFrom(sha256, result, average, own));
    });
    return planFrom(sha256, analysis, average, false);
  }

  /** A printer's machine limits (its profile's), undefined when it has none. */
  limits(printerId: string): MachineLimitsPatch | undefined {
    return profileLimits(this.profile(printerId));
  }

  /**
   * What the firmware reported of its limits (each status carries the latest; none while it
   * connects): a profile without limits takes each new report (so estimates use them from now
   * on); one that has its own keeps them, and the UI offers the report.
   */
  limitsReported(printerId: string, limits: MachineLimitsPatch | null): void {
    const key = limitsKey(limits);
    if (key === "") {
      this.reported.delete(printerId);
      return;
    }
    if (this.reported.get(printerId) === key) return;
    this.reported.set(printerId, key);
    if (this.limits(printerId) !== undefined) return;
    this.setProfile(printerId, { limits });
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
    // Not re-planned: the stored analysis, whose limits are this printer's when it is the default.
    const limits = this.limits(printerId);
    const own = limits !== undefined && limitsKey(analysis.printerLimits) === limitsKey(limits);
    const plan = planFrom(sha256, analysis, this.options.averagePrintTime?.(sha256, printerId) ?? null, own);
    return analysis.bytes === card.size ? plan : { ...plan, layers: [], lines: null, pace: null };
  }

  checkpoint(printerId: string, checkpoint: Checkpoint | null): void {
    // The Worker sends a job's checkpoints in order and none after its null.
    if (checkpoint === null) this.checkpoints.remove(printerId);
    else this.checkpoints.save(printerId, checkpoint);
  }

  /** A new session: its scripts and profile, and the print it was running when the host stopped. */
  opened(session: PrinterSession, offerInterrupted = true): void {
    void session.setScripts(this.scripts(session.id), this.profile(session.id));
    if (!offerInterrupted) return;
    const cp = this.checkpoints.get(session.id);
    if (cp) void session.setInterrupted(interruptedSummary(cp, this.whyNot(cp)));
  }

  /** Resumes the interrupted print from the start of the layer it was printing. */
  async resumeInterrupted(session: PrinterSession): Promise<Result> {
    // The store also holds the running print's own checkpoints: only one offered as interrupted counts.
    const cp = session.status.interrupted ? this.checkpoints.get(session.id) : undefined;
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
    // Not the running print's checkpoint: that one is its crash protection.
    if (!session.status.interrupted || !this.checkpoints.get(session.id)) return fail("no_interrupted_job", "There is no interrupted print on this printer.", "Nothing to discard.");
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

  /**
   * Merges a partial printer profile (with `limits: "replace"`, its machine limits are replaced
   * rather than merged) and hands it to the printer; a problem in words, or null.
   */
  async updateProfile(session: PrinterSession, patch: Record<string, unknown>, limits: "merge" | "replace" = "merge"): Promise<ProfileProblem | null> {
    const problem = this.setProfile(session.id, patch, limits);
    if (problem) return problem;
    await session.setScripts(this.scripts(session.id), this.profile(session.id));
    return null;
  }

  /** Stores a profile change and says so on the bus (analyses planned with old limits are redone). */
  private setProfile(printerId: string, patch: Record<string, unknown>, limits: "merge" | "replace" = "merge"): ProfileProblem | null {
    const problem = updateProfile(this.options.settings, printerId, patch, limits);
    if (!problem) this.options.bus?.emit("printer.profile", { id: printerId });
    return problem;
  }

  private whyNot(cp: Checkpoint): string | null {
    const file = this.options.files.get(cp.file);
    return notResumable(cp, file ? file.sha256 : undefined);
  }
}
