/**
 * The update notice at the top of every page: a new release with its notes and an Update button,
 * the progress of an update under way, how the last one ended, or — on a system new releases no
 * longer support — the migration path. Polls itself (htmx), faster while an update runs.
 */
import type { Access } from "../src/server/auth/access.ts";
import type { UpdateStatus } from "../src/update/manager.ts";
import { formatBytes } from "./dashboard.ts";
import { html, type Html } from "./html.ts";

/** The notice, or an empty placeholder that keeps polling; its buttons for a viewer who may update. */
export function updateNotice(status: UpdateStatus, access: Access): Html {
  const job = status.job;
  const active = job.state !== "idle" && job.state !== "failed";
  const body = noticeBody(status, access);
  return html`<div id="update-notice" hx-get="/ui/update/notice" hx-trigger="${active ? "every 1s" : "every 60s"}" hx-swap="outerHTML"${body ? "" : " hidden"}>${body ?? ""}</div>`;
}

/** The progress of an update under way, or how it failed (null when idle): the notice and the settings page show it. */
export function jobNotice(status: UpdateStatus, access: Access): Html | null {
  const { job, check } = status;
  const cancel = (label: string) => button(access, "cancel", html`<button hx-post="/ui/update/cancel" hx-target="#update-notice" hx-swap="outerHTML">${label}</button>`);
  const start = (label: string) => button(access, "start", startButton(status, label));
  switch (job.state) {
    case "downloading": {
      const pct = job.total > 0 ? (job.received / job.total) * 100 : 0;
      return notice("progress", html`<strong>Downloading Layerline ${job.version}…</strong>
<progress max="100" value="${pct.toFixed(1)}"></progress>
<span class="muted">${formatBytes(job.received)} of ${formatBytes(job.total)}</span>
${cancel("Cancel")}`);
    }
    case "verifying":
      return notice("progress", html`<strong>Checking Layerline ${job.version}…</strong> <span class="muted">size, sha256 and signature verified; making sure it runs here.</span>`);
    case "waiting-for-print":
      return notice("progress", html`<strong>Layerline ${job.version} is ready to install.</strong> It will restart into it as soon as the print on ${job.printers.join(", ")} ends.
${cancel("Cancel the update")}`);
    case "restarting":
      return notice("progress", html`<strong>Restarting into Layerline ${job.version}…</strong> <span class="muted">This page reconnects by itself.</span>`);
    case "self-test":
      return notice("progress", html`<strong>Layerline ${status.version} is checking itself</strong> <span class="muted">(${job.stage}); if anything fails, ${job.from} comes back by itself.</span>`);
    case "failed":
      return notice("error", html`<strong>${job.error.message}</strong> ${job.error.hint ? html`<span class="hint">${job.error.hint}</span>` : ""}
${check?.verdict === "update" ? start("Try again") : ""}`);
    case "idle":
      return null;
  }
}

/** `content` when the viewer may post to the notice's `action`. */
function button(access: Access, action: "start" | "check" | "cancel" | "dismiss", content: Html): Html | "" {
  return access.may(`POST /ui/update/${action}`) ? content : "";
}

function noticeBody(status: UpdateStatus, access: Access): Html | null {
  const { check, lastResult } = status;
  const job = jobNotice(status, access);
  if (job) return job;
  if (lastResult && !lastResult.dismissed) {
    const dismiss = button(access, "dismiss", html`<button hx-post="/ui/update/dismiss" hx-target="#update-notice" hx-swap="outerHTML">Dismiss</button>`);
    return lastResult.outcome === "updated"
      ? notice("ok", html`<strong>Updated to Layerline ${lastResult.to}</strong> <span class="muted">(from ${lastResult.from}; it passed its self-test).</span>
${lastResult.to !== status.version ? "" : html`<a href="">Reload the page</a>`} ${dismiss}`)
      : notice("error", html`<strong>The update to Layerline ${lastResult.to} failed and was undone</strong> — this is ${lastResult.from} again, with its database as it was.
<span class="hint">Why: ${lastResult.reason ?? "unknown"}</span> ${dismiss}`);
  }
  if (check?.error && !check.dismissed && check.error.code !== "no_source") {
    // A manifest that fails its signature is a warning sign, not a network hiccup.
    const kind = check.error.code === "bad_signature" ? "error" : "warn";
    const again = button(access, "check", html`<button hx-post="/ui/update/check" hx-target="#update-notice" hx-swap="outerHTML">Check again</button>`);
    const dismiss = button(access, "dismiss", html`<button hx-post="/ui/update/dismiss" hx-target="#update-notice" hx-swap="outerHTML">Dismiss</button>`);
    return notice(kind, html`<strong>Could not check for updates.</strong> ${check.error.message} ${again} ${dismiss}
${check.error.hint ? html`<span class="hint">${check.error.hint}</span>` : ""}`);
  }
  if (!check?.latest) return null;
  const latest = check.latest;
  switch (check.verdict) {
    case "update":
      return notice("info", html`<strong>Layerline ${latest.version} is available</strong> <span class="muted">(this is ${status.version}${latest.size ? `; ${formatBytes(latest.size)}` : ""})</span>
${button(access, "start", startButton(status, "Update now"))}
${notes(latest.notes)}`);
    case "unsupported":
      return notice("warn", html`<strong>Layerline ${latest.version} no longer runs on this system</strong> — it needs ${check.unmet.join("; ")}. This host stays on ${status.version}.
${check.migration ? html`<p class="migration">${check.migration}</p>` : ""}`);
    case "too-old":
      return notice("warn", html`<strong>Layerline ${latest.version} is available, but ${status.version} cannot update to it directly.</strong> Install ${check.minimumVersion ?? "an intermediate release"} first.`);
    default:
      return null;
  }
}

function notice(kind: "info" | "ok" | "warn" | "error" | "progress", content: Html): Html {
  return html`<section class="update-notice ${kind}" role="${kind === "error" ? "alert" : "status"}" data-kind="${kind}">${content}</section>`;
}

/** Install the offered release (answers with the notice), or why this process cannot. */
export function startButton(status: UpdateStatus, label: string): Html {
  if (!status.installable.ok) return html`<span class="hint">${status.installable.reason} ${status.installable.hint ?? ""}</span>`;
  return html`<button class="primary" hx-post="/ui/update/start" hx-target="#update-notice" hx-swap="outerHTML" hx-confirm="Install the update now? Layerline restarts (after any running print ends).">${label}</button>`;
}

export function notes(text: string): Html {
  if (!text.trim()) return html``;
  return html`<details class="release-notes"><summary>Release notes</summary><div class="notes">${text}</div></details>`;
}
