/**
 * The login page: a plain form (works without scripts), protected by a pre-session CSRF token.
 */
import { html, type Html } from "./html.ts";
import { layout } from "./layout.ts";

export function loginPage(opts: { csrf: string; next: string; error?: string; username?: string }): Html {
  return layout(
    "Log in",
    html`<section class="card narrow">
  <h1>Log in</h1>
  ${opts.error ? html`<p class="form-error" role="alert">${opts.error}</p>` : ""}
  <form method="post" action="/login" class="stack">
    <input type="hidden" name="_csrf" value="${opts.csrf}">
    <input type="hidden" name="next" value="${opts.next}">
    <label>User name <input name="username" autocomplete="username" required value="${opts.username ?? ""}" autofocus></label>
    <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
    <label class="check"><input type="checkbox" name="remember" value="1"> Keep me logged in on this device (30 days)</label>
    <button type="submit" class="primary">Log in</button>
  </form>
  <p class="muted">Forgot the password? On the host, run <code>layerline users passwd NAME</code>.</p>
</section>`,
  );
}
