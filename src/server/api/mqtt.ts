/**
 * Native API for the MQTT bridge: its settings (the password is never returned, only whether one
 * is set) and its connection state; a change reconnects with the new settings.
 */
import { Elysia } from "elysia";
import { MqttConfigChangeSchema } from "../../mqtt/settings.ts";
import type { AppContext } from "../context.ts";
import { ApiError, parseBody } from "../errors.ts";

export function mqttApi(ctx: AppContext) {
  const state = () => ({ settings: ctx.mqtt.settingsView(), status: ctx.mqtt.status() });
  return new Elysia({ prefix: "/api/v1/mqtt" })
    .get("/", state)
    .put("/", async ({ body }) => {
      const change = parseBody(MqttConfigChangeSchema, body, "Send any of enabled, host, port, tls, allowUntrusted, username, password, baseTopic, discovery, discoveryPrefix, commandUser.");
      if (change.commandUser && !ctx.accounts.users.byName(change.commandUser)) {
        throw new ApiError(400, "invalid_request", `commandUser: there is no user "${change.commandUser}".`, "GET /api/v1/users lists them; null refuses every command.");
      }
      const result = await ctx.mqtt.configure(change);
      if (!result.ok) throw new ApiError(400, "invalid_request", `${result.field}: ${result.message}`, "GET /api/v1/mqtt shows the settings in force.");
      return state();
    });
}
