/**
 * The app-key decision: an app (a slicer, a phone app) asks for access to the logged-in account.
 */
import { SCOPE_TEXT } from "../src/accounts/permissions.ts";
import { html, type Html } from "./html.ts";
import { layout, type PageSession } from "./layout.ts";

export function appKeyPage(v: { session: PageSession; app: string; userToken: string; printers: { id: string; name: string }[] }): Html {
  return layout(
    "Allow access?",
    html`<section class="card narrow">
  <h1>Allow “${v.app}” to use Layerline?</h1>
  <p>The app asks for an API key for your account <strong>${v.session.user}</strong>. Only allow it if you just set it up yourself.</p>
  <form method="post" action="/plugin/appkeys/decision/${v.userToken}" class="stack">
    <input type="hidden" name="_csrf" value="${v.session.csrf}">
    <label>Scope <select name="scope">${Object.entries(SCOPE_TEXT).map(([s, text]) => html`<option value="${s}" ${s === "full" ? "selected" : ""}>${s} — ${text}</option>`)}</select></label>
    <label>Printer <select name="printer"><option value="">all printers</option>${v.printers.map((p) => html`<option value="${p.id}">${p.name}</option>`)}</select></label>
    <div class="buttons">
      <button type="submit" name="decision" value="allow" class="primary">Allow</button>
      <button type="submit" name="decision" value="deny" class="danger">Deny</button>
    </div>
  </form>
</section>`,
    html``,
    v.session,
  );
}

export function appKeyDonePage(session: PageSession, message: string): Html {
  return layout("App access", html`<section class="card narrow"><h1>${message}</h1><p><a href="/">Back to the printer</a></p></section>`, html``, session);
}
