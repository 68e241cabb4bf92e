/**
 * Settings → MQTT: the bridge's connection state (connected, retrying with the reason in words,
 * off) and the form for the broker, topics, Home Assistant discovery and the user commands act
 * as. The password is never sent back to the page: its field stays empty and says whether one is set.
 */
import type { BridgeStatus } from "../src/mqtt/bridge.ts";
import type { MqttSettingsView } from "../src/mqtt/settings.ts";
import { commandFilter, hostStatusTopic } from "../src/mqtt/topics.ts";
import { utcMinute } from "./dashboard.ts";
import { html, type Html } from "./html.ts";
import { layout, settingsNav, type PageSession } from "./layout.ts";

export type MqttFieldErrors = Record<string, string>;

export function mqttPage(settings: MqttSettingsView, status: BridgeStatus, users: string[], session?: PageSession): Html {
  return layout("MQTT", html`${settingsNav(session, "/settings/mqtt")}<div class="settings-page mqtt-settings">${mqttStatusCard(status)}${mqttForm(settings, users, {}, false)}</div>`, html``, session);
}

const STATE_TEXT: Record<BridgeStatus["state"], string> = {
  off: "off",
  connecting: "connecting…",
  connected: "connected",
  retrying: "retrying",
};

/** The live connection state; reloads itself every 2 seconds. */
export function mqttStatusCard(status: BridgeStatus): Html {
  const badge = status.state === "connected" ? "state-operational" : status.state === "off" ? "" : status.error ? "state-error" : "state-connecting";
  const last = status.lastCommand;
  return html`<section class="card mqtt-status" id="mqtt-status" hx-get="/ui/mqtt/status" hx-trigger="every 2s" hx-swap="outerHTML">
  <h2>MQTT bridge <span class="badge ${badge}" data-state="${status.state}">${STATE_TEXT[status.state]}</span></h2>
  <dl class="facts">
    <dt>Broker</dt><dd data-broker>${status.broker ?? "none (the bridge is off)"}</dd>
    <dt>Since</dt><dd>${utcMinute(status.since)} UTC</dd>
    ${status.error ? html`<dt>Problem</dt><dd class="error" data-error>${status.error}${status.state === "retrying" ? " Trying again every few seconds." : ""}</dd>` : ""}
    <dt>Last command</dt><dd data-last-command>${last ? html`<code>${last.topic}</code> ${last.message} <span class="muted">${utcMinute(last.at)} UTC</span>` : "none received"}</dd>
  </dl>
  <p class="muted">Printing never waits for the broker: the bridge runs beside the printers, and a broker that is down only shows here.</p>
</section>`;
}

/** The settings form; it answers with itself (errors beside their fields, or "Saved."). */
export function mqttForm(s: MqttSettingsView, users: string[], errors: MqttFieldErrors, saved: boolean): Html {
  const error = (field: string) => (errors[field] ? html`<small class="error" role="alert" data-error="${field}">${errors[field]}</small>` : "");
  const checked = (on: boolean) => (on ? " checked" : "");
  return html`<form class="settings card" id="mqtt-settings" hx-post="/ui/mqtt" hx-swap="outerHTML">
  <h2>Settings</h2>
  <label class="check"><input type="checkbox" name="enabled" value="on"${checked(s.enabled)}> Connect to an MQTT broker</label>${error("enabled")}
  <div class="field"><label for="mqtt-host">Broker</label><input id="mqtt-host" name="host" value="${s.host}" placeholder="mqtt.lan or 192.168.1.10">${error("host")}</div>
  <div class="field"><label for="mqtt-port">Port</label><input id="mqtt-port" name="port" type="number" min="1" max="65535" value="${String(s.port)}">
    <small class="muted">1883 plain, 8883 with TLS.</small>${error("port")}</div>
  <label class="check"><input type="checkbox" name="tls" value="on"${checked(s.tls)}> Use TLS</label>
  <label class="check"><input type="checkbox" name="allowUntrusted" value="on"${checked(s.allowUntrusted)}> Accept a certificate no known authority signed (self-signed)</label>
  <div class="field"><label for="mqtt-username">User name</label><input id="mqtt-username" name="username" value="${s.username}" autocomplete="off">${error("username")}</div>
  <div class="field"><label for="mqtt-password">Password</label><input id="mqtt-password" name="password" type="password" value="" autocomplete="new-password" placeholder="${s.passwordSet ? "•••••••• (set; leave empty to keep it)" : "none"}" data-password-set="${String(s.passwordSet)}">
    ${s.passwordSet ? html`<label class="check"><input type="checkbox" name="clearPassword" value="on"> Remove the password</label>` : ""}${error("password")}</div>
  <div class="field"><label for="mqtt-base">Base topic</label><input id="mqtt-base" name="baseTopic" value="${s.baseTopic}" size="40">
    <small class="muted">Unique per host, so several hosts can share one broker. Availability is <code>${hostStatusTopic(s.baseTopic)}</code>, commands arrive on <code>${commandFilter(s.baseTopic)}</code>.</small>${error("baseTopic")}</div>
  <label class="check"><input type="checkbox" name="discovery" value="on"${checked(s.discovery)}> Home Assistant discovery (a device per printer, sent again whenever Home Assistant starts)</label>
  <div class="field"><label for="mqtt-prefix">Discovery prefix</label><input id="mqtt-prefix" name="discoveryPrefix" value="${s.discoveryPrefix}">${error("discoveryPrefix")}</div>
  <div class="field"><label for="mqtt-user">Commands act as</label>
    <select id="mqtt-user" name="commandUser"><option value=""${s.commandUser === null ? " selected" : ""}>nobody: refuse every command</option>${users.map((u) => html`<option value="${u}"${u === s.commandUser ? " selected" : ""}>${u}</option>`)}</select>
    <small class="muted">Pause, resume, cancel, connect, disconnect and G-code over MQTT are allowed exactly when this user may do them in Layerline. Anyone who can publish to the broker can send them: give MQTT a user with only the permissions it needs.</small>${error("commandUser")}</div>
  <div class="buttons"><button type="submit" class="primary">Save</button>${saved ? html` <span class="saved" role="status">Saved.</span>` : ""}</div>
</form>`;
}
