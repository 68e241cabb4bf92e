/**
 * The UI's push channel: `GET /ui/events?printer=<id>` streams HTML fragments for htmx's SSE
 * extension — `live` (the printer panel), `log` (terminal lines to append), `files`, and
 * `objects` (the cancel-object map, when an object is cancelled or the job ends; an open map
 * swaps itself for it). Rendered from the same status as the JSON API (design principle 5).
 */
import { Elysia } from "elysia";
import { fileList, livePanel, terminalLines } from "../../../views/dashboard.ts";
import { linkFigures } from "../../../views/link.ts";
import { sdList } from "../../../views/sdcard.ts";
import { subscribe } from "../../events.ts";
import { isJobRunning } from "../../printers/status.ts";
import type { AppContext } from "../context.ts";
import { sseResponse } from "../sse.ts";
import { objectMapView, printerViews } from "./jobs.ts";

export function uiEvents(ctx: AppContext) {
  return new Elysia().get("/ui/events", ({ query, set }) => {
    const id = typeof query.printer === "string" ? query.printer : ctx.printers.default()?.id;
    const session = id ? ctx.printers.get(id) : undefined;
    if (!session) {
      set.status = 404;
      return "no such printer";
    }
    const printerView = printerViews(ctx);
    const view = () => printerView(session);
    return sseResponse((send) => {
      const files = () => send("files", fileList(ctx.files.list(), view()).value);
      let lastState = session.status.state;
      let lastSd = "";
      // What the map shows: the job, whether it runs, its file and which objects are cancelled.
      const objectsKey = () => {
        const job = session.status.job;
        return JSON.stringify(job ? [job.id, isJobRunning(job.state), job.sha256, job.objects] : null);
      };
      let lastObjects = objectsKey();
      return subscribe(ctx.bus, {
        "printer.status": (e) => {
          if (e.id !== session.id) return;
          send("live", livePanel(view()).value);
          send("link", linkFigures(view()).value);
          // The SD list has buttons: only re-render it when it changed, so clicks are not lost.
          const sd = JSON.stringify([e.status.sd, e.status.state]);
          if (sd !== lastSd) {
            lastSd = sd;
            send("sd", sdList(view()).value);
          }
          const objects = objectsKey();
          if (objects !== lastObjects) {
            lastObjects = objects;
            send("objects", objectMapView(ctx, session).value);
          }
          // The file list's Print buttons depend on whether the printer is ready.
          if (e.status.state !== lastState) {
            lastState = e.status.state;
            files();
          }
        },
        "printer.log": (e) => e.id === session.id && send("log", terminalLines(e.lines).value),
        "files.changed": files,
      });
    });
  });
}
