/**
 * The UI's push channel: `GET /ui/events?printer=<id>` streams HTML fragments for htmx's SSE
 * extension — `live` (the printer panel), `log` (terminal lines to append), `files` (the file list)
 * and `sd-copy` (the SD card's copy form, offering the stored files) when files change,
 * `objects` (the cancel-object map, on connect and when an object is cancelled or the job ends;
 * an open map is replaced by it), `layer-progress` (the print moved on, or the analysis of its file:
 * an open layer viewer asks for its picture; at most once a second), and `nav-<id>` (the top bar's dot of each printer the viewer
 * may see, when it changes: another printer needing attention shows on this one's page),
 * `control-<key>` (a custom control's read-out) and `custom-controls` (the set, when it was saved).
 * Rendered from the same status as the JSON API (design principle 5), with the controls the
 * stream's viewer may use.
 */
import { Elysia } from "elysia";
import { fileList, livePanel, terminalLines } from "../../../views/dashboard.ts";
import { linkFigures } from "../../../views/link.ts";
import { customControlsPanel } from "../../../views/controls.ts";
import { escape } from "../../../views/html.ts";
import { sdCopyForm, sdList } from "../../../views/sdcard.ts";
import { subscribe } from "../../events.ts";
import { isJobRunning } from "../../printers/status.ts";
import type { PrinterSession } from "../../printers/session.ts";
import { accessFor, type Access } from "../auth/access.ts";
import type { AppContext } from "../context.ts";
import { renderOnce, renderPerStatus } from "../render-once.ts";
import { objectMapView, printerViews } from "./jobs.ts";
import { printedFile, printsOf } from "./layer-view.ts";
import { changesOnly, farmViews, pushDot } from "./overview.ts";
import { pageStream } from "./viewer-watch.ts";

/** The fragments of one status, rendered once for every page showing that printer to viewers who may do the same. */
interface StatusFragments {
  live: string;
  link: string;
  /** What the SD list shows (it is re-sent only when this changes) and, once asked for, the list. */
  sdKey: string;
  /** What the file list's Print buttons depend on: whether the printer is ready, and its interrupted print (they ask first). */
  filesKey: string;
  sd?: string;
}

export function uiEvents(ctx: AppContext) {
  const printerView = printerViews(ctx);
  const farm = farmViews(ctx);
  const byViewer = renderPerStatus((_: PrinterSession) => new Map<string, StatusFragments>());
  const statusFragments = (session: PrinterSession, access: Access): StatusFragments => {
    const kept = byViewer(session);
    let f = kept.get(access.key);
    if (!f) {
      const view = printerView(session);
      const { state, interrupted } = view.status;
      f = { live: livePanel(view, access).value, link: linkFigures(view).value, sdKey: JSON.stringify([view.status.sd, state, interrupted?.jobId]), filesKey: `${state} ${interrupted?.jobId ?? ""}` };
      kept.set(access.key, f);
    }
    return f;
  };
  const logLines = renderOnce((lines: Parameters<typeof terminalLines>[0]) => terminalLines(lines).value);
  return new Elysia().get("/ui/events", ({ query, set, request }) => {
    const id = typeof query.printer === "string" ? query.printer : ctx.printers.default()?.id;
    const session = id ? ctx.printers.get(id) : undefined;
    if (!session) {
      set.status = 404;
      return "no such printer";
    }
    const view = () => printerView(session);
    const access = accessFor(request);
    return pageStream(ctx, request, (send) => {
      const files = (stored = ctx.files.list()) => send("files", fileList(stored, view(), access).value);
      const dot = pushDot(farm, ctx, request, changesOnly(send));
      let lastFiles = statusFragments(session, access).filesKey;
      let lastSd = "";
      // What the map shows: the job, whether it runs, its file and which objects are cancelled.
      const objectsKey = () => {
        const job = session.status.job;
        return JSON.stringify(job ? [job.id, isJobRunning(job.state), job.sha256, job.objects] : null);
      };
      // Fragments sent only on a change are marked sent only once they went out; the map also
      // goes out on every (re)connect, for a page that kept a map open while it was offline.
      let lastObjects = "";
      const objects = () => {
        const key = objectsKey();
        if (key !== lastObjects && send("objects", objectMapView(ctx, session, access).value)) lastObjects = key;
      };
      objects();
      // An open layer viewer follows this printer's prints, and the analysis of the file printed (src/server/ui/layer-view.ts).
      const stopLayers = printsOf(ctx, send, (printer) => printer === session.id && "progress", printedFile(ctx, session));
      const unsubscribe = subscribe(ctx.bus, {
        "printer.status": (e) => {
          dot(e.id);
          if (e.id !== session.id) return;
          const f = statusFragments(session, access);
          send("live", f.live);
          send("link", f.link);
          // The SD list has buttons: only re-render it when it changed, so clicks are not lost.
          if (f.sdKey !== lastSd) {
            f.sd ??= sdList(view(), access).value;
            if (send("sd", f.sd)) lastSd = f.sdKey;
          }
          objects();
          if (f.filesKey !== lastFiles && files()) lastFiles = f.filesKey;
        },
        "queue.changed": (e) => dot(e.printer),
        "printer.log": (e) => e.id === session.id && send("log", logLines(e.lines)),
        // Custom controls: a read-out's new text, and the whole set when it was saved again.
        "controls.output": (e) => e.printer === session.id && send(`control-${e.key}`, escape(e.text)),
        "controls.changed": () => send("custom-controls", customControlsPanel(ctx.controls.list(), ctx.controls.updatedAt(), session.id, ctx.controls.outputs(session.id), access).value),
        "files.changed": () => {
          const stored = ctx.files.list();
          files(stored);
          send("sd-copy", sdCopyForm(session.id, stored, access).value);
        },
      });
      return () => {
        stopLayers();
        unsubscribe();
      };
    });
  });
}
