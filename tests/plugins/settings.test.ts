/**
 * Plugin settings: the form made from a valibot schema, form input coerced back, stored values
 * read through the schema (old values that no longer fit fall back field by field).
 */
import { expect, test } from "bun:test";
import * as v from "valibot";
import { coerceForm, describeSettings, readSettings, validateSettings } from "../../src/plugins/settings.ts";

const schema = v.object({
  url: v.optional(v.pipe(v.string(), v.title("Webhook address"), v.description("Where to post."), v.metadata({ input: "url" })), ""),
  secret: v.optional(v.pipe(v.string(), v.metadata({ input: "password" })), ""),
  retries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(5)), 3),
  enabled: v.optional(v.boolean(), true),
  format: v.optional(v.picklist(["json", "text"]), "json"),
  pauseHeights: v.optional(v.array(v.number()), []),
  tags: v.optional(v.array(v.string()), []),
  extra: v.optional(v.object({ a: v.number() }), { a: 1 }),
});

test("the form's fields follow the schema: kinds, labels, help, limits", () => {
  expect(describeSettings(schema)).toEqual([
    { name: "url", label: "Webhook address", description: "Where to post.", kind: "url" },
    { name: "secret", label: "Secret", description: "", kind: "password" },
    { name: "retries", label: "Retries", description: "", kind: "number", min: 0, max: 5, integer: true },
    { name: "enabled", label: "Enabled", description: "", kind: "checkbox" },
    { name: "format", label: "Format", description: "", kind: "select", options: ["json", "text"] },
    { name: "pauseHeights", label: "Pause heights", description: "", kind: "list", numbers: true },
    { name: "tags", label: "Tags", description: "", kind: "list", numbers: false },
    { name: "extra", label: "Extra", description: "", kind: "json" },
  ]);
});

test("form input becomes typed values; an unticked box is false; bad numbers stay text to be named", () => {
  const fields = describeSettings(schema);
  expect(coerceForm(fields, { url: "https://x", retries: "2", format: "text", pauseHeights: "2.4, 10", tags: "a,b", extra: '{"a":2}' })).toEqual({
    url: "https://x",
    retries: 2,
    enabled: false,
    format: "text",
    pauseHeights: [2.4, 10],
    tags: ["a", "b"],
    extra: { a: 2 },
  });
  const bad = coerceForm(fields, { retries: "two", enabled: "true" });
  expect(bad).toEqual({ retries: "two", enabled: true });
  const result = validateSettings(schema, readSettings(schema, undefined), bad);
  expect(result.ok).toBe(false);
  expect(result.ok ? {} : result.errors).toEqual({ retries: "Invalid type: Expected number but received \"two\"" });
});

test("stored values are read through the schema; what no longer fits falls back to its default", () => {
  expect(readSettings(schema, undefined)).toEqual({ url: "", secret: "", retries: 3, enabled: true, format: "json", pauseHeights: [], tags: [], extra: { a: 1 } });
  expect(readSettings(schema, { retries: 9, format: "xml", url: "https://kept" })).toMatchObject({ retries: 3, format: "json", url: "https://kept" });
  expect(readSettings(undefined, { anything: 1 })).toEqual({});
});

test("changes are validated over the current values; unknown fields are refused", () => {
  const current = readSettings(schema, undefined);
  expect(validateSettings(schema, current, { retries: 5 })).toMatchObject({ ok: true, value: { retries: 5, url: "" } });
  expect(validateSettings(schema, current, { retries: 6 })).toEqual({ ok: false, errors: { retries: "Invalid value: Expected <=5 but received 6" } });
  expect(validateSettings(schema, current, { nope: 1 })).toEqual({ ok: false, errors: { nope: "is not a setting of this plugin" } });
  expect(validateSettings(undefined, {}, { x: 1 })).toEqual({ ok: false, errors: { "": "This plugin has no settings." } });
});

test("JSON sent without its content type (read as a form: one field named by the whole text) is told to be sent as JSON", () => {
  expect(validateSettings(schema, readSettings(schema, {}), { '{"url":"x"}': "" })).toEqual({
    ok: false,
    errors: { "": "The settings must be sent as JSON, with the header Content-Type: application/json (this body was read as a form)." },
  });
  expect(validateSettings(schema, readSettings(schema, {}), { nope: 1 })).toEqual({ ok: false, errors: { nope: "is not a setting of this plugin" } });
});
