/**
 * Cancelling objects in an SD card print, inside the printer's Worker: the firmware's own
 * command goes out (src/jobs/firmware-objects.ts decides which, or why none), tagged so its
 * acknowledgement is the firmware's answer; an `Unknown command` before it means the build lacks
 * it (remembered until the next connection); the firmware's report of the objects it skips —
 * asked after each cancel and every few seconds while the print runs — is what the job shows,
 * so an object cancelled on the printer's own display shows up too.
 */
import { firmwareCancelCommand, reportedCancelled, saysUnsupported } from "../jobs/firmware-objects.ts";
import type { PlannedObject } from "../jobs/plan.ts";
import type { Quirks } from "../protocol/quirks.ts";
import type { Result } from "./controller.ts";
import type { PrinterStatus } from "./status.ts";

/** The tag of the object-cancel lines: their acknowledgement is the firmware's answer. */
export const OBJECT_TAG = -2;
/** How long a call to cancel an object waits for the printer's answer. */
const WAIT_MS = 5000;
/** How often the firmware is asked which objects it skips. */
const REPORT_MS = 10_000;

type Cancelled = Result<{ cancelled: string[] }>;

/** A cancel sent and not yet acknowledged: its lines (the command, then the report command) and the waiting call. */
interface Request {
  name: string;
  acks: number;
  expected: number;
  /** The firmware said it does not know the command. */
  unsupported: boolean;
  answer: ((r: Cancelled) => void) | undefined;
}

/** What it needs of the controller. */
export interface CardObjectsLink {
  profile(): Quirks["cancelObject"] | undefined;
  firmware(): PrinterStatus["firmware"];
  /** The running job's objects cancelled so far. */
  cancelled(): string[];
  /** Sends a line through the plugins' stages with `tag` (flushing). */
  send(line: string, tag: number): void;
  /** Whether a report may be asked now (an SD print runs, the link is up). */
  mayAsk(): boolean;
  /** The firmware skips these (shown as cancelled). */
  skips(names: string[]): void;
  notice(message: string): void;
}

export class CardObjects {
  /** The firmware said it does not know its object commands (until the next connection). */
  missing = false;
  private pending: Request | undefined;
  private reports: ReturnType<typeof setInterval> | undefined;
  private objects: PlannedObject[] = [];

  constructor(private readonly link: CardObjectsLink) {}

  /** An SD print's objects are known: ask the firmware now and then which it skips, if it can say. */
  begin(objects: PlannedObject[]): void {
    this.end();
    this.objects = objects;
    const q = this.link.profile();
    if (!q?.reportCommand || this.missing || !objects.some((o) => o.source === q.labels)) return;
    this.reports = setInterval(() => {
      if (!this.pending && this.link.mayAsk()) this.link.send(q.reportCommand, -1);
    }, REPORT_MS);
  }

  /** The print ended: no more reports; a call still waiting is answered. */
  end(): void {
    if (this.reports) clearInterval(this.reports);
    this.reports = undefined;
    const p = this.pending;
    this.pending = undefined;
    p?.answer?.({ ok: false, error: { code: "not_printing", message: "The print ended before the printer answered.", hint: "Nothing to cancel any more." } });
  }

  /** Asks the firmware to skip `object`; answers once it has (or after a while, the answer still to come). */
  cancel(object: PlannedObject): Cancelled | Promise<Cancelled> {
    const q = this.link.profile()!;
    const how = firmwareCancelCommand(q, this.link.firmware(), object, this.missing);
    if (!how.ok) return how;
    const cancelled = this.link.cancelled();
    if (cancelled.includes(object.name)) return { ok: true, value: { cancelled } };
    if (this.pending) return { ok: false, error: { code: "busy", message: "The printer has not answered the last object cancel yet.", hint: "Try again in a moment." } };
    return new Promise((resolve) => {
      const request: Request = { name: object.name, acks: 0, expected: q.reportCommand ? 2 : 1, unsupported: false, answer: resolve };
      this.pending = request;
      this.link.send(how.command, OBJECT_TAG);
      if (q.reportCommand) this.link.send(q.reportCommand, OBJECT_TAG);
      // A printer busy with a long command (heating, a filament change) answers later: the call
      // returns now, and the answer still updates the job when it comes.
      setTimeout(() => {
        if (!request.answer) return;
        request.answer = undefined;
        resolve({ ok: true, value: { cancelled: this.link.cancelled() } });
      }, WAIT_MS);
    });
  }

  /** A line tagged OBJECT_TAG was acknowledged: once all are, the firmware has answered. */
  acked(): void {
    const r = this.pending;
    if (!r || ++r.acks < r.expected) return;
    this.pending = undefined;
    let result: Cancelled;
    if (r.unsupported) {
      const object = this.objects.find((o) => o.name === r.name)!;
      result = firmwareCancelCommand(this.link.profile()!, this.link.firmware(), object, true) as Cancelled;
      if (!result.ok) this.link.notice(`${r.name} was not cancelled: ${result.error.message}`);
    } else {
      this.link.skips([r.name]);
      result = { ok: true, value: { cancelled: this.link.cancelled() } };
    }
    r.answer?.(result);
    r.answer = undefined;
  }

  /** A line from the printer during a job: that it lacks the commands, or which objects it skips. */
  reply(line: string, objects: PlannedObject[]): void {
    const q = this.link.profile();
    if (!q || q.labels === "") return;
    if (saysUnsupported(q, line)) {
      // Also its answer to the file's own labels: then it cannot cancel them either.
      this.missing = true;
      if (this.reports) clearInterval(this.reports);
      this.reports = undefined;
      if (this.pending) this.pending.unsupported = true;
      return;
    }
    const reported = reportedCancelled(q, line, objects);
    if (reported) this.link.skips(reported);
  }
}
