/**
 * All printers at a glance (`/printers`): one compact card per printer — its state, the running
 * job's file, progress and time left, the temperatures, and what needs the user there (a problem,
 * a dialog, an interrupted print, a queue waiting for the bed to be cleared) — and the top bar's
 * printer links, each with its printer's state as a dot. Cards and dots are pushed again over SSE
 * when they change (src/server/ui/overview.ts).
 */
import type { FarmPrinterView } from "../src/farm/queue.ts";
import type { QueueView } from "../src/jobs/queue.ts";
import type { PrinterRecord } from "../src/printers/record.ts";
import { isJobRunning, type PrinterStatus } from "../src/printers/status.ts";
import type { Access } from "../src/server/auth/access.ts";
import { farmCardControls } from "./farm-queue.ts";
import { heaterEntries, heaterLabel, STATE_LABEL } from "./dashboard.ts";
import { html, type Html } from "./html.ts";
import { JOB_STATE_WORDS, timeLeftWords } from "./job.ts";
import { layout, type PageSession } from "./layout.ts";
import { QUEUE_STATE_TEXT } from "./queue.ts";

/** A printer as the overview shows it: its record, its live status, its queue and its bed as the farm queue knows it. */
export interface FarmPrinter {
  record: PrinterRecord;
  status: PrinterStatus;
  queue: QueueView;
  farm: Pick<FarmPrinterView, "bed" | "autoStart">;
}

/** The page's push channel: each card and nav dot as `card-<id>` and `nav-<id>`, the farm queue as `farm-queue`, and `printers` when printers come or go. */
export const OVERVIEW_STREAM = "/ui/printers/events";

/** `camera` renders a printer's picture (views/camera.ts); it sits outside the pushed part, so updates do not restart it. */
export function overviewPage(printers: FarmPrinter[], access: Access, session?: PageSession, farmQueue?: Html, camera: (p: FarmPrinter) => Html | string = () => ""): Html {
  return layout(
    "All printers",
    html`<div id="printer-cards" class="printer-cards" hx-get="/printers" hx-select="#printer-cards" hx-swap="outerHTML" hx-trigger="sse:printers" hx-disinherit="*">
${printers.length === 0
  ? html`<section class="card"><p class="muted">No printer to show.</p></section>`
  : printers.map((p) => html`<article class="card printer-card" data-printer="${p.record.id}"><div class="card-live" sse-swap="card-${p.record.id}">${printerCard(p, access)}</div>${camera(p)}</article>`)}
</div>
${farmQueue ? html`<section id="farm-queue" class="card farm-queue" sse-swap="farm-queue">${farmQueue}</section>` : ""}`,
    printerNav(printers, null),
    session,
    OVERVIEW_STREAM,
  );
}

/** One printer's card: what it does, how far, how hot, and what needs the user; pause, resume and cancel for a viewer who may. */
export function printerCard({ record, status, queue, farm }: FarmPrinter, access: Access): Html {
  const id = record.id;
  const job = status.job;
  const running = job !== null && isJobRunning(job.state);
  const pct = Math.floor(status.progress?.completion ?? 0);
  const timeLeft = status.progress?.timeLeft;
  const heaters = heaterEntries(status);
  return html`<div class="head">
  <h2><a href="/?printer=${id}">${record.name}</a></h2>
  <span class="badge state-${status.state}" data-state="${status.state}">${STATE_LABEL[status.state]}</span>
</div>
${job && running
  ? html`<div class="card-job" data-job-state="${job.state}">
  <p><strong>${job.file}</strong> <span class="muted">${JOB_STATE_WORDS[job.state]}</span></p>
  <progress max="100" value="${pct}" aria-label="Progress of ${job.file}"></progress>
  <p><span class="completion">${pct} %</span>${timeLeft != null ? html` · <span class="time-left">${timeLeftWords(timeLeft)}</span>` : ""}</p>
</div>`
  : job
    ? html`<p class="muted card-job-last">Last print: ${job.file} (${JOB_STATE_WORDS[job.state]})</p>`
    : ""}
${heaters.length
  ? html`<p class="card-temps">${heaters.map(([name, r], i) => html`${i ? " · " : ""}<span data-heater="${name}">${heaterLabel(name)} <b>${Math.round(r.actual)}</b>${r.target ? ` / ${Math.round(r.target)}` : ""} °C</span>`)}</p>`
  : ""}
${status.problem ? html`<p class="problem" role="alert">${status.problem.message}</p>` : ""}
${status.prompt ? html`<p class="card-attention">The printer asks: ${status.prompt.text} <a href="/?printer=${id}">answer →</a></p>` : ""}
${status.interrupted ? html`<p class="card-attention card-interrupted">Interrupted print of ${status.interrupted.file} on offer <a href="/?printer=${id}">resume or discard →</a></p>` : ""}
${queue.state === "awaiting-confirmation"
  ? html`<p class="card-attention card-queue" data-queue-state="${queue.state}">Queue: ${QUEUE_STATE_TEXT[queue.state]}${queue.current ? ` (${queue.current})` : ""} <a href="/queue?printer=${id}">queue →</a></p>`
  : queue.items.length > 0
    ? html`<p class="muted card-queue" data-queue-state="${queue.state}">Queue: ${queue.items.length} waiting <a href="/queue?printer=${id}">queue →</a></p>`
    : ""}
${farmCardControls(id, record.name, farm, running, access)}
${job && running ? jobControls(id, job.state, record.name, access) : ""}`;
}

/** Pause, resume and cancel (the dashboard has the rest); the card follows over SSE, so the answer is not swapped in. */
function jobControls(id: string, state: NonNullable<PrinterStatus["job"]>["state"], name: string, access: Access): Html {
  const may = (route: string) => access.may(route, id);
  const buttons = [
    (state === "printing" || state === "starting") && may("POST /ui/printers/:id/job/pause") ? html`<button hx-post="/ui/printers/${id}/job/pause" hx-swap="none">Pause</button>` : "",
    state === "paused" && may("POST /ui/printers/:id/job/resume") ? html`<button class="primary" hx-post="/ui/printers/${id}/job/resume" hx-swap="none">Resume</button>` : "",
    state !== "cancelling" && may("POST /ui/printers/:id/job/cancel") ? html`<button class="danger" hx-post="/ui/printers/${id}/job/cancel" hx-swap="none" hx-confirm="Cancel the print on ${name}?">Cancel</button>` : "",
  ].filter((b) => b !== "");
  return buttons.length ? html`<div class="buttons">${buttons}</div>` : html``;
}

/** What needs the user at a printer, in a few words; null when nothing does. */
export function attention({ status, queue }: FarmPrinter): string | null {
  if (status.problem) return status.problem.message;
  if (status.prompt) return `the printer asks: ${status.prompt.text}`;
  if (status.interrupted) return `an interrupted print of ${status.interrupted.file} is on offer`;
  if (status.state === "paused") return "the print is paused";
  if (queue.state === "awaiting-confirmation") return `the queue is ${QUEUE_STATE_TEXT[queue.state].toLowerCase()}`;
  return null;
}

/** A printer's state as a dot for the top bar, marked when something needs the user; its title says what. */
export function navDot(printer: FarmPrinter): Html {
  const need = attention(printer);
  const words = `${printer.record.name}: ${STATE_LABEL[printer.status.state]}${need ? ` — ${need}` : ""}`;
  return html`<span class="nav-dot state-${printer.status.state}${need ? " attention" : ""}" data-state="${printer.status.state}" data-attention="${need ? "true" : "false"}" role="img" title="${words}" aria-label="${words}"></span>`;
}

/** Where a printer link of the top bar leads by default: the printer's dashboard. */
export const dashboardHref = (id: string) => `/?printer=${id}`;

/**
 * The top bar's printer links (with two or more printers): all of them at a glance, then each
 * one's page (`href`: its dashboard, or e.g. its queue on the queue page) with its state dot.
 */
export function printerNav(printers: FarmPrinter[], active: string | null, href: (id: string) => string = dashboardHref): Html {
  if (printers.length < 2) return html``;
  return html`<a href="/printers" class="${active === null ? "active" : ""}">All printers</a>
${printers.map((p) => html`<a href="${href(p.record.id)}" class="printer-link ${p.record.id === active ? "active" : ""}" data-printer="${p.record.id}"><span class="nav-state" sse-swap="nav-${p.record.id}">${navDot(p)}</span> ${p.record.name}</a>`)}`;
}
