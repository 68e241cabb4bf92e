/**
 * The plugin pages: the manager (every plugin, its state and why, actions, install), one
 * plugin's page (settings form from its schema, its settings section, faults, log), the
 * repository browser (search, filters, sorting, badges, one-click install) and the notices bar.
 */
import type { LogEntry, Notice, PluginView } from "../src/plugins/manager.ts";
import { SORTS, type CatalogItem, type CatalogQuery, type SortKey } from "../src/plugins/repository/catalog.ts";
import type { RepositoryNotice, RepositoryStatus } from "../src/plugins/repository/source.ts";
import type { FormField } from "../src/plugins/settings.ts";
import type { Access } from "../src/server/auth/access.ts";
import { formatBytes } from "./dashboard.ts";
import { TRENDING_MIN_WEEK_INSTALLS } from "../src/registry/rankings.ts";
import { starButton } from "./tracking.ts";
import { html, type Html } from "./html.ts";
import { layout, type PageSession } from "./layout.ts";

const STATE_LABEL: Record<PluginView["state"], string> = { enabled: "Enabled", disabled: "Disabled", incompatible: "Incompatible", failed: "Failed" };

export interface ManagerPageData {
  plugins: PluginView[];
  apiVersion: string;
  safeMode: { on: boolean; reason: string | null };
  /** Repository facts per installed plugin: newer version, notices. */
  updates: Map<string, string>;
  notices: Map<string, RepositoryNotice[]>;
}

/** `/plugins`: the plugin manager; managing plugins (and installing them) for a viewer who may. */
export function managerPage(d: ManagerPageData, access: Access, session?: PageSession): Html {
  return layout(
    "Plugins",
    html`<div class="plugins-page">
  <section class="card">
    <div class="head"><h1>Plugins</h1><span class="spacer"></span><a class="button" href="/plugins/repository">Browse the repository</a></div>
    <p class="muted">Plugin API ${d.apiVersion}. Bundled plugins come with Layerline; installed ones live in the data folder. Changed plugin files are reloaded by themselves, without interrupting a print.</p>
    ${d.safeMode.on ? html`<div class="problem safe-mode" role="alert"><strong>${d.safeMode.reason}</strong> Restart without <code>--safe</code> to load them again.</div>` : ""}
    <div id="plugin-list" hx-get="/ui/plugins/list" hx-trigger="plugins-changed from:body" hx-swap="innerHTML">${pluginList(d, access)}</div>
  </section>
  ${access.may("POST /ui/plugins/install") ? html`<section class="card">
    <h2>Install a plugin</h2>
    <form class="upload" hx-post="/ui/plugins/install" hx-encoding="multipart/form-data" hx-swap="none" hx-on::after-request="if(event.detail.successful) this.reset()">
      <input type="file" name="file" accept=".zip,.tgz,.tar.gz,.tar" required aria-label="Plugin archive">
      <button type="submit" class="primary">Install archive</button>
    </form>
    <form class="upload" hx-post="/ui/plugins/install" hx-swap="none" hx-on::after-request="if(event.detail.successful) this.reset()">
      <input type="url" name="url" placeholder="https://…/plugin-1.0.0.tgz" required aria-label="Archive URL" size="40">
      <input name="sha256" placeholder="sha256 (optional)" pattern="[0-9a-fA-F]{64}" aria-label="sha256 of the archive" size="20">
      <button type="submit">Install from URL</button>
    </form>
    <p class="muted">An archive (.zip, .tar.gz) of one plugin folder. It is checked before anything is unpacked (paths, links, size, manifest, compatibility).</p>
  </section>` : ""}
</div>`,
    html``,
    session,
  );
}

/** The list of plugins (refreshed after each change). */
export function pluginList(d: Pick<ManagerPageData, "plugins" | "updates" | "notices">, access: Access): Html {
  if (d.plugins.length === 0) return html`<p class="muted">No plugins.</p>`;
  return html`<ul class="plugin-list">${d.plugins.map((p) => pluginRow(p, d.updates.get(p.id) ?? null, d.notices.get(p.id) ?? [], access))}</ul>`;
}

/** One plugin in the manager's list, with the actions the viewer may take. */
export function pluginRow(p: PluginView, update: string | null, notices: RepositoryNotice[], access: Access): Html {
  const base = `/ui/plugins/${encodeURIComponent(p.id)}`;
  const row = `plugin-${p.id.replace(/[^a-z0-9_-]/gi, "_")}`;
  const act = (verb: string, label: string, extra = "") =>
    access.may(`POST /ui/plugins/:id/${verb}`) ? html`<button hx-post="${base}/${verb}" hx-target="#${row}" hx-swap="outerHTML" ${extra}>${label}</button>` : "";
  return html`<li class="plugin" id="${row}" data-plugin="${p.id}" data-state="${p.state}">
  <div class="head">
    <strong><a href="/plugins/${encodeURIComponent(p.id)}">${p.name}</a></strong>
    ${p.version ? html`<span class="muted">${p.version}</span>` : ""}
    <span class="badge plugin-state state-${p.state}">${STATE_LABEL[p.state]}</span>
    <span class="badge">${p.origin}</span>
    ${update ? html`<span class="badge update">${update} available</span>` : ""}
    <span class="spacer"></span>
    ${p.state === "enabled" ? act("disable", "Disable") : p.state === "disabled" || p.state === "failed" ? act("enable", "Enable") : ""}
    ${p.state !== "incompatible" || p.origin === "installed" ? act("reload", "Reload") : ""}
    ${update ? act("update", `Update to ${update}`, `class="primary" hx-confirm="Update ${p.name} to ${update}?"`) : ""}
    ${p.origin === "installed" ? act("uninstall", "Uninstall", `class="danger" hx-confirm="Uninstall ${p.name} and delete its files and settings?"`) : ""}
  </div>
  ${p.description ? html`<p>${p.description}</p>` : ""}
  ${p.reason ? html`<p class="reason" role="${p.state === "enabled" ? "status" : "alert"}">${p.reason}</p>` : ""}
  ${notices.map((n) => html`<p class="repo-notice ${n.kind}">${n.text}${n.link ? html` <a href="${n.link}" rel="noreferrer">more</a>` : ""}</p>`)}
  <p class="muted small">API ${p.api ?? "?"}${p.permissions.length ? ` · may ${p.permissions.join(", ")}` : ""}${hookSummary(p)}${p.faults.length && p.state === "enabled" ? ` · ${p.faults.length} fault${p.faults.length === 1 ? "" : "s"}` : ""}</p>
</li>`;
}

function hookSummary(p: PluginView): string {
  const parts = [
    ...p.hooks.gcode.map((s) => `G-code ${s}`),
    ...(p.hooks.scripts.length ? ["scripts"] : []),
    ...p.hooks.slots,
    ...(p.hooks.routes.length ? [`${p.hooks.routes.length} route${p.hooks.routes.length === 1 ? "" : "s"}`] : []),
  ];
  return parts.length ? ` · ${parts.join(", ")}` : "";
}

/** `/plugins/:id`: one plugin, and for a viewer who may manage plugins its settings and log. */
export function pluginPage(p: PluginView, settings: { values: Record<string, unknown>; fields: FormField[] } | null, section: Html, log: LogEntry[], access: Access, session?: PageSession): Html {
  return layout(
    p.name,
    html`<div class="plugins-page">
  <section class="card">
    <p><a href="/plugins">← Plugins</a></p>
    <div class="head"><h1>${p.name}</h1> ${p.version ? html`<span class="muted">${p.version}</span>` : ""} <span class="badge plugin-state state-${p.state}">${STATE_LABEL[p.state]}</span></div>
    ${p.description ? html`<p>${p.description}</p>` : ""}
    ${p.reason ? html`<p class="reason">${p.reason}</p>` : ""}
    <p class="muted">${p.author ? `by ${p.author} · ` : ""}${p.license ? `${p.license} · ` : ""}${p.origin}${p.homepage ? html` · <a href="${p.homepage}" rel="noreferrer">homepage</a>` : ""}</p>
    ${p.faults.length ? html`<h3>Faults</h3><ul class="faults">${p.faults.map((f) => html`<li>${new Date(f.at).toLocaleString()}: ${f.where} ${f.message}</li>`)}</ul>` : ""}
  </section>
  ${settings && settings.fields.length && access.may("POST /ui/plugins/:id/settings") ? html`<section class="card"><h2>Settings</h2>${settingsForm(p.id, settings.fields, settings.values, {}, false)}</section>` : ""}
  ${section.value ? html`<section class="card plugin-section">${section}</section>` : ""}
  ${access.may("GET /api/v1/plugins/:id/log") ? html`<section class="card"><h2>Log</h2>${logList(log)}</section>` : ""}
</div>`,
    html``,
    session,
  );
}

/** The settings form generated from the plugin's schema. */
export function settingsForm(id: string, fields: FormField[], values: Record<string, unknown>, errors: Record<string, string>, saved: boolean): Html {
  return html`<form class="settings" hx-post="/ui/plugins/${encodeURIComponent(id)}/settings" hx-swap="outerHTML">
  ${fields.map((f) => field(f, values[f.name], errors[f.name]))}
  ${errors[""] ? html`<p class="error">${errors[""]}</p>` : ""}
  <div class="buttons"><button type="submit" class="primary">Save</button>${saved ? html` <span class="saved" role="status">Saved.</span>` : ""}</div>
</form>`;
}

function field(f: FormField, value: unknown, error: string | undefined): Html {
  const id = `setting-${f.name}`;
  const help = f.description ? html`<small class="muted">${f.description}</small>` : "";
  const err = error ? html`<small class="error" role="alert">${error}</small>` : "";
  const text = (v: unknown) => (v === undefined || v === null ? "" : Array.isArray(v) ? v.join(", ") : typeof v === "object" ? JSON.stringify(v) : String(v));
  let control: Html;
  switch (f.kind) {
    case "checkbox":
      return html`<div class="field check"><label><input type="checkbox" id="${id}" name="${f.name}" value="true" ${value === true ? "checked" : ""}> ${f.label}</label>${help}${err}</div>`;
    case "select":
      control = html`<select id="${id}" name="${f.name}">${(f.options ?? []).map((o) => html`<option value="${o}" ${o === value ? "selected" : ""}>${o}</option>`)}</select>`;
      break;
    case "number":
      control = html`<input type="number" id="${id}" name="${f.name}" value="${text(value)}" ${f.min !== undefined ? html`min="${f.min}"` : ""} ${f.max !== undefined ? html`max="${f.max}"` : ""} step="${f.integer ? "1" : "any"}">`;
      break;
    case "textarea":
    case "json":
      control = html`<textarea id="${id}" name="${f.name}" rows="3">${text(value)}</textarea>`;
      break;
    default:
      control = html`<input type="${f.kind === "password" ? "password" : f.kind === "url" ? "url" : "text"}" id="${id}" name="${f.name}" value="${text(value)}" autocomplete="off">`;
  }
  return html`<div class="field"><label for="${id}">${f.label}</label>${control}${help}${err}</div>`;
}

function logList(log: LogEntry[]): Html {
  if (log.length === 0) return html`<p class="muted">Nothing logged.</p>`;
  return html`<pre class="plugin-log">${log
    .slice(-100)
    .reverse()
    .map((l) => html`<span class="${l.level}">${new Date(l.at).toLocaleTimeString()} ${l.where === "main" ? "" : `[${l.where}] `}${l.level === "info" ? "" : `${l.level}: `}${l.message}\n</span>`)}</pre>`;
}

// ---- repository browser ------------------------------------------------------------------------

const SORT_LABEL: Record<SortKey, string> = {
  relevance: "Best match",
  popular: "Most popular",
  trending: "Trending",
  released: "Latest release",
  stars: "Most stars",
  title: "Title",
  published: "Newest",
};

/** `/plugins/repository`: search and install. */
export function repositoryPage(status: RepositoryStatus, query: CatalogQuery, results: { total: number; results: CatalogItem[] }, starred: ReadonlySet<string>, access: Access, session?: PageSession): Html {
  const checked = (b: boolean | undefined) => (b ? "checked" : "");
  const without = new Set(query.without ?? []);
  return layout(
    "Plugin repository",
    html`<div class="plugins-page">
  <section class="card">
    <p><a href="/plugins">← Plugins</a></p>
    <h1>Plugin repository</h1>
    ${repositoryStatus(status, access)}
    <form id="repo-query" class="query repo-query" hx-get="/ui/plugins/repository/results" hx-target="#repo-results" hx-trigger="input changed delay:250ms from:input[type=search], change" hx-push-url="false">
      <input type="search" name="q" value="${query.q ?? ""}" placeholder="Search title, description, author, tags" aria-label="Search plugins" autocomplete="off">
      <select name="sort" aria-label="Sort by"><option value="">${query.q ? "Best match" : "Most popular"}</option>${SORTS.filter((s) => s !== "relevance").map((s) => html`<option value="${s}" ${s === query.sort ? "selected" : ""}>${SORT_LABEL[s]}</option>`)}</select>
      <select name="os" aria-label="Operating system"><option value="">Any OS</option>${["linux", "macos", "windows", "freebsd"].map((o) => html`<option value="${o}" ${o === query.os ? "selected" : ""}>${o}</option>`)}</select>
      <label><input type="checkbox" name="compatible" value="1" ${checked(query.compatible)}> Installable here</label>
      <label><input type="checkbox" name="hideAbandoned" value="1" ${checked(query.hideAbandoned)}> Hide abandoned</label>
      <label><input type="checkbox" name="without" value="cloud" ${checked(without.has("cloud"))}> Hide cloud services</label>
      <label><input type="checkbox" name="without" value="commercial" ${checked(without.has("commercial"))}> Hide commercial</label>
    </form>
    <p class="muted small sort-help">Most popular: hosts using the plugin in the last 30 days. Trending: installs in the last 7 days against the weekly average of the last 30 (from ${TRENDING_MIN_WEEK_INSTALLS} installs a week). Latest release: its source repository's newest release. The figures come from the repository's anonymous usage statistics.</p>
    <div id="repo-results">${repositoryResults(results, starred, access)}</div>
  </section>
  ${access.may("POST /ui/plugins/repository/settings") ? html`<section class="card">
    <h2>Repository</h2>
    <form class="inline repo-settings" hx-post="/ui/plugins/repository/settings" hx-swap="none">
      <label class="repo-url">Index URL <input type="url" name="url" value="${status.url ?? ""}" placeholder="https://…/plugins.json" size="40"></label>
      <label>Refresh every <input type="number" name="refreshHours" value="${status.refreshHours}" min="0" max="720" step="1"> hours</label>
      <label class="repo-key">Public key of the index (Ed25519, PEM; optional)
        <textarea name="publicKey" rows="3" spellcheck="false" placeholder="${status.trustedKey?.source === "built-in" ? `Empty: the built-in key ${status.trustedKey.keyId} checks the built-in index` : "-----BEGIN PUBLIC KEY-----\n…\n-----END PUBLIC KEY-----"}">${status.trustedKey?.source === "setting" ? status.trustedKey.publicKey.trim() : ""}</textarea></label>
      <button type="submit">Save</button>
    </form>
    <p class="muted small">With a public key, an index is used only if its signature (plugins.json.sig beside it, written by <code>layerline registry build --sign-key</code>) verifies with that key. Changing the URL without giving a key removes the key of the old one.</p>
  </section>` : ""}
</div>`,
    html``,
    session,
  );
}

/**
 * Where the index shown comes from. Only an index fetched from the configured URL with no error
 * since is credited to that URL; after a failed fetch (or a change of URL) the failure is said and
 * the index in use is shown as the cached copy it is, with its age and source.
 */
function repositoryStatus(status: RepositoryStatus, access: Access, now = Date.now()): Html {
  const refresh = status.url && access.may("POST /ui/plugins/repository/refresh")
    ? html` <button hx-post="/ui/plugins/repository/refresh" hx-target="#repo-status" hx-swap="outerHTML">Refresh now</button>`
    : "";
  const plugins = `${status.entries} plugin${status.entries === 1 ? "" : "s"}`;
  const fetched = status.fetchedAt === null ? "" : new Date(status.fetchedAt).toLocaleString();
  const fresh = status.fetchedAt !== null && status.source === status.url && !status.error;
  const copy = status.fetchedAt === null || status.source === null
    ? status.url ? html`<p class="muted">The index has not been fetched yet.${refresh}</p>` : ""
    : fresh
      ? html`<p class="muted">${plugins} from ${status.url}, fetched ${fetched}.${refresh}</p>`
      : html`<p class="muted repo-cached" data-source="${status.source}">Showing the copy cached ${ago(status.fetchedAt, now)} from ${status.source} (fetched ${fetched}): ${plugins}.${refresh}</p>`;
  return html`<div id="repo-status" class="repo-status">
  ${status.url ? "" : html`<p class="problem">No plugin repository is configured.${access.may("POST /ui/plugins/repository/settings") ? " Enter the index URL below." : ""}</p>`}
  ${status.error ? html`<p class="problem" role="alert">${status.error}</p>` : ""}
  ${copy}
  ${signatureState(status, access)}
  ${status.problems.length ? html`<details class="repo-problems"><summary>${status.problems.length} malformed ${status.problems.length === 1 ? "entry was" : "entries were"} skipped</summary><ul>${status.problems.slice(0, 50).map((p) => html`<li>entry ${p.index + 1}${p.id ? ` ("${p.id}")` : ""}: ${p.message}</li>`)}</ul>${status.problems.length > 50 ? html`<p class="muted">and ${status.problems.length - 50} more (GET /api/v1/plugins/repository lists them all).</p>` : ""}</details>` : ""}
</div>`;
}

/** Whether the index in use is checked against a key, in plain words: an unsigned index is said to be one. */
function signatureState(status: RepositoryStatus, access: Access): Html | "" {
  if (!status.url) return "";
  const t = status.trustedKey;
  if (!t) {
    return html`<p class="repo-unsigned">Unsigned: no public key is set for this index, so its signature is not checked — whoever can change the index, or the connection to it, can change what <em>Install</em> installs.${access.may("POST /ui/plugins/repository/settings") ? " Paste the repository's public key below to have it checked." : ""}</p>`;
  }
  const whose = t.source === "built-in" ? "built into Layerline" : "set in the repository settings";
  return status.verified
    ? html`<p class="muted repo-verified">Signature verified with key <code>${status.keyId}</code> (${whose}).</p>`
    : html`<p class="problem repo-unverified">No index signed with key <code>${t.keyId}</code> (${whose}) is in use: only one whose signature verifies with it is used.</p>`;
}

/** How long ago `at` was, in words: "just now", "5 minutes ago", "3 hours ago", "2 days ago". */
function ago(at: number, now: number): string {
  const minutes = Math.max(0, Math.round((now - at) / 60_000));
  if (minutes < 1) return "just now";
  if (minutes < 90) return `${minutes} minute${minutes === 1 ? "" : "s"} ago`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} hours ago` : `${Math.round(hours / 24)} days ago`;
}

/** Results shown at a time; "Show more" fetches the next ones. */
export const REPOSITORY_PAGE = 50;

/**
 * The search results from `offset` on. The first page comes with the count and the list; a
 * later one is only its items (and the next "Show more"), swapped in for the button that asked.
 */
export function repositoryResults(r: { total: number; results: CatalogItem[] }, starred: ReadonlySet<string>, access: Access, offset = 0): Html {
  if (r.total === 0) return html`<p class="muted">No plugin matches.</p>`;
  const items = html`${r.results.map((item) => repositoryItem(item, starred.has(item.entry.id), access))}${moreButton(offset + r.results.length, r.total)}`;
  if (offset > 0) return items;
  return html`<p class="muted">${r.total} plugin${r.total === 1 ? "" : "s"}.</p>
<ul class="repo-results">${items}</ul>`;
}

/** The next page of the same query (the form's fields), in place of this list item. */
function moreButton(shown: number, total: number): Html | "" {
  if (shown >= total) return "";
  return html`<li class="repo-more"><button type="button" hx-get="/ui/plugins/repository/results?offset=${shown}" hx-include="#repo-query" hx-target="closest li" hx-swap="outerHTML">Show ${Math.min(REPOSITORY_PAGE, total - shown)} more (${total - shown} not shown)</button></li>`;
}

/** One plugin in the results, with badges, the star (one like per installation) and the install button (for a viewer who may). */
export function repositoryItem(item: CatalogItem, starred: boolean, access: Access): Html {
  const e = item.entry;
  const h = item.health;
  const id = `repo-${e.id.replace(/[^a-z0-9_-]/gi, "_")}`;
  const age = h.releaseAgeDays === null ? "no release" : h.releaseAgeDays < 60 ? `released ${h.releaseAgeDays} days ago` : h.releaseAgeDays < 730 ? `released ${Math.round(h.releaseAgeDays / 30)} months ago` : `released ${(h.releaseAgeDays / 365).toFixed(1)} years ago`;
  const action = item.installedVersion
    ? item.updateAvailable && access.may("POST /ui/plugins/:id/update")
      ? html`<button class="primary" hx-post="/ui/plugins/${encodeURIComponent(e.id)}/update" hx-target="#${id}" hx-swap="outerHTML" hx-vals='{"from":"repository"}'>Update to ${e.version}</button>`
      : html`<span class="badge">installed ${item.installedVersion}</span>`
    : item.installable && access.may("POST /ui/plugins/install")
      ? html`<button class="primary" hx-post="/ui/plugins/install" hx-vals='${JSON.stringify({ id: e.id })}' hx-target="#${id}" hx-swap="outerHTML">Install</button>`
      : "";
  return html`<li class="repo-item" id="${id}" data-id="${e.id}">
  <div class="head">
    <strong>${e.page ? html`<a href="${e.page}" rel="noreferrer">${e.title}</a>` : e.title}</strong>
    ${e.version ? html`<span class="muted">${e.version}</span>` : ""}
    <span class="badge compat ${item.installable ? "ok" : "no"}" title="${item.reason ?? "Installable on this host"}">${item.installable ? "compatible" : "not installable"}</span>
    <span class="badge health-${h.badge}" title="Latest release">${age}</span>
    ${h.openIssues !== null ? html`<span class="badge" title="Open issues">${h.openIssues} open issues</span>` : ""}
    ${h.stars !== null ? html`<span class="badge" title="Stars">★ ${h.stars}</span>` : ""}
    <span class="badge" title="Instances using it this month">${item.popularity.toLocaleString("en")} instances</span>
    ${item.trending !== null && item.trending >= 1.5 ? html`<span class="badge trending" title="Installs in the last 7 days against the weekly average of the last 30">trending ×${item.trending.toFixed(1)}</span>` : ""}
    ${e.abandoned !== false && e.abandoned !== "" ? html`<span class="badge abandoned">abandoned</span>` : ""}
    ${e.attributes.map((a) => html`<span class="badge attr">${a}</span>`)}
    <span class="spacer"></span>
    ${access.may("POST /ui/tracking/star") ? starButton(e.id, starred, e.stats.likes ?? null) : ""}
    ${action}
  </div>
  <p>${e.description}</p>
  <p class="muted small">${e.author ? `by ${e.author}` : ""}${e.license ? ` · ${e.license}` : ""}${e.size ? ` · ${formatBytes(e.size)}` : ""}${e.permissions.length ? ` · may ${e.permissions.join(", ")}` : ""}${item.reason ? html` · <span class="why">${item.reason}</span>` : ""}</p>
</li>`;
}

// ---- notices ---------------------------------------------------------------------------------

/** The notices bar on every page (polls itself); `dismiss`: the viewer may dismiss them (for everybody). */
export function noticesBar(notices: Notice[], dismiss: boolean): Html {
  return html`<div id="plugin-notices" hx-get="/ui/plugins/notices" hx-trigger="every 5s" hx-swap="outerHTML">${notices.map(
    (n) => html`<section class="update-notice plugin-notice ${n.level === "error" ? "error" : n.level === "warning" ? "warn" : "info"}" role="${n.level === "error" ? "alert" : "status"}" data-notice="${n.id}" data-plugin="${n.plugin ?? ""}">
  <span>${n.message}</span>${n.plugin ? html` <a href="/plugins/${encodeURIComponent(n.plugin)}">Open</a>` : ""}
  ${dismiss ? html`<button hx-post="/ui/plugins/notices/${n.id}/dismiss" hx-target="#plugin-notices" hx-swap="outerHTML">Dismiss</button>` : ""}
</section>`,
  )}</div>`;
}
