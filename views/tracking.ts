/**
 * Anonymous usage statistics in the UI: the settings section (on/off, the registry, the exact
 * next payload, the last send), the first-run wizard's question, and the star button the plugin
 * browser shows beside a repository plugin.
 */
import type { TrackingStatus } from "../src/tracking/reporter.ts";
import type { Ping } from "../src/tracking/payload.ts";
import { utcMinute } from "./dashboard.ts";
import { html, type Html } from "./html.ts";
import { layout, settingsNav, type PageSession } from "./layout.ts";

const WHAT_IS_SENT = html`<ul class="tracking-what">
  <li>a random id made for this installation (it says nothing about you or your machine),</li>
  <li>the Layerline version, the operating system and processor type (e.g. linux, arm64),</li>
  <li>the installed plugins and their versions, and which were installed or removed,</li>
  <li>how many prints were started and finished (no file names, no times),</li>
  <li>the firmware family of your printers (e.g. marlin2).</li>
</ul>
<p class="muted">Never your IP address (the registry does not store it), file names, printer names, or anything personal. Plugin authors see the totals on the registry's website; it helps them know what is used.</p>`;

/** The exact JSON the next ping sends, as sent (indented for reading). */
export function payloadBlock(payload: Ping): Html {
  return html`<pre class="tracking-payload" data-payload>${JSON.stringify(payload, null, 2)}</pre>`;
}

export function trackingPage(status: TrackingStatus, session?: PageSession): Html {
  return layout("Usage statistics", html`${settingsNav(session, "/settings/tracking")}<div class="settings-page">${trackingSection(status)}</div>`, html``, session);
}

/** The settings section; its forms answer with a fresh copy of it. */
export function trackingSection(status: TrackingStatus): Html {
  const on = status.enabled === true;
  const last = status.lastSend;
  return html`<section class="card tracking" id="tracking-settings">
  <h2>Anonymous usage statistics <span class="badge ${on ? "state-operational" : ""}" data-state="${on ? "on" : "off"}">${on ? "on" : "off"}</span></h2>
  <p>${on ? "This host sends" : "When turned on, this host sends"} a small report to the plugin registry (${status.url}) every ${status.intervalHours} hours:</p>
  ${WHAT_IS_SENT}
  <form hx-post="/ui/tracking" hx-target="#tracking-settings" hx-swap="outerHTML" class="stack">
    <label class="check"><input type="radio" name="enabled" value="on"${on ? " checked" : ""}> Send anonymous usage statistics</label>
    <label class="check"><input type="radio" name="enabled" value="off"${on ? "" : " checked"}> Do not send anything</label>
    <label>Registry <input name="url" value="${status.url}" size="40" inputmode="url"></label>
    <div class="buttons"><button type="submit" class="primary">Save</button>
    ${on ? html`<button type="button" hx-post="/ui/tracking/send" hx-target="#tracking-settings" hx-swap="outerHTML">Send now</button>` : ""}</div>
  </form>
  ${last
    ? html`<p class="tracking-last ${last.ok ? "" : "warnings"}">${last.ok ? "Last report delivered" : "The last report failed"} ${utcMinute(last.at)} UTC${last.error ? html`: ${last.error}` : "."}</p>`
    : ""}
  <details ${on ? "" : "open"}><summary>Exactly what the next report contains</summary>${payloadBlock(status.payload)}</details>
  <p class="muted">This installation's random id is <code data-instance>${status.payload.instance}</code>.
  <button type="button" hx-post="/ui/tracking/reset-id" hx-target="#tracking-settings" hx-swap="outerHTML" hx-confirm="Make a new random id? The registry then counts this host as a new installation and cannot link it to the old one; your stars stay with the old id.">Make a new id</button></p>
</section>`;
}

/**
 * The first-run wizard's question (a fieldset for its form). The answer arrives as the form
 * field `tracking` ("on" or "off"; off is preselected unless `on`, the answer given before a
 * mistake in the form); pass it to `tracking.setEnabled(… === "on")`.
 */
export function trackingWizardFieldset(payload: Ping, legend = "Anonymous usage statistics", on = false): Html {
  return html`<fieldset class="stack tracking-choice"><legend>${legend}</legend>
  <p>Help plugin authors see which plugins are used: send a small anonymous report every few hours. You can change this any time in Settings.</p>
  ${WHAT_IS_SENT}
  <label class="check"><input type="radio" name="tracking" value="on"${on ? " checked" : ""}> Yes, send anonymous usage statistics</label>
  <label class="check"><input type="radio" name="tracking" value="off"${on ? "" : " checked"}> No, send nothing</label>
  <details><summary>Exactly what would be sent</summary>${payloadBlock(payload)}</details>
</fieldset>`;
}

/** The star button of a repository plugin; clicking swaps in the new state and count. */
export function starButton(plugin: string, starred: boolean, likes: number | null = null): Html {
  const vals = JSON.stringify({ plugin, starred: String(!starred) });
  return html`<button type="button" class="star${starred ? " starred" : ""}" data-plugin="${plugin}" aria-pressed="${String(starred)}"
  hx-post="/ui/tracking/star" hx-vals="${vals}" hx-swap="outerHTML" title="${starred ? "Remove your star" : "Star this plugin (one per installation)"}">${starred ? "★" : "☆"}${likes === null ? "" : html` <span class="likes">${likes}</span>`}</button>`;
}
