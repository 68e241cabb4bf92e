/**
 * `layerline backup` and `layerline restore`. A backup is made by this process also while a host
 * runs on the data folder: the database snapshot is SQLite's `VACUUM INTO` on a connection of its
 * own (one moment's state, the host's writes wait or go on in its WAL), and stored files are read
 * through open descriptors (uploads are renamed into place, so a file is never read half-written).
 * A restore holds the data folder's lock as a host does (refusing while one runs or starts); it checks the whole backup first, and
 * keeps what it replaces in `<data-dir>/before-restore-<time>/`.
 */
import { existsSync, rmSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import { parseArgs } from "node:util";
import { defaultDataDir, prepareDataDir } from "../config.ts";
import { migrations } from "../db/migrations/index.ts";
import { lockDataDir, lockHolder } from "../host-lock.ts";
import { findRunning } from "../update/running.ts";
import { VERSION } from "../version.ts";
import { createBackup } from "./create.ts";
import { BackupError } from "./problem.ts";
import { applyStagedRestore, restoreDir, stageRestore } from "./restore.ts";
import { backupName } from "./service.ts";

export const BACKUP_HELP = `Usage:
  layerline backup [--data-dir PATH] [--output FILE] [--with-timelapses]
  layerline restore FILE [--data-dir PATH] [--yes]

backup writes one .tar.gz with everything that makes this host what it is: the database
(settings, users and their password hashes, API keys, printers, history, queues), the stored
G-code files and folders, installed plugins and firmware-quirk overrides; with
--with-timelapses also the timelapse videos. Never logs, caches or temporary files. It works
while Layerline runs on the data folder (the database is snapshot consistently).

  --data-dir PATH     the data folder (default as for serve)
  --output FILE       where to write the backup (default ./layerline-backup-<time>.tar.gz)
  --with-timelapses   include the timelapse videos (they can be large)

restore checks the whole backup first (a damaged, foreign or too new one is refused and
nothing changes), then replaces the data folder's database, files, plugins and quirks with
the backup's. What it replaces is kept in <data-dir>/before-restore-<time>/. Layerline must
not be running on the data folder (stop it: sudo systemctl stop layerline). A backup from an
older Layerline is fine (its database is brought up to date at the next start); one from a
newer Layerline needs that version first.

  --data-dir PATH     the data folder to restore into (default as for serve; created if missing)
  --yes               do not ask for confirmation`;

export async function backupCli(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: { "data-dir": { type: "string" }, output: { type: "string" }, "with-timelapses": { type: "boolean", default: false } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${BACKUP_HELP}`);
    return 2;
  }
  const dataDir = resolve(values["data-dir"] ?? defaultDataDir());
  const now = Date.now();
  const output = resolve(values.output ?? backupName(now));
  if (existsSync(output) && statSync(output).isDirectory()) {
    console.error(`--output ${output} is a folder; give a file name (e.g. ${output}/${backupName(now)}).`);
    return 2;
  }
  try {
    const made = await createBackup({ dataDir, output, withTimelapses: values["with-timelapses"] ?? false, version: VERSION, now });
    const running = findRunning(dataDir);
    console.log(`Wrote ${output} (${made.bytes} bytes): ${made.manifest.includes.join(", ")}, ${made.manifest.entries} files.${running ? ` Layerline was running (process ${running.pid}); the database was snapshot consistently.` : ""}`);
    console.log("It holds password hashes and API keys: keep it somewhere safe.");
    return 0;
  } catch (e) {
    return failed(e);
  }
}

export async function restoreCli(args: string[], ask: (question: string) => Promise<string> = prompt): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, options: { "data-dir": { type: "string" }, yes: { type: "boolean", default: false } }, strict: true, allowPositionals: true }));
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${BACKUP_HELP}`);
    return 2;
  }
  if (positionals.length !== 1) {
    console.error("Usage: layerline restore FILE [--data-dir PATH] [--yes]  (FILE: a .tar.gz made by layerline backup)");
    return 2;
  }
  const file = resolve(positionals[0]!);
  const dataDir = resolve(values["data-dir"] ?? defaultDataDir());
  if (!existsSync(file) || !statSync(file).isFile()) {
    console.error(`There is no file ${file}.`);
    return 1;
  }
  try {
    prepareDataDir(dataDir);
  } catch (e) {
    console.error((e as Error).message);
    return 1;
  }
  // Held as a host holds it (src/host-lock.ts): a host started while the restore moves the data
  // folder's parts is refused, and a host that holds it (even one still starting) refuses this.
  const lock = lockDataDir(dataDir);
  const running = findRunning(dataDir);
  if (!lock || running) {
    lock?.release();
    const holder = lockHolder(dataDir);
    const who = running ? `process ${running.pid}, ${running.url}` : holder !== null ? `process ${holder}` : "another process";
    console.error(
      `Layerline is running on ${dataDir} (${who}). Stop it first (\`sudo systemctl stop layerline\` if it runs as the service, or Ctrl-C where it runs)` +
        (running ? `, or restore through it: Settings → Backup, or POST ${running.url}/api/v1/backups/restore.` : "."),
    );
    return 1;
  }
  try {
    // Checked and unpacked aside first: a refused backup changes nothing.
    const manifest = await stageRestore(dataDir, file, migrations.length);
    console.log(`${file}: a backup made by Layerline ${manifest.layerline} on ${manifest.createdAt} (${manifest.includes.join(", ")}, ${manifest.entries} files).`);
    if (!values.yes) {
      const answer = await ask(`Replace the database, files, plugins and quirks in ${dataDir} with it? What is there now is kept in ${dataDir}/before-restore-<time>/. [y/N] `);
      if (!/^y(es)?$/i.test(answer.trim())) {
        rmSync(restoreDir(dataDir), { recursive: true, force: true });
        console.log("Nothing was changed.");
        return 1;
      }
    }
    const applied = applyStagedRestore(dataDir, Date.now())!;
    console.log(`Restored into ${dataDir}. What it replaced is kept in ${applied.aside}.`);
    console.log("Start Layerline on it (its database is brought up to date at the start).");
    return 0;
  } catch (e) {
    return failed(e);
  } finally {
    lock.release();
  }
}

async function prompt(question: string): Promise<string> {
  if (!process.stdin.isTTY) {
    console.error("Not asked (no terminal): add --yes to restore without a question.");
    return "";
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

function failed(e: unknown): number {
  if (e instanceof BackupError) {
    console.error(`${e.message}${e.hint ? `\n${e.hint}` : ""}`);
    return 1;
  }
  console.error(`The backup failed: ${(e as Error).message}`);
  return 1;
}
