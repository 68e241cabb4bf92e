/**
 * The account page: one's API keys (create — shown once —, revoke), password, sessions, and apps
 * waiting for a decision.
 */
import type { ApiKey } from "../src/accounts/api-keys.ts";
import type { AppKeyRequest } from "../src/accounts/app-keys.ts";
import { SCOPE_TEXT } from "../src/accounts/permissions.ts";
import { utcMinute } from "./dashboard.ts";
import { html, type Html } from "./html.ts";
import { layout, type PageSession } from "./layout.ts";

export interface AccountView {
  session: PageSession;
  keys: ApiKey[];
  printers: { id: string; name: string }[];
  pendingApps: AppKeyRequest[];
  /** A key just created: the only time it is shown. */
  created?: { name: string; key: string };
  message?: string;
  error?: string;
}

const when = (t: number | null) => (t === null ? "—" : utcMinute(t));

export function accountPage(v: AccountView): Html {
  const csrf = html`<input type="hidden" name="_csrf" value="${v.session.csrf}">`;
  return layout(
    "Account",
    html`<section class="card">
  <h1>${v.session.user}</h1>
  ${v.error ? html`<p class="form-error" role="alert">${v.error}</p>` : ""}
  ${v.message ? html`<p class="toast info" role="status">${v.message}</p>` : ""}
  ${v.created
    ? html`<div class="created-key"><p><strong>API key “${v.created.name}”</strong> — copy it now; it is not shown again:</p><p class="secret" id="new-key">${v.created.key}</p></div>`
    : ""}
  ${v.pendingApps.length
    ? html`<h2>Apps asking for access</h2><ul>${v.pendingApps.map((r) => html`<li><a href="/plugin/appkeys/auth/${r.appToken}">${r.app}</a>${r.user ? html` (for ${r.user})` : ""}</li>`)}</ul>`
    : ""}
  <h2>API keys</h2>
  ${v.keys.length === 0
    ? html`<p class="muted">No keys yet. Slicers, apps and scripts use a key instead of your password.</p>`
    : html`<table class="list api-keys"><thead><tr><th>Name</th><th>Scope</th><th>Printer</th><th>Expires</th><th>Last used</th><th></th></tr></thead><tbody>
${v.keys.map((k) => html`<tr data-key="${k.id}"><td>${k.name}${k.app ? html` <span class="muted">(app)</span>` : ""} <span class="muted">…${k.hint}</span></td><td>${k.scope}</td><td>${k.printerId ?? "all"}</td><td>${when(k.expiresAt)}</td><td>${when(k.lastUsedAt)}</td>
<td><form method="post" action="/account/keys/${k.id}/revoke" onsubmit="return confirm('Revoke this key? Whatever uses it stops working.')">${csrf}<button type="submit" class="danger">Revoke</button></form></td></tr>`)}
</tbody></table>`}
  <h3>New key</h3>
  <form method="post" action="/account/keys" class="stack">
    ${csrf}
    <label>Name <input name="name" required maxlength="80" placeholder="PrusaSlicer on my laptop"></label>
    <label>Scope <select name="scope">${Object.entries(SCOPE_TEXT).map(([s, text]) => html`<option value="${s}">${s} — ${text}</option>`)}</select></label>
    <label>Printer <select name="printer"><option value="">all printers</option>${v.printers.map((p) => html`<option value="${p.id}">${p.name}</option>`)}</select></label>
    <label>Expires <select name="expires"><option value="">never</option><option value="1">in 1 day</option><option value="30">in 30 days</option><option value="365">in 1 year</option></select></label>
    <button type="submit" class="primary">Create key</button>
  </form>
  <h2>Password</h2>
  <form method="post" action="/account/password" class="stack">
    ${csrf}
    <label>Current password <input name="current" type="password" required autocomplete="current-password"></label>
    <label>New password <input name="password" type="password" required minlength="8" autocomplete="new-password"></label>
    <button type="submit">Change password</button>
  </form>
  <h2>Sessions</h2>
  <form method="post" action="/account/logout-everywhere">${csrf}<button type="submit" class="danger">Log out everywhere</button></form>
</section>`,
    html``,
    v.session,
  );
}
