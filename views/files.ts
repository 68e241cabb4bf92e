/**
 * The files page: a folder tree, upload (button or drag and drop, with a progress bar), the file
 * table with search and sorting, and a detail pane with the thumbnail, the slicer's figures
 * beside ours, dimensions, filament per tool, layers, objects and the actions.
 * The table reloads itself when the server pushes a `files` event (`/ui/files/events`).
 */
import type { AnalysisResult } from "../src/analysis/result.ts";
import type { AnalysisView, FileEntry, ListQuery } from "../src/files/catalog.ts";
import { fileUrl } from "../src/files/catalog.ts";
import type { StoredFolder } from "../src/files/storage.ts";
import type { PrinterRecord } from "../src/printers/record.ts";
import type { PrinterStatus } from "../src/printers/status.ts";
import type { Access } from "../src/server/auth/access.ts";
import { formatBytes, formatDuration } from "./dashboard.ts";
import { html, type Html } from "./html.ts";
import { confirmStart } from "./job.ts";
import { layout, STREAM_IN_CONTENT, viewerChangedListener, type PageSession } from "./layout.ts";

export interface PrinterChoice {
  record: PrinterRecord;
  status: PrinterStatus;
}

const SORTS: [NonNullable<ListQuery["sort"]>, string][] = [
  ["date", "Newest"],
  ["name", "Name"],
  ["size", "Size"],
  ["time", "Print time"],
];

/** The whole page; its forms and the detail pane's actions only for a viewer who may use them. */
export function filesPage(entries: FileEntry[], folders: StoredFolder[], query: ListQuery, space: { free: number; total: number }, onlyWhenIdle: boolean, access: Access, session?: PageSession): Html {
  return layout(
    "Files",
    html`<div class="files-page" hx-ext="sse" sse-connect="/ui/files/events">
  ${viewerChangedListener}
  <aside class="card folders">
    <h2>Folders</h2>
    <div id="folder-tree" hx-get="/ui/files/folders" hx-trigger="sse:files" hx-include="#file-query">${folderTree(folders, query.folder)}</div>
    ${access.may("POST /ui/files/folder")
      ? html`<form class="new-folder" hx-post="/ui/files/folder" hx-swap="none" hx-on::after-request="if(event.detail.successful) this.reset()">
      <input name="folder" placeholder="New folder, e.g. parts/brackets" aria-label="New folder" required>
      <button type="submit">Create</button>
    </form>`
      : ""}
    <p class="muted space">${formatBytes(space.free)} free of ${formatBytes(space.total)}</p>
    ${access.may("POST /ui/files/settings")
      ? html`<form class="analysis-settings" hx-post="/ui/files/settings" hx-trigger="change" hx-swap="none">
      <label><input type="checkbox" name="onlyWhenIdle" value="true" ${onlyWhenIdle ? "checked" : ""}> Analyse only while no printer is printing</label>
    </form>`
      : ""}
  </aside>
  <section class="card browser">
    <form id="file-query" class="query" hx-get="/ui/files/list" hx-target="#file-table" hx-trigger="input changed delay:250ms from:input[name=q], change from:select" hx-push-url="false">
      <input type="search" name="q" value="${query.q ?? ""}" placeholder="Search by name" aria-label="Search by name" autocomplete="off">
      <select name="sort" aria-label="Sort by">${SORTS.map(([key, label]) => html`<option value="${key}" ${key === (query.sort ?? "date") ? "selected" : ""}>${label}</option>`)}</select>
      <select name="order" aria-label="Order">
        <option value="" ${!query.order ? "selected" : ""}>Default order</option>
        <option value="asc" ${query.order === "asc" ? "selected" : ""}>Ascending</option>
        <option value="desc" ${query.order === "desc" ? "selected" : ""}>Descending</option>
      </select>
      <input type="hidden" name="folder" value="${folderParam(query.folder)}">
    </form>
    ${access.may("POST /ui/files/upload")
      ? html`<form id="file-upload" class="upload dropzone" hx-post="/ui/files/upload" hx-encoding="multipart/form-data" hx-target="#file-table" hx-include="#file-query" hx-on::after-request="if(event.detail.successful) this.reset()">
      <input type="hidden" name="path" value="${query.folder ?? ""}">
      <input type="file" name="file" accept=".gcode,.gco,.g" required aria-label="G-code file">
      <button type="submit" class="primary">Upload</button>
      <span class="muted">or drop a file here${query.folder ? html` (into <b>${query.folder}</b>)` : ""}</span>
      <progress class="upload-progress" value="0" max="100" hidden></progress>
    </form>`
      : ""}
    <div id="file-table" hx-get="/ui/files/list" hx-trigger="sse:files" hx-include="#file-query">${fileTable(entries)}</div>
  </section>
  <section class="card detail" id="file-detail"><p class="muted">Choose a file to see its details.</p></section>
</div>`,
    html``,
    session,
    STREAM_IN_CONTENT,
  );
}

/** The `folder` query value: empty for all files, "/" for the top level, else the path. */
const folderParam = (folder: string | undefined) => (folder === undefined ? "" : folder === "" ? "/" : folder);

/** Folder links; the current one is marked. */
export function folderTree(folders: StoredFolder[], current: string | undefined): Html {
  const link = (path: string | undefined, label: string, depth: number) =>
    html`<li style="--depth:${depth}"><a href="/files${path === undefined ? "" : `?folder=${encodeURIComponent(folderParam(path))}`}" class="${path === current ? "active" : ""}" data-folder="${path ?? "*"}">${label}</a></li>`;
  return html`<ul class="tree">
  ${link(undefined, "All files", 0)}
  ${link("", "Top level", 0)}
  ${folders.map((f) => link(f.path, f.name, f.path.split("/").length))}
</ul>`;
}

/** The table of files (re-rendered on search, sort and pushed changes). */
export function fileTable(entries: FileEntry[]): Html {
  if (entries.length === 0) return html`<p class="muted">No files here. Upload G-code from your slicer.</p>`;
  return html`<table class="file-table"><thead><tr><th></th><th>Name</th><th>Size</th><th>Print time</th><th>Layers</th><th>Filament</th></tr></thead><tbody>
${entries.map((f) => fileRow(f))}
</tbody></table>`;
}

function fileRow(f: FileEntry): Html {
  const thumb = [...f.thumbnails].sort((a, b) => a.width - b.width).find((t) => t.width >= 48) ?? f.thumbnails[0];
  const a = f.analysis;
  return html`<tr data-file="${f.path}" data-analysis="${a.state}">
  <td class="thumb">${thumb ? html`<img src="${thumb.url}" alt="" width="48" height="${Math.round((48 * thumb.height) / thumb.width)}" loading="lazy">` : ""}</td>
  <td class="name"><a href="#" hx-get="/ui/files/detail?path=${encodeURIComponent(f.path)}" hx-target="#file-detail">${f.name}</a>${f.duplicates.length > 0 ? html` <span class="badge" title="Same content as ${f.duplicates.join(", ")}">duplicate</span>` : ""}${f.folder ? html`<div class="folder muted">${f.folder}/</div>` : ""}</td>
  <td class="size">${formatBytes(f.size)}</td>
  ${analysisCells(a, f.path)}
</tr>`;
}

/** The layer viewer of a file (views/layer-view.ts). */
export const viewerUrl = (path: string) => `/files/viewer?path=${encodeURIComponent(path)}`;

function analysisCells(a: AnalysisView, path: string): Html {
  switch (a.state) {
    case "done":
      return html`<td class="time">${formatDuration(a.summary.estimatedTime)}</td><td class="layers">${a.summary.layerCount > 0 ? html`<a href="${viewerUrl(path)}" title="View the layers">${a.summary.layerCount}</a>` : 0}</td><td>${formatFilament(a.summary.filament.reduce((n, f) => n + f.length, 0))}</td>`;
    case "error":
      return html`<td colspan="3" class="analysis-error" title="${a.error.hint}">${a.error.message}</td>`;
    case "analysing":
    case "paused":
      return html`<td colspan="3"><progress class="analysis-progress" max="${a.total}" value="${a.done}"></progress> <span class="muted">${a.state === "paused" ? "paused while printing" : "analysing"}</span></td>`;
    case "queued":
      return html`<td colspan="3" class="muted">waiting for analysis</td>`;
    default:
      return html`<td colspan="3" class="muted">not analysed</td>`;
  }
}

const formatFilament = (mm: number) => (mm >= 1000 ? `${(mm / 1000).toFixed(2)} m` : `${mm.toFixed(0)} mm`);
const dash = "–";
const num = (n: number | null | undefined, digits = 2, unit = "") => (n === null || n === undefined ? dash : `${Number(n.toFixed(digits))}${unit}`);

/** The detail pane of one file. */
export function fileDetail(f: FileEntry, result: AnalysisResult | undefined, printers: PrinterChoice[], access: Access): Html {
  const largest = f.thumbnails[0];
  const s = result?.slicer;
  const path = JSON.stringify({ path: f.path });
  // Ours as the slicer counts it (without the custom start/end G-code), and that G-code's share.
  const totalOurs = result ? result.filament.reduce((n, t) => n + t.length - t.custom, 0) : null;
  const customOurs = result ? result.filament.reduce((n, t) => n + t.custom, 0) : 0;
  const slicerFilament = s?.filamentUsedMm ? s.filamentUsedMm.reduce((n, v) => n + v, 0) : null;
  return html`<div class="detail-body" data-detail="${f.path}">
  <div class="detail-head">
    ${largest ? html`<img class="preview" src="${largest.url}" alt="Preview of ${f.name}" width="${largest.width}" height="${largest.height}">` : html`<div class="preview none">no thumbnail</div>`}
    <div>
      <h2>${f.name}</h2>
      <p class="muted">${f.folder ? html`in <b>${f.folder}</b> · ` : ""}${formatBytes(f.size)}${s?.slicer ? html` · ${s.slicer} ${s.slicerVersion ?? ""}` : ""}</p>
      ${f.duplicates.length > 0 ? html`<p class="muted">Same content as ${f.duplicates.join(", ")}</p>` : ""}
      ${f.analysis.state === "error" ? html`<div class="problem" role="alert"><strong>${f.analysis.error.message}</strong> ${f.analysis.error.hint}</div>` : ""}
      ${f.analysis.state === "queued" || f.analysis.state === "analysing" || f.analysis.state === "paused" ? html`<p class="muted">The analysis is ${f.analysis.state === "queued" ? "waiting" : f.analysis.state}…</p>` : ""}
    </div>
  </div>
  ${actions(f, printers, path, access)}
  ${result && s
    ? html`<h3>Slicer and Layerline</h3>
  <table class="compare">
    <thead><tr><th></th><th>Slicer</th><th>Layerline</th></tr></thead>
    <tbody>
      <tr data-row="time"><th>Print time</th><td>${s.estimatedTime === null ? dash : formatDuration(s.estimatedTime)}</td><td>${formatDuration(result.estimatedTime)}${result.heatUp.estimatedSeconds > 0 ? html` <span class="muted">+ ~${formatDuration(result.heatUp.estimatedSeconds)} heating</span>` : ""}</td></tr>
      <tr data-row="filament"><th>Filament</th><td>${slicerFilament === null ? dash : formatFilament(slicerFilament)}${s.filamentWeightTotalG ? ` · ${num(s.filamentWeightTotalG)} g` : ""}</td><td>${totalOurs === null ? dash : formatFilament(totalOurs)}${customOurs > 0 ? html` <span class="muted">+ ${formatFilament(customOurs)} start/end G-code</span>` : ""}${result.filament.some((t) => t.weight !== null) ? ` · ${num(result.filament.reduce((n, t) => n + (t.weight ?? 0), 0))} g` : ""}</td></tr>
      <tr data-row="layers"><th>Layers</th><td>${s.layerCount ?? dash}</td><td>${result.layerCount}</td></tr>
      <tr><th>Layer height</th><td>${num(s.layerHeight, 3, " mm")}</td><td>${num(result.layerHeight, 3, " mm")}</td></tr>
      <tr><th>First layer</th><td>${num(s.firstLayerHeight, 3, " mm")}</td><td>${num(result.firstLayerHeight, 3, " mm")}</td></tr>
      <tr><th>Object height</th><td>${num(s.objectHeight, 2, " mm")}</td><td>${result.printingArea ? num(result.printingArea.maxZ, 2, " mm") : dash}</td></tr>
      <tr><th>Nozzle</th><td>${num(s.nozzleDiameter, 2, " mm")}</td><td>${dash}</td></tr>
      <tr><th>Temperatures</th><td>${temps(s.temperatures)}</td><td>${result.heatUp.waits.map((w) => `${w.heater === "tool" ? `T${w.tool}` : w.heater} ${w.target} °C`).join(", ") || dash}</td></tr>
      <tr><th>Filament type</th><td>${s.filamentType.filter((t, i, all) => all.indexOf(t) === i).join(", ") || dash}${s.filamentColour.length > 0 ? html` ${s.filamentColour.slice(0, result.filament.length || 1).map((c) => html`<span class="swatch" style="background:${/^#[0-9a-f]{3,8}$/i.test(c) ? c : "transparent"}" title="${c}"></span>`)}` : ""}</td><td>${dash}</td></tr>
    </tbody>
  </table>
  <h3>Dimensions</h3>
  ${result.dimensions
    ? html`<p data-row="dimensions">${num(result.dimensions.width)} × ${num(result.dimensions.depth)} × ${num(result.dimensions.height)} mm
      <span class="muted">(X ${num(result.printingArea!.minX)}…${num(result.printingArea!.maxX)}, Y ${num(result.printingArea!.minY)}…${num(result.printingArea!.maxY)}, Z ${num(result.printingArea!.minZ)}…${num(result.printingArea!.maxZ)})</span></p>`
    : html`<p class="muted">Nothing is extruded.</p>`}
  <h3>Filament per tool</h3>
  <table class="tools"><thead><tr><th>Tool</th><th>Printed</th><th>Start/end G-code</th><th>Total volume</th><th>Total weight</th><th>Slicer</th></tr></thead><tbody>
    ${result.filament.map((t) => html`<tr data-tool="${t.tool}"><td>T${t.tool}</td><td class="printed">${formatFilament(t.length - t.custom)}</td><td>${t.custom > 0 ? formatFilament(t.custom) : dash}</td><td>${num(t.volume, 2, " cm³")}</td><td>${num(t.weight, 2, " g")}</td><td class="slicer">${s.filamentUsedMm?.[t.tool] !== undefined ? formatFilament(s.filamentUsedMm[t.tool]!) : dash}</td></tr>`)}
  </tbody></table>
  ${result.objects.length > 0
    ? html`<h3>Objects</h3><table class="objects"><thead><tr><th>Name</th><th>Size</th><th>Filament</th></tr></thead><tbody>
    ${result.objects.map((o) => html`<tr><td>${o.name}</td><td>${o.box ? `${num(o.box.maxX - o.box.minX, 1)} × ${num(o.box.maxY - o.box.minY, 1)} × ${num(o.box.maxZ - o.box.minZ, 1)} mm` : dash}</td><td>${formatFilament(o.filament)}</td></tr>`)}
    </tbody></table>`
    : ""}
  <h3>Layers</h3>
  ${layerSummary(result)}
  ${result.warnings.length > 0 ? html`<h3>Warnings</h3><ul class="warnings">${result.warnings.map((w) => html`<li>${w}</li>`)}</ul>` : ""}`
    : ""}
</div>`;
}

function temps(t: AnalysisResult["slicer"]["temperatures"]): string {
  const parts = [
    t.firstLayerNozzle !== null ? `nozzle ${t.firstLayerNozzle}${t.nozzle !== null && t.nozzle !== t.firstLayerNozzle ? `/${t.nozzle}` : ""} °C` : "",
    t.firstLayerBed !== null ? `bed ${t.firstLayerBed}${t.bed !== null && t.bed !== t.firstLayerBed ? `/${t.bed}` : ""} °C` : "",
    t.chamber !== null ? `chamber ${t.chamber} °C` : "",
  ].filter(Boolean);
  return parts.join(", ") || dash;
}

/** Layer count, heights and when each layer starts (first ones and the last). */
function layerSummary(r: AnalysisResult): Html {
  if (r.layers.length === 0) return html`<p class="muted">No layers.</p>`;
  const shown = r.layers.length > 12 ? [...r.layers.slice(0, 8).map((l, i) => [i, l] as const), ...r.layers.slice(-3).map((l, i) => [r.layers.length - 3 + i, l] as const)] : r.layers.map((l, i) => [i, l] as const);
  return html`<p>${r.layerCount} layers from ${r.layerSource === "markers" ? "the slicer's layer markers" : "the heights of the extrusion moves"}, top at ${num(r.layers.at(-1)!.z, 2)} mm.</p>
<table class="layers"><thead><tr><th>#</th><th>Z</th><th>Height</th><th>Starts after</th></tr></thead><tbody>
${shown.map(([i, l], k) => html`${k > 0 && i !== shown[k - 1]![0] + 1 ? html`<tr><td colspan="4" class="muted">…</td></tr>` : ""}<tr><td>${i + 1}</td><td>${num(l.z, 2)}</td><td>${num(l.height, 2)}</td><td>${formatDuration(l.elapsed)}</td></tr>`)}
</tbody></table>`;
}

function actions(f: FileEntry, printers: PrinterChoice[], path: string, access: Access): Html {
  const folder = f.folder ? `${f.folder}/` : "";
  const may = (route: string) => access.may(route);
  return html`<div class="file-actions">
  ${may("POST /ui/files/print")
    ? html`<form class="inline print" hx-post="/ui/files/print" hx-swap="none">
    <input type="hidden" name="path" value="${f.path}">
    <select name="printer" aria-label="Printer">${printers.map((p) => html`<option value="${p.record.id}" ${p.status.state === "operational" ? "" : "disabled"} ${confirmStart(p.status, `Print ${f.path} on ${p.record.name}`, "data-confirm")}>${p.record.name} (${p.status.state})</option>`)}</select>
    <button type="submit" class="primary" ${printers.some((p) => p.status.state === "operational") ? "" : "disabled"}>Print</button>
  </form>`
    : ""}
  ${may("POST /ui/queue/add")
    ? html`<form class="inline queue" hx-post="/ui/queue/add" hx-swap="none">
    <input type="hidden" name="file" value="${f.path}">
    <select name="printer" aria-label="Queue on printer">${printers.map((p) => html`<option value="${p.record.id}">${p.record.name}</option>`)}</select>
    <button type="submit">Add to queue</button>
  </form>`
    : ""}
  ${may("POST /ui/files/rename")
    ? html`<form class="inline" hx-post="/ui/files/rename" hx-target="#file-detail">
    <input type="hidden" name="path" value="${f.path}">
    <input name="name" value="${f.name}" aria-label="New name" required>
    <button type="submit">Rename</button>
  </form>`
    : ""}
  ${may("POST /ui/files/move")
    ? html`<form class="inline" hx-post="/ui/files/move" hx-target="#file-detail">
    <input type="hidden" name="path" value="${f.path}">
    <input name="destination" value="${folder}" placeholder="folder/" aria-label="Move to folder">
    <button type="submit" name="mode" value="move">Move</button>
    <button type="submit" name="mode" value="copy">Copy</button>
  </form>`
    : ""}
  <div class="buttons">
    <a class="button" href="${fileUrl(f.path, "/content")}" download>Download</a>
    <a class="button view-layers" href="${viewerUrl(f.path)}">View layers</a>
    ${may("POST /ui/files/analyse") ? html`<button hx-post="/ui/files/analyse" hx-vals='${path}' hx-target="#file-detail">Analyse again</button>` : ""}
    ${may("POST /ui/files/remove") ? html`<button class="danger" hx-post="/ui/files/remove" hx-vals='${path}' hx-target="#file-detail" hx-confirm="Delete ${f.path}?">Delete</button>` : ""}
  </div>
  <div class="plugin-file-actions" hx-get="/ui/plugins/slot/file.actions?path=${encodeURIComponent(f.path)}" hx-trigger="load"></div>
</div>`;
}
