/**
 * The page shell: every full page is this frame around its content.
 */
import { assetUrl } from "../src/server/assets.ts";
import type { Access } from "../src/server/auth/access.ts";
import { html, type Html } from "./html.ts";

/** The logged-in user of a page: its CSRF token goes into every htmx request; what it may do picks the links. */
export interface PageSession {
  user: string;
  csrf: string;
  access: Access;
}

/** A page's title as the browser shows it. */
export const pageTitle = (title: string) => `${title} · Layerline`;

/**
 * htmx processes swapped-in content only after its settle delay (20 ms by default): until then a
 * pushed panel's buttons do nothing and its SSE listeners are missing. Layerline has no settle
 * transitions, so `defaultSettleDelay: 0` makes new content work the moment it appears.
 * `stream` is the page's SSE channel (htmx's SSE extension): on the body, so fragments anywhere
 * on the page — the top bar's printer dots too — take their pushes from one connection.
 * `STREAM_IN_CONTENT`: the content holds its own (with `viewerChangedListener`). A page without a
 * stream still follows its viewer's rights: a logged-in one connects to `VIEWER_STREAM`, which
 * carries nothing but that.
 */
export function layout(title: string, content: Html, nav: Html = html``, session?: PageSession, stream?: string): Html {
  const settings = settingsHome(session);
  if (stream === STREAM_IN_CONTENT) stream = undefined;
  else stream ??= session ? VIEWER_STREAM : undefined;
  const headers = JSON.stringify(session ? { "X-Requested-With": "htmx", "X-CSRF-Token": session.csrf } : { "X-Requested-With": "htmx" });
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content='{"defaultSettleDelay":0}'>
<title>${pageTitle(title)}</title>
<link rel="icon" type="image/svg+xml" href="${assetUrl("favicon.svg")}">
<link rel="stylesheet" href="${assetUrl("style.css")}">
<script src="${assetUrl("htmx.min.js")}" defer></script>
<script src="${assetUrl("htmx-sse.js")}" defer></script>
<script src="${assetUrl("app.js")}" defer></script>
</head>
<body hx-headers="${headers}"${stream ? html` hx-ext="sse" sse-connect="${stream}"` : ""}>
<header class="topbar">
  <a class="brand" href="/">Layerline</a>
  <a class="files" href="/files">Files</a>
  <a href="/queue">Queue</a>
  <a href="/history">History</a>
  ${session?.access.may("GET /timelapse") ? html`<a href="/timelapse">Timelapse</a>` : ""}
  <a href="/plugins">Plugins</a>
  ${settings ? html`<a href="${settings}">Settings</a>` : ""}
  <nav>${nav}</nav>
  ${session ? html`<span class="plugin-nav" hx-get="/ui/plugins/slot/navbar.item" hx-trigger="load"></span>` : ""}
  <a class="muted" href="/api/v1/docs">API</a>
  ${session ? userMenu(session) : ""}
</header>
${session ? html`<div id="update-notice" hx-get="/ui/update/notice" hx-trigger="load" hx-swap="outerHTML" hidden></div>
<div id="plugin-notices" hx-get="/ui/plugins/notices" hx-trigger="load" hx-swap="outerHTML"></div>` : ""}
<main>${content}</main>
${stream ? viewerChangedListener : ""}
<div id="toasts" aria-live="polite"></div>
</body>
</html>`;
}

/** For `layout`: the page's content holds its own stream, with `viewerChangedListener` inside it. */
export const STREAM_IN_CONTENT = "in-content";

/** The stream of a page that has none of its own: only the `viewer` event (src/server/ui/viewer-watch.ts). */
export const VIEWER_STREAM = "/ui/viewer/events";

/**
 * Inside a page's SSE connection: takes the `viewer` event (src/server/ui/viewer-watch.ts), on
 * which public/app.js reloads the page, so its controls match the viewer's rights again.
 */
export const viewerChangedListener = html`<div id="viewer-changed" sse-swap="viewer" hidden></div>`;

/** The host settings pages, in the order of their sub-nav. */
const SETTINGS_PAGES = [
  { path: "/settings/tracking", title: "Usage statistics" },
  { path: "/settings/update", title: "Updates" },
  { path: "/settings/mqtt", title: "MQTT" },
  { path: "/settings/diagnostics", title: "Diagnostics" },
  { path: "/settings/backup", title: "Backup" },
  { path: "/settings/controls", title: "Custom controls" },
] as const;
type SettingsPath = (typeof SETTINGS_PAGES)[number]["path"];

const settingsOpen = (session?: PageSession) => SETTINGS_PAGES.filter((p) => session?.access.may(`GET ${p.path}`));

/** Where the topbar's Settings link (and `/settings`) leads: the first settings page the viewer may open. */
export function settingsHome(session?: PageSession): string | undefined {
  return settingsOpen(session)[0]?.path;
}

/** The settings pages' shared sub-nav: the ones the viewer may open, `current` marked. */
export function settingsNav(session: PageSession | undefined, current: SettingsPath): Html {
  return html`<nav class="settings-nav" aria-label="Settings">${settingsOpen(session).map((p) =>
    p.path === current ? html`<a href="${p.path}" aria-current="page">${p.title}</a>` : html`<a href="${p.path}">${p.title}</a>`,
  )}</nav>`;
}

function userMenu(session: PageSession): Html {
  return html`<span class="user-menu">
    ${session.access.may("GET /users") ? html`<a href="/users">Users</a>` : ""}
    <a href="/account" data-user="${session.user}">${session.user}</a>
    <form method="post" action="/logout" class="inline"><input type="hidden" name="_csrf" value="${session.csrf}"><button type="submit" class="link">Log out</button></form>
  </span>`;
}
