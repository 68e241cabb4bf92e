/**
 * The SD card card: the card's files with Print and Delete, an upload's progress, and copying a
 * stored file to the card. The list is a fragment pushed when the card changes (`sd` over SSE);
 * the copy form when the stored files change (`sd-copy`), so a file just uploaded is offered.
 * Each control shows only for a viewer who may use it.
 */
import type { StoredFile } from "../src/files/storage.ts";
import type { Access } from "../src/server/auth/access.ts";
import { formatBytes, type PrinterView } from "./dashboard.ts";
import { html, type Html } from "./html.ts";
import { confirmStart } from "./job.ts";

/** The card's state: files, upload progress; re-rendered when it changes. */
export function sdList({ record, status }: PrinterView, access: Access): Html {
  const sd = status.sd;
  const id = record.id;
  const connected = status.state === "operational" || status.state === "printing" || status.state === "paused";
  if (!connected) return html`<p class="muted">Connect the printer to see its SD card.</p>`;
  const upload = sd.upload
    ? html`<div class="sd-upload" data-upload="${sd.upload.name}"><p>Copying <b>${sd.upload.file}</b> to the card as <b>${sd.upload.name}</b>…</p>
<progress max="100" value="${sd.upload.total ? ((sd.upload.bytes / sd.upload.total) * 100).toFixed(1) : "0"}"></progress>
<p class="muted">${formatBytes(sd.upload.bytes)} of ${formatBytes(sd.upload.total)}</p></div>`
    : "";
  if (!sd.available) return html`${upload}<p class="muted">No SD card, or it is not mounted.</p>`;
  if (sd.files.length === 0) return html`${upload}<p class="muted">The card has no G-code files.</p>`;
  const canPrint = status.state === "operational" && !sd.upload;
  const print = access.may("POST /ui/printers/:id/sd/print", id);
  const remove = access.may("POST /ui/printers/:id/sd/delete", id);
  return html`${upload}<table class="sd-files"><tbody>
${sd.files.map(
  (f) => html`<tr data-sd-file="${f.name}">
  <td class="name">${f.longName ?? f.name}${f.longName && f.longName !== f.name ? html` <span class="muted">${f.name}</span>` : ""}${f.incomplete ? html` <span class="badge incomplete" title="Its copy to the card stopped part-way: delete it or copy the file again">incomplete</span>` : ""}</td>
  <td class="size">${f.size === undefined ? "" : formatBytes(f.size)}</td>
  <td class="actions">
    ${print ? html`<button class="primary" ${canPrint && !f.incomplete ? "" : "disabled"} hx-post="/ui/printers/${id}/sd/print" hx-vals='${JSON.stringify({ name: f.name })}' hx-target="#live" ${confirmStart(status, `Print ${f.longName ?? f.name} from the SD card`)}>Print</button>` : ""}
    ${remove ? html`<button ${canPrint ? "" : "disabled"} hx-post="/ui/printers/${id}/sd/delete" hx-vals='${JSON.stringify({ name: f.name })}' hx-swap="none" hx-confirm="Delete ${f.longName ?? f.name} from the SD card?">Delete</button>` : ""}
  </td>
</tr>`,
)}
</tbody></table>`;
}

/** The whole card for the dashboard. */
export function sdCard(view: PrinterView, files: StoredFile[], access: Access): Html {
  const id = view.record.id;
  return html`<h2>SD card</h2>
<div id="sd" sse-swap="sd">${sdList(view, access)}</div>
${access.may("POST /ui/printers/:id/sd/refresh", id) ? html`<div class="buttons"><button hx-post="/ui/printers/${id}/sd/refresh" hx-swap="none">Refresh</button></div>` : ""}
<div id="sd-copy" sse-swap="sd-copy">${sdCopyForm(id, files, access)}</div>`;
}

/** Copying one of the stored files to the card (pushed again whenever they change). */
export function sdCopyForm(printerId: string, files: StoredFile[], access: Access): Html {
  if (!access.may("POST /ui/printers/:id/sd/upload", printerId)) return html``;
  return html`<form class="inline sd-copy" hx-post="/ui/printers/${printerId}/sd/upload" hx-swap="none">
  <label>Copy to card <select name="file" aria-label="File to copy to the SD card">${files.map((f) => html`<option value="${f.path}">${f.path}</option>`)}</select></label>
  <button type="submit" ${files.length ? "" : "disabled"}>Copy</button>
</form>`;
}
