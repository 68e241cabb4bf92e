/**
 * Native API: printers, their connection, commands and the job.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import type { Result } from "../../printers/controller.ts";
import { traceFiles } from "../../printers/flight-recorder.ts";
import { NewPrinterSchema, PrinterSettingsSchema } from "../../printers/record.ts";
import type { PrinterSession } from "../../printers/session.ts";
import type { AppContext } from "../context.ts";
import { ApiError } from "../errors.ts";
import { pathParam } from "../path-param.ts";
import { visibleTo } from "../auth/principal.ts";
import { checkScript, SCRIPT_EVENTS, SCRIPT_VARIABLES, SCRIPTS, DEFAULT_SCRIPTS, ScriptTextSchema, type ScriptName } from "../../jobs/scripts.ts";
import { PrinterProfileSchema, problemText } from "../../printers/profile.ts";
import { renderPerStatus } from "../render-once.ts";

const CommandsSchema = v.object({
  commands: v.pipe(
    v.array(v.pipe(v.string(), v.maxLength(256, "a command may be at most 256 characters"))),
    v.minLength(1, "send at least one command"),
    v.maxLength(1000, "send at most 1000 commands at once"),
  ),
});

const JobSchema = v.object({ file: v.pipe(v.string(), v.minLength(1, "name the file to print")) });
const SdFileSchema = v.object({ name: v.pipe(v.string(), v.minLength(1, "name the file on the SD card"), v.maxLength(255)) });
const SdUploadSchema = v.object({
  file: v.pipe(v.string(), v.minLength(1, "name the stored file to copy")),
  name: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(120))),
});
const CancelObjectSchema = v.object({ name: v.pipe(v.string(), v.minLength(1, "name the object to cancel"), v.maxLength(500)) });
/** `PATCH …/scripts`: the scripts to change; null puts one back to its default. */
const ScriptsUpdateSchema = v.record(v.picklist(SCRIPTS, `scripts are ${SCRIPTS.join(", ")}`), v.nullable(ScriptTextSchema));
const PromptAnswerSchema = v.object({ choice: v.pipe(v.number("choice must be a number"), v.integer(), v.minValue(0)) });
const PROFILE_FIELDS = Object.keys(PrinterProfileSchema.entries);
/** `PATCH …/profile`: any of the profile's fields (checked against the profile once merged). */
const ProfilePatchSchema = v.pipe(
  v.record(v.string(), v.unknown()),
  v.check((o) => Object.keys(o).every((k) => PROFILE_FIELDS.includes(k)), `a profile has the fields ${PROFILE_FIELDS.join(", ")}`),
);

/** A file name for a download: the printer id and the time. */
function traceName(id: string, suffix: string): string {
  return `layerline-${id}-${new Date().toISOString().replace(/[:.]/g, "-")}${suffix}.jsonl`;
}

/** The JSON view of a printer: its configuration and its live status (one state, many views). */
export function printerJson(session: PrinterSession) {
  const { name, transport, port, baud, window, autoconnect, isDefault } = session.record;
  return { name, transport, port, baud, window, autoconnect, isDefault, ...session.status };
}

/** `JSON.stringify(printerJson(session))`, serialised once per status however many clients ask. */
export const printerJsonText = renderPerStatus((session: PrinterSession) => JSON.stringify(printerJson(session)));

/** What Elysia answers for an object, from its JSON text. */
function jsonResponse(text: string): Response {
  return new Response(text, { headers: { "content-type": "application/json;charset=utf-8" } });
}

/** Throws the API error for a failed controller result, or returns its value. */
export function unwrap<T>(result: Result<T>): T {
  if (!result.ok) throw ApiError.fromProblem(result.error);
  return result.value;
}

/** The printer with this id, or the API's 404. */
export function printerSession(ctx: Pick<AppContext, "printers">, id: string): PrinterSession {
  const s = ctx.printers.get(id);
  if (!s) throw new ApiError(404, "printer_not_found", `There is no printer "${id}".`, "GET /api/v1/printers lists them.");
  return s;
}

export function printersApi(ctx: AppContext) {
  const session = (id: string): PrinterSession => printerSession(ctx, id);

  return new Elysia({ prefix: "/api/v1/printers" })
    // A key restricted to one printer sees only that one.
    .get("/", ({ request }) => ({ printers: ctx.printers.list().filter((p) => visibleTo(request, p.id)).map(printerJson) }))
    .post(
      "/",
      async ({ body, set }) => {
        if (body.transport === "serial" && !body.port) {
          throw new ApiError(400, "invalid_request", "A serial printer needs a port.", 'Add "port": "/dev/ttyUSB0" (or your device).');
        }
        const created = await ctx.printers.add(body);
        set.status = 201;
        return printerJson(created);
      },
      { body: NewPrinterSchema },
    )
    // What dashboards and apps poll: the same text for every poll until the status changes.
    .get("/:id", ({ params }) => jsonResponse(printerJsonText(session(params.id))))
    .patch(
      "/:id",
      async ({ params, body }) => {
        const s = session(params.id);
        if (body.port !== undefined && s.record.transport !== "serial") {
          throw new ApiError(400, "invalid_request", "The virtual printer has no port.", "Change the port of a serial printer only.");
        }
        await ctx.printers.updateSettings(s.id, body);
        return printerJson(session(params.id));
      },
      { body: PrinterSettingsSchema },
    )
    .delete("/:id", async ({ params, set }) => {
      const s = session(params.id);
      if (s.status.state === "printing" || s.status.state === "paused") {
        throw new ApiError(409, "busy", "The printer is printing and cannot be removed.", "Cancel the print first.");
      }
      await ctx.printers.remove(s.id);
      set.status = 204;
    })
    .post("/:id/connect", async ({ params }) => {
      unwrap(await ctx.printers.connect(session(params.id).id));
      return printerJson(session(params.id));
    })
    .post("/:id/disconnect", async ({ params }) => {
      unwrap(await ctx.printers.disconnect(session(params.id).id));
      return printerJson(session(params.id));
    })
    .post("/:id/commands", async ({ params, body }) => unwrap(await session(params.id).send(body.commands)), {
      body: CommandsSchema,
    })
    .post("/:id/emergency-stop", async ({ params }) => {
      unwrap(await session(params.id).emergencyStop());
      return printerJson(session(params.id));
    })
    .get("/:id/terminal", ({ params }) => ({ lines: session(params.id).terminal }))
    .get("/:id/link", ({ params }) => session(params.id).status.link)
    .get("/:id/trace", async ({ params, query }) => {
      const s = session(params.id);
      if (query.source === "log") {
        // The rotating log on disk, oldest first: everything kept, not only the latest lines.
        const dir = ctx.printers.traceDir;
        const files = dir ? await traceFiles(dir, s.id) : [];
        if (files.length === 0) throw new ApiError(404, "not_found", "There is no serial log for this printer yet.", "It is written while the printer is connected.");
        const stream = new Blob(files.map((f) => Bun.file(f))).stream();
        return new Response(stream, {
          headers: { "content-type": "application/x-ndjson", "content-disposition": `attachment; filename="${traceName(s.id, "-log")}"` },
        });
      }
      const text = unwrap(await s.trace());
      return new Response(text, {
        headers: { "content-type": "application/x-ndjson", "content-disposition": `attachment; filename="${traceName(s.id, "")}"` },
      });
    })
    .post(
      "/:id/prompt",
      async ({ params, body }) => {
        unwrap(await session(params.id).answerPrompt(body.choice));
        return printerJson(session(params.id));
      },
      { body: PromptAnswerSchema },
    )
    .get("/:id/sd", ({ params }) => session(params.id).status.sd)
    .post("/:id/sd/refresh", async ({ params }) => {
      unwrap(await session(params.id).sdRefresh());
      return session(params.id).status.sd;
    })
    .post(
      "/:id/sd/print",
      async ({ params, body }) => {
        unwrap(await session(params.id).sdPrint(body.name));
        return printerJson(session(params.id));
      },
      { body: SdFileSchema },
    )
    .post(
      "/:id/sd/upload",
      async ({ params, body, set }) => {
        const s = session(params.id);
        const file = ctx.files.get(body.file);
        if (!file) throw new ApiError(404, "file_not_found", `There is no file "${body.file}".`, "GET /api/v1/files lists them.");
        const result = unwrap(await s.sdUpload(file.path, body.name));
        set.status = 202;
        return { name: result.name, upload: s.status.sd.upload };
      },
      { body: SdUploadSchema },
    )
    .delete("/:id/sd/*", async ({ params, set }) => {
      const name = pathParam(params["*"]);
      unwrap(await session(params.id).sdDelete(name));
      set.status = 202;
      return { deleting: name };
    })
    .post(
      "/:id/job",
      async ({ params, body }) => {
        const s = session(params.id);
        const file = ctx.files.get(body.file);
        if (!file) throw new ApiError(404, "file_not_found", `There is no file "${body.file}".`, "GET /api/v1/files lists them.");
        unwrap(await s.startJob(file.path));
        return printerJson(s);
      },
      { body: JobSchema },
    )
    .post("/:id/job/pause", async ({ params }) => {
      unwrap(await session(params.id).pauseJob());
      return printerJson(session(params.id));
    })
    .post("/:id/job/resume", async ({ params }) => {
      unwrap(await session(params.id).resumeJob());
      return printerJson(session(params.id));
    })
    .post("/:id/job/cancel", async ({ params }) => {
      unwrap(await session(params.id).cancelJob());
      return printerJson(session(params.id));
    })
    .post("/:id/job/restart", async ({ params }) => {
      unwrap(await session(params.id).restartJob());
      return printerJson(session(params.id));
    })
    .post(
      "/:id/job/cancel-object",
      async ({ params, body }) => {
        unwrap(await session(params.id).cancelObject(body.name));
        return printerJson(session(params.id));
      },
      { body: CancelObjectSchema },
    )
    // A print the host was running when it stopped (crash, power cut): resume it from its last layer start, or forget it.
    .get("/:id/job/interrupted", ({ params }) => {
      const s = session(params.id);
      if (!s.status.interrupted) throw new ApiError(404, "no_interrupted_job", "There is no interrupted print on this printer.", "It appears here after the host stopped during a print.");
      return s.status.interrupted;
    })
    .post("/:id/job/interrupted/resume", async ({ params }) => {
      const s = session(params.id);
      unwrap(await ctx.jobs.resumeInterrupted(s));
      return printerJson(s);
    })
    .delete("/:id/job/interrupted", async ({ params, set }) => {
      unwrap(await ctx.jobs.discardInterrupted(session(params.id)));
      set.status = 204;
    })
    .get("/:id/profile", ({ params }) => profileJson(ctx, session(params.id)))
    .patch(
      "/:id/profile",
      async ({ params, body }) => {
        const s = session(params.id);
        const problem = await ctx.jobs.updateProfile(s, body);
        if (problem) throw new ApiError(400, "invalid_profile", `The profile was not changed: ${problemText(problem)}.`, "GET this resource shows the fields and their values.");
        return profileJson(ctx, s);
      },
      { body: ProfilePatchSchema },
    )
    .post("/:id/profile/limits/from-printer", async ({ params }) => {
      const s = session(params.id);
      if (!s.status.limits) {
        throw new ApiError(409, "no_reported_limits", "The printer has not reported its machine limits.", "Connect it (Marlin reports them on connecting), or POST …/limits/query; firmware such as Klipper does not report them.");
      }
      const problem = await ctx.jobs.updateProfile(s, { limits: s.status.limits }, "replace");
      if (problem) throw new ApiError(400, "invalid_profile", `The profile was not changed: ${problemText(problem)}.`, "The printer reported limits that are not valid.");
      return profileJson(ctx, s);
    })
    .post("/:id/limits/query", async ({ params, set }) => {
      unwrap(await session(params.id).queryLimits());
      set.status = 202;
      return { asked: true };
    })
    .get("/:id/scripts", ({ params }) => scriptsJson(ctx, session(params.id).id))
    .patch(
      "/:id/scripts",
      async ({ params, body }) => {
        const s = session(params.id);
        for (const [name, text] of Object.entries(body) as [ScriptName, string | null][]) {
          if (text === null) continue;
          const checked = checkScript(name, text);
          if (!checked.ok) throw new ApiError(400, "invalid_script", checked.message, "Fix the script; GET this resource lists the variables.");
        }
        unwrap(await ctx.jobs.setScripts(s, body));
        return scriptsJson(ctx, s.id);
      },
      { body: ScriptsUpdateSchema },
    );
}

/** A printer's profile, and the machine limits its firmware reported (null: none, or not connected yet). */
export function profileJson(ctx: AppContext, session: PrinterSession) {
  return { profile: ctx.jobs.profile(session.id), reportedLimits: session.status.limits };
}

/** A printer's scripts: each event's text (and whether it is the default) and the variables they can use. */
export function scriptsJson(ctx: AppContext, printerId: string) {
  const stored = ctx.jobs.scripts(printerId);
  const effective = ctx.jobs.effectiveScripts(printerId);
  return {
    scripts: Object.fromEntries(
      SCRIPTS.map((name) => [name, { ...SCRIPT_EVENTS[name], text: effective[name], isDefault: stored[name] === undefined, default: DEFAULT_SCRIPTS[name] }]),
    ),
    variables: SCRIPT_VARIABLES.map(([path, what]) => ({ path, what })),
  };
}
