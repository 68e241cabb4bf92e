/**
 * Pure renderings of a printer's live status (the one state every view renders, design
 * principle 5) in OctoPrint 1.11's shapes: state text and flags, temperatures, the job and its
 * progress, the connection (octoprint-compat.md §2.4, §3).
 */
import type { StoredFile } from "../../../files/storage.ts";
import type { PrinterRecord } from "../../../printers/record.ts";
import { isJobRunning, type JobState, type PrinterStatus, type Progress, type SdFile } from "../../../printers/status.ts";
import type { OctoPrintFileAnalysis } from "../../../analysis/octoprint.ts";
import type { FileStats } from "../../../jobs/history.ts";

export const BAUDRATES = [250000, 230400, 115200, 57600, 38400, 19200, 9600];
export const PROFILE_ID = "_default";

const TEXT: Record<PrinterStatus["state"], string> = {
  closed: "Offline",
  connecting: "Connecting",
  operational: "Operational",
  printing: "Printing",
  paused: "Paused",
  error: "Offline after error",
};

/** While a job runs, OctoPrint names the step it is in. */
const JOB_TEXT: Partial<Record<JobState, string>> = {
  starting: "Starting",
  pausing: "Pausing",
  resuming: "Resuming",
  cancelling: "Cancelling",
  finishing: "Finishing",
};

export const stateText = (status: PrinterStatus) => (isJobRunning(status.job?.state) && JOB_TEXT[status.job!.state]) || TEXT[status.state];

/** OctoPrint's time-left origins for ours: "estimate" is its own estimator, "average"/"mixed-*" blend in history. */
const ORIGIN: Record<NonNullable<Progress["timeLeftOrigin"]>, string> = {
  analysis: "analysis",
  "analysis+rate": "estimate",
  slicer: "estimate",
  "slicer+rate": "estimate",
  history: "average",
  "history+rate": "mixed-average",
  rate: "linear",
};

export function isOperational(status: PrinterStatus): boolean {
  return status.state === "operational" || status.state === "printing" || status.state === "paused";
}

export function stateFlags(status: PrinterStatus) {
  const s = status.state;
  const job = isJobRunning(status.job?.state) ? status.job!.state : undefined;
  return {
    operational: isOperational(status),
    printing: s === "printing" && (job === undefined || job === "printing" || job === "starting" || job === "finishing"),
    cancelling: job === "cancelling",
    pausing: job === "pausing",
    resuming: job === "resuming",
    finishing: job === "finishing",
    closedOrError: s === "closed" || s === "error",
    error: s === "error",
    paused: s === "paused",
    ready: s === "operational",
    sdReady: status.sd.available,
  };
}

export function printerState(status: PrinterStatus) {
  return { text: stateText(status), flags: stateFlags(status), error: status.state === "error" ? (status.problem?.message ?? "") : "" };
}

/** `{tool0: {actual, target, offset}, bed: …}` for the heaters the printer reports. */
export function temperatureMap(status: PrinterStatus, offsets: Record<string, number>, only?: (name: string) => boolean) {
  const out: Record<string, { actual: number; target: number; offset: number }> = {};
  for (const [name, r] of Object.entries(status.temperatures)) {
    if (only && !only(name)) continue;
    out[name] = { actual: r.actual, target: r.target ?? 0, offset: offsets[name] ?? 0 };
  }
  return out;
}

/** One point of temperature history: `{time, tool0: {actual, target}, …}`. */
export type TempPoint = { time: number } & Record<string, { actual: number; target: number } | number>;

export function tempPoint(status: PrinterStatus, now: number): TempPoint {
  const point: TempPoint = { time: Math.floor(now / 1000) };
  for (const [name, r] of Object.entries(status.temperatures)) point[name] = { actual: r.actual, target: r.target ?? 0 };
  return point;
}

/** What the job payload needs to know besides the status. */
export interface JobContext {
  /** The selected (or printing) file, if it still exists. */
  file: StoredFile | undefined;
  analysis: OctoPrintFileAnalysis | undefined;
  user: string | null;
  /** Whether a file was ever selected since the printer connected (OctoPrint's two "no job" shapes differ). */
  everSelected: boolean;
  /** The card's file when the job prints from the SD card. */
  sd?: SdFile;
  /** The file's print history (average and last print time). */
  stats?: FileStats;
}

export function jobPayload(status: PrinterStatus, j: JobContext) {
  if (j.sd) {
    const f = j.sd;
    return {
      file: { name: f.name, path: f.name, display: f.longName ?? f.name, origin: "sdcard", size: f.size ?? null, date: f.modified !== undefined ? Math.floor(f.modified / 1000) : null },
      estimatedPrintTime: null,
      averagePrintTime: null,
      lastPrintTime: null,
      filament: null,
      user: j.user,
    };
  }
  if (!j.file) {
    if (status.state === "operational" && !j.everSelected) {
      // A freshly connected printer with nothing selected (api_job_idle).
      return {
        file: { date: null, name: null, origin: null, path: null, size: null },
        estimatedPrintTime: null,
        filament: { length: null, volume: null },
        lastPrintTime: null,
        user: null,
      };
    }
    return {
      file: { date: null, display: null, name: null, origin: null, path: null, size: null },
      estimatedPrintTime: null,
      averagePrintTime: null,
      lastPrintTime: null,
      filament: null,
      user: null,
    };
  }
  return {
    file: { name: j.file.name, path: j.file.path, display: j.file.name, origin: "local", size: j.file.size, date: Math.floor(j.file.date / 1000) },
    estimatedPrintTime: j.analysis?.gcodeAnalysis.estimatedPrintTime ?? null,
    averagePrintTime: j.stats?.averagePrintTime ?? null,
    lastPrintTime: j.stats?.lastPrintTime ?? null,
    filament: j.analysis?.gcodeAnalysis.filament ?? null,
    user: j.user,
  };
}

const NO_PROGRESS = { completion: null, filepos: null, printTime: null, printTimeLeft: null, printTimeLeftOrigin: null };

export function progressPayload(status: PrinterStatus, j: JobContext) {
  const job = status.job;
  const p = status.progress;
  const ours = j.file ? job?.file === j.file.path : j.sd !== undefined && job?.source === "sd" && job.file === j.sd.name;
  if (!job || !p || !ours) return NO_PROGRESS;
  if (isJobRunning(job.state)) {
    let left: number | null = null;
    let origin: string | null = null;
    if (p.timeLeft !== null && p.timeLeftOrigin !== null) {
      left = p.timeLeft;
      origin = ORIGIN[p.timeLeftOrigin];
    } else if (j.analysis) {
      // The planner's time for the bytes still to print ("estimate"); before the first bytes
      // are read, the analysis' total less the time spent so far (heating, "analysis").
      const total = j.analysis.gcodeAnalysis.estimatedPrintTime;
      const done = p.bytesSent > 0 ? j.analysis.elapsedAt(p.bytesSent) : 0;
      left = Math.max(0, Math.round(done > 0 ? total - done : total - p.printTime));
      origin = done > 0 ? "estimate" : "analysis";
    } else if (p.completion > 0) {
      left = Math.max(0, Math.round((p.printTime * (100 - p.completion)) / p.completion));
      origin = "linear";
    }
    return { completion: p.completion, filepos: p.bytesSent, printTime: p.printTime, printTimeLeft: left, printTimeLeftOrigin: origin };
  }
  if (job.state === "done") return { completion: 100.0, filepos: p.bytesTotal, printTime: p.printTime, printTimeLeft: 0, printTimeLeftOrigin: null };
  return NO_PROGRESS;
}

export function jobStateText(status: PrinterStatus) {
  return stateText(status);
}

/** The port string OctoPrint shows: the device, or VIRTUAL for the built-in printer. */
export const portOf = (r: PrinterRecord) => (r.transport === "virtual" ? "VIRTUAL" : r.port);

export function connectionPayload(record: PrinterRecord, status: PrinterStatus, ports: string[]) {
  const closed = status.state === "closed" || status.state === "error";
  const all = [...new Set([...ports, ...(record.transport === "serial" && record.port ? [record.port] : []), "VIRTUAL"])];
  return {
    current: {
      state: status.state === "closed" ? "Closed" : stateText(status),
      port: closed ? null : portOf(record),
      baudrate: closed ? null : record.baud,
      printerProfile: PROFILE_ID,
    },
    options: {
      ports: all,
      baudrates: BAUDRATES,
      printerProfiles: [{ id: PROFILE_ID, name: "Default" }],
      portPreference: portOf(record),
      baudratePreference: record.baud,
      printerProfilePreference: PROFILE_ID,
    },
  };
}
