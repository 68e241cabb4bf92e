/**
 * A plugin's page on the registry website: what it is, whether and how it installs on Layerline,
 * its source's health, its usage, and its description (sanitised HTML from the registry build).
 */
import type { IndexEntry } from "../../src/registry/index-format.ts";
import { TRENDING_MIN_WEEK_INSTALLS, trendingScore } from "../../src/registry/rankings.ts";
import type { SiteData, SitePlugin } from "../../src/registry/site.ts";
import { formatBytes } from "../dashboard.ts";
import { html, raw, type Html } from "../html.ts";
import { age, count, day, sitePage } from "./shell.ts";

/** Compatibility and state at a glance. */
export function badges(r: IndexEntry): Html {
  return html`${r.compatibility.layerline ? html`<span class="badge ok" title="Layerline plugin API">Layerline ${r.compatibility.layerline}</span>` : html`<span class="badge" title="No Layerline release: listed, not installable">not a Layerline plugin</span>`}${r.abandoned ? html`<span class="badge warn">abandoned</span>` : ""}${r.disabled !== undefined ? html`<span class="badge danger">disabled</span>` : ""}${r.attributes.map((a) => html`<span class="badge">${a}</span>`)}`;
}

export function pluginPage(p: SitePlugin, data: SiteData): Html {
  const r = p.record;
  return sitePage(
    { title: `${r.title} · Layerline plugins`, root: "../../", generated: data.generated },
    html`<div class="plugin-page" data-plugin="${r.id}">
<article>
  <h1>${r.title}</h1>
  <p class="lead">${r.description}</p>
  <p>${badges(r)} <span class="muted">by ${r.author || "unknown"} · ${r.license} · registered ${day(r.published)}</span></p>
  ${r.disabled !== undefined ? html`<div class="notice danger" role="alert"><strong>Disabled:</strong> ${raw(r.disabled)}</div>` : ""}
  ${r.abandoned ? html`<div class="notice warning">This plugin is abandoned by its author; it may stop working with newer versions.</div>` : ""}
  ${p.notices.filter((n) => n.kind === "compatibility").map((n) => html`<div class="notice compatibility" data-kind="compatibility">${n.text}</div>`)}
  ${p.screenshots.length ? html`<section class="screenshots">${p.screenshots.map((s) => html`<figure><img src="${s.url}" alt="${s.alt ?? ""}" loading="lazy" referrerpolicy="no-referrer">${s.caption ? html`<figcaption>${s.caption}</figcaption>` : ""}</figure>`)}</section>` : ""}
  <section class="card description">${raw(p.descriptionHtml)}</section>
</article>
<aside>
  ${install(r)}
  <section class="card"><h2>Links</h2><dl class="facts">
    <dt>Homepage</dt><dd><a href="${r.homepage}" rel="nofollow noopener">${r.homepage}</a></dd>
    <dt>Source</dt><dd><a href="${p.source}" rel="nofollow noopener">${p.source}</a></dd>
    ${r.privacypolicy ? html`<dt>Privacy</dt><dd><a href="${r.privacypolicy}" rel="nofollow noopener">privacy policy</a></dd>` : ""}
  </dl></section>
  ${health(r, data.generated)}
  ${usage(p)}
</aside>
</div>`,
  );
}

function install(r: IndexEntry): Html {
  if (!r.compatibility.layerline || !r.version || !r.sha256) {
    return html`<section class="card install"><h2>Install</h2><p class="muted">No Layerline release: this plugin is listed for reference and cannot be installed on Layerline.</p>
${r.compatibility_check && !r.compatibility_check.found ? html`<p class="muted">Its entry declares Layerline API ${r.compatibility_check.declared ?? ""}, but the archive is not a usable Layerline plugin.</p>` : ""}</section>`;
  }
  return html`<section class="card install"><h2>Install</h2><dl class="facts">
  <dt>Version</dt><dd>${r.version}</dd>
  <dt>Plugin API</dt><dd>${r.compatibility.layerline}${r.compatibility_check?.corrected ? html` <span class="badge warn" title="The entry declared ${r.compatibility_check.declared ?? "nothing"}">corrected</span>` : ""}</dd>
  <dt>Archive</dt><dd><a href="${r.archive}" rel="nofollow">${formatBytes(r.size ?? 0)}</a></dd>
  <dt>sha256</dt><dd class="sha">${r.sha256}</dd>
  <dt>Permissions</dt><dd>${r.permissions?.length ? r.permissions.map((x) => html`<code>${x}</code> `) : "none"}</dd>
  ${r.compatibility.os.length ? html`<dt>OS</dt><dd>${r.compatibility.os.join(", ")}</dd>` : ""}
</dl><p class="muted">Install it from your Layerline's plugin browser, or upload the archive there.</p></section>`;
}

function health(r: IndexEntry, now: number): Html {
  const g = r.github;
  if (!g) return html`<section class="card health"><h2>Source health</h2><p class="empty">No data from the source host.</p></section>`;
  return html`<section class="card health"><h2>Source health</h2><dl class="facts">
  <dt>Latest release</dt><dd>${g.latest_release ? html`${g.latest_release.name || g.latest_release.tag} <span class="muted">(${g.latest_release.tag}, ${day(g.latest_release.date)}, ${age(g.latest_release.date, now)})</span>` : "none"}</dd>
  <dt>Releases</dt><dd>${count(g.releases ?? 0)}</dd>
  <dt>Stars</dt><dd>${count(g.stars)}</dd>
  <dt>Issues</dt><dd>${count(g.issues.open)} open, ${count(g.issues.closed)} closed</dd>
  <dt>Last push</dt><dd>${g.last_push ? html`${day(g.last_push)} <span class="muted">(${age(g.last_push, now)})</span>` : "unknown"}</dd>
</dl></section>`;
}

/** "×1.10", or why there is none (too few installs this week to tell). */
function trendOf(s: SitePlugin["record"]["stats"]): string {
  const score = trendingScore(s);
  return score === null ? `none (fewer than ${TRENDING_MIN_WEEK_INSTALLS} installs this week)` : `×${score.toFixed(2)}`;
}

function usage(p: SitePlugin): Html {
  const s = p.record.stats;
  return html`<section class="card usage"><h2>Usage</h2><dl class="facts">
  <dt>Instances</dt><dd>${count(s.instances_month)} this month, ${count(s.instances_week)} this week</dd>
  <dt>Installs</dt><dd>${count(s.install_events_month)} this month, ${count(s.install_events_week)} this week</dd>
  <dt>Trend</dt><dd>${trendOf(s)}</dd>
  <dt>Likes</dt><dd class="likes">${count(s.likes)}</dd>
</dl>
${p.versions.length ? html`<h2>Versions in use (month)</h2><table class="versions">${p.versions.map(([version, n]) => html`<tr><td>${version}</td><td class="n">${count(n)}</td></tr>`)}</table>` : ""}
</section>`;
}
