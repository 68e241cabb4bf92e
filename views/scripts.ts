/**
 * A printer's G-code scripts page: one form per event (its title and when it runs, whether it is
 * the default, the text), Save and Reset to default, and the variables the scripts can read.
 * Each form answers with a fresh copy of itself, with the problem inline when the script does
 * not parse.
 */
import type { PrinterRecord } from "../src/printers/record.ts";
import type { Access } from "../src/server/auth/access.ts";
import { DEFAULT_SCRIPTS, SCRIPT_EVENTS, SCRIPT_VARIABLES, SCRIPTS, pluginsHave, type ScriptName } from "../src/jobs/scripts.ts";
import { html, type Html } from "./html.ts";
import { layout, type PageSession } from "./layout.ts";

export interface ScriptView {
  name: ScriptName;
  /** The text shown: the stored one, the default, or what the user typed when it did not parse. */
  text: string;
  isDefault: boolean;
  /** What happened on the last save: an error in words, or "saved" / "reset". */
  outcome?: { error: string } | "saved" | "reset";
}

export function scriptsPage(printer: PrinterRecord, scripts: ScriptView[], access: Access, session?: PageSession): Html {
  return layout(
    `Scripts · ${printer.name}`,
    html`<div class="settings-page scripts-page">
  <section class="card">
    <h1>G-code scripts <span class="muted">· ${printer.name}</span></h1>
    <p><a href="/?printer=${printer.id}">← Back to the dashboard</a></p>
    <p>G-code this printer runs at each step of a job. Plugins' lines for the same event follow yours.
    Write <code>{{ variable }}</code> to insert a value and <code>{% if … %}…{% else %}…{% endif %}</code> for conditions; the variables are listed below.
    A script is checked when you save it.</p>
  </section>
  ${scripts.map((s) => scriptForm(printer.id, s, access))}
  <section class="card script-variables">
    <h2>Variables</h2>
    <table><thead><tr><th>Variable</th><th>What it holds</th></tr></thead><tbody>
    ${SCRIPT_VARIABLES.map(([path, what]) => html`<tr><td><code>${path}</code></td><td>${what}</td></tr>`)}
    </tbody></table>
    <p class="muted">A variable with no value (e.g. <code>pause.x</code> when the position is not known) leaves its line out.</p>
  </section>
</div>`,
    html``,
    session,
  );
}

/** One event's form; it replaces itself with the answer. A viewer who may not change scripts reads them. */
export function scriptForm(printerId: string, s: ScriptView, access: Access): Html {
  const event = SCRIPT_EVENTS[s.name];
  const id = `script-${s.name}`;
  const outcome = s.outcome;
  const save = access.may("POST /ui/printers/:id/scripts", printerId);
  const reset = access.may("POST /ui/printers/:id/scripts/reset", printerId);
  return html`<form class="card script" id="${id}" data-event="${s.name}" ${save ? html`hx-post="/ui/printers/${printerId}/scripts" hx-target="this" hx-swap="outerHTML"` : ""}>
  <h2><label for="${id}-text">${event.title}</label> ${s.isDefault ? html`<span class="badge script-default">default</span>` : ""}</h2>
  <p class="muted">Runs ${event.when}.${pluginsHave(s.name) ? "" : " (The host's own event: plugins add nothing here.)"}</p>
  <input type="hidden" name="event" value="${s.name}">
  <textarea id="${id}-text" name="text" rows="${Math.min(16, Math.max(4, s.text.split("\n").length + 1))}" spellcheck="false" ${save ? "" : "readonly"}>${s.text}</textarea>
  ${typeof outcome === "object" ? html`<p class="error script-error" role="alert">${outcome.error}</p>` : ""}
  <div class="buttons">
    ${save ? html`<button type="submit" class="primary">Save</button>` : ""}
    ${reset ? html`<button type="button" ${s.isDefault ? "disabled" : ""} hx-post="/ui/printers/${printerId}/scripts/reset" hx-vals='${JSON.stringify({ event: s.name })}' hx-confirm="Put ${event.title.toLowerCase()} back to its default?">Reset to default</button>` : ""}
    ${outcome === "saved" ? html`<span class="saved">Saved.</span>` : outcome === "reset" ? html`<span class="saved">Back to the default.</span>` : ""}
  </div>
  ${DEFAULT_SCRIPTS[s.name] && !s.isDefault
    ? html`<details><summary>The default</summary><pre>${DEFAULT_SCRIPTS[s.name]}</pre></details>`
    : ""}
</form>`;
}

/** Every event's view from the stored scripts (missing = the default). */
export function scriptViews(stored: Partial<Record<ScriptName, string>>): ScriptView[] {
  return SCRIPTS.map((name) => ({ name, text: stored[name] ?? DEFAULT_SCRIPTS[name], isDefault: stored[name] === undefined }));
}
