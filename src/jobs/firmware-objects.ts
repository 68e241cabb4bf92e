/**
 * Cancelling an object in a print the firmware runs from its own SD card, where the host streams
 * nothing it could leave out: the firmware's own command does it (Marlin with CANCEL_OBJECTS:
 * `M486 P<index>` for `M486 S<index>` labels; Klipper: `EXCLUDE_OBJECT NAME=<name>` for
 * `EXCLUDE_OBJECT_START` labels). What a firmware can do is the quirk profile's `cancelObject`
 * section. Decides the command (or says why there is none, and what would make it possible),
 * and reads the firmware's answers. Pure.
 */
import type { Quirks } from "../protocol/quirks.ts";
import type { Problem } from "../printers/status.ts";
import type { PlannedObject } from "./plan.ts";

type Section = Quirks["cancelObject"];

const LABEL_WORDS: Record<PlannedObject["source"], string> = {
  m486: "M486 commands",
  exclude_object: "EXCLUDE_OBJECT commands",
  comment: "comments",
  cura: "comments",
  ideamaker: "comments",
};

const SLICE_HINT: Record<Exclude<Section["labels"], "">, string> = {
  m486: "Slice it with labels the firmware reads (PrusaSlicer/OrcaSlicer: Label objects → Firmware-specific, with the Marlin G-code flavour), or print it from the host's files: the host then leaves the object's moves out itself.",
  exclude_object: "Slice it with labels the firmware reads (PrusaSlicer/OrcaSlicer: Label objects → Firmware-specific, with the Klipper G-code flavour), or print it from the host's files: the host then leaves the object's moves out itself.",
};

const FROM_HOST = "Print the file from the host's files instead: the host then leaves the object's moves out itself.";

/**
 * The command that cancels `object` in the running SD print, or the problem in words.
 * `capabilities` are the firmware's `Cap:` lines; `missing` is true once this firmware said it
 * does not know the command (on this connection).
 */
export function firmwareCancelCommand(
  q: Section,
  firmware: { name: string; capabilities: Record<string, boolean> } | null,
  object: PlannedObject,
  missing: boolean,
): { ok: true; command: string } | { ok: false; error: Problem } {
  const fail = (code: string, message: string, hint: string) => ({ ok: false as const, error: { code, message, hint } });
  const name = firmware?.name ?? "This firmware";
  if (q.labels === "") {
    return fail("not_supported", `${name} cannot cancel one object while it prints from its SD card${q.requires ? `: ${q.requires}` : "."}`, FROM_HOST);
  }
  if (missing || (q.capability !== "" && firmware?.capabilities[q.capability] === false)) {
    return fail("not_supported", `${name} cannot cancel one object while it prints from its SD card. ${q.requires}`.trim(), `Enable it in the firmware, or: ${FROM_HOST}`);
  }
  if (object.source !== q.labels || (q.labels === "m486" && object.index === undefined)) {
    return fail(
      "not_supported",
      `The file on the card labels its objects with ${LABEL_WORDS[object.source]}, which ${name} does not act on: it cancels objects labelled with ${LABEL_WORDS[q.labels]}.`,
      SLICE_HINT[q.labels],
    );
  }
  const quoted = /\s/.test(object.name) ? `"${object.name}"` : object.name;
  return { ok: true, command: q.command.replace("{index}", String(object.index)).replace("{name}", quoted) };
}

const compiled = new WeakMap<Section, { reported: RegExp[]; unsupported: RegExp[] }>();

function patterns(q: Section) {
  let c = compiled.get(q);
  if (!c) {
    c = { reported: q.reported.map((p) => new RegExp(p, "i")), unsupported: q.unsupported.map((p) => new RegExp(p, "i")) };
    compiled.set(q, c);
  }
  return c;
}

/**
 * The objects the firmware says it skips, when `line` is its answer to the report command
 * (`echo:Canceled: 0 2`, `// Excluded objects: CUBE_B`), by their names in `objects`; else null.
 */
export function reportedCancelled(q: Section, line: string, objects: PlannedObject[]): string[] | null {
  for (const re of patterns(q).reported) {
    const m = re.exec(line);
    if (!m) continue;
    const items = (m.groups?.list ?? "").split(/\s+/).map((s) => s.replace(/^["']|["']$/g, "")).filter(Boolean);
    const names: string[] = [];
    for (const item of items) {
      const o = q.labels === "m486" ? objects.find((x) => x.index === Number(item)) : objects.find((x) => x.name.toUpperCase() === item.toUpperCase());
      if (o) names.push(o.name);
    }
    return names;
  }
  return null;
}

/** Whether `line` says the firmware does not know the object commands. */
export function saysUnsupported(q: Section, line: string): boolean {
  return patterns(q).unsupported.some((re) => re.test(line));
}
