/**
 * Firmware quirks as data (design principle 2, protocol.md §8 and §10). Each
 * `firmware-quirks/<id>.json` is a partial profile; profiles merge base → family → overlay and the
 * result is validated once more as a whole. The engine reads only the merged {@link Quirks}.
 */
import * as v from "valibot";

const Patterns = v.array(v.string());

/** What the sections of a profile hold; every file may give any subset of each section. */
const sections = {
  detect: v.object({
    /** Profiles are tried in ascending order (protocol.md §8.1: names contain each other). */
    order: v.number(),
    /** Case-insensitive regexes on the FIRMWARE_NAME value (or Malyan's NAME). */
    firmwareName: Patterns,
    /** Case-insensitive regexes on any received line (banners, odd formats). */
    anyLine: Patterns,
  }),
  handshake: v.object({
    /** The hello, framed as `N0 <hello>`; the next numbered line is N1. */
    hello: v.string(),
    /** How long to wait for the first reply before sending the hello again. */
    retryMs: v.pipe(v.number(), v.minValue(100)),
    /** Give up after this long without any reply. */
    timeoutMs: v.pipe(v.number(), v.minValue(500)),
  }),
  ack: v.object({
    /** After a resend request: does the firmware also send `ok`? `detect` waits `resendOkMs` for it. */
    okAfterResend: v.picklist(["always", "never", "detect"]),
    resendOkMs: v.pipe(v.number(), v.minValue(1)),
  }),
  resend: v.object({
    historySize: v.pipe(v.number(), v.integer(), v.minValue(16)),
    /** Give up after this many consecutive requests for the same line (a structurally broken line loops forever). */
    maxConsecutive: v.pipe(v.number(), v.integer(), v.minValue(1)),
  }),
  /** What a bare `wait` line means (§2.3): a lost ok when idle, or busy (CBD firmware). */
  wait: v.object({ meaning: v.picklist(["idle", "busy", "ignore"]) }),
  busy: v.object({
    /** Lines that say "still working" and reset the communication timeout. */
    patterns: Patterns,
    /** Sent once busy lines are seen, to set their interval (Marlin `M113 S2`); "" for none. */
    intervalCommand: v.string(),
  }),
  autoreport: v.object({
    /** Capability → command that enables the auto-report; polling is the fallback. */
    temperature: v.object({ capability: v.string(), command: v.string() }),
    position: v.object({ capability: v.string(), command: v.string() }),
  }),
  commands: v.object({
    /** Commands whose `ok` may legitimately take minutes (homing, heating, waits). */
    longRunning: v.array(v.string()),
    /** Never sent to the firmware (they block serial until a button press). */
    blocked: v.array(v.string()),
    /** Sent out of band when the capability is present (M108, M410, M876). */
    emergency: v.array(v.string()),
    emergencyCapability: v.string(),
  }),
  errors: v.object({
    /** The firmware has stopped; the printer needs a reset. */
    fatal: Patterns,
    /** Stopped but recoverable with M999. */
    halted: Patterns,
    /** Precede a resend request; not an error for the job. */
    resendFollows: Patterns,
    /** No resend and no ok will follow: simulate one ok (§1.6). */
    fakeOk: Patterns,
    /** Benign: logged only. */
    ignore: Patterns,
  }),
  timeouts: v.object({
    /** No reply at all for this long while waiting for an ok. */
    communicationMs: v.pipe(v.number(), v.minValue(100)),
    /** Replaces `communicationMs` once the firmware is known to send busy keep-alives. */
    communicationBusyMs: v.pipe(v.number(), v.minValue(100)),
    /** Consecutive timeouts tolerated before the link is declared dead. */
    maxConsecutive: v.pipe(v.number(), v.integer(), v.minValue(1)),
    /** M105 polling interval when there is no temperature auto-report. */
    temperaturePollMs: v.pipe(v.number(), v.minValue(100)),
  }),
};

type Sections = typeof sections;

/** A complete, merged profile. */
export const QuirksSchema = v.object({
  id: v.string(),
  name: v.string(),
  ...sections,
});
export type Quirks = v.InferOutput<typeof QuirksSchema>;

/** One file: an id, what it extends, and any subset of each section. */
export const QuirksFileSchema = v.object({
  id: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and dashes")),
  name: v.optional(v.string()),
  extends: v.optional(v.string()),
  ...(Object.fromEntries(
    Object.entries(sections).map(([key, schema]) => [key, v.optional(v.partial(schema))]),
  ) as { [K in keyof Sections]: v.OptionalSchema<v.SchemaWithPartial<Sections[K], undefined>, undefined> }),
});
export type QuirksFile = v.InferOutput<typeof QuirksFileSchema>;

/** A quirks file that failed validation: where, which field, and why. */
export interface QuirksProblem {
  source: string;
  field: string;
  message: string;
}

/** Validates one file's JSON text. Returns the file or the problems (never throws). */
export function parseQuirksFile(source: string, text: string): QuirksFile | QuirksProblem[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return [{ source, field: "(file)", message: `not valid JSON: ${(e as Error).message}` }];
  }
  const result = v.safeParse(QuirksFileSchema, json);
  if (result.success) {
    const bad = badPatterns(result.output);
    return bad.length ? bad.map((p) => ({ ...p, source })) : result.output;
  }
  return result.issues.map((issue) => ({
    source,
    field: v.getDotPath(issue) ?? "(root)",
    message: issue.message,
  }));
}

function badPatterns(file: QuirksFile): Omit<QuirksProblem, "source">[] {
  const problems: Omit<QuirksProblem, "source">[] = [];
  const check = (field: string, list: string[] | undefined) =>
    list?.forEach((p, i) => {
      try {
        new RegExp(p, "i");
      } catch (e) {
        problems.push({ field: `${field}.${i}`, message: `bad regular expression: ${(e as Error).message}` });
      }
    });
  check("detect.firmwareName", file.detect?.firmwareName);
  check("detect.anyLine", file.detect?.anyLine);
  check("busy.patterns", file.busy?.patterns);
  for (const k of ["fatal", "halted", "resendFollows", "fakeOk", "ignore"] as const) check(`errors.${k}`, file.errors?.[k]);
  return problems;
}

/**
 * Merges a chain of files, base first, section by section (a later file's field replaces an
 * earlier one's), and validates the result as a complete profile.
 */
export function mergeQuirks(chain: QuirksFile[]): Quirks | QuirksProblem[] {
  const merged: Record<string, unknown> = {};
  for (const file of chain) {
    for (const [key, value] of Object.entries(file)) {
      if (key === "extends" || value === undefined) continue;
      merged[key] =
        typeof value === "object" && !Array.isArray(value)
          ? { ...(merged[key] as object | undefined), ...value }
          : value;
    }
  }
  const result = v.safeParse(QuirksSchema, merged);
  if (result.success) return result.output;
  const source = chain.map((f) => f.id).join(" → ");
  return result.issues.map((issue) => ({ source, field: v.getDotPath(issue) ?? "(root)", message: issue.message }));
}
