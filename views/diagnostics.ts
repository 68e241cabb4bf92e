/**
 * Settings → Diagnostics: the self-diagnosis' findings, problems first, each area's findings
 * together; Run again, and the support bundle's download. And the dashboard's notice when the
 * latest diagnosis found a problem.
 */
import { AREA_TITLE, AREAS, type Finding, type Report, type Status } from "../src/diagnostics/finding.ts";
import { utcMinute } from "./dashboard.ts";
import { html, type Html } from "./html.ts";
import { layout, settingsNav, type PageSession } from "./layout.ts";

const STATUS_LABEL: Record<Status, string> = { problem: "Problem", warning: "Warning", unknown: "Unknown", ok: "OK", "not-applicable": "Does not apply" };

export function diagnosticsPage(report: Report | null, session?: PageSession): Html {
  // Without a report yet, the report's place runs the checks as it loads (they may take a few seconds).
  const body = report ? diagnosticsReport(report) : html`<section class="card diagnostics-report" id="diagnostics-report" hx-get="/ui/diagnostics/report" hx-trigger="load" hx-swap="outerHTML"><p class="muted">Checking…</p></section>`;
  return layout(
    "Diagnostics",
    html`${settingsNav(session, "/settings/diagnostics")}<div class="settings-page diagnostics">
  <section class="card diagnostics-intro">
    <h2>Diagnostics</h2>
    <p>Layerline checks itself and the machine it runs on: the printers' serial ports, storage, the power supply of a Raspberry Pi, temperature, memory and clock, the servers it uses, updates and plugins. Each finding says what was found and how to fix it. <code>layerline doctor</code> shows the same in a terminal.</p>
    <div class="buttons">
      <button type="button" hx-post="/ui/diagnostics/run" hx-target="#diagnostics-report" hx-swap="outerHTML" hx-disabled-elt="this" data-run-again>Run again</button>
      <a class="button" href="/api/v1/diagnostics/bundle" download data-bundle>Download support bundle</a>
      <span class="muted">A .tar.gz with the findings, system facts, the recent log, each printer's recent serial trace, profile and quirks; passwords, keys and tokens removed.</span>
    </div>
  </section>
  ${body}
</div>`,
    html``,
    session,
  );
}

/** The findings: a summary, then problems, warnings and the rest, each group by area. */
export function diagnosticsReport(report: Report): Html {
  const c = report.counts;
  const summary =
    c.problem + c.warning === 0
      ? html`<p class="diagnostics-summary ok" data-summary>Nothing wrong found.</p>`
      : html`<p class="diagnostics-summary ${c.problem ? "problem" : "warning"}" data-summary>${c.problem} problem${c.problem === 1 ? "" : "s"}, ${c.warning} warning${c.warning === 1 ? "" : "s"}.</p>`;
  const groups = (["problem", "warning", "unknown", "ok", "not-applicable"] as const).map((status) => {
    const list = report.findings.filter((f) => f.status === status);
    if (list.length === 0) return "";
    const byArea = AREAS.map((area) => ({ area, items: list.filter((f) => f.area === area) })).filter((g) => g.items.length);
    const open = status === "problem" || status === "warning";
    return html`<details class="diagnostics-group" data-group="${status}"${open ? " open" : ""}>
  <summary><span class="badge finding-${status}">${STATUS_LABEL[status]}</span> ${list.length}</summary>
  ${byArea.map((g) => html`<h3>${AREA_TITLE[g.area]}</h3><ul class="findings">${g.items.map(findingItem)}</ul>`)}
</details>`;
  });
  return html`<section class="card diagnostics-report" id="diagnostics-report" data-at="${report.at}">
  <h2>Findings <span class="muted">${utcMinute(report.at)} UTC, ${report.tookMs} ms</span></h2>
  ${summary}
  ${groups}
</section>`;
}

function findingItem(f: Finding): Html {
  return html`<li class="finding finding-${f.status}" data-finding="${f.id}" data-status="${f.status}">
  <strong>${f.title}</strong> <span class="badge finding-${f.status}">${STATUS_LABEL[f.status]}</span>
  <p>${f.found}</p>
  ${f.fix ? html`<p class="fix"><strong>Fix:</strong> ${f.fix}</p>` : ""}
  ${f.commands.length ? html`<pre class="commands">${f.commands.map((c) => `$ ${c}`).join("\n")}</pre>` : ""}
</li>`;
}

/** The dashboard's notice: shown while the latest diagnosis has problems, linking to the page; reloads itself. */
export function diagnosticsNotice(report: Report | null): Html {
  const problems = report?.findings.filter((f) => f.status === "problem") ?? [];
  const body =
    problems.length === 0
      ? ""
      : html`<strong>${problems.length === 1 ? "Layerline found a problem" : `Layerline found ${problems.length} problems`}:</strong> ${problems
          .slice(0, 3)
          .map((f) => f.title)
          .join("; ")}${problems.length > 3 ? "; …" : ""}. <a href="/settings/diagnostics">See what to do →</a>`;
  return html`<div id="diagnostics-notice" class="update-notice error" hx-get="/ui/diagnostics/notice" hx-trigger="every 60s" hx-swap="outerHTML"${problems.length ? "" : " hidden"} data-problems="${problems.length}">${body}</div>`;
}
