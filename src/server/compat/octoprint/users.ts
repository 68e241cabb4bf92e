/**
 * Accounts in OctoPrint's shapes: its permission names (mapped onto ours), user records for
 * login/currentuser/access, groups.
 */
import type { Principal } from "../../../accounts/accounts.ts";
import { GROUP_TEXT, GROUPS, type Group, type Permission } from "../../../accounts/permissions.ts";
import type { User } from "../../../accounts/users.ts";

interface OctoPermission {
  key: string;
  name: string;
  description: string;
  dangerous: boolean;
  roles: string[];
  /** The Layerline permission that grants it. */
  ours: Permission;
  plugin?: string;
}

const P = (key: string, name: string, ours: Permission, description: string, dangerous = false, plugin?: string, roles?: string[]): OctoPermission => ({
  key,
  name,
  description,
  dangerous,
  ours,
  roles: roles ?? [key.toLowerCase().replace(/^plugin_appkeys_grant$/, "plugin_appkeys_user").replace("gcode_viewer", "gcodeviewer")],
  ...(plugin ? { plugin } : {}),
});

/** OctoPrint's permissions in its order, each with the Layerline permission behind it. */
export const OCTO_PERMISSIONS: OctoPermission[] = [
  P("ADMIN", "Admin", "admin", "Admin is allowed to do everything", true),
  P("STATUS", "Status", "status", "Allows to gather basic status information, e.g. job progress, printer state, temperatures, ... Mandatory for the default UI to work"),
  P("CONNECTION", "Connection", "control", "Allows to connect to and disconnect from a printer"),
  P("WEBCAM", "Webcam", "webcam", "Allows to watch the webcam stream"),
  P("SYSTEM", "System", "admin", "Allows to run system commands, e.g. restart OctoPrint, shutdown or reboot the system, and to retrieve system and usage information", true),
  P("FILES_LIST", "File List", "status", "Allows to retrieve a list of all uploaded files and folders, including their metadata (e.g. date, file size, analysis results, ...)"),
  P("FILES_UPLOAD", "File Upload", "files.upload", "Allows users to upload new files, create new folders and copy existing ones. If the File Delete permission is also set, File Upload also allows moving files and folders."),
  P("FILES_DOWNLOAD", "File Download", "status", "Allows users to download files. The GCODE viewer is affected by this as well."),
  P("FILES_DELETE", "File Delete", "files.delete", "Allows users to delete files and folders. If the File Upload permission is also set, File Delete also allows moving files and folders."),
  P("FILES_SELECT", "File Select", "print", "Allows to select a file for printing"),
  P("PRINT", "Print", "print", "Allows to start, pause and cancel a print job"),
  P("GCODE_VIEWER", "GCODE viewer", "status", 'Allows access to the GCODE viewer if the "File Download"permission is also set.'),
  P("MONITOR_TERMINAL", "Terminal", "status", "Allows to watch the terminal tab but not to send commands to the printer from it"),
  P("CONTROL", "Control", "control", "Allows to control of the printer by using the temperature controls,the control tab or sending commands through the terminal."),
  P("TIMELAPSE_LIST", "Timelapse List", "webcam", "Allows to list timelapse videos"),
  P("SETTINGS_READ", "Settings Access", "status", "Allows to read non sensitive settings. Mandatory for the default UI to work."),
  P("SETTINGS", "Settings Admin", "settings", "Allows to manage settings and also to read sensitive settings", true),
  P("PLUGIN_APPKEYS_ADMIN", "Application Keys Plugin: Admin access", "admin", "Allows administrating all application keys", true, "appkeys"),
  P("PLUGIN_APPKEYS_GRANT", "Application Keys Plugin: Grant access", "status", "Allows to grant app access", false, "appkeys"),
  P("PLUGIN_PLUGINMANAGER_LIST", "Plugin Manager: List plugins", "status", "Allows to list installed plugins.", false, "pluginmanager"),
  P("PLUGIN_PLUGINMANAGER_MANAGE", "Plugin Manager: Manage plugins", "plugins", "Allows to enable, disable and uninstall installed plugins.", false, "pluginmanager"),
  P("PLUGIN_PLUGINMANAGER_INSTALL", "Plugin Manager: Install new plugins", "plugins", 'Allows to install new plugins. Includes the "Manage plugins" permission.', true, "pluginmanager", ["plugin_pluginmanager_manage", "plugin_pluginmanager_install"]),
  P("PLUGIN_SOFTWAREUPDATE_CHECK", "Software Update: Check", "status", "Allows to check for software updates", false, "softwareupdate"),
  P("PLUGIN_SOFTWAREUPDATE_UPDATE", "Software Update: Update", "update", "Allows to perform software updates", true, "softwareupdate"),
  P("PLUGIN_SOFTWAREUPDATE_CONFIGURE", "Software Update: Configure", "update", "Allows to configure software update", true, "softwareupdate"),
];

/** Our group names are OctoPrint's. */
const DEFAULT_GROUPS_OF = (p: OctoPermission): Group[] => (p.ours === "admin" ? ["admins"] : p.ours === "status" || p.ours === "webcam" ? ["users", "readonly"] : ["users"]);

export function permissionJson(p: OctoPermission) {
  return { key: p.key, name: p.name, dangerous: p.dangerous, default_groups: DEFAULT_GROUPS_OF(p), description: p.description, needs: { role: p.roles }, ...(p.plugin ? { plugin: p.plugin } : {}) };
}

/** OctoPrint permission keys granted by a set of Layerline permissions. */
export function octoPermissionKeys(permissions: Set<Permission>): string[] {
  return OCTO_PERMISSIONS.filter((p) => permissions.has(p.ours)).map((p) => p.key);
}

function roles(permissions: Set<Permission>): string[] {
  return [...new Set(OCTO_PERMISSIONS.filter((p) => permissions.has(p.ours)).flatMap((p) => p.roles))];
}

/** A user record as OctoPrint's access API and login answer it (without the login extras). */
export function userRecord(user: User, permissions: Set<Permission>, apikey: string | null = null) {
  const admin = permissions.has("admin");
  return {
    active: user.active,
    admin,
    apikey,
    groups: [user.group],
    name: user.name,
    needs: { group: [user.group], role: roles(permissions) },
    permissions: [],
    roles: admin ? ["user", "admin"] : ["user"],
    settings: {},
    user: true,
  };
}

/** The answer of `POST /api/login` for a principal and the session it got. */
export function loginRecord(principal: Principal, session: string, mechanism: "apikey" | "password", now: number) {
  return {
    ...userRecord(principal.user!, principal.permissions, mechanism === "apikey" ? (principal.rawKey ?? null) : null),
    session,
    _is_external_client: false,
    _login_mechanism: mechanism,
    _credentials_seen: new Date(Math.floor(now / 1000) * 1000).toISOString().replace(".000Z", "+00:00"),
  };
}

export function currentUser(principal: Principal) {
  return {
    name: principal.user?.name ?? null,
    permissions: octoPermissionKeys(principal.permissions),
    groups: principal.user ? [principal.user.group] : ["guests"],
  };
}

export function groupRecord(key: Group, permissions: Permission[]) {
  const set = new Set(permissions);
  return {
    changeable: key !== "admins" && key !== "readonly",
    dangerous: key === "admins",
    default: key === "users",
    description: GROUP_TEXT[key].description,
    key,
    name: GROUP_TEXT[key].name,
    needs: key === "guests" ? { group: [key] } : { group: [key], role: roles(set) },
    permissions: octoPermissionKeys(set),
    removable: false,
    subgroups: [],
    toggleable: key !== "guests",
  };
}

export { GROUPS };
