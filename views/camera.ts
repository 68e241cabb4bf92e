/**
 * Cameras in the UI: the live picture (the host's own MJPEG stream of the printer's camera, turned
 * as configured) for the dashboard and the printer cards, and the printer's Camera settings page.
 * When the picture fails, public/app.js asks the snapshot URL why and says it under the picture.
 */
import { cssTransform, exposureWarning, hasCamera, RATIOS, ROTATIONS, type Camera } from "../src/webcam/camera.ts";
import type { PrinterRecord } from "../src/printers/record.ts";
import type { Access } from "../src/server/auth/access.ts";
import { html, type Html } from "./html.ts";
import { layout, type PageSession } from "./layout.ts";
import { outcomeLine, type Outcome } from "./profile.ts";

const streamPath = (id: string) => `/api/v1/printers/${encodeURIComponent(id)}/camera/stream`;
const snapshotPath = (id: string) => `/api/v1/printers/${encodeURIComponent(id)}/camera/snapshot`;

/**
 * The camera's picture, or nothing when the printer has none or the viewer may not watch. With only
 * a snapshot URL the picture is a snapshot that app.js refreshes.
 */
export function cameraPicture(printerId: string, name: string, camera: Camera, access: Access): Html | string {
  if (!hasCamera(camera) || !access.may("GET /api/v1/printers/:id/camera/stream", printerId)) return "";
  const live = camera.streamUrl !== "";
  const [w, h] = camera.ratio.split(":").map(Number) as [number, number];
  // A quarter turn stands the picture up: shrink it to fit the frame's height.
  const quarter = camera.rotate === 90 || camera.rotate === 270;
  const transform = quarter ? `${cssTransform(camera)} scale(${(h / w).toFixed(4)})` : cssTransform(camera);
  return html`<figure class="camera" data-printer="${printerId}" style="aspect-ratio: ${w} / ${h}">
  <img class="camera-picture" src="${live ? streamPath(printerId) : snapshotPath(printerId)}" data-snapshot="${snapshotPath(printerId)}" ${live ? "" : html`data-refresh="2000"`} alt="Camera of ${name}" style="transform: ${transform}">
  <figcaption class="camera-problem" role="status" hidden></figcaption>
</figure>`;
}

/** The dashboard's camera card (nothing without a camera). */
export function cameraCard(printer: PrinterRecord, camera: Camera, access: Access): Html | string {
  const picture = cameraPicture(printer.id, printer.name, camera, access);
  if (!picture) return "";
  return html`<section class="card camera-card">
  <h2>Camera <a class="more" href="/settings/printers/${printer.id}/camera">settings →</a></h2>
  ${picture}
</section>`;
}

/** The printer's Camera page: the camera, and `timelapse` (its timelapse settings form, views/timelapse.ts). */
export function cameraPage(printer: PrinterRecord, camera: Camera, access: Access, session?: PageSession, timelapse: Html | string = ""): Html {
  return layout(
    `Camera · ${printer.name}`,
    html`<div class="settings-page camera-page">
  <section class="card">
    <h1>Camera <span class="muted">· ${printer.name}</span></h1>
    <p><a href="/?printer=${printer.id}">← Back to the dashboard</a> · <a href="/settings/printers/${printer.id}/profile">Profile &amp; limits</a></p>
    <p>Layerline shows the camera through itself, behind its login: the streamer (mjpg-streamer, µStreamer,
    camera-streamer, crowsnest) can listen on this machine only (127.0.0.1) and still be watched from anywhere.
    One connection to the camera serves every viewer.</p>
  </section>
  ${cameraForm(printer, camera, access)}
  ${timelapse}
</div>`,
    html``,
    session,
  );
}

/** The camera's settings; answers a save with a fresh copy of itself. */
export function cameraForm(printer: PrinterRecord, camera: Camera, access: Access, outcome?: Outcome): Html {
  const id = printer.id;
  const save = access.may("POST /ui/printers/:id/camera", id);
  const warnings = [...new Set([exposureWarning(camera.streamUrl), exposureWarning(camera.snapshotUrl)].filter((w) => w !== null))];
  // Viewers without the settings permission do not see URLs (a streamer's credentials live in them).
  const url = (u: string) => (save ? u : u ? "(set)" : "");
  const fields = html`<div class="fields">
    <label>Stream URL (MJPEG) <input type="url" name="streamUrl" value="${url(camera.streamUrl)}" placeholder="http://127.0.0.1:8080/?action=stream" maxlength="2048"></label>
    <label>Snapshot URL (JPEG, optional) <input type="url" name="snapshotUrl" value="${url(camera.snapshotUrl)}" placeholder="http://127.0.0.1:8080/?action=snapshot" maxlength="2048"></label>
    <label>Rotate <select name="rotate">${ROTATIONS.map((r) => html`<option value="${r}" ${r === camera.rotate ? "selected" : ""}>${r === 0 ? "no" : `${r}° clockwise`}</option>`)}</select></label>
    <label>Aspect ratio <select name="ratio">${RATIOS.map((r) => html`<option value="${r}" ${r === camera.ratio ? "selected" : ""}>${r}</option>`)}</select></label>
    <label class="check"><input type="checkbox" name="flipH" ${camera.flipH ? "checked" : ""}> Flip horizontally</label>
    <label class="check"><input type="checkbox" name="flipV" ${camera.flipV ? "checked" : ""}> Flip vertically</label>
  </div>`;
  return html`<form class="card camera-settings" id="camera-form" ${save ? html`hx-post="/ui/printers/${id}/camera" hx-target="this" hx-swap="outerHTML"` : ""}>
  <h2>Camera</h2>
  ${save ? fields : html`<fieldset class="bare" disabled>${fields}</fieldset>`}
  ${warnings.map((w) => html`<p class="warning" role="alert">${w}</p>`)}
  ${outcomeLine(outcome)}
  ${save ? html`<div class="buttons"><button type="submit" class="primary">Save</button></div>` : ""}
  ${cameraPicture(id, printer.name, camera, access) || html`<p class="muted">No camera yet: enter the streamer's URLs above.</p>`}
</form>`;
}
