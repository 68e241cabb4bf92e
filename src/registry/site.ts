/**
 * The static registry website as files: home page, a page per plugin, the search script and the
 * stylesheet, all server-rendered with the views toolkit (views/registry/). Pure: data in, a map
 * of relative path → content out; the build writes it next to plugins.json.
 */
import { homePage } from "../../views/registry/home.ts";
import { pluginPage } from "../../views/registry/plugin.ts";
import { SEARCH_SCRIPT } from "../../views/registry/search-script.ts";
import { sitePage } from "../../views/registry/shell.ts";
import siteCss from "../../views/registry/site.css" with { type: "text" };
import { html } from "../../views/html.ts";
import type { IndexEntry, Notice } from "./index-format.ts";
import type { Rankings } from "./rankings.ts";

export interface SitePlugin {
  record: IndexEntry;
  /** The entry's description, rendered and sanitised (description.ts). */
  descriptionHtml: string;
  screenshots: { url: string; alt?: string; caption?: string }[];
  source: string;
  /** Instances per version this month, most used first. */
  versions: [version: string, instances: number][];
  notices: Notice[];
}

export interface SiteData {
  plugins: SitePlugin[];
  rankings: Rankings;
  generated: number;
}

export function renderSite(data: SiteData): Map<string, string> {
  const files = new Map<string, string>();
  files.set("index.html", homePage(data).value);
  for (const p of data.plugins) files.set(`plugins/${p.record.id}/index.html`, pluginPage(p, data).value);
  files.set("404.html", sitePage({ title: "Not found · Layerline plugins", root: "/", generated: data.generated }, html`<section class="card"><h2>There is no such page</h2><p><a href="/">All plugins</a></p></section>`).value);
  files.set("site.css", siteCss);
  files.set("search.js", SEARCH_SCRIPT);
  return files;
}
