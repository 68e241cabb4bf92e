/**
 * The job on the dashboard: the live job panel (thumbnail, state, progress, layer, time left with
 * where that figure comes from, the controls for each state), the banner of a print the host was
 * running when it stopped, and the cancel-object map (a top-down view of the bed with each
 * labelled object's outline, to pick one to stop printing).
 */
import type { AnalysisResult } from "../src/analysis/result.ts";
import type { ThumbnailRef } from "../src/files/catalog.ts";
import { ORIGIN_WORDS } from "../src/jobs/time-left.ts";
import { stoppedWhere } from "../src/jobs/recovery.ts";
import type { PrinterProfile } from "../src/printers/profile.ts";
import type { Access } from "../src/server/auth/access.ts";
import { isJobRunning, type Job, type JobState, type PrinterStatus, type Progress } from "../src/printers/status.ts";
import { formatBytes, formatDuration } from "./dashboard.ts";
import { html, type Html } from "./html.ts";

export const JOB_STATE_WORDS: Record<JobState, string> = {
  starting: "Starting",
  printing: "Printing",
  pausing: "Pausing…",
  paused: "Paused",
  resuming: "Resuming…",
  cancelling: "Cancelling…",
  finishing: "Finishing…",
  done: "Done",
  cancelled: "Cancelled",
  failed: "Failed",
};

/** The badge colour of each job state (the printer badge's classes). */
const JOB_STATE_CLASS: Record<JobState, string> = {
  starting: "state-printing",
  printing: "state-printing",
  pausing: "state-paused",
  paused: "state-paused",
  resuming: "state-paused",
  cancelling: "state-paused",
  finishing: "state-printing",
  done: "state-operational",
  cancelled: "state-ended",
  failed: "state-error",
};

/** The thumbnail to show beside the job: the smallest one at least 96 px wide. */
export function jobThumbnail(thumbnails: ThumbnailRef[]): ThumbnailRef | null {
  return [...thumbnails].sort((a, b) => a.width - b.width).find((t) => t.width >= 96) ?? thumbnails[0] ?? null;
}

/** The current job with its figures and the controls its state (and the viewer) allows; part of the live panel. */
export function jobPanel(printerId: string, status: PrinterStatus, access: Access, thumbnail: ThumbnailRef | null = null): Html {
  const job = status.job;
  if (!job) return html`<p class="muted job-none">No print yet.</p>`;
  const p = status.progress;
  const pct = p ? p.completion : 0;
  return html`<div class="job" data-job-state="${job.state}">
  ${thumbnail ? html`<img class="job-thumb" src="${thumbnail.url}" alt="" width="96" height="${Math.round((96 * thumbnail.height) / thumbnail.width)}">` : ""}
  <div class="job-body">
    <div class="job-head"><strong>${job.file}</strong>${job.source === "sd" ? html` <span class="muted">(SD card)</span>` : ""} <span class="badge job-state ${JOB_STATE_CLASS[job.state]}">${JOB_STATE_WORDS[job.state]}</span></div>
    <progress max="100" value="${pct.toFixed(1)}" aria-label="Progress"></progress>
    <p class="job-figures"><span class="completion">${pct.toFixed(1)} %</span> · ${formatBytes(p?.bytesSent ?? 0)} of ${formatBytes(job.size)}${lineFigure(p)}</p>
    ${jobDetails(job, p)}
    ${job.reason ? html`<p class="muted job-reason">${job.reason}</p>` : ""}
    ${jobButtons(printerId, status, job, access)}
  </div>
</div>`;
}

function lineFigure(p: Progress | null): Html {
  if (!p || p.line === 0) return html``;
  return html` · <span class="job-line">line ${p.line.toLocaleString("en")}${p.lines ? ` of ${p.lines.toLocaleString("en")}` : ""}</span>`;
}

/** Layer, time printing, time left and where it comes from, filament, objects cancelled. */
function jobDetails(job: Job, p: Progress | null): Html {
  const cancelled = job.objects.filter((o) => o.cancelled).map((o) => o.name);
  const running = isJobRunning(job.state);
  return html`<ul class="job-details">
  ${job.layer ? html`<li class="job-layer">Layer ${job.layer.current} of ${job.layer.count} at Z ${job.layer.z.toFixed(2)} mm</li>` : ""}
  <li class="job-elapsed">${running ? "Printing for" : "Printed for"} ${formatDuration(p?.printTime ?? 0)}</li>
  ${running && p?.timeLeft != null
    ? html`<li class="job-time-left" data-origin="${p.timeLeftOrigin ?? ""}">${timeLeftWords(p.timeLeft)}${p.timeLeftOrigin ? html` <span class="muted">— ${ORIGIN_WORDS[p.timeLeftOrigin]}</span>` : ""}</li>`
    : ""}
  ${p && p.filament > 0 ? html`<li class="job-filament">Filament used: ${formatFilament(p.filament)}</li>` : ""}
  ${job.resumedFrom ? html`<li class="muted">Resumed after an interruption${job.resumedFrom.layer !== null ? ` from layer ${job.resumedFrom.layer + 1}` : ""}</li>` : ""}
  ${cancelled.length ? html`<li class="job-cancelled-objects">Objects cancelled: ${cancelled.join(", ")}</li>` : ""}
</ul>`;
}

function jobButtons(id: string, status: PrinterStatus, job: Job, access: Access): Html {
  const may = (route: string) => access.may(route, id);
  const s = job.state;
  const running = isJobRunning(s);
  // A paused print restarts at once; an ended one when the printer is free again.
  const restartable = s === "paused" || (!running && status.state === "operational");
  // Host prints and SD prints whose file the host knows (the firmware's command then does it, or says why not).
  // Restarting starts a print: with an interrupted print on offer, the question says it is discarded.
  const again = running ? "Stop this print and start it again from the beginning" : "Print this file again from the beginning";
  const objects = running && job.objects.length > 0 && s !== "cancelling" && s !== "finishing" && may("POST /ui/printers/:id/job/cancel-object");
  const buttons = [
    (s === "printing" || s === "starting") && may("POST /ui/printers/:id/job/pause") ? html`<button hx-post="/ui/printers/${id}/job/pause" hx-target="#live">Pause</button>` : "",
    s === "paused" && may("POST /ui/printers/:id/job/resume") ? html`<button class="primary" hx-post="/ui/printers/${id}/job/resume" hx-target="#live">Resume</button>` : "",
    running && s !== "cancelling" && may("POST /ui/printers/:id/job/cancel")
      ? html`<button class="danger" hx-post="/ui/printers/${id}/job/cancel" hx-target="#live" hx-confirm="Cancel this print?">Cancel</button>`
      : "",
    restartable && may("POST /ui/printers/:id/job/restart")
      ? html`<button hx-post="/ui/printers/${id}/job/restart" hx-target="#live" hx-confirm="${discardQuestion(status, again) ?? `${again}?`}">Restart</button>`
      : "",
    objects ? html`<button class="job-objects-open" hx-get="/ui/printers/${id}/job/objects" hx-target="#job-objects">Cancel an object…</button>` : "",
    // The file's layers, the print's progress drawn on them (views/layer-view.ts); a file the host knows by its content.
    job.sha256 && may("GET /ui/printers/:id/job/viewer") ? html`<button class="job-layers-open" hx-get="/ui/printers/${id}/job/viewer" hx-target="#job-viewer">Layers…</button>` : "",
  ].filter((b) => b !== "");
  return buttons.length ? html`<div class="buttons">${buttons}</div>` : html``;
}

/** The print the host was running when it stopped, with resume (when possible) and discard, for a viewer who may. */
export function interruptedBanner(printerId: string, status: PrinterStatus, access: Access): Html {
  const i = status.interrupted;
  if (!i) return html``;
  const may = (route: string) => access.may(route, printerId);
  const resumable = i.resumable && may("POST /ui/printers/:id/job/interrupted/resume");
  const busy = isJobRunning(status.job?.state) || status.state !== "operational";
  return html`<div class="interrupted" role="alert" data-resumable="${String(i.resumable)}">
  <p><strong>A print was interrupted:</strong> ${i.file}${i.source === "sd" ? " (SD card)" : ""}, stopped ${formatWhen(i.at)}
    ${stoppedWhere(i)}.</p>
  ${i.resumable ? "" : html`<p class="reason">${i.reason}</p>`}
  <div class="buttons">
    ${resumable && i.layer
      ? html`<button class="primary" ${busy ? "disabled" : ""} hx-post="/ui/printers/${printerId}/job/interrupted/resume" hx-target="#live" hx-confirm="Resume ${i.file} from the start of layer ${i.layer.current}? Check that the print is still on the bed and nothing is in the nozzle's way.">Resume from layer ${i.layer.current}</button>`
      : ""}
    ${may("POST /ui/printers/:id/job/interrupted/discard") ? html`<button hx-post="/ui/printers/${printerId}/job/interrupted/discard" hx-target="#live" hx-confirm="Forget the interrupted print of ${i.file}?">Discard</button>` : ""}
  </div>
  ${resumable && busy ? html`<p class="muted">It can be resumed once the printer is connected and idle.</p>` : ""}
</div>`;
}

/**
 * Starting another print on a printer with an interrupted print on offer discards that print for
 * good (the printer forgets it as the new job begins — through the API too, where slicers start
 * prints unattended). The question a page's button that would do so (`action`, e.g. "Print
 * cube.gcode") asks first; null when no interrupted print is on offer.
 */
export function discardQuestion(status: PrinterStatus, action: string): string | null {
  const i = status.interrupted;
  if (!i) return null;
  return `${action}? The interrupted print of ${i.file} is then discarded${i.resumable ? " and can no longer be resumed" : ""}.`;
}

/**
 * The `hx-confirm` attribute of a button that starts a print (see `discardQuestion`), or nothing;
 * `data-confirm` for a printer's `<option>` in a form that picks one (public/app.js asks it).
 */
export function confirmStart(status: PrinterStatus, action: string, attribute: "hx-confirm" | "data-confirm" = "hx-confirm"): Html {
  const question = discardQuestion(status, action);
  return question ? html`${attribute}="${question}"` : html``;
}

type MapObject = AnalysisResult["objects"][number];

/**
 * The cancel-object map: the bed seen from above (the printer profile's width × depth; a bed
 * with its origin in the centre is shifted so it fills the view), each object's outline (its
 * polygon if the file declares one, else its bounding box) with its name; cancelled ones greyed
 * and struck through. Clicking an object, or its button in the list below, cancels it.
 *
 * While open it follows the job live: its container on the dashboard (`#job-objects`, which
 * is never swapped, so its SSE listener cannot be lost while a map is being replaced) takes the
 * `objects` fragment the server pushes whenever an object is cancelled (from here, the API,
 * another browser or the printer) or the job ends (src/server/ui/events.ts), and ignores it
 * while no map is open.
 */
export function objectMap(printerId: string, job: Job | null, objects: MapObject[], profile: PrinterProfile, access: Access): Html {
  const close = html`<button type="button" class="link object-map-close" hx-on:click="document.getElementById('job-objects').innerHTML = ''">Close</button>`;
  if (!job || !isJobRunning(job.state)) return html`<div class="object-map"><p class="muted">The print has ended. ${close}</p></div>`;
  if (objects.length === 0) {
    return html`<div class="object-map"><p class="muted">The analysis of ${job.file} found no labelled objects (or it is not done yet). ${close}</p></div>`;
  }
  const cancelled = new Set(job.objects.filter((o) => o.cancelled).map((o) => o.name));
  const { width, depth, origin, formFactor } = profile.volume;
  const shift = origin === "center" ? { x: width / 2, y: depth / 2 } : { x: 0, y: 0 };
  // SVG's y runs down; the bed's Y runs away from the viewer (up on the map).
  const px = (x: number) => round(x + shift.x);
  const py = (y: number) => round(depth - (y + shift.y));
  const font = round(Math.max(width, depth) / 40);
  const confirm = (name: string) => `Stop printing ${name}? The rest of the print goes on.`;
  const post = (name: string) => html`hx-post="/ui/printers/${printerId}/job/cancel-object" hx-vals='${JSON.stringify({ name })}' hx-target="#job-objects" hx-swap="innerHTML" hx-confirm="${confirm(name)}"`;
  const shape = (o: MapObject) => {
    if (o.polygon && o.polygon.length >= 3) return html`<polygon points="${o.polygon.map(([x, y]) => `${px(x)},${py(y)}`).join(" ")}"></polygon>`;
    const b = o.box!;
    return html`<rect x="${px(b.minX)}" y="${py(b.maxY)}" width="${round(b.maxX - b.minX)}" height="${round(b.maxY - b.minY)}"></rect>`;
  };
  const centre = (o: MapObject): [number, number] => {
    if (o.center) return o.center;
    const b = o.box!;
    return [(b.minX + b.maxX) / 2, (b.minY + b.maxY) / 2];
  };
  // A viewer who may not cancel objects sees the map without the actions.
  const cancels = access.may("POST /ui/printers/:id/job/cancel-object", printerId);
  const drawn = objects.filter((o) => o.box || (o.polygon && o.polygon.length >= 3));
  return html`<div class="object-map">
  <h3>Cancel an object <span class="muted">of ${job.file}</span> ${close}</h3>
  <svg viewBox="0 0 ${width} ${depth}" role="group" aria-label="The bed seen from above, ${width} × ${depth} mm" preserveAspectRatio="xMidYMid meet">
    ${formFactor === "circular"
      ? html`<ellipse class="bed" cx="${width / 2}" cy="${depth / 2}" rx="${width / 2}" ry="${depth / 2}"></ellipse>`
      : html`<rect class="bed" x="0" y="0" width="${width}" height="${depth}"></rect>`}
    ${drawn.map((o) => {
      const [cx, cy] = centre(o);
      const gone = cancelled.has(o.name);
      return html`<g class="object${gone ? " cancelled" : ""}" data-object="${o.name}" ${gone || !cancels ? "" : html`role="button" tabindex="0" ${post(o.name)}`}>
      <title>${o.name}${gone ? " (cancelled)" : ""}</title>
      ${shape(o)}
      <text x="${px(cx)}" y="${py(cy)}" font-size="${font}" text-anchor="middle" dominant-baseline="middle">${o.name}</text>
    </g>`;
    })}
  </svg>
  <ul class="object-list">
    ${objects.map((o) => {
      const gone = cancelled.has(o.name);
      return html`<li data-object="${o.name}" class="${gone ? "cancelled" : ""}">${gone
        ? html`<s>${o.name}</s> <span class="muted">cancelled</span>`
        : cancels ? html`<button class="danger" ${post(o.name)}>Cancel ${o.name}</button>` : o.name}</li>`;
    })}
  </ul>
</div>`;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** "about 12 min left", "about 1 h 25 min left", "less than a minute left". */
export function timeLeftWords(seconds: number): string {
  if (seconds < 60) return "less than a minute left";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} min left`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return `about ${h} h${m ? ` ${m} min` : ""} left`;
}

function formatFilament(mm: number): string {
  return mm >= 1000 ? `${(mm / 1000).toFixed(2)} m` : `${mm.toFixed(0)} mm`;
}

function formatWhen(ms: number): string {
  return new Date(ms).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
}
