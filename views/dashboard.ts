/**
 * The dashboard: one printer's live state, its controls, the files and the terminal.
 * The live parts are fragments the server re-renders and pushes over SSE (`/ui/events`).
 */
import type { LogLine } from "../src/printers/controller.ts";
import type { TerminalKind } from "../src/protocol/terminal-kind.ts";
import type { PrinterRecord } from "../src/printers/record.ts";
import type { PrinterStatus } from "../src/printers/status.ts";
import type { StoredFile } from "../src/files/storage.ts";
import type { ThumbnailRef } from "../src/files/catalog.ts";
import type { Access } from "../src/server/auth/access.ts";
import { html, type Html } from "./html.ts";
import { confirmStart, interruptedBanner, jobPanel } from "./job.ts";
import { layout, type PageSession } from "./layout.ts";
import { linkCard } from "./link.ts";
import { promptPanel } from "./prompt.ts";
import { sdCard } from "./sdcard.ts";

export interface PrinterView {
  record: PrinterRecord;
  status: PrinterStatus;
  /** The running job's thumbnail, when its file has one. */
  thumbnail?: ThumbnailRef | null;
}

export const STATE_LABEL: Record<PrinterStatus["state"], string> = {
  closed: "Disconnected",
  connecting: "Connecting…",
  operational: "Ready",
  printing: "Printing",
  paused: "Paused",
  error: "Error",
};

/**
 * The whole page for one printer; `nav` links the other printers (views/overview.ts). Here and in
 * every fragment, `access` leaves out the controls whose route the viewer may not call (a
 * read-only user watches without buttons).
 */
export function dashboardPage(printer: PrinterView, nav: Html, files: StoredFile[], terminal: LogLine[], access: Access, session?: PageSession, camera: Html | string = "", customControls: Html | string = ""): Html {
  const id = printer.record.id;
  const may = (route: string) => access.may(route, id);
  return layout(
    printer.record.name,
    html`${may("GET /ui/diagnostics/notice") ? html`<div id="diagnostics-notice" hx-get="/ui/diagnostics/notice" hx-trigger="load" hx-swap="outerHTML" hidden></div>` : ""}<div class="dashboard">
  <section class="card printer">
    <div id="live" sse-swap="live">${livePanel(printer, access)}</div>
    <div id="job-objects" sse-swap="objects" hx-on::sse-before-message="if (!this.firstElementChild) event.preventDefault()"></div>
    <div id="job-viewer"></div>
  </section>
  ${camera}
  <section class="card controls">${controlsPanel(printer.record, access)}${customControls}</section>
  <section class="card link">${linkCard(printer, access)}</section>
  <section class="card sdcard">${sdCard(printer, files, access)}</section>
  <section class="card files">
    <h2>Files <a class="more" href="/files">all files, folders and details →</a></h2>
    ${may("POST /ui/files") ? uploadForm(id) : ""}
    <div id="files" sse-swap="files">${fileList(files, printer, access)}</div>
  </section>
  <div class="plugin-cards" hx-get="/ui/plugins/slot/dashboard.card?printer=${id}" hx-trigger="load, every 15s"></div>
  <section class="card terminal">
    <h2>Terminal</h2>
    ${terminalFilters()}
    <pre id="terminal-lines" class="${HIDDEN_BY_DEFAULT.map((k) => `hide-${k}`).join(" ")}" sse-swap="log" hx-swap="beforeend">${terminalLines(terminal)}</pre>
    ${may("POST /ui/printers/:id/commands")
      ? html`<form hx-post="/ui/printers/${id}/commands" hx-swap="none" hx-on::after-request="if(event.detail.successful) this.reset()">
      <input name="command" placeholder="G-code, e.g. M105 or G28" autocomplete="off" aria-label="Command to send" required>
      <button type="submit">Send</button>
    </form>`
      : ""}
  </section>
</div>`,
    nav,
    session,
    // On the page, not the panel: the top bar's printer dots take their pushes from it too.
    `/ui/events?printer=${id}`,
  );
}

/** State, problem, temperatures, position and the job: re-rendered on every status change. */
export function livePanel({ record, status, thumbnail }: PrinterView, access: Access): Html {
  const id = record.id;
  const connected = status.state !== "closed" && status.state !== "error";
  const may = (route: string) => access.may(route, id);
  return html`<div class="head">
  <h1>${record.name}</h1>
  <span class="badge state-${status.state}" data-state="${status.state}">${STATE_LABEL[status.state]}</span>
  ${status.busy ? html`<span class="badge busy">busy: ${status.busy}</span>` : ""}
  <span class="spacer"></span>
  ${connected
    ? html`${may("POST /ui/printers/:id/disconnect") ? html`<button hx-post="/ui/printers/${id}/disconnect" hx-target="#live">Disconnect</button>` : ""}
      ${may("POST /ui/printers/:id/emergency-stop") ? html`<button class="danger" hx-post="/ui/printers/${id}/emergency-stop" hx-target="#live" hx-confirm="Emergency stop: halt the printer now?">Emergency stop</button>` : ""}`
    : may("POST /ui/printers/:id/connect") ? html`<button class="primary" hx-post="/ui/printers/${id}/connect" hx-target="#live">Connect</button>` : ""}
</div>
<p class="muted">${record.transport === "virtual" ? "Built-in virtual printer" : record.port === "auto" ? `Auto-detect${status.connection ? `: ${status.connection.port} @ ${status.connection.baud}` : ""}` : `${record.port} @ ${record.baud}`}${status.firmware ? html` · ${status.firmware.name}` : ""}</p>
${status.problem ? html`<div class="problem" role="alert"><strong>${status.problem.message}</strong> ${status.problem.hint}</div>` : ""}
${promptPanel({ record, status }, access)}
${temperatureTable(status)}
${status.position
  ? html`<p class="position">X <b>${status.position.x.toFixed(2)}</b> Y <b>${status.position.y.toFixed(2)}</b> Z <b>${status.position.z.toFixed(2)}</b></p>`
  : ""}
${interruptedBanner(id, status, access)}
${jobPanel(id, status, access, thumbnail ?? null)}`;
}

/** The printer's heaters, hotends first, then the bed and the chamber. */
export function heaterEntries(status: PrinterStatus): [string, PrinterStatus["temperatures"][string]][] {
  return Object.entries(status.temperatures).sort(([a], [b]) => heaterOrder(a) - heaterOrder(b) || a.localeCompare(b));
}

function temperatureTable(status: PrinterStatus): Html {
  const entries = heaterEntries(status);
  if (entries.length === 0) return html`<p class="muted">No temperatures yet.</p>`;
  return html`<table class="temps"><thead><tr><th>Heater</th><th>Actual</th><th>Target</th></tr></thead><tbody>
${entries.map(([name, r]) => html`<tr data-heater="${name}"><td>${heaterLabel(name)}</td><td class="actual">${r.actual.toFixed(1)} °C</td><td>${r.target === null ? "–" : `${r.target.toFixed(0)} °C`}</td></tr>`)}
</tbody></table>`;
}

function heaterOrder(name: string): number {
  return name.startsWith("tool") ? 0 : name === "bed" ? 1 : name === "chamber" ? 2 : 3;
}

export function heaterLabel(name: string): string {
  if (name.startsWith("tool")) return `Hotend ${name.slice(4)}`;
  if (name === "bed") return "Bed";
  if (name === "chamber") return "Chamber";
  return name;
}

/** Temperature and movement controls; not part of the live panel, so typed values survive updates. */
function controlsPanel(record: PrinterRecord, access: Access): Html {
  const id = record.id;
  return html`<h2>Control <a class="more" href="/settings/printers/${id}/scripts">G-code scripts →</a> <a class="more" href="/settings/printers/${id}/profile">Profile &amp; limits →</a> <a class="more" href="/settings/printers/${id}/camera">Camera →</a></h2>
${access.may("POST /ui/printers/:id/temperature", id)
  ? html`<form class="inline" hx-post="/ui/printers/${id}/temperature" hx-swap="none">
  <label>Hotend <input type="number" name="tool0" min="0" max="320" step="1" placeholder="°C"></label>
  <label>Bed <input type="number" name="bed" min="0" max="150" step="1" placeholder="°C"></label>
  <button type="submit">Set</button>
  <button type="submit" name="off" value="1">Heaters off</button>
</form>`
  : ""}
${access.may("POST /ui/printers/:id/commands", id)
  ? html`<div class="buttons">
  <button hx-post="/ui/printers/${id}/commands" hx-vals='{"command":"G28"}' hx-swap="none">Home all</button>
  <button hx-post="/ui/printers/${id}/commands" hx-vals='{"command":"M84"}' hx-swap="none">Motors off</button>
</div>
${jogPad(id)}`
  : ""}`;
}

/** Jog steps in mm, as OctoPrint's control tab offers them. */
export const JOG_STEPS = [0.1, 1, 10, 100] as const;

/** Move the head by a step: X and Y on a cross, Z beside it; the step chosen stays while the page is open. */
function jogPad(id: string): Html {
  const arrow = (move: string, label: string, title: string) => html`<button type="submit" name="move" value="${move}" title="${title}" aria-label="${title}">${label}</button>`;
  return html`<form class="jog" hx-post="/ui/printers/${id}/jog" hx-swap="none" aria-label="Jog">
  <div class="jog-xy">
    <span></span>${arrow("y+", "Y+", "Move Y forward by the step")}<span></span>
    ${arrow("x-", "X−", "Move X left by the step")}<span></span>${arrow("x+", "X+", "Move X right by the step")}
    <span></span>${arrow("y-", "Y−", "Move Y back by the step")}<span></span>
  </div>
  <div class="jog-z">${arrow("z+", "Z+", "Move Z up by the step")}${arrow("z-", "Z−", "Move Z down by the step")}</div>
  <fieldset class="jog-step"><legend>Step</legend>${JOG_STEPS.map((step) => html`<label class="check"><input type="radio" name="step" value="${String(step)}"${step === 10 ? " checked" : ""}> ${String(step)} mm</label>`)}</fieldset>
</form>`;
}

/** Uploads for the dashboard of printer `id`: the list that comes back has that printer's Print buttons. */
function uploadForm(id: string): Html {
  return html`<form id="upload" class="upload" hx-post="/ui/files?printer=${encodeURIComponent(id)}" hx-encoding="multipart/form-data" hx-target="#files" hx-on::after-request="if(event.detail.successful) this.reset()">
  <input type="file" name="file" accept=".gcode,.gco,.g" required aria-label="G-code file">
  <button type="submit" class="primary">Upload</button>
  <progress class="upload-progress" value="0" max="100" hidden></progress>
</form>`;
}

/** The file list with print and delete actions (those the viewer may use) for the printer on this page. */
export function fileList(files: StoredFile[], printer: PrinterView, access: Access): Html {
  if (files.length === 0) return html`<p class="muted">No files yet. Upload G-code from your slicer.</p>`;
  const canPrint = printer.status.state === "operational";
  const print = access.may("POST /ui/printers/:id/job", printer.record.id);
  const remove = access.may("POST /ui/files/delete");
  return html`<table class="file-list"><tbody>
${files.map((f) => html`<tr data-file="${f.path}">
  <td class="name">${f.path}</td><td class="size">${formatBytes(f.size)}</td>
  <td class="actions">
    ${print ? html`<button class="primary" ${canPrint ? "" : "disabled"} hx-post="/ui/printers/${printer.record.id}/job" hx-vals='${JSON.stringify({ file: f.path })}' hx-target="#live" ${confirmStart(printer.status, `Print ${f.path}`)}>Print</button>` : ""}
    ${remove ? html`<button hx-post="/ui/files/delete?printer=${encodeURIComponent(printer.record.id)}" hx-vals='${JSON.stringify({ path: f.path })}' hx-target="#files" hx-confirm="Delete ${f.path}?">Delete</button>` : ""}
  </td>
</tr>`)}
</tbody></table>`;
}

/** Terminal lines, appended to the terminal as they arrive; periodic chatter is marked by its kind (k-…), for the filters. */
export function terminalLines(lines: LogLine[]): Html {
  return html`${lines.map((l) => html`<span class="${l.dir}${l.kind ? ` k-${l.kind}` : ""}">${l.dir === "send" ? "› " : l.dir === "recv" ? "‹ " : "· "}${l.text}\n</span>`)}`;
}

const TERMINAL_FILTERS: [TerminalKind, string][] = [
  ["temperature", "temperatures"],
  ["sd", "SD status"],
  ["position", "positions"],
  ["wait", "wait"],
  ["busy", "busy"],
];
// The reports a printer sends every second or two; public/app.js keeps each browser's own choice.
const HIDDEN_BY_DEFAULT: TerminalKind[] = ["temperature", "sd", "position"];

/** What the terminal hides: one box per kind of chatter, as OctoPrint's terminal filters. */
function terminalFilters(): Html {
  return html`<div class="terminal-filters" role="group" aria-label="Hide in the terminal">Hide:
    ${TERMINAL_FILTERS.map(([kind, label]) => html`<label><input type="checkbox" data-terminal-hide="${kind}"${HIDDEN_BY_DEFAULT.includes(kind) ? " checked" : ""}> ${label}</label>`)}
  </div>`;
}

/** A transient message for the user (errors from actions). */
export function toast(kind: "error" | "info", message: string, hint = ""): Html {
  return html`<div class="toast ${kind}" role="status">${message}${hint ? html` <span class="hint">${hint}</span>` : ""}</div>`;
}

/** Shown when there is no printer at all. */
export function noPrinterPage(session?: PageSession): Html {
  return layout("No printer", html`<section class="card"><h1>No printer configured</h1>
<p>Add one with <code>curl -X POST localhost:5000/api/v1/printers -H "X-Api-Key: $KEY" -H 'content-type: application/json' -d '{"name":"My printer","transport":"serial","port":"/dev/ttyUSB0","baud":115200}'</code>
or start Layerline with <code>--serial /dev/ttyUSB0</code>.</p></section>`, html``, session);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

/** A moment as "2026-11-22 18:07" in UTC (the host's clock and the viewer's zone may differ). */
export function utcMinute(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace("T", " ");
}

export function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`;
}
