/**
 * The link card: how the serial line is doing (lines per second, resends, how fast the firmware
 * acknowledges, the send window) and the flight recorder's downloads. The figures are a fragment
 * pushed with every status (`link` over SSE); the window setting and the links stay put.
 */
import type { Access } from "../src/server/auth/access.ts";
import type { PrinterView } from "./dashboard.ts";
import { html, type Html } from "./html.ts";

const ms = (x: number | null) => (x === null ? "–" : x < 10 ? `${x.toFixed(2)} ms` : `${x.toFixed(0)} ms`);

/** The figures; re-rendered on every status. */
export function linkFigures({ status }: PrinterView): Html {
  const l = status.link;
  const buffers = l.bufferFree >= 0 ? html`<tr><th>Firmware buffers free</th><td>${l.plannerFree} planner, ${l.bufferFree} command</td></tr>` : "";
  return html`<table class="link-stats">
<tr><th>Lines per second</th><td data-stat="lines-per-second">${l.linesPerSecond}</td></tr>
<tr><th>Resent</th><td data-stat="resend-ratio">${(l.resendRatio * 100).toFixed(2)} % <span class="muted">(${l.linesResent} of ${l.linesSent} lines, ${l.resendRequests} requests)</span></td></tr>
<tr><th>Ack latency</th><td data-stat="ack-latency">p50 ${ms(l.ackLatencyP50Ms)} · p99 ${ms(l.ackLatencyP99Ms)}</td></tr>
<tr><th>Lines in flight</th><td data-stat="window">${l.window} <span class="muted">(up to ${l.maxWindow}${l.window < l.maxWindow ? "; more needs ADVANCED_OK" : ""})</span></td></tr>
${buffers}
<tr><th>Timeouts</th><td>${l.timeouts}${l.lostOks || l.lateOks ? html` <span class="muted">(${l.lostOks} lost, ${l.lateOks} late oks)</span>` : ""}</td></tr>
</table>`;
}

/** The whole card for the dashboard; the window setting for a viewer who may change it. */
export function linkCard(view: PrinterView, access: Access): Html {
  const id = view.record.id;
  return html`<h2>Link</h2>
<div id="link" sse-swap="link">${linkFigures(view)}</div>
${access.may("POST /ui/printers/:id/window", id)
  ? html`<form class="inline window-form" hx-post="/ui/printers/${id}/window" hx-swap="none">
  <label>Lines in flight <input type="number" name="window" min="1" max="32" step="1" value="${view.record.window}" aria-label="Lines in flight"></label>
  <button type="submit">Set</button>
</form>`
  : ""}
<p class="muted">Flight recorder: <a href="/api/v1/printers/${id}/trace" download>latest lines (JSONL)</a> · <a href="/api/v1/printers/${id}/trace?source=log" download>full log</a></p>`;
}
