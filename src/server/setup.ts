/**
 * First-run setup, shared by the browser wizard and `POST /api/v1/setup`: create the first admin
 * and, optionally, name the default printer and choose its connection.
 */
import * as v from "valibot";
import { AccountError, alreadySetUp } from "../accounts/accounts.ts";
import { sameSecret } from "../accounts/tokens.ts";
import type { User } from "../accounts/users.ts";
import { BAUD_RATES, DEFAULT_WINDOW, PortSchema } from "../printers/record.ts";
import type { AppContext } from "./context.ts";
import { isLoopback } from "./auth/principal.ts";

export const PrinterChoiceSchema = v.object({
  name: v.pipe(v.string(), v.trim(), v.minLength(1, "name the printer"), v.maxLength(80)),
  transport: v.picklist(["virtual", "serial"], 'the connection is "virtual" or "serial"'),
  /** A device path, or `auto` to find the printer on any serial port and rate (`--serial auto`). */
  port: v.optional(PortSchema),
  baud: v.optional(v.pipe(v.number(), v.integer(), v.minValue(300), v.maxValue(4_000_000)), 115200),
});
export type PrinterChoice = v.InferOutput<typeof PrinterChoiceSchema>;

export { BAUD_RATES };

/** Whether a setup request may proceed: from this machine, or anywhere with the setup token. */
export function setupAllowed(ctx: AppContext, address: string | undefined, token: string | undefined, viaBrowser: boolean): AccountError | null {
  if (ctx.accounts.adminExists()) return alreadySetUp();
  if (ctx.setupToken) {
    return token && sameSecret(token, ctx.setupToken) ? null : new AccountError("setup_token", "This host was started with --setup-token; the token is missing or wrong.", "Send the token given to --setup-token (header X-Setup-Token or field token).", 403);
  }
  // The wizard is how a headless Pi is set up from a laptop, so it is open to the network until
  // the first admin exists (like OctoPrint); the API is for scripts on the machine itself.
  if (!viaBrowser && !isLoopback(address)) {
    return new AccountError("setup_remote", "Headless setup is only accepted from this machine.", "Run it on the host (curl http://127.0.0.1:…/api/v1/setup), use the browser wizard, or start Layerline with --setup-token TOKEN.", 403);
  }
  return null;
}

/** Creates the first admin and applies the printer choice; returns the admin. */
export async function completeSetup(ctx: AppContext, username: string, password: string, printer?: PrinterChoice): Promise<User> {
  if (printer?.transport === "serial" && !printer.port) throw new AccountError("invalid_request", "A serial printer needs a port.", "Pick the port your printer is plugged into.");
  const admin = await ctx.accounts.addFirstAdmin(username, password);
  if (printer) await applyPrinterChoice(ctx, printer);
  return admin;
}

/** Replaces the default printer by the chosen one when it differs (new name → new id). */
async function applyPrinterChoice(ctx: AppContext, choice: PrinterChoice): Promise<void> {
  const current = ctx.printers.default();
  const r = current?.record;
  const port = choice.transport === "serial" ? choice.port! : null;
  if (r && r.name === choice.name && r.transport === choice.transport && r.port === port && (choice.transport === "virtual" || r.baud === choice.baud)) return;
  if (r && r.name === choice.name && r.transport === choice.transport && choice.transport === "serial") {
    ctx.printers.updateConnection(r.id, port, choice.baud);
    await ctx.printers.disconnect(r.id);
    void ctx.printers.connect(r.id);
    return;
  }
  await ctx.printers.add({ name: choice.name, transport: choice.transport, port: port ?? undefined, baud: choice.baud, autoconnect: true, window: r?.window ?? DEFAULT_WINDOW });
  if (current) await ctx.printers.remove(current.id);
}
