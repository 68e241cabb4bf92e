/**
 * The accounts of a host: users, sessions, API keys, the login throttle and pending app-key
 * requests, with the rules that tie them together (a key never exceeds its user, the last admin
 * stays, changes to a user end their sessions). Revocations are announced on the bus so open
 * push sockets can ask their clients to authenticate again.
 */
import type { Database } from "bun:sqlite";
import * as v from "valibot";
import type { Bus, Events } from "../events.ts";
import { ApiKeyStore, type ApiKey } from "./api-keys.ts";
import { AppKeyRequests } from "./app-keys.ts";
import { CameraTokenStore } from "./camera-tokens.ts";
import { dummyHash, hashPassword, PasswordSchema, UsernameSchema, verifyPassword } from "./passwords.ts";
import { effectivePermissions, parseScope, type Group, type Permission } from "./permissions.ts";
import { LoginThrottle } from "./rate-limit.ts";
import { SessionStore, type LoginMechanism, type Session } from "./sessions.ts";
import { sameSecret } from "./tokens.ts";
import { UserStore, type User } from "./users.ts";

/**
 * What the local token allows: `layerline update` asking the running host to update itself and
 * following it. The token is the running host's own (see `allowLocalToken`).
 */
export const LOCAL_PERMISSIONS: readonly Permission[] = ["status", "update"];
/** The request header that carries the local token. */
export const LOCAL_TOKEN_HEADER = "x-layerline-local-token";

/** Who is making a request, and what they may do. */
export interface Principal {
  user: User | null;
  permissions: Set<Permission>;
  /** "camera": a camera token, which opens one printer's camera picture and nothing else. */
  via: "session" | "apikey" | "anonymous" | "local" | "camera";
  session?: Session;
  /** The session token itself (only when it came with this request). */
  sessionToken?: string;
  apiKey?: ApiKey;
  /** The key as sent (passive login echoes it, like OctoPrint). */
  rawKey?: string;
  /** Printer this principal is restricted to, if any. */
  printerId: string | null;
}

/**
 * Whether a revocation (`accounts.revoked`) is about this principal: its user's rights changed, or
 * its session (or all of its user's sessions) ended. Whoever holds the principal (a push socket, an
 * open page) must then stop trusting it.
 */
export function revocationConcerns(e: Events["accounts.revoked"], principal: Pick<Principal, "user" | "session">): boolean {
  if (!principal.user || principal.user.id !== e.userId) return false;
  return !e.sessions || (!!principal.session && e.sessions.includes(principal.session.digest));
}

export class AccountError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint = "",
    readonly status = 400,
  ) {
    super(message);
  }
}

export type LoginResult =
  | { ok: true; user: User }
  | { ok: false; reason: "invalid" }
  | { ok: false; reason: "throttled"; retryAfterMs: number };

/** The longest lifetime a key may be given (no expiry at all is also possible). */
export const MAX_KEY_LIFETIME_MS = 10 * 365 * 86400_000;

/** How long a key's principal may be reused at most, database unchanged (its last use is noted at most once a minute anyway). */
const RECENT_KEY_MS = 1000;
const RECENT_KEYS_KEPT = 256;

const ScopedKeySchema = v.object({
  name: v.pipe(v.string(), v.trim(), v.minLength(1, "give the key a name"), v.maxLength(80)),
  scope: v.string(),
});

export class Accounts {
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly keys: ApiKeyStore;
  readonly cameraTokens: CameraTokenStore;
  readonly throttle = new LoginThrottle();
  readonly appKeys = new AppKeyRequests();
  private localToken: string | null = null;
  /**
   * Keys seen lately, with their principal. Pollers (slicers, apps, dashboards) send the same key
   * many times a second, and checking one takes three queries; an entry holds only while the
   * database is as it was — no write by this host (any table) and none by another process (the
   * CLI) — and for RECENT_KEY_MS at most, so a revoked key or a changed user is refused at once.
   */
  private readonly recentKeys = new Map<string, { principal: Principal; changes: number; version: number; until: number }>();
  private readonly ownChanges;
  private readonly dataVersion;

  constructor(
    db: Database,
    private readonly bus?: Bus,
  ) {
    this.users = new UserStore(db);
    this.sessions = new SessionStore(db);
    this.keys = new ApiKeyStore(db);
    this.cameraTokens = new CameraTokenStore(db);
    this.ownChanges = db.query<{ n: number }, []>("SELECT total_changes() AS n");
    this.dataVersion = db.query<{ data_version: number }, []>("PRAGMA data_version");
  }

  adminExists(): boolean {
    return this.users.adminExists();
  }

  async addUser(name: string, password: string, group: Group, now = Date.now(), beforeCreate?: () => void): Promise<User> {
    const n = v.safeParse(UsernameSchema, name);
    if (!n.success) throw new AccountError("invalid_username", `"${name}": ${n.issues[0].message}.`, "Choose a name such as admin or alice.");
    const p = checkPassword(password);
    const taken = () => {
      if (this.users.byName(n.output)) throw new AccountError("user_exists", `There is already a user called "${n.output}".`, "Choose another name.", 409);
    };
    taken();
    const hash = await hashPassword(p.output);
    // Checked again once hashed: requests in flight meanwhile may have taken the name (or set up the host).
    // From here to the insert nothing awaits, so no other request runs in between.
    taken();
    beforeCreate?.();
    return this.users.create(n.output, hash, group, now);
  }

  /** Creates the first admin; of setups racing each other (a LAN neighbour's and yours), exactly one wins. */
  addFirstAdmin(name: string, password: string, now = Date.now()): Promise<User> {
    return this.addUser(name, password, "admins", now, () => {
      if (this.adminExists()) throw alreadySetUp();
    });
  }

  /** Checks a password, throttled per address and account. */
  async login(name: string, password: string, address: string, now = Date.now()): Promise<LoginResult> {
    const wait = this.throttle.retryAfter(address, name, now);
    if (wait > 0) return { ok: false, reason: "throttled", retryAfterMs: wait };
    // Counted as a failure before the slow check (a success clears it): otherwise attempts sent
    // all at once would all pass the throttle before the first of them was counted.
    this.throttle.fail(address, name, now);
    const user = this.users.byName(name);
    // Verify against a dummy hash for unknown names, so timing does not tell which names exist.
    const valid = await verifyPassword(password, user?.passwordHash ?? (await dummyHash()));
    if (!user || !valid || !user.active) return { ok: false, reason: "invalid" };
    this.throttle.succeed(address, name);
    const { passwordHash: _, ...plain } = user;
    return { ok: true, user: plain };
  }

  /** What a user may do: their group's permissions (nothing if deactivated). */
  permissionsOf(user: User): Set<Permission> {
    if (!user.active) return new Set();
    return effectivePermissions(this.users.groupPermissions(user.group), null);
  }

  /** What anonymous requests may do (the guests group; nothing by default). */
  anonymous(): Principal {
    return { user: null, permissions: new Set(this.users.groupPermissions("guests")), via: "anonymous", printerId: null };
  }

  principalForKey(key: string, now = Date.now()): Principal | undefined {
    const version = this.dataVersion.get()!.data_version;
    const recent = this.recentKeys.get(key);
    if (recent && now < recent.until && recent.version === version && recent.changes === this.ownChanges.get()!.n) return recent.principal;
    const principal = this.checkKey(key, now);
    // Kept only if no other process wrote meanwhile; our own write (the key's last use) is in `changes`.
    if (principal && this.dataVersion.get()!.data_version === version) {
      if (this.recentKeys.size >= RECENT_KEYS_KEPT) this.recentKeys.clear();
      const until = Math.min(now + RECENT_KEY_MS, principal.apiKey!.expiresAt ?? Infinity);
      this.recentKeys.set(key, { principal, changes: this.ownChanges.get()!.n, version, until });
    } else this.recentKeys.delete(key);
    return principal;
  }

  private checkKey(key: string, now: number): Principal | undefined {
    const record = this.keys.verify(key, now);
    if (!record) return undefined;
    const user = this.users.get(record.userId);
    if (!user || !user.active) return undefined;
    const scope = parseScope(record.scope);
    const permissions = effectivePermissions(this.permissionsOf(user), scope.ok ? scope.permissions : []);
    return { user, permissions, via: "apikey", apiKey: record, rawKey: key, printerId: record.printerId };
  }

  /**
   * The camera token for a printer's camera URLs handed to this principal, or null when it has
   * none to give: only a request made with an API key that may watch that printer gets one (a
   * browser's page has its session cookie; a key without `webcam` would get a dead link).
   */
  cameraTokenFor(principal: Principal, printerId: string, now = Date.now()): string | null {
    const key = principal.apiKey;
    if (principal.via !== "apikey" || !key || !principal.rawKey || !principal.permissions.has("webcam")) return null;
    if (principal.printerId && principal.printerId !== printerId) return null;
    return this.cameraTokens.issue(key.id, principal.rawKey, printerId, now);
  }

  /**
   * Who a camera token speaks for: the user of its key, with the `webcam` permission only if the
   * user and the key's scope still grant it, restricted to the token's printer. Undefined when
   * the token is unknown, or its key was revoked or expired, or its user removed or deactivated.
   */
  principalForCameraToken(token: string, now = Date.now()): Principal | undefined {
    const record = this.cameraTokens.find(token);
    const key = record && this.keys.get(record.apiKeyId);
    if (!record || !key || (key.expiresAt !== null && key.expiresAt <= now)) return undefined;
    const user = this.users.get(key.userId);
    if (!user || !user.active) return undefined;
    const scope = parseScope(key.scope);
    const granted = effectivePermissions(this.permissionsOf(user), scope.ok ? scope.permissions : []);
    const permissions = new Set<Permission>(granted.has("webcam") ? ["webcam"] : []);
    return { user, permissions, via: "camera", printerId: record.printerId };
  }

  /**
   * Accepts `token` as the local token from now on: the secret the running host announces in
   * `<data-dir>/update/running.json` (readable only by the user it runs as), with which commands
   * on this machine act on it. The guard takes it from loopback only.
   */
  allowLocalToken(token: string): void {
    this.localToken = token;
  }

  principalForLocalToken(token: string): Principal | undefined {
    if (!this.localToken || !sameSecret(token, this.localToken)) return undefined;
    return { user: null, permissions: new Set(LOCAL_PERMISSIONS), via: "local", printerId: null };
  }

  principalForSession(token: string, now = Date.now()): Principal | undefined {
    const session = this.sessions.find(token, now);
    if (!session) return undefined;
    const user = this.users.get(session.userId);
    if (!user || !user.active) return undefined;
    let scope: Permission[] | null = null;
    if (session.scope !== null) {
      const parsed = parseScope(session.scope);
      scope = parsed.ok ? parsed.permissions : [];
    }
    return { user, permissions: effectivePermissions(this.permissionsOf(user), scope), via: "session", session, sessionToken: token, printerId: session.printerId };
  }

  /** A session for a principal: a browser login, or the socket session of an API client. */
  startSession(principal: Principal, mechanism: LoginMechanism, remember = false, now = Date.now()) {
    return this.sessions.create(
      {
        userId: principal.user!.id,
        mechanism,
        scope: principal.apiKey?.scope ?? principal.session?.scope ?? null,
        printerId: principal.printerId,
        apiKeyId: principal.apiKey?.id ?? principal.session?.apiKeyId ?? null,
        remember,
      },
      now,
    );
  }

  logout(token: string): void {
    const ended = this.sessions.end(token);
    if (ended) this.bus?.emit("accounts.revoked", { userId: ended.userId, reason: "logout", sessions: [ended.digest] });
  }

  /** Ends every session of the user, everywhere. */
  logoutEverywhere(userId: string): number {
    const ended = this.sessions.endAll(userId);
    this.bus?.emit("accounts.revoked", { userId, reason: "logout", sessions: null });
    return ended.length;
  }

  createKey(user: User, input: { name: string; scope: string; printerId?: string | null; expiresAt?: number | null; app?: string | null }, now = Date.now()) {
    const parsed = v.safeParse(ScopedKeySchema, input);
    if (!parsed.success) throw new AccountError("invalid_request", parsed.issues[0].message, "Name the key, e.g. “PrusaSlicer on my laptop”.");
    const scope = parseScope(parsed.output.scope);
    if (!scope.ok) throw new AccountError("invalid_scope", scope.message, "Use full, read-only, upload-only, upload-print or operator.");
    if (input.expiresAt != null && input.expiresAt <= now) throw new AccountError("invalid_expiry", "The expiry date is in the past.", "Choose a later date, or none.");
    // Past this a date is no date at all (JavaScript's last is in the year 275760): the key could not be shown.
    if (input.expiresAt != null && !(input.expiresAt <= now + MAX_KEY_LIFETIME_MS)) {
      throw new AccountError("invalid_expiry", `A key expires within ${MAX_KEY_LIFETIME_MS / (365 * 86400_000)} years at most.`, "Choose a nearer date, or none.");
    }
    return this.keys.create({ userId: user.id, name: parsed.output.name, scope: scope.scope, printerId: input.printerId ?? null, expiresAt: input.expiresAt ?? null, app: input.app ?? null }, now);
  }

  revokeKey(id: string): boolean {
    const key = this.keys.get(id);
    if (!key) return false;
    this.keys.revoke(id);
    const sessions = this.sessions.endForKey(id);
    if (sessions.length) this.bus?.emit("accounts.revoked", { userId: key.userId, reason: "removed", sessions });
    return true;
  }

  async setPassword(user: User, password: string): Promise<void> {
    const p = checkPassword(password);
    this.users.setPassword(user.id, await hashPassword(p.output));
    this.sessions.endAll(user.id);
    this.bus?.emit("accounts.revoked", { userId: user.id, reason: "modified", sessions: null });
  }

  setGroup(user: User, group: Group): void {
    if (user.group === "admins" && group !== "admins" && this.users.otherAdmins(user.id) === 0) {
      throw new AccountError("last_admin", `${user.name} is the only admin.`, "Make another user an admin first.", 409);
    }
    this.users.setGroup(user.id, group);
    this.bus?.emit("accounts.revoked", { userId: user.id, reason: "modified", sessions: null });
  }

  removeUser(user: User): void {
    if (user.group === "admins" && this.users.otherAdmins(user.id) === 0) {
      throw new AccountError("last_admin", `${user.name} is the only admin and cannot be removed.`, "Make another user an admin first.", 409);
    }
    this.users.remove(user.id);
    this.bus?.emit("accounts.revoked", { userId: user.id, reason: "removed", sessions: null });
  }
}

/** Setup asked for once an admin exists. */
export function alreadySetUp(): AccountError {
  return new AccountError("already_set_up", "Setup is done: an admin account exists.", "Log in instead; admins add more users under Users.", 409);
}

/** A new password through its rules; the hint fits the rule it broke. */
function checkPassword(password: string): { output: string } {
  const p = v.safeParse(PasswordSchema, password);
  if (p.success) return p;
  const tooLong = p.issues[0].type === "max_length";
  throw new AccountError("weak_password", `The password is not acceptable: ${p.issues[0].message}.`, tooLong ? "Use a shorter one; a few random words work well." : "Use a longer password; a few random words work well.");
}
