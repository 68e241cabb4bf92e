/**
 * A plugin's description page content: the entry's Markdown body rendered to HTML (Bun's built-in
 * GFM renderer) and then sanitised with the allow-list in sanitize.ts, which is what makes it safe
 * — the renderer passes authors' raw HTML through. Entries written for the OctoPrint site use a
 * little Liquid: `{{ page.field }}` is replaced by the entry's field, other tags are removed.
 * Pure.
 */
import { sanitizeHtml } from "./sanitize.ts";

/**
 * Example: `renderDescription("See [home]({{ page.homepage }})", { homepage: "https://x.org" })`
 * → `<p>See <a href="https://x.org" rel="…">home</a></p>\n`.
 */
export function renderDescription(markdown: string, page: Record<string, unknown>): string {
  const expanded = markdown
    .replace(/\{\{\s*page\.([A-Za-z_]\w*)[^}]*\}\}/g, (_, field: string) => {
      const value = page[field];
      return typeof value === "string" || typeof value === "number" ? String(value) : "";
    })
    .replace(/\{%-?[\s\S]*?-?%\}/g, "")
    .replace(/\{\{[\s\S]*?\}\}/g, "");
  return sanitizeHtml(Bun.markdown.html(expanded, { autolinks: { url: true, www: true } }));
}

/** A short notice given as Markdown (an entry's `disabled` reason), as sanitised HTML. */
export function renderNotice(markdown: string): string {
  return sanitizeHtml(Bun.markdown.html(markdown));
}
