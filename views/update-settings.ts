/**
 * Settings → Updates: what this host runs and where its updates come from, the last check and the
 * last update, and — for a viewer who may update — the form to change the source and schedule and
 * the Check now / Install buttons (which post to the update notice's routes).
 */
import type { Access } from "../src/server/auth/access.ts";
import { CHANNELS } from "../src/update/manifest.ts";
import type { UpdateStatus } from "../src/update/manager.ts";
import { utcMinute } from "./dashboard.ts";
import { html, type Html } from "./html.ts";
import { layout, settingsNav, type PageSession } from "./layout.ts";
import { jobNotice, notes, startButton } from "./update.ts";

/** What the form sends, as typed (strings), so a refused form shows the input again. */
export interface UpdateSettingsFormValues {
  channel: string;
  source: "built-in" | "custom";
  url: string;
  checkHours: string;
  selfTestSeconds: string;
}

export type UpdateSettingsField = "channel" | "url" | "checkHours" | "selfTestSeconds";
export type FieldErrors = Partial<Record<UpdateSettingsField, string>>;

/** The form's values for the settings in force. */
export function formValuesOf(status: UpdateStatus): UpdateSettingsFormValues {
  const custom = status.url !== null && status.url !== status.builtInUrl;
  return { channel: status.channel, source: custom ? "custom" : "built-in", url: custom ? status.url! : "", checkHours: String(status.checkHours), selfTestSeconds: String(status.selfTestSeconds) };
}

export function updateSettingsPage(status: UpdateStatus, access: Access, session?: PageSession): Html {
  const form = access.may("POST /ui/update/settings") ? updateSettingsForm(status, formValuesOf(status), {}, false) : "";
  return layout("Updates", html`${settingsNav(session, "/settings/update")}<div class="settings-page update-settings">${updateStatusCard(status, access)}${form}</div>`, html``, session);
}

const when = (at: number) => `${utcMinute(at)} UTC`;

/**
 * The live figures; reloads itself every second while an update runs, and whenever an update
 * action answered (the `update-changed` event the notice's routes send).
 */
export function updateStatusCard(status: UpdateStatus, access: Access): Html {
  const { job } = status;
  const active = job.state !== "idle" && job.state !== "failed";
  const source = status.url === null ? html`none configured <span class="muted">(this build has no built-in source; give one below)</span>` : status.url === status.builtInUrl ? html`built-in: <code>${status.url}</code>` : html`custom: <code>${status.url}</code>`;
  const checks = status.checkHours <= 0 ? "off" : status.url === null ? `every ${status.checkHours} hours, once a source is set` : `every ${status.checkHours} hours`;
  const check = access.may("POST /ui/update/check") ? html`<button type="button" hx-post="/ui/update/check" hx-target="#update-notice" hx-swap="outerHTML">Check now</button>` : "";
  // Why this process cannot install is said once, above the buttons, whatever is offered.
  const install = status.check?.verdict === "update" && status.installable.ok && !active && access.may("POST /ui/update/start") ? startButton(status, `Install Layerline ${status.check.latest!.version}`) : "";
  return html`<section class="card update-status" id="update-status" hx-get="/ui/update/status" hx-trigger="${active ? "every 1s, " : ""}update-changed from:body" hx-swap="outerHTML">
  <h2>Updates</h2>
  <dl class="facts">
    <dt>Running</dt><dd data-version>Layerline ${status.version} <span class="muted">(${status.target ?? `no release target for ${status.platform.arch}`}; kernel ${status.platform.kernel}${status.platform.glibc ? `, glibc ${status.platform.glibc}` : ""})</span></dd>
    <dt>Channel</dt><dd data-channel>${status.channel}</dd>
    <dt>Source</dt><dd data-source>${source}</dd>
    <dt>Automatic checks</dt><dd data-checks>${checks}</dd>
    <dt>Self-test</dt><dd data-self-test>${status.selfTestSeconds} seconds <span class="muted">for a new version to prove it works (printers reconnected) before it is kept</span></dd>
    <dt>Last check</dt><dd data-last-check>${status.checking ? "checking now…" : lastCheck(status)}</dd>
    <dt>Last update</dt><dd data-last-update>${lastUpdate(status)}</dd>
  </dl>
  ${status.installable.ok ? "" : html`<p class="hint" data-not-installable>${status.installable.reason} ${status.installable.hint ?? ""}</p>`}
  ${jobNotice(status, access) ?? ""}
  ${check || install ? html`<div class="buttons">${check}${install}</div>` : ""}
</section>`;
}

function lastCheck(status: UpdateStatus): Html | string {
  const c = status.check;
  if (!c) return "never";
  const at = html`<span class="muted">${when(c.at)}, ${c.channel} channel</span>`;
  if (c.error) return html`${at}<br><span class="error" data-check-error>${c.error.message}</span>${c.error.hint ? html` <span class="hint">${c.error.hint}</span>` : ""}`;
  const latest = c.latest!;
  switch (c.verdict) {
    case "update":
      return html`${at}<br><strong>Layerline ${latest.version} is available</strong> <span class="muted">(published ${latest.published.slice(0, 10)})</span>${notes(latest.notes)}`;
    case "up-to-date":
      return html`${at}<br>Up to date <span class="muted">(the newest ${c.channel} release is ${latest.version})</span>`;
    case "unsupported":
      return html`${at}<br>Layerline ${latest.version} no longer runs on this system: it needs ${c.unmet.join("; ")}.${c.migration ? html` <span class="hint">${c.migration}</span>` : ""}`;
    case "too-old":
      return html`${at}<br>Layerline ${latest.version} is available, but this version must first update to ${c.minimumVersion ?? "an intermediate release"}.`;
    case "failed-before":
      return html`${at}<br>Layerline ${latest.version} failed its self-test here before and was rolled back; it is not offered again.`;
    default:
      return at;
  }
}

function lastUpdate(status: UpdateStatus): Html | string {
  const r = status.lastResult;
  if (!r) return "none since this host was set up";
  return r.outcome === "updated"
    ? html`installed Layerline ${r.to} (from ${r.from}) <span class="muted">${when(r.at)}</span>`
    : html`<span class="error">Layerline ${r.to} was rolled back to ${r.from}</span> <span class="muted">${when(r.at)}</span><br>Why: ${r.reason ?? "unknown"}`;
}

/** The form; it answers with itself (with the errors beside their fields, or "Saved."). */
export function updateSettingsForm(status: UpdateStatus, values: UpdateSettingsFormValues, errors: FieldErrors, saved: boolean): Html {
  const error = (field: UpdateSettingsField) => (errors[field] ? html`<small class="error" role="alert" data-error="${field}">${errors[field]}</small>` : "");
  const builtIn = status.builtInUrl ? html`the built-in source <code>${status.builtInUrl}</code>` : html`the built-in source <span class="muted">(none in this build: no automatic updates)</span>`;
  return html`<form class="settings card" id="update-settings" hx-post="/ui/update/settings" hx-swap="outerHTML">
  <h2>Change</h2>
  <div class="field"><label for="update-channel">Channel</label>
    <select id="update-channel" name="channel">${CHANNELS.map((c) => html`<option value="${c}"${c === values.channel ? " selected" : ""}>${c}</option>`)}</select>
    <small class="muted">beta gets new versions first and follows stable releases too.</small>${error("channel")}</div>
  <fieldset class="field"><legend>Where updates come from</legend>
    <label class="check"><input type="radio" name="source" value="built-in"${values.source === "built-in" ? " checked" : ""}> ${builtIn}</label>
    <label class="check"><input type="radio" name="source" value="custom"${values.source === "custom" ? " checked" : ""}> this manifest URL:</label>
    <input id="update-url" name="url" value="${values.url}" size="50" inputmode="url" placeholder="https://releases.example.org/layerline/{channel}/release.json" aria-label="Manifest URL">
    <small class="muted">{channel} in the URL becomes the channel.</small>${error("url")}</fieldset>
  <div class="field"><label for="update-check-hours">Check automatically every … hours</label>
    <input type="number" id="update-check-hours" name="checkHours" value="${values.checkHours}" min="0" max="720" step="any">
    <small class="muted">0 turns automatic checks off.</small>${error("checkHours")}</div>
  <div class="field"><label for="update-self-test">Self-test time (seconds)</label>
    <input type="number" id="update-self-test" name="selfTestSeconds" value="${values.selfTestSeconds}" min="5" max="3600" step="1">
    <small class="muted">How long a new version has to start and reconnect the printers before it is rolled back.</small>${error("selfTestSeconds")}</div>
  <div class="buttons"><button type="submit" class="primary">Save</button>${saved ? html` <span class="saved" role="status">Saved.</span>` : ""}</div>
</form>`;
}
