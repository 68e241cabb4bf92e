/**
 * What OctoPrint clients expect beyond the live status, kept per printer on the main thread from
 * the bus: the selected file and who selected it, temperature history, markings (connected,
 * print started, …) and temperature offsets. Derived only from printer events, so it never
 * contradicts the status it sits beside.
 */
import { subscribe, type Bus } from "../../../events.ts";
import type { PrinterManager } from "../../../printers/manager.ts";
import type { PrinterStatus } from "../../../printers/status.ts";
import { tempPoint, type TempPoint } from "./state.ts";

const HISTORY_KEEP = 300;
const MARKINGS_KEEP = 100;
/** A temperature point per this interval at most (firmware auto-reports every 1–2 s). */
const SAMPLE_MS = 1000;

export interface Marking {
  type: string;
  label: string;
  time: number;
}

export interface PrinterExtras {
  selected: { path: string; user: string | null } | null;
  everSelected: boolean;
  temps: TempPoint[];
  markings: Marking[];
  offsets: Record<string, number>;
  lastSample: number;
  lastState: PrinterStatus["state"];
}

const JOB_MARKINGS: Record<string, [string, string]> = {
  started: ["print", "Start"],
  done: ["done", "Done"],
  cancelled: ["cancel", "Cancel"],
  failed: ["failed", "Failed"],
  paused: ["pause", "Pause"],
  resumed: ["resume", "Resume"],
};

export class OctoTracker {
  private readonly extras = new Map<string, PrinterExtras>();
  private readonly unsubscribe: () => void;
  /** Who asked for the next job on a printer (the job event itself carries no user). */
  private readonly pendingUser = new Map<string, string | null>();

  constructor(
    bus: Bus,
    private readonly printers: PrinterManager,
    private readonly now: () => number = Date.now,
  ) {
    this.unsubscribe = subscribe(bus, {
      "printer.status": ({ id, status }) => this.onStatus(id, status),
      "printer.event": ({ id, event }) => {
        if (event.type !== "job") return;
        const x = this.of(id);
        if (event.state === "started") {
          x.selected = { path: event.file, user: this.pendingUser.get(id) ?? x.selected?.user ?? null };
          x.everSelected = true;
          this.pendingUser.delete(id);
        }
        const mark = JOB_MARKINGS[event.state];
        if (mark) this.mark(x, mark[0], mark[1]);
      },
    });
  }

  of(id: string): PrinterExtras {
    let x = this.extras.get(id);
    if (!x) {
      const status = this.printers.get(id)?.status;
      x = { selected: null, everSelected: false, temps: [], markings: [], offsets: {}, lastSample: 0, lastState: status?.state ?? "closed" };
      this.extras.set(id, x);
    }
    return x;
  }

  select(id: string, path: string, user: string | null): void {
    const x = this.of(id);
    x.selected = { path, user };
    x.everSelected = true;
  }

  unselect(id: string): void {
    this.of(id).selected = null;
  }

  /** Records who is about to start a job (called just before startJob). */
  expectJob(id: string, user: string | null): void {
    this.pendingUser.set(id, user);
  }

  /** A file was removed or moved: selections of it end. */
  forget(path: string): void {
    for (const x of this.extras.values()) if (x.selected && (x.selected.path === path || x.selected.path.startsWith(`${path}/`))) x.selected = null;
  }

  stop(): void {
    this.unsubscribe();
  }

  private onStatus(id: string, status: PrinterStatus): void {
    const x = this.of(id);
    const now = this.now();
    if (status.state !== x.lastState) {
      const wasLinked = x.lastState !== "closed" && x.lastState !== "error" && x.lastState !== "connecting";
      const linked = status.state === "operational" || status.state === "printing" || status.state === "paused";
      if (linked && !wasLinked) {
        this.mark(x, "connected", "Connected");
        x.everSelected = x.selected !== null;
      }
      if (!linked && wasLinked && status.state !== "connecting") this.mark(x, "disconnected", "Disconnected");
      x.lastState = status.state;
    }
    if (Object.keys(status.temperatures).length && now - x.lastSample >= SAMPLE_MS) {
      x.lastSample = now;
      x.temps.push(tempPoint(status, now));
      if (x.temps.length > HISTORY_KEEP) x.temps.splice(0, x.temps.length - HISTORY_KEEP);
    }
  }

  private mark(x: PrinterExtras, type: string, label: string): void {
    x.markings.push({ type, label, time: this.now() / 1000 });
    if (x.markings.length > MARKINGS_KEEP) x.markings.splice(0, x.markings.length - MARKINGS_KEEP);
  }
}
