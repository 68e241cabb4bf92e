/**
 * The frame of every page of the registry website (a static site: links are relative, so it
 * works from any folder of any web server, and from `layerline registry serve`).
 */
import { utcMinute } from "../dashboard.ts";
import { html, type Html } from "../html.ts";

export interface ShellOptions {
  title: string;
  /** The path from this page back to the site's root, e.g. "../../" (or "" on the home page). */
  root: string;
  /** When the site was built (shown in the footer). */
  generated: number;
  /** Extra markup for <head>. */
  head?: Html;
}

export function sitePage(o: ShellOptions, content: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title}</title>
<link rel="stylesheet" href="${o.root}site.css">
${o.head ?? ""}
</head>
<body>
<header class="topbar">
  <a class="brand" href="${o.root || "./"}">Layerline plugins</a>
  <span class="spacer"></span>
  <a href="${o.root}plugins.json">plugins.json</a>
  <a href="${o.root}notices.json">notices.json</a>
  <a href="${o.root}rankings.json">rankings.json</a>
</header>
<main>${content}</main>
<footer>Built ${utcMinute(o.generated)} UTC by layerline registry build. Usage statistics come from hosts that opted in to anonymous tracking.</footer>
</body>
</html>
`;
}

/** 12345 → "12,345". */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** How long ago a Jekyll-format or ISO time was, in words ("3 months ago"), relative to `now`. */
export function age(time: string, now: number): string {
  const t = Date.parse(time.replace(/^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) ([+-]\d{2})(\d{2})$/, "$1T$2$3:$4"));
  if (Number.isNaN(t)) return "";
  const days = Math.floor((now - t) / 86_400_000);
  if (days < 1) return "today";
  if (days < 2) return "yesterday";
  if (days < 60) return `${days} days ago`;
  if (days < 730) return `${Math.round(days / 30.44)} months ago`;
  return `${Math.floor(days / 365.25)} years ago`;
}

/** The date part of a Jekyll-format time. */
export function day(time: string): string {
  return time.slice(0, 10);
}
