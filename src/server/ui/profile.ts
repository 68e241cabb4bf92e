/**
 * The printer profile page of the htmx UI: the page, saving the printer's bed and extruders,
 * saving its machine limits (the whole set: an empty field is no limit), taking the limits the
 * firmware reported, asking the firmware again, and clearing them. Each calls the same job
 * service as the JSON API; each form answers with a fresh copy of itself.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { fieldLabel, limitsForm, profileForm, profilePage, type LimitsView, type Outcome } from "../../../views/profile.ts";
import { AXIS_LIMITS, limitsKey, SCALAR_LIMITS, type MachineLimitsPatch } from "../../analysis/limits.ts";
import type { ProfileProblem } from "../../printers/profile.ts";
import type { PrinterSession } from "../../printers/session.ts";
import { accessFor } from "../auth/access.ts";
import type { AppContext } from "../context.ts";
import { notFoundResponse } from "../errors.ts";
import { pageSession } from "./page-session.ts";
import { htmlResponse, toastResponse } from "./routes.ts";

/** How long "Ask the printer again" waits for the report before answering. */
const REPORT_WAIT_MS = 2000;

const text = v.optional(v.string(), "");
const ProfileForm = v.object({
  name: text,
  model: text,
  width: text,
  depth: text,
  height: text,
  formFactor: text,
  origin: text,
  count: text,
  nozzleDiameter: text,
  heatedBed: v.optional(v.string()),
  heatedChamber: v.optional(v.string()),
});

/** The limits form's fields (`maxFeedrate.x`, `printAcceleration`…) as limits; the problem when one is not a number ≥ 0. */
function limitsFromForm(body: Record<string, unknown>): { limits: MachineLimitsPatch } | { problem: ProfileProblem } {
  const out: MachineLimitsPatch = {};
  const read = (name: string): number | undefined | ProfileProblem => {
    const raw = body[name];
    if (typeof raw !== "string" || raw.trim() === "") return undefined;
    const n = Number(raw);
    return Number.isFinite(n) && n >= 0 ? n : { path: `limits.${name}`, message: `must be a number of 0 or more (it was "${raw}")` };
  };
  for (const key of AXIS_LIMITS) {
    for (const a of ["x", "y", "z", "e"] as const) {
      const value = read(`${key}.${a}`);
      if (typeof value === "object") return { problem: value };
      if (value !== undefined) out[key] = { ...out[key], [a]: value };
    }
  }
  for (const key of SCALAR_LIMITS) {
    const value = read(key);
    if (typeof value === "object") return { problem: value };
    if (value !== undefined) out[key] = value;
  }
  return { limits: out };
}

/** A problem as the form says it: the field named by its label. */
const notSaved = (problem: ProfileProblem): Outcome => ({ error: `Not saved — ${fieldLabel(problem.path)}: ${problem.message}.` });

export function uiProfile(ctx: AppContext) {
  const noPrinter = (id: string) => toastResponse(`There is no printer "${id}".`);
  const limitsView = (s: PrinterSession): LimitsView => ({
    limits: ctx.jobs.limits(s.id),
    reported: s.status.limits,
    firmware: s.status.firmware?.profile ?? null,
    isDefault: s.record.isDefault,
  });
  const limitsAnswer = (request: Request, s: PrinterSession, outcome: Outcome) => htmlResponse(limitsForm(s.id, limitsView(s), accessFor(request), outcome));
  /** Stores a change of the limits and answers with the form. */
  const saveLimits = async (request: Request, s: PrinterSession, limits: MachineLimitsPatch | null, saved: string) => {
    const problem = await ctx.jobs.updateProfile(s, { limits }, "replace");
    return limitsAnswer(request, s, problem ? notSaved(problem) : { saved });
  };

  return new Elysia()
    .get("/settings/printers/:id/profile", ({ params, request }) => {
      const s = ctx.printers.get(params.id);
      if (!s) return notFoundResponse(`There is no printer "${params.id}".`, pageSession(request));
      return htmlResponse(profilePage(s.record, ctx.jobs.profile(s.id), limitsView(s), accessFor(request), pageSession(request)));
    })
    .post("/ui/printers/:id/profile", async ({ params, body, request }) => {
      const s = ctx.printers.get(params.id);
      if (!s) return noPrinter(params.id);
      const form = v.safeParse(ProfileForm, body ?? {});
      if (!form.success) return toastResponse("The profile was not saved: the form was incomplete.");
      const f = form.output;
      const num = (x: string) => (x.trim() === "" ? Number.NaN : Number(x));
      const problem = await ctx.jobs.updateProfile(s, {
        name: f.name.trim(),
        model: f.model.trim(),
        heatedBed: f.heatedBed !== undefined,
        heatedChamber: f.heatedChamber !== undefined,
        volume: { width: num(f.width), depth: num(f.depth), height: num(f.height), formFactor: f.formFactor, origin: f.origin },
        extruder: { count: num(f.count), nozzleDiameter: num(f.nozzleDiameter) },
      });
      const outcome: Outcome = problem ? notSaved(problem) : { saved: "Saved." };
      return htmlResponse(profileForm(s.id, ctx.jobs.profile(s.id), accessFor(request), outcome));
    })
    .post("/ui/printers/:id/profile/limits", async ({ params, body, request }) => {
      const s = ctx.printers.get(params.id);
      if (!s) return noPrinter(params.id);
      const form = limitsFromForm((body ?? {}) as Record<string, unknown>);
      if ("problem" in form) return limitsAnswer(request, s, notSaved(form.problem));
      return saveLimits(request, s, form.limits, "Saved.");
    })
    .post("/ui/printers/:id/profile/limits/from-printer", async ({ params, request }) => {
      const s = ctx.printers.get(params.id);
      if (!s) return noPrinter(params.id);
      if (!s.status.limits) return limitsAnswer(request, s, { error: "The printer has not reported its limits." });
      return saveLimits(request, s, s.status.limits, "The printer's reported limits are the profile's now.");
    })
    .post("/ui/printers/:id/profile/limits/clear", async ({ params, request }) => {
      const s = ctx.printers.get(params.id);
      if (!s) return noPrinter(params.id);
      return saveLimits(request, s, null, "Cleared: estimates use the file's limits and Marlin's defaults until the printer reports its own again.");
    })
    .post("/ui/printers/:id/limits/query", async ({ params, request }) => {
      const s = ctx.printers.get(params.id);
      if (!s) return noPrinter(params.id);
      const before = limitsKey(s.status.limits);
      const asked = await s.queryLimits();
      if (!asked.ok) return limitsAnswer(request, s, { error: `${asked.error.message} ${asked.error.hint}` });
      // The report comes back in the status within a moment; answer with it when it has come.
      const deadline = Date.now() + REPORT_WAIT_MS;
      while (limitsKey(s.status.limits) === before && Date.now() < deadline) await Bun.sleep(50);
      const after = limitsKey(s.status.limits);
      const saved = after !== before ? "The printer reported its limits." : after === "" ? "Asked; no report has come back yet." : "Asked; the printer reported the same limits as before.";
      return limitsAnswer(request, s, { saved });
    });
}
