/**
 * Native push: `GET /api/v1/events` streams printer status, terminal lines, printer events, print
 * queues, the farm queue, file changes and analysis progress as Server-Sent Events with JSON payloads. `?printer=<id>` narrows to one printer.
 */
import { Elysia } from "elysia";
import { subscribe } from "../../events.ts";
import type { AppContext } from "../context.ts";
import { sseResponse } from "../sse.ts";
import { visibleTo } from "../auth/principal.ts";
import { renderOnce } from "../render-once.ts";
import { printerJsonText } from "./printers.ts";

export function eventsApi(ctx: AppContext) {
  // Each event is serialised once for all the clients listening.
  const json = renderOnce((e: object) => JSON.stringify(e));
  return new Elysia().get("/api/v1/events", ({ query, request }) => {
    const only = typeof query.printer === "string" ? query.printer : undefined;
    const wanted = (id: string) => (only === undefined || only === id) && visibleTo(request, id);
    return sseResponse((send) => {
      for (const s of ctx.printers.list()) if (wanted(s.id)) send("status", printerJsonText(s));
      return subscribe(ctx.bus, {
        "printer.status": ({ id }) => {
          const s = ctx.printers.get(id);
          if (s && wanted(id)) send("status", printerJsonText(s));
        },
        "printer.log": (e) => wanted(e.id) && send("log", json(e)),
        "printer.event": (e) => wanted(e.id) && send("event", json(e)),
        "files.changed": () => send("files", JSON.stringify({ files: ctx.files.list() })),
        "analysis.progress": (e) => send("analysis", JSON.stringify(e)),
        "analysis.finished": (e) => send("analysis", JSON.stringify({ ...e, state: e.ok ? "done" : "error" })),
        // Only the printers this client may see (a key restricted to one printer learns of no other).
        "printers.changed": () => send("printers", JSON.stringify({ printers: ctx.printers.list().filter((p) => visibleTo(request, p.id)).map((p) => p.id) })),
        // A farm client sees a queue waiting for the bed to be cleared (or moving on) without polling.
        "queue.changed": ({ printer }) => wanted(printer) && ctx.printers.get(printer) && send("queue", JSON.stringify(ctx.queue.view(printer))),
        "farm.changed": () => send("farm", JSON.stringify(ctx.farm.view((id) => visibleTo(request, id)))),
      });
    });
  });
}
