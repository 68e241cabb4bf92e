/**
 * A plugin's manifest: its `package.json` with a `layerline` block. Validated at the edge
 * (principle 4) before any of the plugin's code is looked at.
 *
 * ```json
 * { "name": "print-stats", "version": "1.0.0",
 *   "layerline": { "api": "^1.0.0", "entry": "index.ts", "displayName": "Print statistics",
 *                  "description": "…", "homepage": "https://…", "permissions": ["files.read"] } }
 * ```
 */
import * as v from "valibot";
import { PERMISSIONS, PLUGIN_ID_RE, RESERVED_IDS } from "./api.ts";
import { isRange, parseVersion } from "./semver.ts";

const PermissionSchema = v.picklist(Object.keys(PERMISSIONS) as (keyof typeof PERMISSIONS)[], `a permission is one of ${Object.keys(PERMISSIONS).join(", ")}`);

export const PluginIdSchema = v.pipe(
  v.string("must be a string"),
  v.maxLength(64, "must be at most 64 characters"),
  v.regex(PLUGIN_ID_RE, "must be lower case letters, digits, '.', '_' or '-', starting with a letter or digit"),
  v.check((id) => !RESERVED_IDS.has(id), "is a name the host uses itself"),
);

const HttpUrl = v.pipe(v.string(), v.check((s) => /^https?:\/\//.test(s) && URL.canParse(s), "must be an http(s) URL"));

const EntrySchema = v.pipe(
  v.string(),
  v.transform((s) => s.replace(/^\.\//, "")),
  v.regex(/^(?!\/)(?!.*(^|\/)\.\.(\/|$))[^\\]+\.(ts|mts|js|mjs)$/, "must be a .ts or .js file inside the plugin's folder"),
);

export const ManifestSchema = v.pipe(
  v.object({
    name: PluginIdSchema,
    version: v.pipe(v.string("must be a string"), v.check((s) => parseVersion(s) !== null, "must be a semantic version such as 1.0.0")),
    description: v.optional(v.string()),
    author: v.optional(v.union([v.string(), v.object({ name: v.string() })])),
    license: v.optional(v.string()),
    /** npm's entry fields, used when `layerline.entry` is absent (as the registry build does). */
    main: v.optional(v.string()),
    module: v.optional(v.string()),
    layerline: v.object(
      {
        api: v.pipe(v.string("must be a string"), v.check(isRange, "must be a semver range such as ^1.0.0")),
        entry: v.optional(v.string()),
        displayName: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(80))),
        description: v.optional(v.pipe(v.string(), v.maxLength(2000))),
        homepage: v.optional(HttpUrl),
        permissions: v.optional(v.array(PermissionSchema), []),
      },
      "must be an object",
    ),
  }),
  // The entry: layerline.entry, else module, else main, else index.ts.
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const m = dataset.value;
    const entry = v.safeParse(EntrySchema, m.layerline.entry ?? m.module ?? m.main ?? "index.ts");
    if (!entry.success) {
      addIssue({
        message: entry.issues[0].message,
        path: [
          { type: "object", origin: "value", input: m, key: "layerline", value: m.layerline },
          { type: "object", origin: "value", input: m.layerline, key: "entry", value: m.layerline.entry },
        ],
      });
      return NEVER;
    }
    return { ...m, layerline: { ...m.layerline, entry: entry.output } };
  }),
);
export type Manifest = v.InferOutput<typeof ManifestSchema>;

/** The manifest, or why it is not one (first problem, with its field). */
export type ManifestResult = { ok: true; manifest: Manifest } | { ok: false; reason: string };

/** Validates a parsed package.json. */
export function parseManifest(json: unknown): ManifestResult {
  if (json && typeof json === "object" && !("layerline" in json)) {
    return { ok: false, reason: 'package.json has no "layerline" block (api, entry, …), so it is not a Layerline plugin' };
  }
  const parsed = v.safeParse(ManifestSchema, json);
  if (parsed.success) return { ok: true, manifest: parsed.output };
  const issue = parsed.issues[0];
  const path = v.getDotPath(issue);
  return { ok: false, reason: `package.json: ${path ? `${path} ` : ""}${issue.message}` };
}

/** Reads and validates package.json text. */
export function readManifestText(text: string): ManifestResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: `package.json is not valid JSON: ${(e as Error).message}` };
  }
  return parseManifest(json);
}

/** The name people see. */
export function displayName(m: Manifest): string {
  return m.layerline.displayName ?? m.name;
}

export function description(m: Manifest): string {
  return m.layerline.description ?? m.description ?? "";
}
