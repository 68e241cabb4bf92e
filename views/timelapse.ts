/**
 * Timelapses in the UI: the Timelapse page (videos to watch, download and delete; frame sets not
 * rendered, to render or delete; what the renderer does) and a printer's timelapse settings form
 * on its Camera page.
 */
import type { TimelapseConfig } from "../src/timelapse/config.ts";
import { RENDER_AFTER } from "../src/timelapse/config.ts";
import type { TimelapseListing } from "../src/timelapse/service.ts";
import type { Access } from "../src/server/auth/access.ts";
import { formatBytes, utcMinute } from "./dashboard.ts";
import { html, type Html } from "./html.ts";
import { layout, type PageSession } from "./layout.ts";
import { outcomeLine, type Outcome } from "./profile.ts";

export function timelapsePage(listing: TimelapseListing, names: Map<string, string>, access: Access, session?: PageSession): Html {
  return layout(
    "Timelapse",
    html`<div class="settings-page timelapse-page">
  <section class="card">
    <h1>Timelapse</h1>
    <p>Videos of prints, taken with each printer's camera as its timelapse settings say (a printer's
    <em>Camera</em> page: off, a frame per layer, or every few seconds). They are rendered with ffmpeg when the print ends —
    while no printer prints, unless a printer's settings say otherwise.</p>
  </section>
  <div id="timelapse-list" hx-get="/ui/timelapse/list" hx-trigger="every 3s" hx-swap="innerHTML">${timelapseList(listing, names, access)}</div>
</div>`,
    html``,
    session,
  );
}

const renderAfterWords: Record<TimelapseConfig["renderAfterPrint"], string> = {
  always: "after every print",
  success: "after successful prints",
  failure: "after failed or cancelled prints",
  never: "never (render by hand)",
};

/** The videos, the frame sets and the renderer's state (refreshed every few seconds). */
export function timelapseList(listing: TimelapseListing, names: Map<string, string>, access: Access): Html {
  const printerName = (id: string | null) => (id ? (names.get(id) ?? id) : "a removed printer");
  const remove = access.may("DELETE /api/v1/timelapse/files/:name");
  const manage = access.may("POST /api/v1/timelapse/unrendered/:name/render");
  const { render } = listing;
  return html`${render.ffmpeg ? "" : html`<p class="problem" role="alert"><strong>ffmpeg is not installed</strong> — frames are taken and kept, but not rendered. Install it with <code>sudo apt-get install ffmpeg</code>, then render them below.</p>`}
${render.current ? html`<p class="render-progress">Rendering ${render.current.set}: <progress max="100" value="${render.current.progress}"></progress> ${render.current.progress} %</p>` : ""}
${render.waiting ? html`<p class="muted">${render.waiting}</p>` : ""}
<section class="card timelapse-files">
  <h2>Videos</h2>
  ${listing.files.length === 0
    ? html`<p class="muted">No timelapse yet.</p>`
    : html`<div class="timelapse-grid">${listing.files.map(
        (f) => html`<figure class="timelapse" data-name="${f.name}">
    <video controls preload="none" ${f.thumbnail ? html`poster="/api/v1/timelapse/files/${encodeURIComponent(f.name)}/thumbnail"` : ""} src="/api/v1/timelapse/files/${encodeURIComponent(f.name)}"></video>
    <figcaption><strong>${f.name}</strong><br><span class="muted">${printerName(f.printer)} · ${utcMinute(f.date)} UTC · ${formatBytes(f.bytes)}</span>
      <span class="buttons"><a class="button" href="/api/v1/timelapse/files/${encodeURIComponent(f.name)}" download>Download</a>
      ${remove ? html`<button hx-post="/ui/timelapse/files/${encodeURIComponent(f.name)}/delete" hx-target="#timelapse-list" hx-confirm="Delete ${f.name}?">Delete</button>` : ""}</span>
    </figcaption>
  </figure>`,
      )}</div>`}
</section>
<section class="card timelapse-unrendered">
  <h2>Not rendered</h2>
  ${listing.unrendered.length === 0
    ? html`<p class="muted">Every timelapse is rendered.</p>`
    : html`<table><thead><tr><th>Frames of</th><th>Printer</th><th>Frames</th><th>Size</th><th></th></tr></thead><tbody>
  ${listing.unrendered.map(
    (s) => html`<tr data-set="${s.name}"><td>${s.file} <span class="muted">${utcMinute(s.startedAt)} UTC</span>
      ${s.recording ? html`<span class="badge state-printing">recording</span>` : s.rendering ? html`<span class="badge">rendering</span>` : ""}
      ${s.failed ? html`<br><span class="muted">${s.failed} capture(s) failed: ${s.lastError ?? ""}</span>` : ""}
      ${s.renderError ? html`<br><span class="error">${s.renderError}</span>` : ""}</td>
    <td>${printerName(s.printer)}</td><td>${s.frames}</td><td>${formatBytes(s.bytes)}</td>
    <td class="buttons">${manage && !s.recording && !s.rendering
      ? html`<button class="primary" hx-post="/ui/timelapse/unrendered/${s.name}/render" hx-target="#timelapse-list">Render</button>
      <button hx-post="/ui/timelapse/unrendered/${s.name}/delete" hx-target="#timelapse-list" hx-confirm="Delete the ${s.frames} frames of ${s.file}?">Delete</button>`
      : ""}</td></tr>`,
  )}
  </tbody></table>`}
</section>`;
}

/** A printer's timelapse settings; answers a save with a fresh copy of itself. */
export function timelapseForm(printerId: string, c: TimelapseConfig, access: Access, outcome?: Outcome): Html {
  const save = access.may("POST /ui/printers/:id/timelapse", printerId);
  const fields = html`<div class="fields">
    <label>Frames <select name="mode">
      <option value="off" ${c.mode === "off" ? "selected" : ""}>off</option>
      <option value="layer" ${c.mode === "layer" ? "selected" : ""}>one per layer</option>
      <option value="timed" ${c.mode === "timed" ? "selected" : ""}>every few seconds</option>
    </select></label>
    <label>Every (s, timed) <input type="number" name="interval" min="1" max="3600" step="any" value="${c.interval}"></label>
    <label>At least (s) between layer frames <input type="number" name="minDelay" min="0" max="600" step="any" value="${c.minDelay}"></label>
    <label>Frames per second <input type="number" name="fps" min="1" max="60" step="1" value="${c.fps}"></label>
    <label>Show the last frame for (s) <input type="number" name="postRoll" min="0" max="30" step="any" value="${c.postRoll}"></label>
    <label>Render <select name="renderAfterPrint">${RENDER_AFTER.map((r) => html`<option value="${r}" ${r === c.renderAfterPrint ? "selected" : ""}>${renderAfterWords[r]}</option>`)}</select></label>
    <label class="check"><input type="checkbox" name="postponeWhilePrinting" ${c.postponeWhilePrinting ? "checked" : ""}> Render only while no printer prints</label>
  </div>`;
  return html`<form class="card timelapse-settings" id="timelapse-form" ${save ? html`hx-post="/ui/printers/${printerId}/timelapse" hx-target="this" hx-swap="outerHTML"` : ""}>
  <h2>Timelapse <a class="more" href="/timelapse">videos →</a></h2>
  ${save ? fields : html`<fieldset class="bare" disabled>${fields}</fieldset>`}
  ${outcomeLine(outcome)}
  ${save ? html`<div class="buttons"><button type="submit" class="primary">Save</button></div>` : ""}
</form>`;
}
