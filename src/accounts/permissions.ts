/**
 * Named permissions, the groups that bundle them, and the scopes an API key can be narrowed to.
 * A request may do something when its user's group grants the permission AND (for an API key)
 * the key's scope includes it: a key never has more than its user.
 */
import * as v from "valibot";

export const PERMISSIONS = ["status", "webcam", "control", "files.upload", "files.delete", "print", "settings", "plugins", "update", "admin"] as const;
export const PermissionSchema = v.picklist(PERMISSIONS, `a permission is one of ${PERMISSIONS.join(", ")}`);
export type Permission = v.InferOutput<typeof PermissionSchema>;

/** What each permission allows, in words (UI, docs). */
export const PERMISSION_TEXT: Record<Permission, string> = {
  status: "see printers, jobs, temperatures, files and settings",
  webcam: "watch the printers' cameras and timelapses",
  control: "connect printers, move axes, set temperatures, send G-code",
  "files.upload": "upload files and create folders",
  "files.delete": "delete and move files",
  print: "select files and start, pause and cancel prints",
  settings: "change settings",
  plugins: "manage plugins",
  update: "update Layerline",
  admin: "manage users, groups and everyone's API keys; everything else",
};

/**
 * Permissions over what all printers share (users, plugins, updates, host settings): a key or
 * session restricted to one printer never uses them beyond that printer's own routes.
 */
export const HOST_WIDE: ReadonlySet<Permission> = new Set(["settings", "plugins", "update", "admin"]);

export const GROUPS = ["admins", "users", "readonly", "guests"] as const;
export const GroupSchema = v.picklist(GROUPS, `a group is one of ${GROUPS.join(", ")}`);
export type Group = v.InferOutput<typeof GroupSchema>;

export const GROUP_TEXT: Record<Group, { name: string; description: string }> = {
  admins: { name: "Admins", description: "Administrators: everything" },
  users: { name: "Operator", description: "Operate printers: print, control, upload and delete files" },
  readonly: { name: "Read-only Access", description: "Watch printers and files, change nothing" },
  guests: { name: "Guests", description: "Anyone who is not logged in" },
};

/** Permissions of each group on a new install; admins always have every permission. */
export const DEFAULT_GROUP_PERMISSIONS: Record<Group, Permission[]> = {
  admins: [...PERMISSIONS],
  users: ["status", "webcam", "control", "files.upload", "files.delete", "print"],
  readonly: ["status", "webcam"],
  guests: [],
};

/** Named scopes for API keys; a scope may also be a comma-separated list of permissions. */
export const SCOPES = {
  full: [...PERMISSIONS],
  "read-only": ["status", "webcam"],
  "upload-only": ["status", "files.upload"],
  "upload-print": ["status", "files.upload", "print"],
  operator: ["status", "webcam", "control", "files.upload", "files.delete", "print"],
} as const satisfies Record<string, readonly Permission[]>;
export type ScopeName = keyof typeof SCOPES;

export const SCOPE_TEXT: Record<ScopeName, string> = {
  full: "everything its user may do",
  "read-only": "status and cameras (dashboards)",
  "upload-only": "status and uploads (a slicer that only sends files)",
  "upload-print": "status, uploads and starting prints (a slicer's “upload and print”)",
  operator: "status, cameras, control, files and printing (farm managers, apps)",
};

/**
 * Parses a scope: a preset name or a comma-separated list of permissions. Returns the canonical
 * scope string and its permissions, or an error sentence.
 * Example: `parseScope("status,print")` → `{ ok: true, scope: "status,print", permissions: [...] }`.
 */
export function parseScope(input: string): { ok: true; scope: string; permissions: Permission[] } | { ok: false; message: string } {
  const trimmed = input.trim();
  if (trimmed in SCOPES) return { ok: true, scope: trimmed, permissions: [...SCOPES[trimmed as ScopeName]] };
  const parts = trimmed.split(",").map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0) return { ok: false, message: `Name a scope: ${Object.keys(SCOPES).join(", ")}, or a list of permissions.` };
  const bad = parts.filter((p) => !(PERMISSIONS as readonly string[]).includes(p));
  if (bad.length) {
    return { ok: false, message: `Unknown scope or permission "${bad.join(", ")}". Scopes: ${Object.keys(SCOPES).join(", ")}; permissions: ${PERMISSIONS.join(", ")}.` };
  }
  const permissions = PERMISSIONS.filter((p) => parts.includes(p));
  return { ok: true, scope: permissions.join(","), permissions };
}

/** The permissions a key of `scope` has for a user holding `granted`. */
export function effectivePermissions(granted: Iterable<Permission>, scope: readonly Permission[] | null): Set<Permission> {
  const have = new Set(granted);
  if (have.has("admin")) for (const p of PERMISSIONS) have.add(p);
  if (scope === null) return have;
  const allowed = new Set(scope.includes("admin") ? PERMISSIONS : scope);
  return new Set([...have].filter((p) => allowed.has(p)));
}
