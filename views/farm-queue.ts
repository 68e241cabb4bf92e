/**
 * The farm queue on the overview page (`/printers`): one queue for all printers — each entry's
 * file, copies (editable), how many printed and on which printers, why the rest waits, reorder
 * and remove; adding a stored file with a number of copies; the copies that ended lately. The
 * section is pushed again over the overview's SSE stream (`farm-queue`) when anything changes.
 * Each printer's card has its own farm controls (`farmCardControls`): "bed cleared" and auto-start.
 */
import type { FarmPrinterView, FarmQueueView, FarmRun } from "../src/farm/queue.ts";
import type { StoredFile } from "../src/files/storage.ts";
import type { Access } from "../src/server/auth/access.ts";
import { when } from "./history.ts";
import { html, type Html } from "./html.ts";
import { fileChoice, moveButtons } from "./queue.ts";

const OUTCOME_TEXT: Record<NonNullable<FarmRun["outcome"]>, string> = { done: "printed", cancelled: "cancelled", failed: "failed" };

/** The section's inner HTML: what is queued, who prints it, why the rest waits. */
export function farmQueuePanel(queue: FarmQueueView, files: StoredFile[], access: Access, mayChange: boolean): Html {
  const may = (route: string) => mayChange && access.may(route);
  const last = queue.items.length - 1;
  return html`<div class="head"><h2>Farm queue</h2></div>
<p class="muted">One queue for all printers: each file goes to the next free printer it fits, once its bed has been cleared after its last print (or the printer starts by itself).</p>
${queue.items.length === 0
  ? html`<p class="muted farm-empty">The farm queue is empty.</p>`
  : html`<table class="list queue-items farm-items"><thead><tr><th>#</th><th>File</th><th>Copies</th><th>Printers</th><th></th></tr></thead><tbody>
${queue.items.map(
  (item, i) => html`<tr data-item="${item.id}" data-file="${item.file}">
  <td>${i + 1}</td>
  <td class="name">${item.file}${item.missing ? html` <span class="badge incomplete" title="Deleted since it was queued">missing</span>` : ""}
    ${item.waiting ? html`<p class="farm-waiting muted" role="status">${item.waiting}</p>` : ""}</td>
  <td class="copies">${may("POST /ui/farm/queue/:item/copies")
    ? html`<form class="inline" hx-post="/ui/farm/queue/${item.id}/copies" hx-trigger="change" hx-target="#farm-queue"><input type="number" name="copies" min="${Math.max(1, item.printed + item.printing)}" max="1000" value="${item.copies}" aria-label="Copies of ${item.file}"></form>`
    : item.copies}
    <span class="muted farm-progress">${item.printed} printed${item.printing ? `, ${item.printing} printing` : ""}</span></td>
  <td class="farm-runs">${item.runs.length === 0 ? html`<span class="muted">—</span>` : item.runs.map((r) => runBadge(r))}</td>
  <td class="actions">
    ${may("POST /ui/farm/queue/:item/move")
      ? moveButtons(`/ui/farm/queue/${item.id}/move`, item.file, i, last, "#farm-queue")
      : ""}
    ${may("POST /ui/farm/queue/:item/remove") ? html`<button class="danger" title="Remove" aria-label="Remove ${item.file}" hx-post="/ui/farm/queue/${item.id}/remove" hx-target="#farm-queue">✕</button>` : ""}
  </td>
</tr>`,
)}
</tbody></table>`}
${may("POST /ui/farm/queue/add")
  ? html`<form class="queue-add farm-add" hx-post="/ui/farm/queue/add" hx-target="#farm-queue">
  ${fileChoice(files, "File for the farm queue")}
  <label>Copies <input type="number" name="copies" value="1" min="1" max="1000" aria-label="Copies"></label>
  <button type="submit">Add to the farm queue</button>
</form>`
  : ""}
${queue.recent.length
  ? html`<h3>Lately from the farm queue</h3><ul class="farm-recent">${queue.recent.map((r) => html`<li>${when(r.endedAt ?? r.startedAt)} · ${r.file} · ${runBadge(r)}${r.reason ? html` <span class="muted">${r.reason}</span>` : ""}</li>`)}</ul>`
  : ""}`;
}

function runBadge(r: FarmRun): Html {
  const kind = r.interrupted ? "interrupted" : (r.outcome ?? "printing");
  const what = r.interrupted ? "interrupted — resume or discard it there" : r.outcome ? OUTCOME_TEXT[r.outcome] : "printing";
  return html`<span class="badge farm-run ${kind}" data-printer="${r.printer}" data-outcome="${kind}">${r.printerName}: ${what}</span> `;
}

const BED_TEXT: Record<FarmPrinterView["bed"], string> = {
  clear: "Bed clear",
  printing: "Bed in use",
  printed: "Print on the bed",
  stopped: "Bed needs a look (the last print stopped)",
};

/** A printer card's farm line: its bed, "bed cleared" when it waits for one, and auto-start. */
export function farmCardControls(id: string, name: string, farm: Pick<FarmPrinterView, "bed" | "autoStart">, printing: boolean, access: Access): Html {
  const may = (route: string) => access.may(route, id);
  const waits = farm.bed === "stopped" || (farm.bed === "printed" && !farm.autoStart) || (farm.bed === "printing" && !printing);
  return html`<div class="card-farm" data-bed="${farm.bed}">
  <span class="${waits ? "card-attention" : "muted"}">${BED_TEXT[farm.bed]}</span>
  ${waits && may("POST /ui/printers/:id/bed-cleared") ? html`<button class="primary" hx-post="/ui/printers/${id}/bed-cleared" hx-swap="none" aria-label="The bed of ${name} is clear">Bed cleared</button>` : ""}
  ${may("POST /ui/printers/:id/farm/auto-start")
    ? html`<form class="inline farm-auto" hx-post="/ui/printers/${id}/farm/auto-start" hx-trigger="change" hx-swap="none"><label title="After a print that ended well, take the next farm print without waiting for the bed to be cleared (a belt printer, an ejecting bed)"><input type="checkbox" name="autoStart" value="on" ${farm.autoStart ? "checked" : ""}> Auto-start</label></form>`
    : ""}
</div>`;
}
