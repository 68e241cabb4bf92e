/**
 * What the bridge publishes for a printer, as pure functions of its status and events: the
 * retained state document, when to publish it (on change, at most once per interval), the
 * printer's availability, and the event messages of job transitions.
 */
import type { PrinterEvent } from "../printers/controller.ts";
import type { PrinterStatus } from "../printers/status.ts";
import { OFFLINE, ONLINE } from "./topics.ts";

export interface StateDocument {
  /** The printer's state: closed, connecting, operational, printing, paused, error. */
  state: PrinterStatus["state"];
  /** The job runs (printing or paused, or a step in between). */
  printing: boolean;
  connected: boolean;
  /** The job's own state (starting … done/cancelled/failed), null without a job. */
  job: string | null;
  file: string | null;
  /** Percent done, 0–100 (one decimal); null without a job. */
  progress: number | null;
  /** Seconds printing (pauses excluded) and seconds left (null when unknown). */
  elapsed: number | null;
  left: number | null;
  layer: number | null;
  layers: number | null;
  z: number | null;
  /** Per heater (tool0, bed, chamber…): °C, one decimal. */
  temperatures: Record<string, { actual: number; target: number | null }>;
  /** What is wrong, in words (null when nothing is). */
  problem: string | null;
}

const CONNECTED = new Set<PrinterStatus["state"]>(["operational", "printing", "paused"]);
const round1 = (n: number) => Math.round(n * 10) / 10;

/**
 * The state document of a printer. Values are rounded so that noise (a heater's tenths of a
 * degree wobbling) does not count as a change more than it must.
 */
export function stateDocument(status: PrinterStatus): StateDocument {
  const job = status.job;
  const running = job !== null && job.state !== "done" && job.state !== "cancelled" && job.state !== "failed";
  const progress = status.progress;
  const temperatures: StateDocument["temperatures"] = {};
  for (const [key, r] of Object.entries(status.temperatures)) temperatures[key] = { actual: round1(r.actual), target: r.target === null ? null : round1(r.target) };
  return {
    state: status.state,
    printing: running,
    connected: CONNECTED.has(status.state),
    job: job?.state ?? null,
    file: job?.file ?? null,
    progress: job && progress ? round1(progress.completion) : null,
    elapsed: job && progress ? Math.round(progress.printTime) : null,
    left: running && progress?.timeLeft != null ? Math.round(progress.timeLeft) : null,
    layer: job?.layer?.current ?? null,
    layers: job?.layer?.count ?? null,
    z: status.position ? round1(status.position.z) : null,
    temperatures,
    problem: status.problem ? status.problem.message : null,
  };
}

/** The printer's availability payload: online while its link is up. */
export const availabilityOf = (status: PrinterStatus) => (CONNECTED.has(status.state) ? ONLINE : OFFLINE);

/** Where a printer's state publishing stands: what was sent last and when. */
export interface Throttle {
  sent: string | null;
  at: number;
}

/**
 * Whether to publish `text` now ("now"), later ("wait" ms: the interval since the last one has
 * not passed, so a timer sends the latest text then), or not at all ("same" as the last one).
 */
export function throttle(state: Throttle, text: string, now: number, intervalMs: number): { action: "now" } | { action: "wait"; ms: number } | { action: "same" } {
  if (text === state.sent) return { action: "same" };
  const since = now - state.at;
  if (state.sent === null || since >= intervalMs) return { action: "now" };
  return { action: "wait", ms: intervalMs - since };
}

export const EVENT_NAMES = ["started", "paused", "resumed", "done", "failed", "cancelled"] as const;
export type EventName = (typeof EVENT_NAMES)[number];

/** An event message for a printer event, or null for events the bridge does not publish. */
export function eventMessage(printer: string, event: PrinterEvent, at: number): { name: EventName; payload: Record<string, unknown> } | null {
  if (event.type !== "job") return null;
  return {
    name: event.state,
    payload: {
      event: event.state,
      printer,
      file: event.file,
      job: event.job.id,
      reason: event.reason ?? null,
      progress: event.progress ? round1(event.progress.completion) : null,
      elapsed: event.progress ? Math.round(event.progress.printTime) : null,
      at: new Date(at).toISOString(),
    },
  };
}
