/**
 * The farm queue's dispatch loop: a thin adapter on the event bus. Whenever something that could
 * free a printer or change what fits changed (a printer's state, a job's end, the farm queue, the
 * files, an analysis, a profile, the printers), it asks the pure planner what to start and starts
 * it — one pass at a time; a change during a pass runs one more pass after it.
 */
import { subscribe, type Bus } from "../events.ts";
import type { FarmPrinterSource, FarmQueue } from "./queue.ts";

export interface FarmDispatcherOptions {
  farm: FarmQueue;
  bus: Bus;
  printer(id: string): FarmPrinterSource | undefined;
  log?: (line: string) => void;
}

export class FarmDispatcher {
  private running: Promise<void> | null = null;
  private again = false;
  /** Stopped with the host: a pass under way starts nothing more. */
  private stopped = false;
  /** Each printer's state and whether a job runs, as last seen: status reports that change neither are ignored. */
  private readonly seen = new Map<string, string>();

  constructor(private readonly options: FarmDispatcherOptions) {}

  /** Follows the bus; returns the function that stops it. */
  listen(): () => void {
    const { bus } = this.options;
    const poke = () => this.poke();
    const stop = subscribe(bus, {
      // The queue records the job's transition itself (FarmQueue.listen) before this pass plans.
      "printer.event": ({ event }) => {
        if (event.type === "job") poke();
      },
      "printer.status": ({ id, status }) => {
        const key = `${status.state}|${status.job?.state ?? ""}|${status.interrupted?.jobId ?? ""}`;
        if (this.seen.get(id) === key) return;
        this.seen.set(id, key);
        poke();
      },
      "farm.changed": poke,
      "queue.changed": poke,
      "files.changed": poke,
      "analysis.finished": poke,
      "printer.profile": poke,
      "printers.changed": poke,
    });
    poke();
    return () => {
      this.stopped = true;
      stop();
    };
  }

  private log(line: string): void {
    (this.options.log ?? console.error)(line);
  }

  /** Runs a dispatch pass soon (once, however many changes come meanwhile). */
  poke(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.passes().finally(() => (this.running = null));
  }

  private async passes(): Promise<void> {
    // After the event that poked it has reached every listener (the printer's own queue first).
    await Promise.resolve();
    do {
      this.again = false;
      try {
        await this.pass();
      } catch (e) {
        this.log(`farm queue: ${(e as Error).message}`);
      }
    } while (this.again);
  }

  /** Starts one copy at a time, planning afresh before each (the printer just used is no longer free). */
  private async pass(): Promise<void> {
    const { farm } = this.options;
    while (!this.stopped) {
      const next = farm.plan().starts[0];
      if (!next) return;
      const session = this.options.printer(next.printer);
      if (!session) return;
      // Written before the printer is asked (its bed is then "printing": the next plan skips it).
      const run = farm.recordStart(next.entry, next.printer, next.file);
      const started = await session.startJob(next.file);
      if (!started.ok && !this.stopped) farm.startRefused(run, next.printer, started.error);
    }
  }
}
