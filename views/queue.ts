/**
 * The queue page: one printer's print queue — its items with move up/down and remove, adding a
 * stored file, the mode, starting it, and the "bed is clear" button when a print has ended. The
 * panel reloads itself when the server pushes a `queue` event (`/ui/queue/events`).
 */
import type { StoredFile } from "../src/files/storage.ts";
import type { HistoryEntry } from "../src/jobs/history.ts";
import type { QueueView } from "../src/jobs/queue.ts";
import type { PrinterRecord } from "../src/printers/record.ts";
import type { PrinterStatus } from "../src/printers/status.ts";
import type { Access } from "../src/server/auth/access.ts";
import { formatDuration } from "./dashboard.ts";
import { outcomeBadge, when } from "./history.ts";
import { html, type Html } from "./html.ts";
import { confirmStart } from "./job.ts";
import { layout, type PageSession } from "./layout.ts";

export interface QueuePrinter {
  record: PrinterRecord;
  status: PrinterStatus;
}

export const QUEUE_STATE_TEXT: Record<QueueView["state"], string> = {
  idle: "Idle",
  printing: "Printing from the queue",
  "awaiting-confirmation": "Waiting for the bed to be cleared",
};

/** Where a printer's queue page is (the top bar's printer links lead there on the queue page). */
export const queueHref = (id: string) => `/queue?printer=${id}`;

/**
 * The whole page for one printer's queue; `nav`: the top bar's printer links (to their queues,
 * with their state dots). Its push channel (on the body, so the dots take their pushes from it
 * too) carries `queue` and each printer's `nav-<id>`.
 */
export function queuePage(printer: QueuePrinter, nav: Html, queue: QueueView, files: StoredFile[], recent: HistoryEntry[], access: Access, session?: PageSession): Html {
  const id = printer.record.id;
  return layout(
    `Queue · ${printer.record.name}`,
    html`<div class="queue-page">
  <section class="card">
    <div id="queue-panel" hx-get="/ui/queue/${id}/panel" hx-trigger="sse:queue">${queuePanel(printer, queue, files, access)}</div>
  </section>
  <section class="card">
    <h2>Recent prints <a class="more" href="/history?printer=${id}">all history →</a></h2>
    ${recent.length === 0
      ? html`<p class="muted">Nothing printed yet.</p>`
      : html`<table class="list"><tbody>${recent.map((e) => html`<tr><td>${when(e.startedAt)}</td><td>${e.file}</td><td>${formatDuration(e.printTime)}</td><td>${outcomeBadge(e)}</td></tr>`)}</tbody></table>`}
  </section>
</div>`,
    nav,
    session,
    `/ui/queue/events?printer=${encodeURIComponent(id)}`,
  );
}

/** Everything that changes: state, notice, the confirm button, the items and the forms (those the viewer may use). */
export function queuePanel({ record, status }: QueuePrinter, queue: QueueView, files: StoredFile[], access: Access): Html {
  const id = record.id;
  const may = (route: string) => access.may(route, id);
  const base = `/ui/queue/${id}`;
  const printing = status.job !== null && !["done", "cancelled", "failed"].includes(status.job.state);
  const last = queue.items.length - 1;
  return html`<div class="head">
  <h1>Queue · ${record.name}</h1>
  <span class="badge queue-${queue.state}" data-queue-state="${queue.state}">${QUEUE_STATE_TEXT[queue.state]}</span>
  <span class="spacer"></span>
  ${may("POST /ui/queue/:id/mode")
    ? html`<form class="inline" hx-post="${base}/mode" hx-trigger="change" hx-target="#queue-panel">
    <label>When a print ends well
      <select name="mode" aria-label="Queue mode">
        <option value="auto" ${queue.mode === "auto" ? "selected" : ""}>start the next at once</option>
        <option value="confirm" ${queue.mode === "confirm" ? "selected" : ""}>wait until I confirm the bed is clear</option>
      </select>
    </label>
  </form>`
    : ""}
</div>
<p class="muted">${record.name} is ${status.state}${printing && status.job ? html` — printing <b>${status.job.file}</b>` : ""}. After a failed or cancelled print the queue always waits for you.</p>
${queue.notice ? html`<div class="queue-notice ${queue.notice.level}" role="status">${queue.notice.message} <span class="muted">${when(queue.notice.at)}</span></div>` : ""}
${queue.state === "awaiting-confirmation"
  ? html`<div class="confirm-bed" role="alert">
  <p><strong>${queue.current ?? "The last print"}</strong> ${queue.lastOutcome === "done" ? "is done" : queue.lastOutcome === "failed" ? "failed" : queue.lastOutcome === "cancelled" ? "was cancelled" : "ended"}.${may("POST /ui/queue/:id/confirm") ? " Remove it from the bed, then:" : ""}</p>
  ${may("POST /ui/queue/:id/confirm") ? html`<button class="primary" hx-post="${base}/confirm" hx-target="#queue-panel" ${printing ? "disabled" : ""} ${queue.items.length ? confirmStart(status, "Start the next print from the queue") : ""}>The bed is clear${queue.items.length ? " — start the next print" : ""}</button>` : ""}
</div>`
  : queue.items.length > 0 && !printing && may("POST /ui/queue/:id/start")
    ? html`<div class="buttons"><button class="primary" hx-post="${base}/start" hx-target="#queue-panel" ${confirmStart(status, "Start the queue")}>Start the queue</button></div>`
    : ""}
${queue.items.length === 0
  ? html`<p class="muted queue-empty">The queue is empty. Add files below or from the <a href="/files">files page</a>.</p>`
  : html`<table class="list queue-items"><thead><tr><th>#</th><th>File</th><th>Added</th><th></th></tr></thead><tbody>
${queue.items.map(
  (item, i) => html`<tr data-item="${item.id}" data-file="${item.file}">
  <td>${i + 1}</td>
  <td class="name">${item.file}${item.missing ? html` <span class="badge incomplete" title="Deleted since it was queued">missing — will be skipped</span>` : ""}</td>
  <td class="muted">${when(item.addedAt)}${item.addedBy ? ` by ${item.addedBy}` : ""}</td>
  <td class="actions">
    ${may("POST /ui/queue/:id/items/:item/move")
      ? moveButtons(`${base}/items/${item.id}/move`, item.file, i, last, "#queue-panel")
      : ""}
    ${may("POST /ui/queue/:id/items/:item/remove") ? html`<button class="danger" title="Remove" aria-label="Remove ${item.file}" hx-post="${base}/items/${item.id}/remove" hx-target="#queue-panel">✕</button>` : ""}
  </td>
</tr>`,
)}
</tbody></table>
${may("POST /ui/queue/:id/clear") ? html`<div class="buttons"><button hx-post="${base}/clear" hx-target="#queue-panel" hx-confirm="Remove every file from the queue?">Clear the queue</button></div>` : ""}`}
${may("POST /ui/queue/:id/add")
  ? html`<form class="queue-add" hx-post="${base}/add" hx-target="#queue-panel">
  ${fileChoice(files, "File to queue")}
  <button type="submit">Add to queue</button>
</form>`
  : ""}`;
}

/** Move up and down buttons of row `i` of a list (0…`last`) that posts `{to}` to `action` and swaps `target`. */
export function moveButtons(action: string, file: string, i: number, last: number, target: string): Html {
  return html`<button title="Move up" aria-label="Move ${file} up" hx-post="${action}" hx-vals='${JSON.stringify({ to: i - 1 })}' hx-target="${target}" ${i === 0 ? "disabled" : ""}>↑</button>
    <button title="Move down" aria-label="Move ${file} down" hx-post="${action}" hx-vals='${JSON.stringify({ to: i + 1 })}' hx-target="${target}" ${i === last ? "disabled" : ""}>↓</button>`;
}

/** The stored files to pick one from, for the add forms of a printer's queue and the farm queue. */
export function fileChoice(files: StoredFile[], label: string): Html {
  return html`<select name="file" aria-label="${label}" required>
    <option value="">Choose a file…</option>
    ${files.map((f) => html`<option value="${f.path}">${f.path}</option>`)}
  </select>`;
}
