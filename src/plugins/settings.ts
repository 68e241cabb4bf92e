/**
 * A plugin's settings: read through its valibot schema (a stored value that no longer fits falls
 * back field by field to the defaults, so a plugin update never crashes on old settings), the
 * form the UI shows for the schema, and form input coerced and validated back into values.
 * Labels come from `v.title()`, help from `v.description()`, and the input kind from the type or
 * `v.metadata({ input: "password" | "url" | "textarea" })`.
 */
import * as v from "valibot";
import type { SettingsSchema } from "./sdk.ts";

export type FieldKind = "text" | "url" | "password" | "textarea" | "number" | "checkbox" | "select" | "list" | "json";

export interface FormField {
  name: string;
  label: string;
  description: string;
  kind: FieldKind;
  /** Choices of a select. */
  options?: string[];
  min?: number;
  max?: number;
  integer?: boolean;
  /** Items of a list are numbers. */
  numbers?: boolean;
}

type AnySchema = v.GenericSchema & { type: string; wrapped?: AnySchema; options?: unknown[]; item?: AnySchema; pipe?: { kind: string; type: string; requirement?: unknown }[] };

/** The schema inside optional/nullable wrappers. */
function unwrap(schema: AnySchema): AnySchema {
  let s = schema;
  while ((s.type === "optional" || s.type === "nullable" || s.type === "nullish" || s.type === "exact_optional") && s.wrapped) s = s.wrapped;
  return s;
}

/** The form's fields, in the schema's order. */
export function describeSettings(schema: SettingsSchema): FormField[] {
  return Object.entries(schema.entries).map(([name, entry]) => {
    const outer = entry as AnySchema;
    const inner = unwrap(outer);
    const meta = (v.getMetadata(inner as never) ?? {}) as { input?: string };
    const field: FormField = {
      name,
      label: v.getTitle(inner as never) ?? v.getTitle(outer as never) ?? humanise(name),
      description: v.getDescription(inner as never) ?? v.getDescription(outer as never) ?? "",
      kind: "json",
    };
    for (const action of inner.pipe ?? []) {
      if (action.type === "min_value" && typeof action.requirement === "number") field.min = action.requirement;
      if (action.type === "max_value" && typeof action.requirement === "number") field.max = action.requirement;
      if (action.type === "integer") field.integer = true;
    }
    switch (inner.type) {
      case "string":
        field.kind = meta.input === "password" || meta.input === "url" || meta.input === "textarea" ? meta.input : "text";
        break;
      case "number":
        field.kind = "number";
        break;
      case "boolean":
        field.kind = "checkbox";
        break;
      case "picklist":
        field.kind = "select";
        field.options = (inner.options ?? []).map(String);
        break;
      case "array": {
        const item = inner.item ? unwrap(inner.item).type : "";
        if (item === "number" || item === "string") {
          field.kind = "list";
          field.numbers = item === "number";
        }
        break;
      }
    }
    return field;
  });
}

/** "pauseHeights" → "Pause heights". */
function humanise(name: string): string {
  const words = name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/[_-]+/g, " ").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The values to use: stored ones where they fit the schema, defaults elsewhere. */
export function readSettings(schema: SettingsSchema | undefined, stored: unknown): Record<string, unknown> {
  if (!schema) return {};
  const whole = v.safeParse(schema, stored ?? {});
  if (whole.success) return whole.output as Record<string, unknown>;
  // Field by field: keep what still fits, default the rest.
  const saved = stored && typeof stored === "object" ? (stored as Record<string, unknown>) : {};
  const out: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(schema.entries)) {
    const one = v.safeParse(entry as v.GenericSchema, saved[name]);
    out[name] = one.success ? one.output : v.getDefault(entry as never);
  }
  const fixed = v.safeParse(schema, out);
  return fixed.success ? (fixed.output as Record<string, unknown>) : out;
}

export type SettingsCheck = { ok: true; value: Record<string, unknown> } | { ok: false; errors: Record<string, string> };

/** Validates a change merged over the current values; errors are keyed by field. */
export function validateSettings(schema: SettingsSchema | undefined, current: Record<string, unknown>, change: Record<string, unknown>): SettingsCheck {
  if (!schema) return Object.keys(change).length ? { ok: false, errors: { "": "This plugin has no settings." } } : { ok: true, value: {} };
  const unknown = Object.keys(change).filter((k) => !(k in schema.entries));
  // JSON sent without its content type arrives read as a form: one field named by the whole text.
  if (unknown.length === 1 && Object.keys(change).length === 1 && /^\s*[{[]/.test(unknown[0]!)) {
    return { ok: false, errors: { "": "The settings must be sent as JSON, with the header Content-Type: application/json (this body was read as a form)." } };
  }
  if (unknown.length) return { ok: false, errors: Object.fromEntries(unknown.map((k) => [k, "is not a setting of this plugin"])) };
  const parsed = v.safeParse(schema, { ...current, ...change });
  if (parsed.success) return { ok: true, value: parsed.output as Record<string, unknown> };
  const errors: Record<string, string> = {};
  for (const issue of parsed.issues) {
    const key = v.getDotPath(issue)?.split(".")[0] ?? "";
    errors[key] ??= issue.message;
  }
  return { ok: false, errors };
}

/**
 * Form fields (strings) as typed values for the schema: numbers parsed, an unticked checkbox is
 * false, a list is split at commas. A value that cannot be coerced stays a string, so validation
 * names the field.
 */
export function coerceForm(fields: FormField[], form: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const raw = form[field.name];
    const text = Array.isArray(raw) ? String(raw[raw.length - 1] ?? "") : raw === undefined ? undefined : String(raw);
    switch (field.kind) {
      case "checkbox":
        out[field.name] = text !== undefined && text !== "" && text !== "false" && text !== "0";
        break;
      case "number":
        if (text === undefined) break;
        out[field.name] = text.trim() !== "" && Number.isFinite(Number(text)) ? Number(text) : text;
        break;
      case "list": {
        if (text === undefined) break;
        const items = text.split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
        out[field.name] = field.numbers ? items.map((s) => (Number.isFinite(Number(s)) ? Number(s) : s)) : items;
        break;
      }
      case "json":
        if (text === undefined) break;
        try {
          out[field.name] = JSON.parse(text);
        } catch {
          out[field.name] = text;
        }
        break;
      default:
        if (text !== undefined) out[field.name] = text;
    }
  }
  return out;
}
