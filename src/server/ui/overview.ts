/**
 * All printers at a glance: the page (`GET /printers`), its push channel (`GET /ui/printers/events`:
 * each printer's card and top-bar dot, and `printers` when printers come or go), and the top bar's
 * printer links with their dots for other pages (the dashboard pushes the dots on its own channel).
 *
 * Cost: a card or dot is rendered once per change of its printer's status, record or queue (per
 * set of permissions, for the card's buttons) however many pages show it, and each client is sent
 * a fragment only when it differs from what that client last got — a print's status, reported
 * five times a second, moves a card about once per percent or degree, not on every report.
 */
import { Elysia } from "elysia";
import type { Html } from "../../../views/html.ts";
import { cameraPicture } from "../../../views/camera.ts";
import { navDot, overviewPage, printerCard, printerNav, type FarmPrinter } from "../../../views/overview.ts";
import { subscribe } from "../../events.ts";
import { farmQueuePanel } from "../../../views/farm-queue.ts";
import type { QueueView } from "../../jobs/queue.ts";
import type { PrinterStatus } from "../../printers/status.ts";
import { farmChangeRefusal } from "../api/farm.ts";
import type { PrinterSession } from "../../printers/session.ts";
import { accessFor, type Access } from "../auth/access.ts";
import { visibleTo } from "../auth/principal.ts";
import type { AppContext } from "../context.ts";
import { renderPerStatus } from "../render-once.ts";
import type { SendEvent } from "../sse.ts";
import { pageSession } from "./page-session.ts";
import { htmlResponse } from "./routes.ts";
import { pageStream } from "./viewer-watch.ts";

const byHost = new WeakMap<AppContext, ReturnType<typeof makeFarmViews>>();

/** Each printer's card and dot, rendered once per change for every page showing them (one set per host). */
export function farmViews(ctx: AppContext): FarmViews {
  let farm = byHost.get(ctx);
  if (!farm) byHost.set(ctx, (farm = makeFarmViews(ctx)));
  return farm;
}

function makeFarmViews(ctx: AppContext) {
  // A queue's view reads the database: kept until the queue says it changed.
  const queues = new Map<string, QueueView>();
  ctx.bus.on("queue.changed", ({ printer }) => queues.delete(printer));
  ctx.bus.on("printers.changed", () => queues.clear());
  const queueOf = (id: string) => {
    let q = queues.get(id);
    if (!q) queues.set(id, (q = ctx.queue.view(id)));
    return q;
  };
  // The farm's view of each printer's bed, likewise kept until the farm queue changes.
  const beds = new Map<string, FarmPrinter["farm"]>();
  ctx.bus.on("farm.changed", () => beds.clear());
  const bedOf = (id: string) => {
    let b = beds.get(id);
    if (!b) beds.set(id, (b = ctx.farm.printerState(id)));
    return b;
  };
  const kept = renderPerStatus((_: PrinterSession) => ({ queue: null as QueueView | null, farm: null as FarmPrinter["farm"] | null, dot: "", cards: new Map<string, string>() }));
  /** The renderings of the printer's current status, record, queue and bed. */
  const current = (s: PrinterSession) => {
    const k = kept(s);
    const queue = queueOf(s.id);
    const farm = bedOf(s.id);
    if (k.queue !== queue || k.farm !== farm) Object.assign(k, { queue, farm, dot: "", cards: new Map() });
    return k;
  };
  const farmPrinter = (s: PrinterSession): FarmPrinter => ({ record: s.record, status: s.status, queue: queueOf(s.id), farm: bedOf(s.id) });
  return {
    farmPrinter,
    /** The printers the request's principal may see (a key restricted to one printer sees that one). */
    visible: (request: Request) => ctx.printers.list().filter((s) => visibleTo(request, s.id)),
    card(s: PrinterSession, access: Access): string {
      const k = current(s);
      let card = k.cards.get(access.key);
      if (card === undefined) k.cards.set(access.key, (card = printerCard(farmPrinter(s), access).value));
      return card;
    },
    dot(s: PrinterSession): string {
      const k = current(s);
      return (k.dot ||= navDot(farmPrinter(s)).value);
    },
  };
}
export type FarmViews = ReturnType<typeof makeFarmViews>;

/** The top bar's printer links as the request's principal may see them, `active` marked, each leading to `href` (default: its dashboard). */
export function farmNav(farm: FarmViews, request: Request, active: string | null, href?: (id: string) => string): Html {
  return printerNav(farm.visible(request).map(farm.farmPrinter), active, href);
}

/** A sender of fragments that skips one equal to what this client was last sent under its event name. */
export function changesOnly(send: SendEvent): SendEvent {
  const last = new Map<string, string>();
  return (event, data) => {
    if (last.get(event) === data) return true;
    const sent = send(event, data);
    if (sent) last.set(event, data);
    return sent;
  };
}

/** Pushes a visible printer's nav dot to one client when it changed (the dashboard's channel and the overview's). */
export function pushDot(farm: FarmViews, ctx: AppContext, request: Request, send: SendEvent) {
  return (id: string) => {
    const s = ctx.printers.get(id);
    if (s && visibleTo(request, id)) send(`nav-${id}`, farm.dot(s));
  };
}

export function uiOverview(ctx: AppContext) {
  const farm = farmViews(ctx);
  /** The farm queue section as this viewer sees it. */
  const farmQueue = (request: Request) => farmQueuePanel(ctx.farm.view((id) => visibleTo(request, id)), ctx.files.list(), accessFor(request), farmChangeRefusal(request) === null);
  return new Elysia()
    .get("/printers", ({ request }) => {
      const access = accessFor(request);
      const camera = (p: FarmPrinter) => cameraPicture(p.record.id, p.record.name, ctx.webcam.camera(p.record.id), access);
      return htmlResponse(overviewPage(farm.visible(request).map(farm.farmPrinter), access, pageSession(request), farmQueue(request), camera));
    })
    .get("/ui/printers/events", ({ request }) => {
      const access = accessFor(request);
      return pageStream(ctx, request, (sendAny) => {
        const send = changesOnly(sendAny);
        const dot = pushDot(farm, ctx, request, send);
        const push = (id: string) => {
          const s = ctx.printers.get(id);
          if (!s || !visibleTo(request, id)) return;
          send(`card-${id}`, farm.card(s, access));
          dot(id);
        };
        const pushFarm = () => send("farm-queue", farmQueue(request).value);
        // The farm queue's reasons change with a printer's state or job, not with each report.
        const seen = new Map<string, string>();
        const farmMoved = (id: string, status: PrinterStatus) => {
          const key = `${status.state}|${status.job?.state ?? ""}|${status.interrupted !== null}`;
          if (seen.get(id) === key) return false;
          seen.set(id, key);
          return true;
        };
        // Everything once on (re)connecting: what changed while the page loaded or was offline.
        for (const s of farm.visible(request)) push(s.id);
        pushFarm();
        return subscribe(ctx.bus, {
          "printer.status": ({ id, status }) => {
            push(id);
            if (farmMoved(id, status)) pushFarm();
          },
          "queue.changed": ({ printer }) => (push(printer), pushFarm()),
          "farm.changed": () => {
            for (const s of farm.visible(request)) push(s.id);
            pushFarm();
          },
          "files.changed": pushFarm,
          "analysis.finished": pushFarm,
          "printer.profile": pushFarm,
          "printers.changed": () => (sendAny("printers", String(Date.now())), pushFarm()),
        });
      });
    });
}
