/**
 * `layerline doctor`: the self-diagnosis in a terminal. When a host serves the data folder it is
 * asked (with its local token, as `layerline update` does): it knows the links' statistics, its
 * plugins and its printer threads, and it checks as the user it runs as. Otherwise — or with
 * `--local`, or when it does not answer — the checks run in this process on the same data folder
 * (the database opened read-only, so a read-only disk is diagnosed, not tripped over).
 * Exit status: 0 nothing wrong, 1 at least one problem, 2 bad options.
 */
import { Database } from "bun:sqlite";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as v from "valibot";
import { LOCAL_TOKEN_HEADER } from "../accounts/accounts.ts";
import { defaultDataDir } from "../config.ts";
import { DATABASE_FILE } from "../db/database.ts";
import { SettingsStore } from "../db/settings.ts";
import { loadQuirkSources } from "../printers/quirks-sources.ts";
import { readProfile } from "../printers/profile.ts";
import { PrinterStore } from "../printers/store.ts";
import { traceFiles } from "../printers/flight-recorder.ts";
import { QuirksLibrary } from "../protocol/quirks-library.ts";
import { currentVerdict } from "../update/check.ts";
import { updatingProcess } from "../update/offline-lock.ts";
import { lockHolder } from "../host-lock.ts";
import { findRunning, type RunningHost } from "../update/running.ts";
import { UpdateSettingsStore } from "../update/settings.ts";
import { BUILD_TIME, VERSION } from "../version.ts";
import { buildBundle, type BundlePrinter } from "./bundle.ts";
import { ReportSchema, type Report } from "./finding.ts";
import { formatReport } from "./format.ts";
import { ConnectivityProbe, targetsFromSettings } from "./gather/connectivity.ts";
import { crashedStarts, disabledPlugins, largestStoredFile, settingsByKey, systemSummary, userQuirkFiles } from "./gather/stored.ts";
import type { LayerlineFacts } from "./layerline.ts";
import { runDiagnostics, type DiagnosticsSources } from "./run.ts";

export const DOCTOR_HELP = `Usage: layerline doctor [--data-dir PATH] [--json] [--verbose] [--local] [--bundle FILE]

Checks this Layerline host and says what is wrong and how to fix it: the printers' serial ports
(device, permission, other programs holding them, link quality), the data folder (writable, free
space), a Raspberry Pi's power supply (under-voltage, throttling), CPU temperature, memory, load,
the clock, the servers Layerline uses, updates, plugins and safe mode.

  --data-dir PATH  the data folder (default as for serve)
  --json           print the findings as JSON (the answer of GET /api/v1/diagnostics)
  --verbose        say what every check found, also when it is fine
  --local          check from this process even when a host runs on the data folder
  --bundle FILE    also write a support bundle (.tar.gz, secrets removed) to FILE

When a host runs on the data folder, it is asked (it knows its printers' links); run the
command as the user it runs as (e.g. sudo -u layerline layerline doctor). Exit status: 0 when
nothing is wrong, 1 when at least one problem was found, 2 for bad options.`;

const HOST_WAIT_MS = 30_000;

export async function doctorCli(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        "data-dir": { type: "string" },
        json: { type: "boolean", default: false },
        verbose: { type: "boolean", default: false },
        local: { type: "boolean", default: false },
        bundle: { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${DOCTOR_HELP}`);
    return 2;
  }
  const dataDir = values["data-dir"] ?? defaultDataDir();
  const running = findRunning(dataDir);
  // A host that holds the data folder but has not announced itself yet is starting (src/host-lock.ts).
  const starting = running ? null : lockHolder(dataDir);
  let report: Report | null = null;
  let note = "";
  let bundle: Uint8Array | null = null;
  if (values.local) {
    // Checked here as asked; a running host is still Layerline (its port and its start are no fault).
  } else if (running?.token) {
    try {
      report = await askHost(running, "/api/v1/diagnostics", (r) => r.json().then((j) => v.parse(ReportSchema, j)));
      note = `Asked the running Layerline (pid ${running.pid}, ${running.url}).\n`;
      if (values.bundle) bundle = await askHost(running, "/api/v1/diagnostics/bundle", async (r) => new Uint8Array(await r.arrayBuffer()));
    } catch (e) {
      note = `The running Layerline (pid ${running.pid}, ${running.url}) did not answer (${(e as Error).message}); these are this command's own checks.\n\n`;
      report = null;
    }
  } else if (running) {
    note = `A Layerline (pid ${running.pid}) runs on this data folder but announces no local token; these are this command's own checks.\n\n`;
  } else if (starting !== null && updatingProcess(dataDir, starting) !== null) {
    // An offline `layerline update` holds the folder while it swaps the binary (src/update/offline-lock.ts).
    note = `Layerline in this data folder is being updated (layerline update, pid ${starting}); these are this command's own checks.\n\n`;
  } else if (starting !== null) {
    note = `A Layerline (pid ${starting}) is starting on this data folder and does not answer yet; these are this command's own checks.\n\n`;
  }
  if (!report) {
    const local = openLocal(dataDir, running?.pid ?? starting);
    try {
      report = await runDiagnostics(local.sources);
      if (values.bundle) bundle = await local.bundle(report);
    } finally {
      local.close();
    }
  }
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else process.stdout.write(note + formatReport(report, { verbose: values.verbose, width: process.stdout.columns, hostRunning: running !== null }));
  if (values.bundle && bundle) {
    try {
      writeFileSync(values.bundle, bundle, { mode: 0o600 });
      console.error(`Support bundle written to ${values.bundle} (${bundle.length} bytes; passwords, keys and tokens removed).`);
    } catch (e) {
      console.error(`The support bundle could not be written to ${values.bundle}: ${(e as Error).message}`);
      return 1;
    }
  }
  return report.counts.problem > 0 ? 1 : 0;
}

/** Asks the running host, with its local token (read afresh: a restart makes a new one). */
async function askHost<T>(running: RunningHost, path: string, read: (r: Response) => Promise<T>): Promise<T> {
  const response = await fetch(running.url + path, { headers: { [LOCAL_TOKEN_HEADER]: running.token! }, signal: AbortSignal.timeout(HOST_WAIT_MS) });
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
    throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
  }
  return read(response);
}

/** The facts of a data folder with no host serving it (or one that does not answer). */
function openLocal(dataDir: string, hostPid: number | null): { sources: DiagnosticsSources; bundle(report: Report): Promise<Uint8Array>; close(): void } {
  const path = join(dataDir, DATABASE_FILE);
  let db: Database | null = null;
  let databaseError: string | null = null;
  if (existsSync(path)) {
    try {
      // Read-only: diagnosing must not write (the disk may be read-only, the host may be running).
      db = new Database(path, { readonly: true });
      db.exec("PRAGMA busy_timeout = 5000");
      db.query("SELECT 1 FROM settings LIMIT 1").get();
    } catch (e) {
      databaseError = (e as Error).message;
      db?.close();
      db = null;
    }
  }
  const settings = db ? new SettingsStore(db) : null;
  const records = db ? new PrinterStore(db).list() : [];
  const probe = new ConnectivityProbe(() => (settings ? targetsFromSettings(settings) : []));
  const layerline = (): LayerlineFacts => {
    const update = settings ? new UpdateSettingsStore(settings) : null;
    const u = update?.read();
    return {
      version: VERSION,
      host: null,
      update: update && u ? { channel: u.channel, url: u.url, checkHours: u.checkHours, lastCheck: currentVerdict(update.lastCheck(), VERSION, update.failedVersions()), lastResult: update.lastResult() } : null,
      safeMode: null,
      // A host that runs has its own start on record (not finished until it has run a minute): not a crash.
      crashedStarts: hostPid !== null ? null : crashedStarts(dataDir),
      plugins: db ? disabledPlugins(db).map((p) => ({ id: p.id, state: "disabled", reason: p.reason, faults: 0 })) : null,
      restarts: null,
      databaseError,
      databaseMissing: db || databaseError ? null : path,
    };
  };
  const sources: DiagnosticsSources = {
    dataDir,
    version: VERSION,
    source: "doctor",
    notBefore: BUILD_TIME,
    printers: () => records.map((record) => ({ record })),
    selfPids: () => [process.pid, ...(hostPid !== null ? [hostPid] : [])],
    largestFile: () => (db ? largestStoredFile(db) : null),
    layerline,
    connectivity: () => probe.check(),
  };
  const bundle = async (report: Report) => {
    const { sources: quirkSources } = await loadQuirkSources(dataDir);
    const library = new QuirksLibrary(quirkSources);
    const printers: BundlePrinter[] = await Promise.all(
      records.map(async (record) => ({
        id: record.id,
        printer: { record },
        profile: settings ? readProfile(settings, record.id) : null,
        quirks: { note: "The firmware is detected when the printer connects; without a running host only the built-in and user quirks files are known.", families: library.ids(), overlays: library.overlayIds() },
        trace: await recentTrace(join(dataDir, "logs"), record.id),
      })),
    );
    return buildBundle({ report, system: systemSummary(dataDir, VERSION), log: "(Layerline is not running: no recent log in memory; see `journalctl -u layerline` if it runs as a service.)", printers, settings: db ? settingsByKey(db) : {}, plugins: { disabled: db ? disabledPlugins(db) : null }, userQuirks: userQuirkFiles(dataDir) });
  };
  return { sources, bundle, close: () => db?.close() };
}

/** The last part of a printer's rotating serial log on disk (up to 2 MB). */
async function recentTrace(dir: string, id: string): Promise<string> {
  const files = await traceFiles(dir, id).catch(() => []);
  const last = files.at(-1);
  if (!last) return "";
  const file = Bun.file(last);
  const size = file.size;
  const text = await file.slice(Math.max(0, size - 2 * 1024 * 1024)).text();
  // Cut at a line start when the slice began mid-line.
  return size > 2 * 1024 * 1024 ? text.slice(text.indexOf("\n") + 1) : text;
}

