/**
 * The page for an address with nothing at it, or a printer or plugin that does not exist; and the
 * same frame for a page asked for with a query it cannot take (a bad path or layer).
 */
import { html, type Html } from "./html.ts";
import { layout, type PageSession } from "./layout.ts";

export function notFoundPage(message: string, session?: PageSession): Html {
  return problemPage("Not found", message, "", session);
}

/** A page that could not be shown: `title` ("Not found", "Bad request"), what happened and what to do. */
export function problemPage(title: string, message: string, hint: string, session?: PageSession): Html {
  return layout(
    title,
    html`<section class="card narrow not-found">
  <h1>${title}</h1>
  <p>${message}</p>
  ${hint ? html`<p class="muted">${hint}</p>` : ""}
  <p><a href="/">Back to the dashboard</a></p>
</section>`,
    html``,
    session,
  );
}
