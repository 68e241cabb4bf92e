/**
 * Job events as the printer controller publishes them on the bus (`PrinterEvent`), for feeding
 * the history and the queue: the final job and its progress on done / cancelled / failed.
 */
import type { PrinterEvent } from "../../src/printers/controller.ts";
import type { Job, Progress } from "../../src/printers/status.ts";

type JobEventState = Extract<PrinterEvent, { type: "job" }>["state"];

const JOB_STATE: Record<JobEventState, Job["state"]> = { started: "printing", paused: "paused", resumed: "printing", done: "done", cancelled: "cancelled", failed: "failed" };

export function jobEvent(state: JobEventState, job: Partial<Job> & { id: string }, progress: Partial<Progress> = {}): PrinterEvent {
  const file = job.file ?? "parts/bracket.gcode";
  const full: Job = {
    file,
    source: "host",
    size: 4096,
    state: JOB_STATE[state],
    startedAt: Date.now(),
    endedAt: null,
    reason: null,
    sha256: null,
    layer: null,
    objects: [],
    pause: null,
    resumedFrom: null,
    ...job,
  };
  const p: Progress = { completion: 0, bytesSent: 0, bytesTotal: full.size, linesSent: 0, line: 0, lines: null, printTime: 0, timeLeft: null, timeLeftOrigin: null, filament: 0, ...progress };
  return { type: "job", state, file, ...(full.reason ? { reason: full.reason } : {}), job: full, progress: p };
}
