/**
 * Bundled plugin (and example): events + storage + UI slots (dashboard card, navbar item, file
 * actions, settings section) + API routes. Everything it knows comes from `job` events.
 */
import { definePlugin, html, HttpError, type PluginContext, type SlotViewer } from "layerline";

export interface PrintRecord {
  printer: string;
  file: string;
  state: "done" | "failed" | "cancelled";
  endedAt: number;
  /** Seconds printing (pauses excluded), as the host reported it. */
  printTime: number;
}

export interface Totals {
  done: number;
  failed: number;
  cancelled: number;
  seconds: number;
}

const HISTORY = 100;
const empty = (): Totals => ({ done: 0, failed: 0, cancelled: 0, seconds: 0 });

/** Totals per printer (all printers under "*"). */
export function totals(history: PrintRecord[], printer?: string): Totals {
  const t = empty();
  for (const r of history) {
    if (printer && r.printer !== printer) continue;
    t[r.state]++;
    t.seconds += r.printTime;
  }
  return t;
}

function hours(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h > 0 ? `${h}h ${m}m` : `${m}m`;
}

function ago(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 90) return "just now";
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

export default definePlugin({
  setup(ctx: PluginContext) {
    const history = (): PrintRecord[] => ctx.storage.get<PrintRecord[]>("history") ?? [];

    ctx.on("job", (e) => {
      if (e.state !== "done" && e.state !== "failed" && e.state !== "cancelled") return;
      const printTime = ctx.printers.get(e.printer)?.progress?.printTime ?? 0;
      ctx.storage.set("history", [{ printer: e.printer, file: e.file, state: e.state, endedAt: Date.now(), printTime }, ...history()].slice(0, HISTORY));
    });

    const card = (printer: string, viewer: SlotViewer) => {
      const all = history().filter((r) => r.printer === printer);
      const t = totals(all);
      const now = Date.now();
      return html`<div class="print-stats" id="print-stats-${printer}">
  <h2>Print statistics</h2>
  <p><b data-stat="done">${t.done}</b> finished · <b data-stat="failed">${t.failed}</b> failed · <b data-stat="cancelled">${t.cancelled}</b> cancelled · ${hours(t.seconds)} printing</p>
  ${all.length
    ? html`<ul class="recent">${all.slice(0, 5).map((r) => html`<li><span class="badge">${r.state}</span> ${r.file} <span class="muted">${ago(r.endedAt, now)}</span></li>`)}</ul>`
    : html`<p class="muted">No prints yet.</p>`}
  ${viewer.may("POST") ? html`<button type="button" hx-post="/api/v1/plugins/print-stats/reset?printer=${printer}" hx-target="#print-stats-${printer}" hx-swap="outerHTML" hx-confirm="Forget the statistics of this printer?">Reset</button>` : ""}
</div>`;
    };

    ctx.slot("dashboard.card", ({ printer, viewer }) => card(printer.id, viewer));
    ctx.slot("navbar.item", () => {
      const today = new Date().setHours(0, 0, 0, 0);
      const n = history().filter((r) => r.endedAt >= today && r.state === "done").length;
      return html`<a href="/plugins/print-stats" class="print-stats-nav" title="Prints finished today">${n} ${n === 1 ? "print" : "prints"} today</a>`;
    });
    ctx.slot("file.actions", ({ path }) => {
      const runs = history().filter((r) => r.file === path);
      if (runs.length === 0) return html`<p class="muted">Never printed here.</p>`;
      const done = runs.filter((r) => r.state === "done").length;
      return html`<p class="muted">Printed ${runs.length}× (${done} finished), last ${ago(runs[0]!.endedAt, Date.now())}: ${runs[0]!.state}.</p>`;
    });
    ctx.slot("settings.section", () => {
      const h = history();
      return html`<h3>Latest prints</h3>${h.length
        ? html`<table><thead><tr><th>Ended</th><th>Printer</th><th>File</th><th>Result</th><th>Time</th></tr></thead><tbody>
${h.slice(0, 25).map((r) => html`<tr><td>${new Date(r.endedAt).toLocaleString()}</td><td>${r.printer}</td><td>${r.file}</td><td>${r.state}</td><td>${hours(r.printTime)}</td></tr>`)}
</tbody></table>`
        : html`<p class="muted">No prints yet.</p>`}`;
    });

    ctx.route("GET", "/summary", () => {
      const h = history();
      const printers = [...new Set(h.map((r) => r.printer))];
      return { total: totals(h), printers: Object.fromEntries(printers.map((p) => [p, totals(h, p)])), recent: h.slice(0, 20) };
    });
    ctx.route("POST", "/reset", ({ query }) => {
      const printer = query.printer;
      if (!printer) throw new HttpError(400, "invalid_request", "Say which printer: ?printer=<id>.");
      ctx.storage.set("history", history().filter((r) => r.printer !== printer));
      // Whoever could reset may reset again: the card comes back with its button.
      return card(printer, { may: () => true });
    });
  },
});
