/**
 * The registry website's home page: the rankings (popular, trending, newest releases), a search
 * box, and every plugin as a list the search filters in place.
 */
import type { Ranked } from "../../src/registry/rankings.ts";
import type { SiteData, SitePlugin } from "../../src/registry/site.ts";
import { html, type Html } from "../html.ts";
import { badges } from "./plugin.ts";
import { age, count, day, sitePage } from "./shell.ts";

export function homePage(data: SiteData): Html {
  const sorted = [...data.plugins].sort((a, b) => a.record.title.localeCompare(b.record.title, "en", { sensitivity: "base" }) || (a.record.id < b.record.id ? -1 : 1));
  const titles = new Map(data.plugins.map((p) => [p.record.id, p.record.title]));
  return sitePage(
    { title: "Layerline plugins", root: "", generated: data.generated, head: html`<script src="search.js" defer></script>` },
    html`<section class="rankings">
  ${ranking("Popular", "instances this month", data.rankings.popular, titles, (v) => count(Number(v)))}
  ${ranking("Trending", "installs this week vs. the month's weekly average", data.rankings.trending, titles, (v) => `×${Number(v).toFixed(2)}`)}
  ${ranking("New releases", "newest release first", data.rankings.latest, titles, (v) => age(String(v), data.generated) || day(String(v)))}
</section>
<section class="card" id="plugins">
  <h2>All plugins (<span id="count">${sorted.length}</span>)</h2>
  <form class="search" role="search" action="" onsubmit="return false">
    <input type="search" id="q" name="q" placeholder="Search title, description, author, tags" aria-label="Search plugins" autocomplete="off">
  </form>
  <ul class="plugin-list" id="all">
    ${sorted.map((p) => listItem(p))}
  </ul>
</section>`,
  );
}

function ranking(title: string, measure: string, items: Ranked[], titles: Map<string, string>, show: (v: Ranked["value"]) => string): Html {
  return html`<div class="card ranking" data-ranking="${title.toLowerCase().replace(/\s+/g, "-")}">
  <h2>${title} <small class="muted">${measure}</small></h2>
  ${items.length === 0
    ? html`<p class="empty">Not enough data yet.</p>`
    : html`<ol>${items.map((r) => html`<li><a href="plugins/${r.id}/">${titles.get(r.id) ?? r.id}</a> <span class="value">${show(r.value)}</span></li>`)}</ol>`}
</div>`;
}

function listItem(p: SitePlugin): Html {
  const r = p.record;
  const text = [r.title, r.id, r.description, r.author, ...r.tags].join(" ").toLowerCase();
  return html`<li data-text="${text}" data-id="${r.id}">
  <a class="title" href="plugins/${r.id}/">${r.title}</a> ${badges(r)}
  <span class="desc">${r.description}</span>
  <span class="meta">by ${r.author || "unknown"} · ${count(r.stats.instances_month)} instances · ${count(r.stats.likes)} likes${r.github ? html` · ${count(r.github.stars)} stars on the source host` : ""}</span>
</li>`;
}
