/**
 * A dialog the printer asks the user to answer (`//action:prompt_*`, e.g. after M0 or a
 * filament change); each button answers with M876 S<index>. Part of the live panel.
 */
import type { Access } from "../src/server/auth/access.ts";
import type { PrinterView } from "./dashboard.ts";
import { html, type Html } from "./html.ts";

/** The dialog; its answers only for a viewer who may answer. */
export function promptPanel({ record, status }: PrinterView, access: Access): Html {
  const p = status.prompt;
  if (!p) return html``;
  const buttons = p.buttons.length ? p.buttons : ["OK"];
  return html`<div class="prompt" role="alertdialog" aria-label="The printer asks">
  <p><strong>The printer asks:</strong> ${p.text}</p>
  ${access.may("POST /ui/printers/:id/prompt", record.id) ? html`<div class="buttons">${buttons.map(
    (label, i) => html`<button class="${i === 0 ? "primary" : ""}" hx-post="/ui/printers/${record.id}/prompt" hx-vals='${JSON.stringify({ choice: String(i) })}' hx-target="#live">${label}</button>`,
  )}</div>` : ""}
</div>`;
}
