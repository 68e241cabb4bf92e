/**
 * The typed event bus of the main thread (mitt). Printer sessions publish here; push channels
 * (SSE, WebSocket), history and plugins subscribe. Nothing on it calls back down to a printer.
 */
import mitt, { type Emitter } from "mitt";
import type { LogLine, PrinterEvent } from "./printers/controller.ts";
import type { PrinterStatus } from "./printers/status.ts";

export type Events = {
  "printer.status": { id: string; status: PrinterStatus };
  "printer.log": { id: string; lines: LogLine[] };
  "printer.event": { id: string; event: PrinterEvent };
  /** A printer was added or removed. */
  "printers.changed": undefined;
  /** A printer's profile changed (its bed, extruders or machine limits). */
  "printer.profile": { id: string };
  /** A printer's print queue changed (items, mode, state or notice). */
  "queue.changed": { printer: string };
  /** The farm queue changed (entries, copies, runs, or a printer's bed or auto-start). */
  "farm.changed": undefined;
  /** Files were added, removed or changed. */
  "files.changed": undefined;
  /** A file's analysis was queued, progressed or paused (bytes done of total). */
  "analysis.progress": { path: string; state: "queued" | "analysing" | "paused"; done: number; total: number };
  /** A file's analysis ended: ok, or with the error's message. */
  "analysis.finished": { path: string; ok: boolean; error?: string };
  /** Sessions ended (logout, user changed or removed): `sessions` are digests, null = all of the user's. */
  "accounts.revoked": { userId: string; reason: "logout" | "removed" | "modified"; sessions: string[] | null };
  /** A message from a plugin (or built-in feature acting as one) to push clients. */
  "plugin.message": { plugin: string; data: unknown };
  /** A plugin was loaded, unloaded, installed, updated or removed. */
  "plugins.changed": undefined;
  /** Something about a plugin the user should see (it was disabled after faults, it says so…). */
  "plugins.notice": { id: number; plugin: string | null; level: "info" | "warning" | "error"; message: string };
  /** The custom controls' definition was saved. */
  "controls.changed": undefined;
  /** A custom control's read-out on a printer shows new text (its key: src/controls/model.ts readoutKey). */
  "controls.output": { printer: string; key: string; text: string };
  /** A timelapse frame was taken or not; a frame set's render began, advanced (percent) or ended. */
  "timelapse.event": {
    printer: string;
    set: string;
    kind: "captured" | "capture-failed" | "rendering" | "progress" | "rendered" | "render-failed";
    /** The G-code file of the print (renders). */
    file?: string;
    frame?: number;
    progress?: number;
    video?: string;
    error?: string;
  };
};

export type Bus = Emitter<Events>;

/** A fresh bus; one per running host. */
export function createBus(): Bus {
  return mitt<Events>();
}

/** Handlers for some of the bus's events. */
export type Handlers = { [K in keyof Events]?: (payload: Events[K]) => void };

/** Subscribes several handlers at once; returns the function that removes them all. */
export function subscribe(bus: Bus, handlers: Handlers): () => void {
  // mitt's handler type is per event; a list of mixed events can only be typed loosely.
  const entries = Object.entries(handlers) as [keyof Events, (payload: unknown) => void][];
  for (const [event, handler] of entries) bus.on(event, handler);
  return () => {
    for (const [event, handler] of entries) bus.off(event, handler);
  };
}
