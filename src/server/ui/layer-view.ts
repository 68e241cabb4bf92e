/**
 * The layer viewer in the htmx UI (views/layer-view.ts): its page for a file (`/files/viewer`),
 * the fragment of one layer (`/ui/files/viewer/layer`), the page's stream, and the viewer of a
 * printer's job on the dashboard (`/ui/printers/:id/job/viewer`). Reading files needs what the
 * files pages need (`status`); a print is followed only on a printer the viewer may see.
 *
 * Which file a viewer shows: the one it was opened for, until it follows a printer — opened for
 * that printer (the job panel's Layers…, or `printer=` in the page's address), or once it followed
 * that printer's print of its file — and that printer runs a print of another file while "Follow
 * the print" is ticked: the viewer then becomes that file's (the whole viewer is answered, on the
 * page with its heading, title, address and stream). A print ending changes nothing. A viewer that
 * never followed a print keeps its file. The job panel's viewer of a printer whose print it cannot
 * show (none yet, SD-only, its file changed or gone) is a message that asks again as that
 * printer's print moves on (204 while it would say the same) and becomes the next viewable print's
 * viewer. One whose file's analysis has not ended shows how far it
 * is and, when it ends, its layers (its controls are made again for them) or the error. A viewer
 * made again in place keeps the person's choices (follow, travel, zoom, and not following its
 * layer), sent with its form; its page's address keeps them across a reload (public/app.js).
 *
 * Cost on the main thread: a layer is read and parsed once (bounded, src/toolpath/layers.ts) and
 * kept; a picture is rendered once per change (kept by what it shows, for every client); a print
 * moving on is announced on the page's stream at most once a second, and a viewer whose picture
 * would not change is answered 204.
 */
import { Elysia } from "elysia";
import { formatBytes } from "../../../views/dashboard.ts";
import { html, raw, type Html } from "../../../views/html.ts";
import { layerFragment, layerMessage, layerSvg, layerViewer, layerViewerPage, layerViewerSection, sentSegments, viewArea, viewerPageUrl, viewerTitle, type Bed, type LayerFacts, type LivePrint, OPENED, type OtherPrint, type ViewerChoices, type ViewerPlace, type Waiting } from "../../../views/layer-view.ts";
import { pageTitle } from "../../../views/layout.ts";
import { subscribe } from "../../events.ts";
import { FileCatalog } from "../../files/catalog.ts";
import type { StoredFile } from "../../files/storage.ts";
import { DEFAULT_PROFILE, type PrinterProfile } from "../../printers/profile.ts";
import type { PrinterSession } from "../../printers/session.ts";
import { isJobRunning, type Job, type PrinterStatus } from "../../printers/status.ts";
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

/** A file's layers, or why it has none to show, in words (`waiting`: its analysis is under way). */
type Layers = { ok: true; layers: FileLayers } | { ok: false; message: string; hint: string; waiting?: Waiting };

/** Said under every wait for an analysis. */
const WAIT_HINT = "Its layers show here by themselves when the analysis ends; no need to reload.";

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

/** A viewer made again in place: the person's choices, and the layer it showed (1-based), kept when not following. */
interface Rebuilt {
  choices: ViewerChoices;
  layer?: number;
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
      const analysing = (waiting: Waiting): Layers => ({ ok: false, message: `${file.name} is being analysed; its layers can be shown once that is done.`, hint: WAIT_HINT, waiting });
      if (a?.state === "queued") return analysing({ share: null, words: "Waiting its turn." });
      if (a?.state === "analysing" || a?.state === "paused") {
        const share = a.total > 0 ? Math.min(1, a.done / a.total) : 0;
        const percent = Math.floor(share * 100);
        return analysing({ share, words: a.state === "paused" ? `Paused at ${percent} % while a printer prints ("Analyse only while no printer is printing" on the files page).` : `${percent} % read.` });
      }
      return { ok: false, message: `${file.name} has not been analysed, so its layers are not known.`, hint: "Choose Analyse again on the files page; its layers then show here by themselves." };
    }
    if (layers.bytes !== file.size) return { ok: false, message: `${file.name} changed since it was analysed; its layers are not known yet.`, hint: WAIT_HINT, waiting: { share: null, words: "It is analysed again by itself." } };
    if (layers.layers.length === 0) {
      return { ok: false, message: `${file.name} has no layers to show: the analysis found no layer markers from the slicer and no extrusion at distinct heights.`, hint: "A file that extrudes nothing (a calibration or a script) has no layers." };
    }
    return { ok: true, layers };
  };

  /** Why a file has no layers, as the part the viewer swaps (`printer`: the one it follows). */
  const message = (found: Extract<Layers, { ok: false }>, printer: string | null): { key: string; html: Html } => {
    const key = `m|${printer ?? ""}|${Bun.hash(`${found.message}\n${found.hint}`).toString(36)}`;
    return { key, html: layerMessage(found.message, found.hint, { key, printer }, found.waiting) };
  };

  /** The stored file a job prints (a host print's own, or the stored file with an SD print's content), or why it has none. */
  const jobFile = (job: Job): { ok: true; file: StoredFile } | { ok: false; message: string } => {
    const path = storedPathOf(ctx, job);
    const file = path ? ctx.files.get(path) : undefined;
    if (file && job.sha256 && file.sha256 === job.sha256) return { ok: true, file };
    return { ok: false, message: job.source === "sd" && !job.sha256 ? `${job.file} is printed from the SD card and is not among the stored files, so its layers are not known.` : `The file of this print (${job.file}) has changed or is gone.` };
  };

  /** The print running on `s` now when it is not of the content `sha256`: what a viewer following `s` switches to. */
  const otherPrint = (s: PrinterSession, sha256: string | null) => {
    const job = s.status.job;
    if (!job || !isJobRunning(job.state) || (job.sha256 !== null && job.sha256 === sha256)) return null;
    return { job, target: jobFile(job) };
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
  const fragment = async (file: StoredFile, layers: FileLayers, index: number, shown: Shown, follow: Following | null, bed: Bed, printer: string | null, other: OtherPrint | null): Promise<{ key: string; html: string }> => {
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
    const key = [layers.sha256.slice(0, 16), index, shown.travel ? "t" : "", shown.zoom ? "z" : "", bed.width, bed.depth, bed.origin, bed.circular, follow ? `${follow.session.id}:${current}:${sent}` : "", printer ?? "", other ? `${other.printer}:${other.file}:${other.unknown ?? ""}` : ""].join("|");
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
    const html = layerFragment({ state: { key, printer }, facts, svg, live, other, notes, empty: total === 0 }).value;
    pictures.set(key, html);
    while (pictures.size > PICTURES_KEPT) pictures.delete(pictures.keys().next().value!);
    return { key, html };
  };

  /**
   * The whole viewer for a file: controls and its first layer (the one asked for, else the one
   * printing, else the first), and the printer it follows: `printer`, else the one whose print of
   * the file it opens on (it opens following).
   */
  const viewer = async (request: Request, file: StoredFile, rawLayer: string | undefined, printer: PrinterSession | null, place: ViewerPlace, rebuilt?: Rebuilt): Promise<{ html: Html; printer: string | null }> => {
    const found = layersOf(file);
    const choices = rebuilt?.choices ?? OPENED;
    const setup = { path: file.path, place, choices };
    if (!found.ok) return { html: layerViewer({ ...setup, count: 0, layer: rebuilt?.layer ?? 0 }, message(found, printer?.id ?? null).html), printer: printer?.id ?? null };
    const { layers } = found;
    const count = layers.layers.length;
    const follow = following(request, layers.sha256, printer);
    // Not following (unticked by the person): no print ties it to a printer, and it stays on its layer.
    const on = follow && choices.follow ? follow : null;
    const followed = printer ?? on?.session ?? null;
    const kept = !on && rebuilt?.layer ? Math.min(rebuilt.layer, count) - 1 : null;
    const asked = layerIndex(rawLayer, count) ?? kept;
    const index = asked ?? (on ? Math.max(0, layerAt(layers.layers, on.sent) - 1) : 0);
    const f = await fragment(file, layers, index, { travel: choices.travel, zoom: choices.zoom }, follow, bedFor(request, followed), followed?.id ?? null, null);
    return { html: layerViewer({ ...setup, count, layer: index + 1 }, raw(f.html)), printer: followed?.id ?? null };
  };

  /**
   * The whole viewer in place of the one that asked (its controls no longer fit: the file's layers
   * became known or changed, or it switched to the file a followed printer prints): on the
   * viewer's page the page's content, with the file's heading, title, stream and (`switched`)
   * address; in the job panel the viewer alone.
   */
  const whole = async (request: Request, file: StoredFile, printer: PrinterSession | null, q: Query, switched: boolean): Promise<Response> => {
    const place = q.place;
    // Made again in place: the person's choices stay (and, not following, the layer they chose, if the file still has it).
    const layer = !switched && q.layer !== undefined && /^\d{1,9}$/.test(q.layer) ? Number(q.layer) : undefined;
    const rebuilt: Rebuilt = { choices: { follow: q.follow === "1", travel: q.travel === "1", zoom: q.zoom === "1" }, layer: layer && layer >= 1 ? layer : undefined };
    const v = await viewer(request, file, undefined, printer, place === "page" ? "page" : "job", rebuilt);
    if (place !== "page") return htmlResponse(v.html, { "HX-Retarget": "this", "HX-Reswap": "outerHTML" });
    const headers: Record<string, string> = { "HX-Retarget": "closest .layer-page", "HX-Reswap": "outerHTML" };
    if (switched) headers["HX-Replace-Url"] = viewerPageUrl(file.path, v.printer, rebuilt.choices);
    // A <title> at the top of an answer is the document's new title (htmx).
    return htmlResponse(html`<title>${pageTitle(viewerTitle(file.name))}</title>${layerViewerSection(file.path, file.name, v.printer, v.html)}`, headers);
  };

  return new Elysia()
    .get("/files/viewer", async ({ query, request }) => {
      const q = query as Query;
      try {
        const file = fileAt(q.path);
        const printer = q.printer ? printerAt(request, q.printer) : null;
        // The person's choices kept in the address (a reload): as they left them, else as opened.
        const choices: ViewerChoices = { follow: q.follow !== "0", travel: q.travel === "1", zoom: q.zoom === "1" };
        // Following a printer that prints another file (an address kept from before): that file's page.
        const other = printer && choices.follow ? otherPrint(printer, file.sha256) : null;
        if (printer && other?.target.ok) return new Response(null, { status: 303, headers: { location: viewerPageUrl(other.target.file.path, printer.id, choices) } });
        // Not following, the address's layer is the one the person left (the file may have fewer now: its last).
        const left = !choices.follow && q.layer !== undefined && /^\d{1,9}$/.test(q.layer) && Number(q.layer) >= 1 ? Number(q.layer) : undefined;
        const v = await viewer(request, file, left ? undefined : q.layer, printer, "page", { choices, layer: left });
        return htmlResponse(layerViewerPage(file.path, file.name, v.printer, v.html, pageSession(request)));
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
      const followOn = q.follow === "1";
      const running = printer ? otherPrint(printer, file.sha256) : null;
      // The followed printer prints another file: the viewer becomes that file's.
      if (running?.target.ok && followOn) return whole(request, running.target.file, printer, q, true);
      const found = layersOf(file);
      // The viewer's controls were made for other layers than the file has now (its analysis ended, or it changed).
      if (q.count !== undefined && q.count !== String(found.ok ? found.layers.layers.length : 0)) return whole(request, file, printer, q, false);
      if (!found.ok) {
        const m = message(found, printer?.id ?? null);
        return q.shown === m.key ? new Response(null, { status: 204 }) : htmlResponse(m.html);
      }
      const { layers } = found;
      const asked = layerIndex(q.layer, layers.layers.length) ?? 0;
      const follow = following(request, layers.sha256, printer);
      // Following the print: the layer printing now (the start G-code shows the first).
      const index = follow && followOn ? Math.max(0, layerAt(layers.layers, follow.sent) - 1) : asked;
      // Following a print of the file ties the viewer to its printer, for the prints after it.
      const followed = printer ?? (follow && followOn ? follow.session : null);
      const other: OtherPrint | null = running && printer ? { printer: printer.id, printerName: printer.record.name, file: running.job.file, unknown: running.target.ok ? null : running.target.message } : null;
      const f = await fragment(file, layers, index, { travel: q.travel === "1", zoom: q.zoom === "1" }, follow, bedFor(request, follow?.session ?? printer), followed?.id ?? null, other);
      if (q.shown === f.key) return new Response(null, { status: 204 });
      return htmlResponse(raw(f.html));
    })
    .get("/ui/files/viewer/events", ({ query, request }) => {
      const q = query as Query;
      const file = fileAt(q.path);
      const printer = q.printer ? printerAt(request, q.printer) : null;
      const sha256 = file.sha256;
      return pageStream(ctx, request, (send) => {
        const stop = printsOf(
          ctx,
          send,
          (id, status) => {
            if (!visibleTo(request, id)) return false;
            // Prints of the file, and every print of the printer followed, as they move on; a print starting
            // or ending elsewhere, for a viewer that followed its printer since the page opened.
            return id === printer?.id || (sha256 !== null && status.job?.sha256 === sha256) ? "progress" : "job";
          },
          (path) => path === file.path,
        );
        // A viewer made again in place comes with a new stream (and one that reconnects, with the
        // same): what happened while it had none — its file's analysis ended, say — is asked for at
        // once; an unchanged viewer is answered 204.
        send(LAYER_PROGRESS_EVENT, "connected");
        return stop;
      });
    })
    .get("/ui/printers/:id/job/viewer", async ({ params, query, request }) => {
      const s = printerAt(request, params.id);
      const job = s.status.job;
      const found = job ? jobFile(job) : null;
      if (found?.ok) return htmlResponse((await viewer(request, found.file, undefined, s, "job")).html);
      // No file to show: a message that follows the printer (it asks again as the printer's print
      // moves on, sending what it shows) until a print it can show is there.
      const m = message(found ? { ok: false, message: found.message, hint: "Upload the file to see its layers." } : { ok: false, message: "There is no print on this printer yet.", hint: "" }, s.id);
      if ((query as Query).shown === m.key) return new Response(null, { status: 204 });
      return htmlResponse(layerViewer({ path: "", place: "job", count: 0, layer: 0, printer: s.id }, m.html));
    });
}

/** How a viewer's stream watches a printer: each move of its print, only its prints starting and ending, or not at all. */
export type Watch = "progress" | "job" | false;

/**
 * Tells a viewer's stream when what it may show moved on — the job of a printer `watched` accepts
 * (one the request may see: printing its file, the printer it follows or the dashboard's own; a
 * print starting or ending on the others), or the analysis of a file `analysed` accepts: at most
 * once a second, and once more when the print or the analysis ends. Returns the unsubscribe.
 */
export function printsOf(ctx: AppContext, send: SendEvent, watched: (id: string, status: PrinterStatus) => Watch, analysed: (path: string) => boolean): () => void {
  const seen = new Map<string, string>();
  let latest = "";
  const tick = throttle(() => {
    // Not sent (the client is behind): forget what was seen, so the next status tries again.
    if (!send(LAYER_PROGRESS_EVENT, latest)) seen.clear();
  }, LAYER_PROGRESS_MS);
  const analysis = ({ path }: { path: string }) => {
    if (!analysed(path)) return;
    latest = `analysis ${path}`;
    tick();
  };
  const unsubscribe = subscribe(ctx.bus, {
    "printer.status": ({ id, status }) => {
      const job = status.job;
      const watch = job ? watched(id, status) : false;
      const key = !job || !watch ? "" : watch === "progress" ? `${id} ${job.id} ${job.state} ${status.progress?.bytesSent ?? 0}` : isJobRunning(job.state) ? `${id} ${job.id}` : "";
      if (key === (seen.get(id) ?? "")) return;
      seen.set(id, key);
      latest = key || id;
      tick();
    },
    "analysis.progress": analysis,
    "analysis.finished": analysis,
  });
  return () => {
    tick.cancel();
    unsubscribe();
  };
}

/** The stored file a job prints, by its path: a host print's own, or a stored file with an SD print's content. */
function storedPathOf(ctx: AppContext, job: Job): string | undefined {
  return job.source === "host" ? job.file : job.sha256 ? ctx.files.withHash(job.sha256)[0] : undefined;
}

/**
 * Whether `path` is the stored file printer `s`'s job prints (for its dashboard's viewer, waiting
 * for that file's analysis); an SD print's file is looked up once per job.
 */
export function printedFile(ctx: AppContext, s: PrinterSession): (path: string) => boolean {
  let known: { job: string; path: string | undefined } | null = null;
  return (path) => {
    const job = s.status.job;
    if (!job) return false;
    if (known?.job !== job.id) known = { job: job.id, path: storedPathOf(ctx, job) };
    return known.path === path;
  };
}
