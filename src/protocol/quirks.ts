/**
 * Firmware quirks as data (design principle 2, protocol.md §8 and §10). Each
 * `firmware-quirks/<id>.json` is a partial profile. A *family* profile extends another family
 * (every chain ends in `generic`); an *overlay* (`"overlay": true`) holds only the fields it
 * changes and is applied on top of whatever family is active once its evidence appears (a banner
 * line, doubled characters, `TF card ok`). The result is validated as a whole. The engine reads
 * only the merged {@link Quirks}; no firmware name appears in its code.
 *
 * How a later file's field combines with what it inherits (see {@link mergeQuirks}):
 * - a value (number, string, flag, or an ordered command sequence such as `sd.cancelCommands`)
 *   replaces the inherited one;
 * - a map (`timeouts.longRunningMs`, `actions.echoes`) is merged key by key;
 * - a *set* (patterns, command lists, warnings; declared with {@link setOf}) adds to the
 *   inherited one, duplicates dropped — so an overlay that ignores one more error keeps the
 *   family's others. `{"replace": [...]}` replaces it instead, `{"remove": [...], "add": [...]}`
 *   takes entries out and puts others in.
 */
import * as v from "valibot";

/** The schemas of set-valued fields, whose lists merge (a WeakSet of schema objects, not names). */
const SET_FIELDS = new WeakSet<object>();

/** A list that is a set: it merges across files instead of replacing (see the module comment). */
function setOf<T extends v.GenericSchema>(item: T): v.ArraySchema<T, undefined> & { readonly set: true } {
  const schema = Object.assign(v.array(item), { set: true as const });
  SET_FIELDS.add(schema);
  return schema;
}

type SetSchema = v.ArraySchema<v.GenericSchema, undefined> & { readonly set: true };

type PatchSchema<S extends SetSchema> = v.UnionSchema<
  [S, v.StrictObjectSchema<{ readonly replace: S }, undefined>, v.StrictObjectSchema<{ readonly add: v.OptionalSchema<S, undefined>; readonly remove: v.OptionalSchema<S, undefined> }, undefined>],
  undefined
>;

/** What a file may write for a set: the entries to add, or an explicit replacement or edit. */
function listPatch<S extends SetSchema>(list: S): PatchSchema<S> {
  return v.union([list, v.strictObject({ replace: list }), v.strictObject({ add: v.optional(list), remove: v.optional(list) })]);
}

const Patterns = setOf(v.string());
const Ms = v.pipe(v.number(), v.minValue(0));
const Command = v.pipe(v.string(), v.regex(/^[A-Z]\d+(\.\d+)?$|^[A-Z_]+$/, "a command word such as G28 or M109"));
const Commands = setOf(Command);

/** How the host reacts to a class of firmware error (protocol.md §6.2 host policy). */
const ErrorPolicy = v.picklist(["disconnect", "cancelJob", "ignore"]);
export type ErrorPolicy = v.InferOutput<typeof ErrorPolicy>;

const Autoreport = v.object({
  /** The `Cap:` that must be `1`; "" means always. */
  capability: v.string(),
  /** The command that switches the report on; "" sends nothing (another report covers it). */
  command: v.string(),
});

/** What the sections of a profile hold; every file may give any subset of each section. */
const sections = {
  detect: v.object({
    /** Profiles are tried in ascending order (protocol.md §8.1: names contain each other). */
    order: v.number(),
    /** Case-insensitive regexes on the FIRMWARE_NAME value (or Malyan's NAME + VER). */
    firmwareName: Patterns,
    /** Case-insensitive regexes on any received line (banners, odd formats, the M115 line itself). */
    anyLine: Patterns,
  }),
  handshake: v.object({
    /** The hello, framed as `N0 <hello>`; the next numbered line is N1 (§1.3 portable form `M110 N0`). */
    hello: v.string(),
    /**
     * Every third hello uses this one instead ("" = always `hello`): the firmware is not known
     * yet while connecting, and the "CBD" firmware stalls on an `N` parameter to M110 (§1.3) —
     * `N0 M110` without it resets the line number on every firmware family as well.
     */
    retryHello: v.string(),
    /** How long to wait for the first reply before sending the hello again. */
    retryMs: v.pipe(v.number(), v.minValue(100)),
    /** Give up after this long without any reply. */
    timeoutMs: v.pipe(v.number(), v.minValue(500)),
  }),
  lineNumbers: v.object({
    /**
     * Whether the firmware checks line numbers and checksums and asks for resends. When false
     * (Klipper, RRF ≥ 3.01) a corrupted line is lost without a word, so a communication timeout
     * with a job line in flight means that line may be lost: the job is stopped rather than
     * continued with a hole in it.
     */
    tracked: v.boolean(),
  }),
  ack: v.object({
    /** After a resend request: does the firmware also send `ok`? `detect` waits `resendOkMs` for it (§1.7.4). */
    okAfterResend: v.picklist(["always", "never", "detect"]),
    resendOkMs: v.pipe(v.number(), v.minValue(1)),
    /** `afterProcessing` (Marlin…) or `onReceipt` (Repetier: the ok of M109 comes at once, §2.2). */
    timing: v.picklist(["afterProcessing", "onReceipt"]),
    /** Regexes on commands the firmware never acknowledges (Smoothie's lowercase console lines). */
    unacked: Patterns,
    /** The firmware's serial receive buffer: the send window never puts more unread bytes in flight. */
    rxBufferBytes: v.pipe(v.number(), v.integer(), v.minValue(32)),
    /**
     * Replies old firmware ran into the `ok` after them (Marlin 1.x `File deleted:NAMEok`, §4.3):
     * the named group `reply` is the reply, and an ok follows it. A group `arg` must equal the
     * argument of the command being acknowledged, so a file named `notebook` stays a reply.
     */
    gluedOk: Patterns,
  }),
  resend: v.object({
    historySize: v.pipe(v.number(), v.integer(), v.minValue(16)),
    /** Give up after this many consecutive requests for the same line (a structurally broken line loops forever). */
    maxConsecutive: v.pipe(v.number(), v.integer(), v.minValue(1)),
    /** Lines saying a duplicate was skipped (Repetier `skip 12`); the `ok` that follows acks it. */
    duplicate: Patterns,
  }),
  /** What a bare `wait` line means (§2.3): a lost ok when idle, or busy (CBD firmware). */
  wait: v.object({ meaning: v.picklist(["idle", "busy", "ignore"]) }),
  busy: v.object({
    /** Lines that say "still working" and reset the communication timeout. */
    patterns: Patterns,
    /** Sent once busy lines are seen, to set their interval (Marlin `M113 S2`); "" for none. */
    intervalCommand: v.string(),
  }),
  temperature: v.object({
    /** Lines whose characters come doubled (Creality 2020 builds `TT::27.7627.76`); they are undoubled first. */
    doubledWhen: Patterns,
    /** Lines that only set a target (Repetier `TargetExtr0:210`): `heater` is `tool` or `bed`. */
    targetLines: setOf(v.object({ heater: v.picklist(["tool", "bed"]), pattern: v.string() })),
    /**
     * Reports a heating command prints while it waits (Marlin's `… W:?`, Prusa's `T:200.1 E:0`):
     * the command is running, so they hold off the ack timeout as busy lines do — also on
     * firmware that sends busy lines but none while it heats (protocol.md §2.6, transcript
     * prusa-firmware-3180).
     */
    heatWait: Patterns,
  }),
  autoreport: v.object({
    /** Capability → command that enables the auto-report; polling is the fallback. */
    temperature: Autoreport,
    position: Autoreport,
    sdStatus: Autoreport,
  }),
  machineLimits: v.object({
    /**
     * Commands whose replies report the machine limits as `M201`/`M203`/`M204`/`M205` lines
     * (Marlin's `M503`), sent once the firmware is identified and when asked; empty: the
     * firmware has no such report (the printer profile's limits are all there is).
     */
    query: Commands,
  }),
  commands: v.object({
    /** Commands whose `ok` may legitimately take minutes (homing, heating, waits); see `timeouts.longRunningMs`. */
    longRunning: Commands,
    /** Never sent to the firmware (they block serial until a button press)… */
    blocked: Commands,
    /** …unless all these capabilities are reported (then a prompt answer or M108 releases them). */
    blockedUnlessCapabilities: setOf(v.string()),
    /** Regexes on whole commands that must never be sent, e.g. Prusa's `M115 U…` (pauses 30 s on the LCD). */
    neverSend: Patterns,
    /**
     * Regexes on commands this firmware does not know and that are safe to leave out: they are not
     * sent (Klipper's `EXCLUDE_OBJECT_*` elsewhere; the host cancels objects itself from the labels).
     */
    skip: Patterns,
    /**
     * The longest line the firmware reads whole, in characters, with its line number and checksum
     * (newline excluded): Marlin's MAX_CMD_SIZE 96 less its terminator. A longer line is cut and
     * fails its checksum on every resend, so the host refuses it instead. 0 = no limit (Klipper).
     */
    maxLineLength: v.union([v.literal(0), v.pipe(v.number(), v.integer(), v.minValue(80))], "0 (no limit) or at least 80"),
    /**
     * Characters the firmware acts on wherever they arrive, outside any line (Smoothie: `?` status
     * query, `!` and `~` feed hold and resume, protocol.md §7). In a command they can only be text
     * (an M117 message); they are replaced by spaces, or the firmware would take them out of the
     * line and its checksum would fail on every resend.
     */
    realtimeCharacters: v.pipe(v.string(), v.regex(/^[\x21-\x7e]*$/, "printable characters, no spaces")),
  }),
  emergency: v.object({
    /** Written ahead of the queue when the firmware has `capability` (§7): M108, M410, M876, M524. */
    commands: Commands,
    capability: v.string(),
    /** Marlin disables its emergency parser while writing a file to SD (M28). */
    disabledDuringSdWrite: v.boolean(),
    /**
     * What the firmware does after M112: `close` — it halts and falls silent until reset (Marlin),
     * so the link is closed; `keep` — it shuts down but still answers every line (Klipper), so
     * the link stays up and a restart command (`errors.restartCommands`) brings the printer back.
     */
    linkAfterStop: v.picklist(["close", "keep"]),
  }),
  errors: v.object({
    /** Line prefixes that mark an error (`Error:`, Klipper `!!`, Repetier `fatal:`). */
    prefixes: setOf(v.string()),
    /** Lines without such a prefix that still report a failure state (Klipper `// Klipper state: Shutdown`). */
    stateLines: Patterns,
    /** The firmware has stopped; the printer needs a reset. */
    fatal: Patterns,
    /** Stopped but recoverable with M999 / FIRMWARE_RESTART; the link stays up. */
    halted: Patterns,
    /** Commands that bring the firmware back from a halt (M999; Klipper FIRMWARE_RESTART): the hint names them. */
    restartCommands: Commands,
    /** Lines saying the firmware runs again (Klipper `// Klipper state: Ready`); without any, a restart command's ok says it. */
    recovered: Patterns,
    /** Precede a resend request; not an error for the job. */
    resendFollows: Patterns,
    /** No resend and no ok will follow: simulate one ok (§1.6). */
    fakeOk: Patterns,
    /** SD-card errors: they only matter while printing from the card. */
    sd: Patterns,
    /** Benign: logged only. */
    ignore: Patterns,
    /** An error split over two lines (Marlin 1.0 `Error:0` + `: Extruder switched off…`): join with the next. */
    joinNext: Patterns,
    /** What each class does to the link and the job (Klipper's `!!` are routine: cancel, stay connected). */
    policy: v.object({ fatal: ErrorPolicy, halted: ErrorPolicy, other: ErrorPolicy }),
  }),
  sd: v.object({
    /** Assume a card without asking (Malyan never reports card state). */
    alwaysAvailable: v.boolean(),
    /** Uploading to the card (M28/M29) works on this firmware (Klipper: no). */
    writeSupported: v.boolean(),
    initCommand: v.string(),
    listCommand: v.string(),
    /** Used instead of `listCommand` when `extendedCapability` is reported (long names). */
    extendedListCommand: v.string(),
    extendedCapability: v.string(),
    /** Listed names are shown and sent in lower case (Prusa, §8.3). */
    lowercaseNames: v.boolean(),
    selectCommand: v.string(),
    startCommand: v.string(),
    pauseCommand: v.string(),
    /** Cancels an SD print (Marlin 2 `M524`; others pause and rewind): a sequence, so a file's list replaces it. */
    cancelCommands: v.array(v.string()),
    statusCommand: v.string(),
    deleteCommand: v.string(),
    beginWriteCommand: v.string(),
    endWriteCommand: v.string(),
    /** Several Marlin versions send no ok after `Done saving file.`; `detect` simulates one if none comes soon. */
    okAfterEndWrite: v.picklist(["always", "never", "detect"]),
    /** Reply patterns; named groups `name`, `size`, `pos` carry values. */
    cardOk: Patterns,
    cardFail: Patterns,
    cardReleased: Patterns,
    listBegin: Patterns,
    listEnd: Patterns,
    fileOpened: Patterns,
    fileSelected: Patterns,
    openFailed: Patterns,
    progress: Patterns,
    notPrinting: Patterns,
    done: Patterns,
    writing: Patterns,
    saved: Patterns,
    deleted: Patterns,
    deleteFailed: Patterns,
  }),
  actions: v.object({
    /** Host commands the firmware echoes as an action (Marlin M25 → `//action:pause`): not a new request (§4.3). */
    echoes: v.record(v.string(), v.string()),
    /** Announce prompt support (`M876 P1`) when this capability is reported; "" never. */
    promptCapability: v.string(),
    promptAnnounce: v.string(),
    promptAnswer: v.string(),
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
    /** M27 polling interval while printing from SD without the SD auto-report. */
    sdStatusPollMs: v.pipe(v.number(), v.minValue(100)),
    /**
     * Without the position auto-report: M114 once the printer is idle after a move that was not
     * a job's line (a jog, homing, a script), at most once per this interval; 0 = never.
     */
    positionPollMs: Ms,
    /**
     * Silence allowed while a long-running command is outstanding and no busy keep-alives come
     * (RRF, Smoothie and Klipper send none), per command; 0 = unlimited (waits for a person).
     */
    longRunningMs: v.record(v.string(), Ms),
    /** For long-running commands not listed in `longRunningMs`. */
    longRunningDefaultMs: v.pipe(v.number(), v.minValue(100)),
  }),
  /** Warnings shown once when a line matches (old firmware without thermal runaway protection). */
  safety: v.object({ warnings: setOf(v.object({ pattern: v.string(), message: v.string() })) }),
  /**
   * Cancelling one labelled object while the firmware prints from its own SD card, by its own
   * command (a host print leaves the object's lines out itself, whatever the firmware).
   */
  cancelObject: v.object({
    /** Which labels in a file the firmware acts on: `m486` (Marlin CANCEL_OBJECTS), `exclude_object` (Klipper), or "" (it cannot). */
    labels: v.picklist(["", "m486", "exclude_object"]),
    /** Cancels one object; `{index}` (M486 labels) or `{name}` (EXCLUDE_OBJECT labels) is filled in. */
    command: v.string(),
    /** Asks which objects the firmware skips ("" = it cannot say); the answer matches `reported`. */
    reportCommand: v.string(),
    /** The answer: the named group `list` holds the skipped objects' indexes or names, space-separated. */
    reported: Patterns,
    /** A `Cap:` that must not be reported as 0 ("" = none is reported: the firmware's answer to the command tells). */
    capability: v.string(),
    /** Answers saying this build does not have the command. */
    unsupported: Patterns,
    /** What the firmware needs for it, in words (shown when it is missing). */
    requires: v.string(),
  }),
  /**
   * Taking a link over from a printer's thread the watchdog stopped (engine.ts `adopt`): when
   * answers owed to that thread's lines do not come, a probe goes out whose answer says where the
   * printer is.
   */
  takeover: v.object({
    /**
     * The probes, first preferred. `answer`: a regex on the whole reply that tells the probe's
     * answer from the plain ok of an ordinary line ("" = none); a probe whose command is among the
     * lines still owed is not used for that (their answers would read the same). On firmware that
     * numbers lines any answer to the (numbered) probe tells — an ok: every line before it was
     * taken; a resend request: which was not — and an `answer` lets it go out while a long command
     * owed still runs (firmware without busy lines), a late plain ok being that command's. On
     * firmware that does not number lines, it must answer every line it reads, in order, and only a
     * probe with an `answer` can ask it.
     */
    probes: v.array(v.object({ command: v.string(), answer: v.string() })),
    /** Why a firmware that does not number lines and has no such probe cannot be asked, in words (after "this firmware does not number lines and …"). */
    unaskable: v.string(),
  }),
  /** Moves the firmware refuses because an axis is not homed (e.g. after a power cut, when resuming a print). */
  unhomed: v.object({
    /** Answers saying a move was refused for that reason. */
    refused: Patterns,
    /** Why, in words, for the message. */
    why: v.string(),
  }),
};

type Sections = typeof sections;

/** A complete, merged profile. `overlays` lists the overlay ids applied on top of `id`. */
export const QuirksSchema = v.object({
  id: v.string(),
  name: v.string(),
  overlays: v.array(v.string()),
  ...sections,
});
export type Quirks = v.InferOutput<typeof QuirksSchema>;

/** A section as a file may write it: every field optional, sets in their patch forms. */
type FileField<F> = F extends SetSchema ? PatchSchema<F> : F extends v.GenericSchema ? F : never;
type FileSection<S extends v.ObjectSchema<v.ObjectEntries, undefined>> = v.ObjectSchema<
  { [K in keyof S["entries"]]: v.OptionalSchema<FileField<S["entries"][K]>, undefined> },
  undefined
>;

function fileSection<S extends v.ObjectSchema<v.ObjectEntries, undefined>>(section: S): FileSection<S> {
  const entries = Object.fromEntries(
    Object.entries(section.entries).map(([key, field]) => [key, v.optional(SET_FIELDS.has(field) ? listPatch(field as SetSchema) : field)]),
  );
  return v.object(entries) as unknown as FileSection<S>;
}

/** One file: an id, what it extends (families) or whether it is an overlay, and any subset of each section. */
export const QuirksFileSchema = v.object({
  id: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and dashes")),
  name: v.optional(v.string()),
  extends: v.optional(v.string()),
  overlay: v.optional(v.boolean()),
  ...(Object.fromEntries(Object.entries(sections).map(([key, section]) => [key, v.optional(fileSection(section))])) as {
    [K in keyof Sections]: v.OptionalSchema<FileSection<Sections[K]>, undefined>;
  }),
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

/** A set as a file wrote it: a list, `{replace}` or `{add, remove}`. */
export type ListPatch<T> = T[] | { replace: T[] } | { add?: T[]; remove?: T[] };

/** The entries a set field of a file brings in (what it adds or replaces with); [] when absent. */
export function listItems<T>(patch: ListPatch<T> | undefined): T[] {
  if (patch === undefined) return [];
  if (Array.isArray(patch)) return patch;
  return "replace" in patch ? patch.replace : (patch.add ?? []);
}

/** Every field of a file that holds regular expressions, as [dotted path, patterns]. */
function patternFields(file: QuirksFile): [string, string[] | undefined][] {
  const e = file.errors;
  const sd = file.sd;
  const list = (patch: ListPatch<string> | undefined) => listItems(patch);
  return [
    ["detect.firmwareName", list(file.detect?.firmwareName)],
    ["detect.anyLine", list(file.detect?.anyLine)],
    ["busy.patterns", list(file.busy?.patterns)],
    ["ack.unacked", list(file.ack?.unacked)],
    ["ack.gluedOk", list(file.ack?.gluedOk)],
    ["resend.duplicate", list(file.resend?.duplicate)],
    ["temperature.doubledWhen", list(file.temperature?.doubledWhen)],
    ["temperature.targetLines", listItems(file.temperature?.targetLines).map((t) => t.pattern)],
    ["commands.neverSend", list(file.commands?.neverSend)],
    ["commands.skip", list(file.commands?.skip)],
    ["safety.warnings", listItems(file.safety?.warnings).map((w) => w.pattern)],
    ["cancelObject.reported", list(file.cancelObject?.reported)],
    ["cancelObject.unsupported", list(file.cancelObject?.unsupported)],
    ["unhomed.refused", list(file.unhomed?.refused)],
    ...(["stateLines", "fatal", "halted", "recovered", "resendFollows", "fakeOk", "sd", "ignore", "joinNext"] as const).map(
      (k) => [`errors.${k}`, list(e?.[k])] as [string, string[] | undefined],
    ),
    ...(SD_PATTERN_KEYS.map((k) => [`sd.${k}`, list(sd?.[k])]) as [string, string[] | undefined][]),
  ];
}

/** The reply patterns of the `sd` section. */
export const SD_PATTERN_KEYS = [
  "cardOk",
  "cardFail",
  "cardReleased",
  "listBegin",
  "listEnd",
  "fileOpened",
  "fileSelected",
  "openFailed",
  "progress",
  "notPrinting",
  "done",
  "writing",
  "saved",
  "deleted",
  "deleteFailed",
] as const;
export type SdPatternKey = (typeof SD_PATTERN_KEYS)[number];

function badPatterns(file: QuirksFile): Omit<QuirksProblem, "source">[] {
  const problems: Omit<QuirksProblem, "source">[] = [];
  for (const [field, list] of patternFields(file)) {
    list?.forEach((p, i) => {
      try {
        new RegExp(p, "i");
      } catch (e) {
        problems.push({ field: `${field}.${i}`, message: `bad regular expression: ${(e as Error).message}` });
      }
    });
  }
  return problems;
}

/**
 * Merges a chain of files, base first, section by section and field by field (values replace,
 * maps merge by key, sets merge by entry: see the module comment), and validates the result as a
 * complete profile. Overlay files in the chain are recorded in `overlays`; the id and name are
 * the last family's.
 */
export function mergeQuirks(chain: QuirksFile[]): Quirks | QuirksProblem[] {
  const merged: Record<string, unknown> = {};
  const overlays: string[] = [];
  for (const file of chain) {
    // An overlay's amendments (later files with its id) are one overlay.
    if (file.overlay && overlays.at(-1) !== file.id) overlays.push(file.id);
    for (const [key, value] of Object.entries(file)) {
      if (key === "extends" || key === "overlay" || value === undefined) continue;
      if (file.overlay && (key === "id" || key === "name")) continue;
      const section = (sections as Record<string, v.ObjectSchema<v.ObjectEntries, undefined>>)[key];
      merged[key] = section ? mergeSection(section, merged[key] as Record<string, unknown> | undefined, value as Record<string, unknown>) : value;
    }
  }
  merged.overlays = overlays;
  const result = v.safeParse(QuirksSchema, merged);
  if (result.success) return result.output;
  const source = chain.map((f) => f.id).join(" → ");
  return result.issues.map((issue) => ({ source, field: v.getDotPath(issue) ?? "(root)", message: issue.message }));
}

function mergeSection(schema: v.ObjectSchema<v.ObjectEntries, undefined>, base: Record<string, unknown> | undefined, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    const fieldSchema = schema.entries[field];
    if (fieldSchema && SET_FIELDS.has(fieldSchema)) out[field] = mergeSet(out[field] as unknown[] | undefined, value as ListPatch<unknown>);
    else if (fieldSchema?.type === "record") out[field] = { ...(out[field] as object | undefined), ...(value as object) };
    else out[field] = value;
  }
  return out;
}

/** A set after a file's patch: added entries go after the inherited ones; duplicates are dropped. */
export function mergeSet(base: unknown[] = [], patch: ListPatch<unknown>): unknown[] {
  const key = (x: unknown) => (typeof x === "string" ? x : JSON.stringify(x));
  let kept = base;
  if (!Array.isArray(patch)) {
    if ("replace" in patch) kept = [];
    else if (patch.remove) {
      const removed = new Set(patch.remove.map(key));
      kept = base.filter((x) => !removed.has(key(x)));
    }
  }
  const seen = new Set<string>();
  const out: unknown[] = [];
  for (const x of [...kept, ...listItems(patch)]) {
    const k = key(x);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(x);
    }
  }
  return out;
}
