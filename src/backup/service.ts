/**
 * The host's backups: made into `<data-dir>/backups/`, listed, downloaded and deleted there, and a
 * restore from an uploaded backup — checked and staged while the host runs, applied by starting
 * the host again in place (see restore.ts), never while a printer prints.
 */
import type { Database } from "bun:sqlite";
import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { migrations } from "../db/migrations/index.ts";
import type { PrinterManager } from "../printers/manager.ts";
import { asBackupError, createBackup, type CreatedBackup } from "./create.ts";
import { fileStamp, type BackupManifest } from "./manifest.ts";
import { BackupError } from "./problem.ts";
import { restoreDir, restorePending, stageRestore } from "./restore.ts";

export interface BackupInfo {
  name: string;
  bytes: number;
  /** When it was written, ms since the epoch. */
  createdAt: number;
}

export interface BackupServiceOptions {
  dataDir: string;
  db: Database;
  printers: PrinterManager;
  version: string;
  log: (line: string) => void;
  /** Starts the host again in place (never returns); null for a host that cannot (embedded in another program). */
  restart: (() => Promise<void>) | null;
}

/** `layerline-backup-20260123-093000.tar.gz`: what this host names its backups and accepts back. */
const NAME = /^layerline-backup-[0-9]{8}-[0-9]{6}(-[0-9]+)?\.tar\.gz$/;

export const backupName = (now: number, n = 1) => `layerline-backup-${fileStamp(now)}${n > 1 ? `-${n}` : ""}.tar.gz`;

export class BackupService {
  readonly dir: string;
  private creating = false;
  private restoring = false;

  constructor(private readonly options: BackupServiceOptions) {
    this.dir = join(options.dataDir, "backups");
  }

  /** The stored backups, newest first. */
  list(): BackupInfo[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names
      .filter((n) => NAME.test(n))
      .flatMap((name) => {
        try {
          const st = statSync(join(this.dir, name));
          return st.isFile() ? [{ name, bytes: st.size, createdAt: st.mtimeMs }] : [];
        } catch {
          return [];
        }
      })
      .sort((a, b) => b.createdAt - a.createdAt || (a.name < b.name ? 1 : -1));
  }

  /** Whether a backup is being made or a restore checked right now, and whether one waits for a restart. */
  status() {
    return { creating: this.creating, restoring: this.restoring, restorePending: restorePending(this.options.dataDir), canRestart: this.options.restart !== null };
  }

  async create(options: { withTimelapses: boolean }, now = Date.now()): Promise<BackupInfo & { manifest: BackupManifest }> {
    if (this.creating) throw new BackupError("busy", "A backup is being made right now.", "Wait for it to finish; it appears in the list.");
    this.creating = true;
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      let n = 1;
      while (this.list().some((b) => b.name === backupName(now, n))) n++;
      const name = backupName(now, n);
      const made: CreatedBackup = await createBackup({ dataDir: this.options.dataDir, output: join(this.dir, name), withTimelapses: options.withTimelapses, version: this.options.version, now, db: this.options.db });
      this.options.log(`Backup ${name} made (${made.bytes} bytes: ${made.manifest.includes.join(", ")}).`);
      return { name, bytes: made.bytes, createdAt: statSync(made.file).mtimeMs, manifest: made.manifest };
    } finally {
      this.creating = false;
    }
  }

  /** The stored backup's path; a name this host would not have given is not found. */
  path(name: string): string {
    if (!NAME.test(name) || !this.list().some((b) => b.name === name)) {
      throw new BackupError("not_found", `There is no backup "${name}".`, "GET /api/v1/backups lists them.");
    }
    return join(this.dir, name);
  }

  delete(name: string): void {
    rmSync(this.path(name), { force: true });
  }

  /**
   * Receives an uploaded backup into a file of the data folder (`receive` writes it there), checks
   * and stages it, then restarts the host to apply it. Refused (nothing changed, the upload
   * removed) while a printer prints, or when the backup is unusable.
   */
  async restore(receive: (file: string) => Promise<void>): Promise<{ manifest: BackupManifest; restarting: boolean }> {
    this.refuseWhilePrinting();
    if (this.restoring) throw new BackupError("busy", "A restore is being checked right now.", "Wait for it to finish.");
    this.restoring = true;
    const upload = join(restoreDir(this.options.dataDir), `upload-${crypto.randomUUID().slice(0, 8)}.tar.gz`);
    let manifest: BackupManifest;
    try {
      mkdirSync(restoreDir(this.options.dataDir), { recursive: true });
      try {
        await receive(upload);
      } catch (e) {
        throw asBackupError(e, "the upload was not stored, nothing was changed");
      }
      // A print may have started while the upload came in.
      this.refuseWhilePrinting();
      manifest = await stageRestore(this.options.dataDir, upload, migrations.length);
    } finally {
      rmSync(upload, { force: true });
      this.restoring = false;
    }
    const restart = this.options.restart;
    this.options.log(`A backup made by Layerline ${manifest.layerline} on ${manifest.createdAt} was checked and is restored ${restart ? "now (restarting)" : "at the next start"}.`);
    // After the answer has gone out: the restart stops the server.
    if (restart) setTimeout(() => void restart(), 200);
    return { manifest, restarting: restart !== null };
  }

  private refuseWhilePrinting(): void {
    const printing = this.options.printers
      .list()
      .filter((s) => s.status.state === "printing" || s.status.state === "paused")
      .map((s) => s.record.name);
    if (printing.length > 0) {
      throw new BackupError("printing", `A restore replaces everything and restarts Layerline, so it waits while ${printing.join(", ")} ${printing.length > 1 ? "print" : "prints"}.`, "Let the print finish or cancel it, then restore.");
    }
  }
}
