/**
 * The history page: every print with filters (printer, outcome, file name, dates), paging, a CSV
 * export of what the filters select, and statistics per file (prints, success rate, average time;
 * a resumed print counts once). The parts of a resumed print link to each other.
 * The filter form reloads the results fragment (`/ui/history/list`).
 */
import type { FileSummary, HistoryEntry, HistoryQuery } from "../src/jobs/history.ts";
import { OUTCOME_FILTERS } from "../src/jobs/history.ts";
import type { PrinterRecord } from "../src/printers/record.ts";
import { formatDuration } from "./dashboard.ts";
import { html, type Html } from "./html.ts";
import { layout, type PageSession } from "./layout.ts";

/** A time as people read it, in the host's locale and time zone. Example: `when(0)` → "1970-01-01 00:00". */
export function when(ms: number | null): string {
  if (ms === null) return "—";
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

const OUTCOME_TEXT: Record<HistoryEntry["outcome"], string> = { done: "Done", cancelled: "Cancelled", failed: "Failed", printing: "Printing" };
const OUTCOME_CLASS: Record<HistoryEntry["outcome"], string> = { done: "state-operational", cancelled: "state-paused", failed: "state-error", printing: "state-printing" };

export function outcomeBadge(e: Pick<HistoryEntry, "outcome" | "reason">): Html {
  return html`<span class="badge ${OUTCOME_CLASS[e.outcome]}" data-outcome="${e.outcome}" title="${e.reason ?? ""}">${OUTCOME_TEXT[e.outcome]}</span>`;
}

const percent = (r: number | null) => (r === null ? "—" : `${Math.round(r * 100)} %`);
const minutes = (s: number | null) => (s === null ? "—" : formatDuration(s));
const metres = (mm: number) => `${(mm / 1000).toFixed(2)} m`;

/** The query string of a filter (for the export link and paging). */
export function historyQueryString(q: Partial<HistoryQuery>, extra: Record<string, string | number> = {}): string {
  const params = new URLSearchParams();
  for (const key of ["printer", "outcome", "q", "from", "to"] as const) {
    const value = q[key];
    if (value === undefined || value === "") continue;
    params.set(key, typeof value === "number" ? new Date(value).toISOString() : value);
  }
  for (const [k, v] of Object.entries(extra)) params.set(k, String(v));
  return params.toString();
}

export interface HistoryResults {
  query: HistoryQuery;
  /** The raw form values (dates as typed), to fill the form again. */
  form: Record<string, string>;
  total: number;
  items: HistoryEntry[];
  files: FileSummary[];
  /** Whether the viewer may delete entries (the guard's answer for the delete route). */
  mayDelete: boolean;
  /** Entries of prints still running: not deletable until they end. */
  running: Set<number>;
}

export function historyPage(printers: PrinterRecord[], results: HistoryResults, session?: PageSession): Html {
  const f = results.form;
  return layout(
    "History",
    html`<div class="history-page">
  <section class="card">
    <h1>Print history</h1>
    <form id="history-query" class="query" hx-get="/ui/history/list" hx-target="#history-results" hx-trigger="input changed delay:300ms from:input[name=q], change">
      <select name="printer" aria-label="Printer">
        <option value="">All printers</option>
        ${printers.map((p) => html`<option value="${p.id}" ${f.printer === p.id ? "selected" : ""}>${p.name}</option>`)}
      </select>
      <select name="outcome" aria-label="Outcome">
        <option value="">Any outcome</option>
        ${OUTCOME_FILTERS.map((o) => html`<option value="${o}" ${f.outcome === o ? "selected" : ""}>${OUTCOME_TEXT[o]}</option>`)}
      </select>
      <input type="search" name="q" value="${f.q ?? ""}" placeholder="File name contains…" aria-label="File name contains" autocomplete="off">
      <label>From <input type="date" name="from" value="${f.from ?? ""}" aria-label="From date"></label>
      <label>To <input type="date" name="to" value="${f.to ?? ""}" aria-label="To date"></label>
    </form>
    <div id="history-results">${historyResults(results)}</div>
  </section>
</div>`,
    html``,
    session,
  );
}

/**
 * A resumed print's parts point at each other: the resumed part at the interrupted one, the
 * interrupted part at the one that resumed it. The link opens the history of that file on that
 * printer at the other part (both parts are there, whatever page this one is on).
 */
function resumeLinks(e: HistoryEntry): Html {
  const at = (id: number, text: string, kind: string) =>
    html`<a class="resume-link" data-${kind}="${id}" href="/history?${new URLSearchParams({ printer: e.printer, q: e.file }).toString()}#entry-${id}">${text}</a>`;
  const from = e.resumedFrom !== null ? html` — ${at(e.resumedFrom, "the interrupted part", "resumed-from")}` : "";
  const as = e.resumedAs !== null ? html` <span class="muted">(${at(e.resumedAs, "resumed later", "resumed-as")})</span>` : "";
  return html`${e.resumed ? html` <span class="muted">(resumed after an interruption${from})</span>` : ""}${as}`;
}

/** The table, paging, export link and per-file statistics for the current filters. */
export function historyResults(r: HistoryResults): Html {
  const { limit, offset } = r.query;
  const page = (o: number) => `/ui/history/list?${historyQueryString(r.query, { offset: o, limit })}`;
  return html`<p class="history-summary">
  <span data-total="${r.total}">${r.total} ${r.total === 1 ? "print" : "prints"}</span>${r.total > r.items.length ? html` · showing ${offset + 1}–${offset + r.items.length}` : ""}
  · <a class="export" href="/api/v1/history.csv?${historyQueryString(r.query)}" download>Export CSV</a>
</p>
${r.items.length === 0
  ? html`<p class="muted">No prints match.</p>`
  : html`<table class="list history-table"><thead><tr><th>Started</th><th>Printer</th><th>File</th><th>Print time</th><th>Filament</th><th>Outcome</th>${r.mayDelete ? html`<th></th>` : ""}</tr></thead><tbody>
${r.items.map(
  (e) => html`<tr data-entry="${e.id}" id="entry-${e.id}">
  <td>${when(e.startedAt)}</td>
  <td>${e.printerName}</td>
  <td class="name">${e.file}${e.source === "sd" ? html` <span class="muted">(SD card)</span>` : ""}${resumeLinks(e)}</td>
  ${e.outcome === "printing" ? html`<td class="muted" title="Known once the print has ended">—</td><td class="muted">—</td>` : html`<td>${formatDuration(e.printTime)}</td><td>${metres(e.filament)}</td>`}
  <td>${outcomeBadge(e)}${e.reason ? html` <span class="muted reason">${e.reason}</span>` : ""}${e.notes ? html` <span class="muted notes">${e.notes}</span>` : ""}</td>
  ${r.mayDelete ? html`<td>${r.running.has(e.id) ? "" : html`<button class="danger" hx-post="/ui/history/${e.id}/delete" hx-include="#history-query" hx-target="#history-results" hx-confirm="Delete this entry from the history?">Delete</button>`}</td>` : ""}
</tr>`,
)}
</tbody></table>`}
<div class="buttons">
  ${offset > 0 ? html`<button hx-get="${page(Math.max(0, offset - limit))}" hx-target="#history-results">← Newer</button>` : ""}
  ${offset + r.items.length < r.total ? html`<button hx-get="${page(offset + limit)}" hx-target="#history-results">Older →</button>` : ""}
</div>
<h2>Per file</h2>
${r.files.length === 0
  ? html`<p class="muted">No statistics yet.</p>`
  : html`<table class="list file-stats"><thead><tr><th>File</th><th>Prints</th><th>Success rate</th><th>Average print time</th><th>Last printed</th></tr></thead><tbody>
${r.files.map((s) => html`<tr data-sha256="${s.sha256 ?? ""}"><td class="name">${s.file}</td><td>${s.prints}</td><td>${percent(s.successRate)}</td><td>${minutes(s.averagePrintTime)}</td><td>${when(s.lastPrintedAt)}</td></tr>`)}
</tbody></table>`}`;
}
