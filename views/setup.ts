/**
 * The first-run wizard: create the admin, name the printer, pick its connection.
 */
import { html, type Html } from "./html.ts";
import { layout } from "./layout.ts";

export interface SetupView {
  csrf: string;
  needsToken: boolean;
  printerName: string;
  transport: "virtual" | "serial";
  port: string | null;
  baud: number;
  ports: string[];
  baudRates: readonly number[];
  error?: string;
  username?: string;
  /** The opt-in question for anonymous usage statistics, with the exact payload. */
  tracking: Html;
}

export function setupPage(v: SetupView): Html {
  return layout(
    "Welcome",
    html`<section class="card narrow">
  <h1>Welcome to Layerline</h1>
  <p>Three things and you are printing. Until this is done, nobody can use this host.</p>
  ${v.error ? html`<p class="form-error" role="alert">${v.error}</p>` : ""}
  <form method="post" action="/setup" class="stack" id="setup">
    <input type="hidden" name="_csrf" value="${v.csrf}">
    ${v.needsToken ? html`<label>Setup token (given with --setup-token) <input name="token" type="password" required autocomplete="off"></label>` : ""}
    <fieldset class="stack"><legend>1. Your admin account</legend>
      <label>User name <input name="username" required autocomplete="username" value="${v.username ?? "admin"}"></label>
      <label>Password (at least 8 characters) <input name="password" type="password" required minlength="8" autocomplete="new-password"></label>
      <label>Password again <input name="confirm" type="password" required minlength="8" autocomplete="new-password"></label>
    </fieldset>
    <fieldset class="stack"><legend>2. Your printer's name</legend>
      <label>Name <input name="printerName" required maxlength="80" value="${v.printerName}"></label>
    </fieldset>
    <fieldset class="stack"><legend>3. How it is connected</legend>
      <label class="check"><input type="radio" name="transport" value="virtual" ${v.transport === "virtual" ? "checked" : ""}> The built-in virtual printer (try everything without hardware)</label>
      <label class="check"><input type="radio" name="transport" value="serial" ${v.transport === "serial" ? "checked" : ""}> A printer on a USB/serial port</label>
      <label>Port
        <select name="port">
          <option value="auto" ${v.port === null || v.port === "auto" || !v.ports.includes(v.port) ? "selected" : ""}>Auto-detect (try every serial port and baud rate)</option>
          ${v.ports.map((p) => html`<option value="${p}" ${p === v.port ? "selected" : ""}>${p}</option>`)}
        </select>
      </label>
      ${v.ports.length === 0 ? html`<p class="muted" data-no-ports>No serial ports found now: plug the printer in and reload, or keep Auto-detect to find it when it is connected.</p>` : ""}
      <label>Baud rate
        <select name="baud">${v.baudRates.map((b) => html`<option value="${b}" ${b === v.baud ? "selected" : ""}>${b}</option>`)}</select>
      </label>
    </fieldset>
    ${v.tracking}
    <button type="submit" class="primary">Finish setup</button>
  </form>
</section>`,
  );
}
