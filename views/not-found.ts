/**
 * The page for an address with nothing at it, or a printer or plugin that does not exist.
 */
import { html, type Html } from "./html.ts";
import { layout, type PageSession } from "./layout.ts";

export function notFoundPage(message: string, session?: PageSession): Html {
  return layout(
    "Not found",
    html`<section class="card narrow not-found">
  <h1>Not found</h1>
  <p>${message}</p>
  <p><a href="/">Back to the dashboard</a></p>
</section>`,
    html``,
    session,
  );
}
