/**
 * The layer viewer (OctoPrint's "GCode Viewer"): one layer of a file seen from above as
 * server-rendered SVG — the bed from the printer's profile, the layer's extrusions in a colour per
 * tool, the layer before it faintly beneath, travel moves when asked for — with a slider, a number
 * box, previous/next buttons and the arrow keys (public/app.js) to move through the layers.
 *
 * While the file prints, the part of a layer already sent to the printer is drawn solid and the
 * rest faint, and with "Follow the print" the viewer moves to the current layer. The page's SSE
 * stream says when the print moved on (`layer-progress`, at most once a second); the viewer then
 * asks for its own fragment (`/ui/files/viewer/layer`, with what it shows, so an unchanged
 * picture answers 204 and nothing is sent). A viewer that follows a printer shows the file of each
 * new print there; one waiting for its file's analysis shows how far it is and its layers once done.
 */
import type { Box2, Polyline, Toolpath } from "../src/toolpath/toolpath.ts";
import { formatDuration } from "./dashboard.ts";
import { html, raw, type Html } from "./html.ts";
import { layout, STREAM_IN_CONTENT, viewerChangedListener, type PageSession } from "./layout.ts";

/** Tool colours (T0, T1, …; repeating after eight). */
export const TOOL_COLOURS = ["#1f6feb", "#d1242f", "#1a7f37", "#bf8700", "#8250df", "#bf3989", "#0a7a8a", "#57606a"];

/** The bed as the printer's profile describes it. */
export interface Bed {
  width: number;
  depth: number;
  origin: "lowerleft" | "center";
  circular: boolean;
}

/** The bed's extent in file coordinates. */
export function bedArea(bed: Bed): Box2 {
  return bed.origin === "center"
    ? { minX: -bed.width / 2, maxX: bed.width / 2, minY: -bed.depth / 2, maxY: bed.depth / 2 }
    : { minX: 0, maxX: bed.width, minY: 0, maxY: bed.depth };
}

/**
 * What the SVG shows, in file coordinates: the bed and the file's printing area, each side at
 * most one bed size beyond the bed (so a hostile far-away move cannot shrink the print to a dot),
 * with a small margin; `zoom`: the printing area alone. The same for every layer of a file, so the
 * picture does not jump.
 */
export function viewArea(bed: Bed, printing: Box2 | null, zoom = false): Box2 {
  const b = bedArea(bed);
  const area = { ...b };
  if (printing && zoom) {
    // At least a centimetre square around the print's middle (a print that is a single line).
    const cx = (printing.minX + printing.maxX) / 2;
    const cy = (printing.minY + printing.maxY) / 2;
    const half = Math.max(5, (printing.maxX - printing.minX) / 2, (printing.maxY - printing.minY) / 2);
    area.minX = Math.max(cx - half, b.minX - bed.width);
    area.maxX = Math.min(cx + half, b.maxX + bed.width);
    area.minY = Math.max(cy - half, b.minY - bed.depth);
    area.maxY = Math.min(cy + half, b.maxY + bed.depth);
  } else if (printing) {
    area.minX = Math.max(Math.min(area.minX, printing.minX), b.minX - bed.width);
    area.maxX = Math.min(Math.max(area.maxX, printing.maxX), b.maxX + bed.width);
    area.minY = Math.max(Math.min(area.minY, printing.minY), b.minY - bed.depth);
    area.maxY = Math.min(Math.max(area.maxY, printing.maxY), b.maxY + bed.depth);
  }
  const margin = Math.max(area.maxX - area.minX, area.maxY - area.minY) * 0.03;
  return { minX: area.minX - margin, maxX: area.maxX + margin, minY: area.minY - margin, maxY: area.maxY + margin };
}

export interface LayerDrawing {
  bed: Bed;
  view: Box2;
  layer: Toolpath;
  previous: Toolpath | null;
  travel: boolean;
  /** The file offset the printer has acknowledged (a live print), or null: all drawn as printed. */
  sent: number | null;
  /** Extrusion width in mm (the nozzle). */
  nozzle: number;
  /** 1-based layer number and count, for the label. */
  number: number;
  count: number;
}

/** Hundredths of a millimetre as SVG path numbers: 1234 → "12.34", -5 → "-.05". */
function num(hundredths: number): string {
  const text = String(hundredths / 100);
  return text.startsWith("0.") ? text.slice(1) : text.startsWith("-0.") ? `-${text.slice(2)}` : text;
}

/** Path data for points [from, to] of a polyline (y flipped: the bed's Y runs up the picture), relative moves. */
function pathData(p: Polyline, from: number, to: number): string {
  const xy = p.xy;
  let px = Math.round(xy[2 * from]! * 100);
  let py = Math.round(-xy[2 * from + 1]! * 100);
  let d = `M${num(px)} ${num(py)}l`;
  for (let i = from + 1; i <= to; i++) {
    const x = Math.round(xy[2 * i]! * 100);
    const y = Math.round(-xy[2 * i + 1]! * 100);
    const dx = num(x - px);
    const dy = num(y - py);
    d += `${i > from + 1 && !dx.startsWith("-") ? " " : ""}${dx}${dy.startsWith("-") ? "" : " "}${dy}`;
    px = x;
    py = y;
  }
  return d;
}

/**
 * How many segments of the layer's extrusions the printer has been sent (their line acknowledged)
 * by offset `sent`; all of them when `sent` is null.
 */
export function sentSegments(layer: Toolpath, sent: number | null): number {
  let n = 0;
  for (const p of layer.extrusions) n += sent === null ? p.ends.length : sentIn(p, sent);
  return n;
}

/** Segments of `p` whose line ends at or before `sent` (the ends ascend along a polyline). */
function sentIn(p: Polyline, sent: number): number {
  let lo = 0;
  let hi = p.ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (p.ends[mid]! <= sent) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const round = (n: number) => Math.round(n * 100) / 100;

/** The layer as SVG: bed, origin, the previous layer, travel moves, extrusions (sent solid, the rest faint). */
export function layerSvg(d: LayerDrawing): Html {
  const { view, bed } = d;
  const w = view.maxX - view.minX;
  const h = view.maxY - view.minY;
  const span = Math.max(w, h);
  // The nozzle's width where it shows; never thinner than about a pixel of a 600-pixel picture.
  const width = round(Math.max(d.nozzle, span / 600));
  const thin = round(Math.max(d.nozzle / 3, span / 1200));
  const b = bedArea(bed);
  const axis = round(Math.min(bed.width, bed.depth) / 12);
  const byTool = new Map<number, { done: string[]; pending: string[] }>();
  let done = 0;
  let pending = 0;
  for (const p of d.layer.extrusions) {
    const split = d.sent === null ? p.ends.length : sentIn(p, d.sent);
    const parts = byTool.get(p.tool) ?? { done: [], pending: [] };
    byTool.set(p.tool, parts);
    if (split > 0) parts.done.push(pathData(p, 0, split));
    if (split < p.ends.length) parts.pending.push(pathData(p, split, p.ends.length));
    done += split;
    pending += p.ends.length - split;
  }
  const tools = [...byTool.keys()].sort((a, c) => a - c);
  const colour = (tool: number) => TOOL_COLOURS[tool % TOOL_COLOURS.length]!;
  return html`<svg class="layer-svg" viewBox="${round(view.minX)} ${round(-view.maxY)} ${round(w)} ${round(h)}" preserveAspectRatio="xMidYMid meet" role="img" aria-label="Layer ${d.number} of ${d.count} seen from above" data-layer="${d.number}" data-done="${done}" data-pending="${pending}">
  <g class="bed">
    ${bed.circular
      ? html`<ellipse cx="${round((b.minX + b.maxX) / 2)}" cy="${round(-(b.minY + b.maxY) / 2)}" rx="${round(bed.width / 2)}" ry="${round(bed.depth / 2)}" fill="#f6f7f9" stroke="#c9ced6" stroke-width="${thin}"></ellipse>`
      : html`<rect x="${round(b.minX)}" y="${round(-b.maxY)}" width="${round(bed.width)}" height="${round(bed.depth)}" fill="#f6f7f9" stroke="#c9ced6" stroke-width="${thin}"></rect>`}
    <g class="origin" stroke-width="${thin}"><title>Origin (0, 0)</title><line x1="0" y1="0" x2="${axis}" y2="0" stroke="#d1242f"></line><line x1="0" y1="0" x2="0" y2="${-axis}" stroke="#1a7f37"></line></g>
  </g>
  ${d.previous && d.previous.extrusions.length > 0
    ? html`<g class="previous" fill="none" stroke="#8c959f" stroke-opacity=".3" stroke-width="${width}" stroke-linecap="round" stroke-linejoin="round"><path d="${d.previous.extrusions.map((p) => pathData(p, 0, p.ends.length)).join("")}"></path></g>`
    : ""}
  ${d.travel && d.layer.travels.length > 0
    ? html`<g class="travel" fill="none" stroke="#6e7781" stroke-opacity=".7" stroke-width="${thin}" stroke-dasharray="${round(thin * 4)} ${round(thin * 3)}"><path d="${d.layer.travels.map((p) => pathData(p, 0, p.ends.length)).join("")}"></path></g>`
    : ""}
  <g class="extrusion" fill="none" stroke-width="${width}" stroke-linecap="round" stroke-linejoin="round">
    ${tools.map((t) => {
      const parts = byTool.get(t)!;
      return html`${parts.done.length > 0 ? html`<path class="done" data-tool="${t}" stroke="${colour(t)}" d="${raw(parts.done.join(""))}"></path>` : ""}${parts.pending.length > 0 ? html`<path class="pending" data-tool="${t}" stroke="${colour(t)}" stroke-opacity=".25" d="${raw(parts.pending.join(""))}"></path>` : ""}`;
    })}
  </g>
</svg>`;
}

/** The layer's figures from the analysis. */
export interface LayerFacts {
  /** 1-based number, and of how many. */
  number: number;
  count: number;
  z: number;
  height: number;
  /** Seconds the layer takes, and when it starts, from the analysis. */
  seconds: number;
  startsAt: number;
}

/** A print of this file going on now. */
export interface LivePrint {
  printer: string;
  printerName: string;
  /** The layer printing now (1-based; 0 before the first), and the share of the shown layer sent (0–1). */
  current: number;
  shownSent: number;
}

/** What a viewer carries from one request to the next, inside the part it swaps. */
export interface ViewState {
  /** What the part shows: the viewer sends it back, and an unchanged part answers 204. */
  key: string;
  /** The printer the viewer follows (see `ViewerSetup`), or null. */
  printer: string | null;
}

function viewState(s: ViewState): Html {
  return html`<input type="hidden" name="shown" value="${s.key}">${s.printer ? html`<input type="hidden" name="printer" value="${s.printer}">` : ""}`;
}

/** The followed printer printing another file, which the viewer does not show (Follow the print is off, or its layers are not known). */
export interface OtherPrint {
  printer: string;
  printerName: string;
  file: string;
  /** Why its layers cannot be shown, or null: ticking Follow the print shows them. */
  unknown: string | null;
}

export interface LayerFragment {
  state: ViewState;
  facts: LayerFacts;
  svg: Html;
  live: LivePrint | null;
  other: OtherPrint | null;
  notes: string[];
  /** Whether the layer extrudes anything. */
  empty: boolean;
}

const mm = (n: number) => `${Number(n.toFixed(2))} mm`;

/** The part the viewer swaps: the figures, the live print, notes and the picture. */
export function layerFragment(f: LayerFragment): Html {
  const { facts: l, live, other } = f;
  return html`<div class="layer-view" data-layer="${l.number}" data-count="${l.count}" ${live ? html`data-live="${live.printer}" data-current="${live.current}"` : ""}${other ? html` data-printing="${other.printer}"` : ""}>
  ${viewState(f.state)}
  <p class="layer-facts"><strong>Layer ${l.number} of ${l.count}</strong> · Z ${mm(l.z)} · ${mm(l.height)} high · <span class="layer-time">${formatDuration(l.seconds)}</span> <span class="muted">(starts ${formatDuration(l.startsAt)} into the print)</span></p>
  ${live
    ? html`<p class="layer-live">Printing on <b>${live.printerName}</b>: ${live.current > 0 ? html`layer <b class="layer-current">${live.current}</b> of ${l.count}` : "the start G-code"}${live.current === l.number ? html` · ${Math.round(live.shownSent * 100)} % of this layer sent` : live.current > l.number ? " · this layer is printed" : ""}</p>`
    : ""}
  ${other
    ? html`<p class="layer-other"><b>${other.printerName}</b> is printing ${other.file} now${other.unknown ? html`: ${other.unknown}` : html` · tick <i>Follow the print</i> to show it`}</p>`
    : ""}
  ${f.empty ? html`<p class="muted layer-note">Nothing is extruded on this layer.</p>` : ""}
  ${f.notes.map((n) => html`<p class="muted layer-note">${n}</p>`)}
  ${f.svg}
</div>`;
}

/** How far the analysis a viewer waits for is: a share from 0 to 1 (null while it waits its turn), and in words. */
export interface Waiting {
  share: number | null;
  words: string;
}

/**
 * Shown instead of layers when there are none to show (not analysed yet, no layers, a bad
 * request); `waiting`: the analysis is under way, with its progress (the viewer loads the layers
 * by itself when it ends).
 */
export function layerMessage(message: string, hint = "", state?: ViewState, waiting?: Waiting): Html {
  return html`<div class="layer-view layer-message"${waiting ? html` data-waiting="${waiting.share === null ? "" : Math.floor(waiting.share * 100)}"` : ""}>${state ? viewState(state) : ""}<p>${message}</p>${waiting ? html`<p class="layer-analysis"><progress max="100"${waiting.share === null ? "" : html` value="${Math.floor(waiting.share * 100)}"`}></progress> ${waiting.words}</p>` : ""}${hint ? html`<p class="muted">${hint}</p>` : ""}</div>`;
}

/**
 * Where a viewer is shown: its own page (from the files page; a file switched to replaces the
 * page's heading, title and address too) or the dashboard's job panel (with a Close button).
 */
export type ViewerPlace = "page" | "job";

export interface ViewerSetup {
  /** The file shown; "" when there is none (the dashboard's viewer of a print whose file is not stored). */
  path: string;
  /** Its layers, 0 while they are not known (the viewer then has no controls and waits). */
  count: number;
  layer: number;
  place: ViewerPlace;
  /** The viewer's own choices (default: as opened — following the print, no travel, no zoom). */
  choices?: ViewerChoices;
  /**
   * Without a file (a message in the job panel: no print yet, an SD-only file, a file changed or
   * gone): the printer whose job it shows. It asks again whenever that printer's print moves on, so
   * a print it can show replaces it, as a viewer follows its printer.
   */
  printer?: string;
}

/**
 * What the person chose in a viewer. A viewer the server makes again in place (its file's layers
 * changed or became known, it switched to the file its printer prints) keeps them, carried through
 * its form; a viewer opened (Layers…, the page opened or reloaded) starts as `OPENED`.
 */
export interface ViewerChoices {
  follow: boolean;
  travel: boolean;
  zoom: boolean;
}

export const OPENED: ViewerChoices = { follow: true, travel: false, zoom: false };

const checked = (on: boolean) => (on ? " checked" : "");

const PROGRESS_TRIGGER = "sse:layer-progress";

/**
 * The viewer: controls and the layer fragment in one form, so every control and the fragment's
 * `shown` and `printer` go with each request. Its requests: a control changed, the slider dragged
 * (after a short pause), or the print or the file's analysis moved on (`sse:layer-progress` from
 * the page's stream). `count` says which layers the controls were made for: when the server knows
 * others (the analysis ended) or the followed printer prints another file, it answers the whole
 * viewer (src/server/ui/layer-view.ts), with the person's choices (`v.choices`). Without layers it
 * has no controls; the choices wait in hidden fields (as opened: following the print).
 */
export function layerViewer(v: ViewerSetup, fragment: Html): Html {
  const close = v.place === "job" ? closeButton : "";
  if (!v.path) {
    if (!v.printer) return html`<div class="layer-viewer">${close}${fragment}</div>`;
    // The message carries what it shows (`shown`): while the printer's print is not one it can show, the answer is 204.
    return html`<form class="layer-viewer" autocomplete="off" hx-get="/ui/printers/${encodeURIComponent(v.printer)}/job/viewer" hx-target="this" hx-swap="outerHTML" hx-trigger="${PROGRESS_TRIGGER}" hx-sync="this:replace" hx-on:submit="event.preventDefault()">${close}${fragment}</form>`;
  }
  const c = v.choices ?? OPENED;
  const common = html`<input type="hidden" name="path" value="${v.path}">
  <input type="hidden" name="place" value="${v.place}">
  <input type="hidden" name="count" value="${v.count}">`;
  if (v.count === 0) {
    // No controls yet: the choices wait in hidden fields for the viewer made when the layers are known.
    return html`<form class="layer-viewer" autocomplete="off" hx-get="/ui/files/viewer/layer" hx-target="find .layer-view" hx-swap="outerHTML" hx-trigger="${PROGRESS_TRIGGER}" hx-sync="this:replace" hx-on:submit="event.preventDefault()">
  ${common}
  ${c.follow ? html`<input type="hidden" name="follow" value="1">` : ""}
  ${c.travel ? html`<input type="hidden" name="travel" value="1">` : ""}
  ${c.zoom ? html`<input type="hidden" name="zoom" value="1">` : ""}
  ${!c.follow && v.layer > 0 ? html`<input type="hidden" name="layer" value="${v.layer}">` : ""}
  ${close}
  ${fragment}
</form>`;
  }
  // autocomplete="off": the browser restores no control state of its own on a reload; the server renders the choices (from the address).
  return html`<form class="layer-viewer" autocomplete="off" hx-get="/ui/files/viewer/layer" hx-target="find .layer-view" hx-swap="outerHTML" hx-trigger="change, input changed delay:150ms from:find input[type=range], ${PROGRESS_TRIGGER}" hx-sync="this:replace" hx-on:submit="event.preventDefault()">
  ${common}
  <div class="layer-controls">
    <button type="button" data-step="-1" aria-label="Previous layer" title="Previous layer (←)">◀</button>
    <input type="range" name="layer" min="1" max="${v.count}" value="${v.layer}" aria-label="Layer">
    <button type="button" data-step="1" aria-label="Next layer" title="Next layer (→)">▶</button>
    <label>Layer <input type="number" class="layer-number" min="1" max="${v.count}" value="${v.layer}" aria-label="Layer number"> of ${v.count}</label>
    <label><input type="checkbox" name="travel" value="1"${raw(checked(c.travel))}> Travel moves</label>
    <label><input type="checkbox" name="zoom" value="1"${raw(checked(c.zoom))}> Zoom to the print</label>
    <label class="layer-follow"><input type="checkbox" name="follow" value="1"${raw(checked(c.follow))}> Follow the print</label>
    ${close}
  </div>
  ${fragment}
</form>`;
}

const closeButton = html`<button type="button" class="link layer-viewer-close" hx-on:click="document.getElementById('job-viewer').innerHTML = ''">Close</button>`;

/** The query of the viewer's page and of its stream: the file, and the printer it follows. */
const viewerQuery = (path: string, printer: string | null) => `path=${encodeURIComponent(path)}${printer ? `&printer=${encodeURIComponent(printer)}` : ""}`;

/**
 * The viewer's own page's address, with the person's choices that differ from a viewer opened
 * (public/app.js keeps the address up to date as they change them, so a reload keeps them).
 */
export const viewerPageUrl = (path: string, printer: string | null, choices: ViewerChoices = OPENED) =>
  `/files/viewer?${viewerQuery(path, printer)}${choices.follow ? "" : "&follow=0"}${choices.travel ? "&travel=1" : ""}${choices.zoom ? "&zoom=1" : ""}`;

/** The title of the viewer's page. */
export const viewerTitle = (name: string) => `Layers of ${name}`;

/**
 * The viewer's page's content, with its own stream: a print of the file (or any print of the
 * printer it follows) moving on, and the file's analysis. Replaced whole when the viewer switches
 * to another file, so the heading and the stream are that file's.
 */
export function layerViewerSection(path: string, name: string, printer: string | null, viewer: Html): Html {
  // hx-history="false": a switch replaces the address; the page is not kept in the browser's storage (a large picture, soon stale).
  return html`<section class="card layer-page" hx-ext="sse" sse-connect="/ui/files/viewer/events?${viewerQuery(path, printer)}" hx-history="false">
  <h1>${name} <a class="more" href="/files">← files</a></h1>
  ${viewer}
  ${viewerChangedListener}
</section>`;
}

/** The viewer's own page (from the files page). */
export function layerViewerPage(path: string, name: string, printer: string | null, viewer: Html, session?: PageSession): Html {
  return layout(viewerTitle(name), layerViewerSection(path, name, printer, viewer), html``, session, STREAM_IN_CONTENT);
}
