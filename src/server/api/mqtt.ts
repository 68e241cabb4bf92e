/**
 * Native API for the MQTT bridge: its settings (the password is never returned, only whether one
 * is set) and its connection state; a change reconnects with the new settings.
 */
import { Elysia } from "elysia";
import { commandUserRefusal } from "../../mqtt/commands.ts";
import { MqttConfigChangeSchema, type MqttConfigChange } from "../../mqtt/settings.ts";
import { principalOf } from "../auth/principal.ts";
import type { AppContext } from "../context.ts";
import { ApiError, parseBody } from "../errors.ts";

export function mqttApi(ctx: AppContext) {
  const state = () => ({ settings: ctx.mqtt.settingsView(), status: ctx.mqtt.status() });
  return new Elysia({ prefix: "/api/v1/mqtt" })
    .get("/", state)
    .put("/", async ({ body, request }) => {
      const change = parseBody(MqttConfigChangeSchema, body, "Send any of enabled, host, port, tls, allowUntrusted, username, password, baseTopic, discovery, discoveryPrefix, commandUser.");
      if (change.commandUser && !ctx.accounts.users.byName(change.commandUser)) {
        throw new ApiError(400, "invalid_request", `commandUser: there is no user "${change.commandUser}".`, "GET /api/v1/users lists them; null refuses every command.");
      }
      const beyond = commandUserChoice(ctx, request, change);
      if (beyond) throw new ApiError(403, "command_user_not_allowed", `commandUser: ${beyond}.`, "Choose a user with no more permissions than yours, or ask an admin.");
      const result = await ctx.mqtt.configure(change);
      if (!result.ok) throw new ApiError(400, "invalid_request", `${result.field}: ${result.message}`, "GET /api/v1/mqtt shows the settings in force.");
      return state();
    });
}

/**
 * Why the request may not save `change` (null: it may): with the bridge on, the user commands act
 * as (the one chosen now, or the one in force) may have no permission the request lacks — else a
 * settings-only user or key could name an admin, or point the bridge at a broker of their own
 * while an admin is chosen, and do over MQTT what they may not do over HTTP. Turning the bridge
 * off, or commands off, is always allowed.
 */
export function commandUserChoice(ctx: AppContext, request: Request, change: MqttConfigChange): string | null {
  const current = ctx.mqtt.settingsView();
  const name = change.commandUser === undefined ? current.commandUser : change.commandUser;
  const user = name ? ctx.accounts.users.byName(name) : undefined;
  if (!user || !(change.enabled ?? current.enabled)) return null;
  return commandUserRefusal(principalOf(request).permissions, user.name, ctx.accounts.permissionsOf(user));
}
