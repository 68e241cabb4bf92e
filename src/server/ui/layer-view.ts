/**
 * The layer viewer in the htmx UI (views/layer-view.ts): its page for a file (`/files/viewer`),
 * the fragment of one layer (`/ui/files/viewer/layer`), the page's stream, and the viewer of a
 * printer's job on the dashboard (`/ui/printers/:id/job/viewer`). Reading files needs what the
 * files pages need (`status`); a print is followed only on a printer the viewer may see.
 *
 * Cost on the main thread: a layer is read and parsed once (bounded, src/toolpath/layers.ts) and
 * kept; a picture is rendered once per change (kept by what it shows, for every client); a print
 * moving on is announced on the page's stream at most once a second, and a viewer whose picture
 * would not change is answered 204.
 */
import { Elysia } from "elysia";
import { formatBytes } from "../../../views/dashboard.ts";
import { raw, type Html } from "../../../views/html.ts";
import { layerFragment, layerMessage, layerSvg, layerViewer, layerViewerPage, sentSegments, viewArea, type Bed, type LayerFacts, type LivePrint } from "../../../views/layer-view.ts";
import { subscribe } from "../../events.ts";
import { FileCatalog } from "../../files/catalog.ts";
import type { StoredFile } from "../../files/storage.ts";
import { DEFAULT_PROFILE, type PrinterProfile } from "../../printers/profile.ts";
import type { PrinterSession } from "../../printers/session.ts";
import { isJobRunning, type PrinterStatus } from "../../printers/status.ts";
import { layerSpan, LayerReader, SAMPLES, type FileLayers } from "../../toolpath/layers.ts";
import { decimateLines } from "../../toolpath/toolpath.ts";
import { principalOf, visibleTo } from "../auth/principal.ts";
import type { AppContext } from "../context.ts";
import { ApiError, problemPageResponse } from "../errors.ts";
import type { SendEvent } from "../sse.ts";
import { throttle } from "../throttle.ts";
import { pageSession } from "./page-session.ts";
import { htmlResponse } from "./routes.ts";
import { pageStream } from "./viewer-watch.ts";

/** The stream's event that a print of the file moved on (the viewer then asks for its fragment). */
export const LAYER_PROGRESS_EVENT = "layer-progress";
/** At most this often per client. */
export const LAYER_PROGRESS_MS = 1000;
/** Points of the layer below drawn at most (it is only a faint hint). */
const PREVIOUS_POINTS = 3_000;
const PICTURES_KEPT = 16;

type Query = Record<string, string | undefined>;

/** The viewer's choices: travel moves drawn, zoomed to the print. */
interface Shown {
  travel: boolean;
  zoom: boolean;
}

/** Why a file has no layers to show, in words; null when it has. */
type Layers = { ok: true; layers: FileLayers } | { ok: false; message: string; hint: string };

/** `layer` as a 0-based index into `count` layers; a clear 400 for anything else. */
export function layerIndex(raw: string | undefined, count: number): number | null {
  if (raw === undefined || raw === "") return null;
  const n = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= count)) {
    const shown = raw.length > 20 ? `${raw.slice(0, 20)}…` : raw;
    throw new ApiError(400, "invalid_layer", `"${shown}" is not a layer of this file: it has ${count} layer${count === 1 ? "" : "s"}.`, `Ask for a layer from 1 to ${count}.`);
  }
  return n - 1;
}

/** How far a print of the file is: the printer, and the offset it has acknowledged. */
interface Following {
  session: PrinterSession;
  sent: number;
}

/** A print running `sha256` on this printer now, if any. */
function printing(status: PrinterStatus, sha256: string): boolean {
  const job = status.job;
  return !!job && isJobRunning(job.state) && job.sha256 === sha256 && status.progress !== null;
}

/** The 1-based layer printing at byte `sent` (0 before the first layer). */
export function layerAt(layers: FileLayers["layers"], sent: number): number {
  let lo = 0;
  let hi = layers.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (layers[mid]!.offset <= sent) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function uiLayerView(ctx: AppContext) {
  const reader = new LayerReader(ctx.analyses, ctx.bus);
  const catalog = new FileCatalog(ctx.files, ctx.analyses, ctx.analysis);
  // Pictures by what they show (file, layer, travel, bed, how much is sent): one rendering for every client.
  const pictures = new Map<string, string>();
  ctx.bus.on("analysis.finished", () => pictures.clear());

  const fileAt = (path: string | undefined): StoredFile => {
    if (!path) throw new ApiError(400, "invalid_request", "Name the file to view: ?path=folder/part.gcode.", "Open the viewer from the files page.");
    // A path that could leave the files folder is a FileError (400) from here.
    const file = ctx.files.get(path);
    if (!file) throw new ApiError(404, "file_not_found", `There is no file "${path.length > 200 ? `${path.slice(0, 200)}…` : path}".`, "The files page lists the files there are.");
    return file;
  };

  const layersOf = (file: StoredFile): Layers => {
    const layers = file.sha256 ? reader.layers(file.sha256) : undefined;
    if (!layers) {
      const entry = catalog.get(file.path);
      const a = entry?.analysis;
      if (a?.state === "error") return { ok: false, message: `${file.name} could not be analysed, so its layers are not known: ${a.error.message}`, hint: a.error.hint };
      if (a?.state === "queued" || a?.state === "analysing" || a?.state === "paused") {
        return { ok: false, message: `${file.name} is being analysed; its layers can be shown once that is done.`, hint: "The files page shows how far it is. Open the viewer again then." };
      }
      return { ok: false, message: `${file.name} has not been analysed, so its layers are not known.`, hint: "Choose Analyse again on the files page." };
    }
    if (layers.bytes !== file.size) return { ok: false, message: `${file.name} changed since it was analysed; its layers are not known yet.`, hint: "It is analysed again by itself; open the viewer again in a moment." };
    if (layers.layers.length === 0) {
      return { ok: false, message: `${file.name} has no layers to show: the analysis found no layer markers from the slicer and no extrusion at distinct heights.`, hint: "A file that extrudes nothing (a calibration or a script) has no layers." };
    }
    return { ok: true, layers };
  };

  /** The printer `id` (one the request may see), or a 404. */
  const printerAt = (request: Request, id: string): PrinterSession => {
    const s = ctx.printers.get(id);
    if (!s || !visibleTo(request, s.id)) throw new ApiError(404, "not_found", `There is no printer "${id.length > 100 ? `${id.slice(0, 100)}…` : id}".`, "GET /api/v1/printers lists the printers.");
    return s;
  };

  /** The print of this content to follow: on `printer` if named, else on any printer the request may see. */
  const following = (request: Request, sha256: string, printer: PrinterSession | null): Following | null => {
    const candidates = printer ? [printer] : ctx.printers.list().filter((s) => visibleTo(request, s.id));
    const s = candidates.find((c) => printing(c.status, sha256));
    return s ? { session: s, sent: s.status.progress!.bytesSent } : null;
  };

  /** The bed to draw: the followed printer's, else the request's own printer's or the default printer's. */
  const bedFor = (request: Request, printer: PrinterSession | null): Bed => {
    const own = principalOf(request).printerId;
    const s = printer ?? (own ? ctx.printers.get(own) : ctx.printers.default());
    const profile: PrinterProfile = s ? ctx.jobs.profile(s.id) : DEFAULT_PROFILE;
    const v = profile.volume;
    return { width: v.width, depth: v.depth, origin: v.origin, circular: v.formFactor === "circular" };
  };

  /** Layer `index` of the file as the fragment the viewer swaps, and what it shows. */
  const fragment = async (file: StoredFile, layers: FileLayers, index: number, shown: Shown, follow: Following | null, bed: Bed): Promise<{ key: string; html: string }> => {
    const absolute = ctx.files.absolute(file.path);
    const read = (i: number) =>
      reader.path(absolute, layers, i).catch((e: unknown) => {
        // Deleted or moved since it was looked up.
        if ((e as { code?: string }).code === "ENOENT") throw new ApiError(404, "file_not_found", `${file.path} is gone.`, "The files page lists the files there are.");
        throw e;
      });
    const layer = await read(index);
    const below = index > 0 ? await read(index - 1) : null;
    const count = layers.layers.length;
    const current = follow ? layerAt(layers.layers, follow.sent) : 0;
    const total = sentSegments(layer.toolpath, null);
    const sent = follow ? sentSegments(layer.toolpath, follow.sent) : total;
    const key = [layers.sha256.slice(0, 16), index, shown.travel ? "t" : "", shown.zoom ? "z" : "", bed.width, bed.depth, bed.origin, bed.circular, follow ? `${follow.session.id}:${current}:${sent}` : ""].join("|");
    const kept = pictures.get(key);
    if (kept !== undefined) return { key, html: kept };
    const l = layers.layers[index]!;
    const [start, end] = layerSpan(layers.layers, index, layers.bytes);
    const next = layers.layers[index + 1];
    const facts: LayerFacts = { number: index + 1, count, z: l.z, height: l.height, seconds: Math.max(0, (next ? next.elapsed : layers.estimatedTime) - l.elapsed), startsAt: l.elapsed };
    const live: LivePrint | null = follow ? { printer: follow.session.id, printerName: follow.session.record.name, current, shownSent: total > 0 ? sent / total : 0 } : null;
    const notes: string[] = [];
    if (layer.sampled) notes.push(`This layer is ${formatBytes(end - start)} of G-code: it is drawn from ${SAMPLES} samples spread over it.`);
    if (layer.toolpath.decimated) notes.push(`Simplified to stay light: about ${layer.toolpath.points.toLocaleString("en")} points in the file, fewer drawn.`);
    if (layer.toolpath.tools.length > 1) notes.push(`Tools: ${layer.toolpath.tools.map((t) => `T${t}`).join(", ")} (a colour each).`);
    const previous = below ? { ...below.toolpath, extrusions: decimateLines(below.toolpath.extrusions, PREVIOUS_POINTS).lines } : null;
    const svg = layerSvg({ bed, view: viewArea(bed, layers.printingArea, shown.zoom), layer: layer.toolpath, previous, travel: shown.travel, sent: follow ? follow.sent : null, nozzle: layers.nozzle ?? 0.4, number: index + 1, count });
    const html = layerFragment({ key, facts, svg, live, notes, empty: total === 0 }).value;
    pictures.set(key, html);
    while (pictures.size > PICTURES_KEPT) pictures.delete(pictures.keys().next().value!);
    return { key, html };
  };

  /** The whole viewer for a file: controls and its first layer (the one asked for, else the one printing, else the first). */
  const viewer = async (request: Request, file: StoredFile, rawLayer: string | undefined, printer: PrinterSession | null, closable: boolean): Promise<Html> => {
    const found = layersOf(file);
    const setup = { path: file.path, printer: printer?.id ?? null, closable };
    if (!found.ok) return layerViewer({ ...setup, count: 0, layer: 0 }, layerMessage(found.message, found.hint));
    const { layers } = found;
    const follow = following(request, layers.sha256, printer);
    const asked = layerIndex(rawLayer, layers.layers.length);
    const index = asked ?? (follow ? Math.max(0, layerAt(layers.layers, follow.sent) - 1) : 0);
    const f = await fragment(file, layers, index, { travel: false, zoom: false }, follow, bedFor(request, follow?.session ?? printer));
    return layerViewer({ ...setup, count: layers.layers.length, layer: index + 1 }, raw(f.html));
  };

  return new Elysia()
    .get("/files/viewer", async ({ query, request }) => {
      const q = query as Query;
      try {
        const file = fileAt(q.path);
        return htmlResponse(layerViewerPage(file.path, file.name, await viewer(request, file, q.layer, null, false), pageSession(request)));
      } catch (e) {
        // A browser asked for a page: the refusal as a page.
        const page = problemPageResponse(e, pageSession(request));
        if (page) return page;
        throw e;
      }
    })
    .get("/ui/files/viewer/layer", async ({ query, request }) => {
      const q = query as Query;
      const file = fileAt(q.path);
      const printer = q.printer ? printerAt(request, q.printer) : null;
      const found = layersOf(file);
      if (!found.ok) return htmlResponse(layerMessage(found.message, found.hint));
      const { layers } = found;
      const asked = layerIndex(q.layer, layers.layers.length) ?? 0;
      const follow = following(request, layers.sha256, printer);
      // Following the print: the layer printing now (the start G-code shows the first).
      const index = follow && q.follow === "1" ? Math.max(0, layerAt(layers.layers, follow.sent) - 1) : asked;
      const f = await fragment(file, layers, index, { travel: q.travel === "1", zoom: q.zoom === "1" }, follow, bedFor(request, follow?.session ?? printer));
      if (q.shown === f.key) return new Response(null, { status: 204 });
      return htmlResponse(raw(f.html));
    })
    .get("/ui/files/viewer/events", ({ query, request }) => {
      const file = fileAt((query as Query).path);
      const sha256 = file.sha256;
      return pageStream(ctx, request, (send) => printsOf(ctx, send, (id, status) => visibleTo(request, id) && sha256 !== null && status.job?.sha256 === sha256));
    })
    .get("/ui/printers/:id/job/viewer", async ({ params, request }) => {
      const s = printerAt(request, params.id);
      const job = s.status.job;
      const close = (message: string, hint = "") => htmlResponse(layerViewer({ path: "", printer: s.id, closable: true, count: 0, layer: 0 }, layerMessage(message, hint)));
      if (!job) return close("There is no print on this printer yet.");
      // The file printed: a host print's own, or a stored file with an SD print's content.
      const path = job.source === "host" ? job.file : job.sha256 ? ctx.files.withHash(job.sha256)[0] : undefined;
      const file = path ? ctx.files.get(path) : undefined;
      if (!file || !job.sha256 || file.sha256 !== job.sha256) {
        return close(
          job.source === "sd" && !job.sha256 ? `${job.file} is printed from the SD card and is not among the stored files, so its layers are not known.` : `The file of this print (${job.file}) has changed or is gone.`,
          "Upload the file to see its layers.",
        );
      }
      return htmlResponse(await viewer(request, file, undefined, s, true));
    });
}

/**
 * Tells a viewer's stream when a print it may follow moves on — the job of a printer `watched`
 * accepts (one the request may see, printing its file, or the dashboard's own printer): at most
 * once a second, and once more when the print ends. Returns the unsubscribe.
 */
export function printsOf(ctx: AppContext, send: SendEvent, watched: (id: string, status: PrinterStatus) => boolean): () => void {
  const seen = new Map<string, string>();
  let latest = "";
  const tick = throttle(() => {
    // Not sent (the client is behind): forget what was seen, so the next status tries again.
    if (!send(LAYER_PROGRESS_EVENT, latest)) seen.clear();
  }, LAYER_PROGRESS_MS);
  const unsubscribe = subscribe(ctx.bus, {
    "printer.status": ({ id, status }) => {
      const job = status.job;
      const key = job && watched(id, status) ? `${id} ${job.id} ${job.state} ${status.progress?.bytesSent ?? 0}` : "";
      if (key === (seen.get(id) ?? "")) return;
      seen.set(id, key);
      latest = key || id;
      tick();
    },
  });
  return () => {
    tick.cancel();
    unsubscribe();
  };
}
