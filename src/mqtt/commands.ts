/**
 * Commands over MQTT: which topics carry them, what their payloads may be, and whether the
 * configured user may give them. Each command is the native API's route of the same action, and
 * is allowed exactly when that route would allow the user (auth/route-permissions.ts), so MQTT
 * can never do more than the user could over HTTP.
 *
 * Payloads: Home Assistant's buttons send the bare text `PRESS`; other clients send JSON
 * `{"id": "…"}` (the id comes back in the reply, and a repeated id — a QoS 1 redelivery — is
 * done once). An empty payload is never a command: it is how a retained message is deleted, and
 * the broker forwards that deletion to subscribers. `gcode` takes the lines as text (one per line) or
 * `{"id", "commands": [...]}`.
 */
import * as v from "valibot";
import type { Permission } from "../accounts/permissions.ts";
import type { User } from "../accounts/users.ts";
import { denial, requirementFor } from "../server/auth/route-permissions.ts";

/** Each verb, and the API route whose permission it needs. */
export const VERBS = {
  pause: "POST /api/v1/printers/:id/job/pause",
  resume: "POST /api/v1/printers/:id/job/resume",
  cancel: "POST /api/v1/printers/:id/job/cancel",
  connect: "POST /api/v1/printers/:id/connect",
  disconnect: "POST /api/v1/printers/:id/disconnect",
  gcode: "POST /api/v1/printers/:id/commands",
} as const;
export type Verb = keyof typeof VERBS;

const IdSchema = v.pipe(v.string("id must be text"), v.minLength(1, "id must not be empty"), v.maxLength(100, "id must be at most 100 characters"));
const Line = v.pipe(v.string("each command must be text"), v.maxLength(256, "a command may be at most 256 characters"), v.check((s) => !/[\r\n]/.test(s), "a command must be one line"));
const Lines = v.pipe(v.array(Line, "commands must be a list of G-code lines"), v.minLength(1, "send at least one command"), v.maxLength(1000, "send at most 1000 commands at once"));

const ActionSchema = v.strictObject({ id: v.optional(IdSchema) }, "a command's JSON may only have an id");
const GcodeSchema = v.strictObject({ id: v.optional(IdSchema), commands: Lines }, "a G-code command's JSON has commands (a list of lines) and an optional id");

export type Command = { printer: string; verb: Verb; id: string | null; commands: string[] };
export type Parsed = { ok: true; command: Command } | { ok: false; printer: string | null; id: string | null; reason: string };

export const MAX_PAYLOAD = 64 * 1024;

/**
 * Reads a message on a command topic. `retained`: the broker handed over a stored copy — a
 * command left on the broker would act again at every (re)connect, so those are refused.
 */
export function parseCommand(base: string, topic: string, payload: Uint8Array, retained: boolean): Parsed {
  const prefix = `${base}/`;
  const rest = topic.startsWith(prefix) ? topic.slice(prefix.length).split("/") : [];
  if (rest.length !== 3 || rest[1] !== "cmd") return { ok: false, printer: null, id: null, reason: `"${topic}" is not a command topic (${base}/<printer>/cmd/<verb>)` };
  const [printer, , verb] = rest as [string, string, string];
  const fail = (reason: string, id: string | null = null): Parsed => ({ ok: false, printer, id, reason });
  if (!Object.hasOwn(VERBS, verb)) return fail(`"${verb}" is not a command; the commands are ${Object.keys(VERBS).join(", ")}`);
  if (retained) return fail("the command was a retained message; commands must be published without the retain flag (a retained one would act again at every reconnect)");
  if (payload.length > MAX_PAYLOAD) return fail(`the payload is ${payload.length} bytes; at most ${MAX_PAYLOAD} are accepted`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(payload).trim();
  } catch {
    return fail("the payload is not UTF-8 text");
  }
  if (text === "") return fail("the payload is empty (that deletes a retained message; it is not a command): send PRESS or JSON");
  const command = (id: string | null, commands: string[] = []): Parsed => ({ ok: true, command: { printer, verb: verb as Verb, id, commands } });
  if (!text.startsWith("{")) {
    if (verb === "gcode") {
      const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
      const checked = v.safeParse(Lines, lines);
      return checked.success ? command(null, checked.output) : fail(checked.issues[0].message);
    }
    return text.toUpperCase() === "PRESS" ? command(null) : fail(`the payload must be PRESS or JSON like {"id":"1"}; got "${text.slice(0, 40)}"`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return fail(`the payload is not valid JSON: ${(e as Error).message}`);
  }
  const maybeId = typeof (json as { id?: unknown }).id === "string" ? (json as { id: string }).id : null;
  if (verb === "gcode") {
    const checked = v.safeParse(GcodeSchema, json);
    return checked.success ? command(checked.output.id ?? null, checked.output.commands) : fail(issueText(checked.issues[0]), maybeId);
  }
  const checked = v.safeParse(ActionSchema, json);
  return checked.success ? command(checked.output.id ?? null) : fail(issueText(checked.issues[0]), maybeId);
}

function issueText(issue: v.BaseIssue<unknown>): string {
  const path = v.getDotPath(issue);
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** Who commands act as: the configured user, or nobody. */
export interface CommandActor {
  user: User | null;
  permissions: ReadonlySet<Permission>;
}

/**
 * Why the actor may not give `command` (null: it may), in words. Decided by the guard's own rule
 * (`denial`) for the verb's API route, acting on the command's printer.
 */
export function refusal(actor: CommandActor, command: Command): string | null {
  if (!actor.user) return "commands over MQTT are off: no Layerline user is chosen for them (Settings → MQTT)";
  const [method, route] = VERBS[command.verb].split(" ") as [string, string];
  const requirement = requirementFor(method, route);
  const why = denial(requirement, { user: actor.user, permissions: new Set(actor.permissions), printerId: null }, () => command.printer);
  if (why === null) return null;
  const permission = "permission" in requirement ? requirement.permission : "?";
  return `user "${actor.user.name}" may not ${command.verb === "gcode" ? "send G-code" : command.verb} (it needs the "${permission}" permission)`;
}

/**
 * Why someone with `chooser`'s permissions may not make commands act as `user` (null: they may).
 * Choosing needs only the settings permission, so without this a settings-only user or key could
 * name an admin and then do over MQTT what they may not do over HTTP: the chosen user may have
 * no permission the chooser lacks.
 */
export function commandUserRefusal(chooser: ReadonlySet<Permission>, user: string, permissions: ReadonlySet<Permission>): string | null {
  const beyond = [...permissions].filter((p) => !chooser.has(p));
  return beyond.length === 0 ? null : `commands over MQTT act as "${user}", who has permissions you lack: ${beyond.map((p) => `"${p}"`).join(", ")}`;
}

/** Remembers the latest command ids per printer, so a redelivered command is done once. */
export class SeenIds {
  private readonly ids: string[] = [];
  constructor(private readonly keep = 100) {}

  /** true the first time `key` is seen. */
  first(key: string): boolean {
    if (this.ids.includes(key)) return false;
    this.ids.push(key);
    if (this.ids.length > this.keep) this.ids.shift();
    return true;
  }
}
