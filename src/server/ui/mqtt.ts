/**
 * Settings → MQTT (views/mqtt.ts): the page, its live status card, and the form — checked by the
 * API's own schema, each problem shown beside its field.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { mqttForm, mqttPage, mqttStatusCard, type MqttFieldErrors } from "../../../views/mqtt.ts";
import { MqttConfigChangeSchema, type MqttConfigChange } from "../../mqtt/settings.ts";
import { commandUserChoice } from "../api/mqtt.ts";
import type { AppContext } from "../context.ts";
import { parseBody } from "../errors.ts";
import { pageSession } from "./page-session.ts";
import { htmlResponse } from "./routes.ts";

/** The form as a browser sends it: text fields, and checkboxes only when ticked. */
const SettingsForm = v.object({
  enabled: v.optional(v.literal("on")),
  host: v.string(),
  port: v.string(),
  tls: v.optional(v.literal("on")),
  allowUntrusted: v.optional(v.literal("on")),
  username: v.string(),
  password: v.optional(v.string(), ""),
  clearPassword: v.optional(v.literal("on")),
  baseTopic: v.string(),
  discovery: v.optional(v.literal("on")),
  discoveryPrefix: v.string(),
  commandUser: v.string(),
});

export function uiMqtt(ctx: AppContext) {
  const users = () => ctx.accounts.users.list().map((u) => u.name);
  return new Elysia()
    .get("/settings/mqtt", ({ request }) => htmlResponse(mqttPage(ctx.mqtt.settingsView(), ctx.mqtt.status(), users(), pageSession(request))))
    .get("/ui/mqtt/status", () => htmlResponse(mqttStatusCard(ctx.mqtt.status())))
    .post("/ui/mqtt", async ({ body, request }) => {
      const form = parseBody(SettingsForm, body, "Send the form of Settings → MQTT.");
      const change = {
        enabled: form.enabled === "on",
        host: form.host,
        port: form.port.trim() === "" ? Number.NaN : Number(form.port),
        tls: form.tls === "on",
        allowUntrusted: form.allowUntrusted === "on",
        username: form.username,
        password: form.clearPassword === "on" ? null : form.password,
        baseTopic: form.baseTopic,
        discovery: form.discovery === "on",
        discoveryPrefix: form.discoveryPrefix,
        commandUser: form.commandUser === "" ? null : form.commandUser,
      };
      const errors: MqttFieldErrors = {};
      const parsed = v.safeParse(MqttConfigChangeSchema, change);
      if (!parsed.success) for (const issue of parsed.issues) errors[v.getDotPath(issue) ?? "enabled"] ??= issue.message;
      if (change.commandUser && !users().includes(change.commandUser)) errors.commandUser = `there is no user "${change.commandUser}"`;
      const beyond = commandUserChoice(ctx, request, change);
      if (beyond) errors.commandUser = beyond;
      if (parsed.success && Object.keys(errors).length === 0) {
        const result = await ctx.mqtt.configure(parsed.output as MqttConfigChange);
        if (result.ok) return htmlResponse(mqttForm(ctx.mqtt.settingsView(), users(), {}, true), { "HX-Trigger": "mqtt-changed" });
        errors[result.field] = result.message;
      }
      // Shown again as typed (the password never).
      const { password: _, ...typed } = change;
      const view = { ...ctx.mqtt.settingsView(), ...typed, port: Number.isFinite(change.port) ? change.port : ctx.mqtt.settingsView().port };
      return htmlResponse(mqttForm(view, users(), errors, false));
    });
}
