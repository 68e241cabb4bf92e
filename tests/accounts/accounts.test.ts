/**
 * The accounts core: scopes, the login throttle (time passed in), app-key requests, and the
 * stores' rules (hashed secrets, last admin, sessions ended on changes).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Accounts } from "../../src/accounts/accounts.ts";
import { AppKeyRequests, POLL_TIMEOUT_MS } from "../../src/accounts/app-keys.ts";
import { effectivePermissions, parseScope, PERMISSIONS } from "../../src/accounts/permissions.ts";
import { LoginThrottle } from "../../src/accounts/rate-limit.ts";
import { openDatabase } from "../../src/db/database.ts";
import { createBus, type Events } from "../../src/events.ts";

const dir = mkdtempSync(join(tmpdir(), "layerline-accounts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("scopes", () => {
  test("presets and permission lists; unknown names are explained", () => {
    expect(parseScope("read-only")).toEqual({ ok: true, scope: "read-only", permissions: ["status", "webcam"] });
    expect(parseScope(" print , status ")).toEqual({ ok: true, scope: "status,print", permissions: ["status", "print"] });
    const bad = parseScope("status,teleport");
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.message).toContain("teleport");
  });

  test("a key never has more than its user, and admin implies everything", () => {
    expect([...effectivePermissions(["status"], ["status", "control"])]).toEqual(["status"]);
    expect(effectivePermissions(["admin"], ["print"])).toEqual(new Set(["print"]));
    expect(effectivePermissions(["admin"], null).size).toBe(PERMISSIONS.length);
  });
});

describe("login throttle", () => {
  test("per account and address: five failures lock that address out of the account for the window, a success clears it", () => {
    const t = new LoginThrottle({ perAccountAddress: 5, perAccount: 50, perAddress: 20, windowMs: 60_000 });
    for (let i = 0; i < 5; i++) {
      expect(t.retryAfter("1.2.3.4", "Alice", i)).toBe(0);
      t.fail("1.2.3.4", "alice", i);
    }
    expect(t.retryAfter("1.2.3.4", "ALICE", 10)).toBe(60_000 - 10);
    // Whoever guessed cannot lock the user out from everywhere: her own address still gets in.
    expect(t.retryAfter("9.9.9.9", "alice", 10)).toBe(0);
    expect(t.retryAfter("1.2.3.4", "alice", 60_001)).toBe(0); // the window slid past the first failure
    t.succeed("1.2.3.4", "alice");
    expect(t.retryAfter("1.2.3.4", "alice", 20)).toBe(0);
  });

  test("per account from all addresses: guessing spread over many addresses is capped", () => {
    const t = new LoginThrottle({ perAccountAddress: 5, perAccount: 12, perAddress: 20, windowMs: 1000 });
    for (let i = 0; i < 12; i++) t.fail(`10.0.0.${i % 4}`, "bob", i);
    expect(t.retryAfter("10.0.0.99", "bob", 20)).toBe(1000 - 20);
    expect(t.retryAfter("10.0.0.99", "carol", 20)).toBe(0);
  });

  test("per address: many accounts from one address are throttled too", () => {
    const t = new LoginThrottle({ perAccountAddress: 5, perAccount: 50, perAddress: 3, windowMs: 1000 });
    for (const name of ["a", "b", "c"]) t.fail("5.5.5.5", name, 0);
    expect(t.retryAfter("5.5.5.5", "d", 1)).toBe(999);
    expect(t.retryAfter("6.6.6.6", "d", 1)).toBe(0);
  });
});

describe("app-key requests", () => {
  test("pending → granted once → gone; denial and silence end it", () => {
    const r = new AppKeyRequests();
    const req = r.request("Cura", null, 0);
    expect(r.poll(req.appToken, 1000)).toEqual({ status: "pending" });
    expect(r.decide(req.userToken, "alice", { grant: true, key: "K" }, 2000)).toBe(true);
    expect(r.poll(req.appToken, 3000)).toEqual({ status: "granted", key: "K" });
    expect(r.poll(req.appToken, 3001)).toEqual({ status: "gone" });
    const denied = r.request("X", null, 0);
    r.decide(denied.userToken, "alice", { grant: false }, 1);
    expect(r.poll(denied.appToken, 2)).toEqual({ status: "gone" });
    const forgotten = r.request("Y", null, 0);
    expect(r.pendingFor("alice", POLL_TIMEOUT_MS + 1)).toEqual([]);
    expect(r.poll(forgotten.appToken, POLL_TIMEOUT_MS + 2)).toEqual({ status: "gone" });
  });

  test("a request naming a user is that user's alone to decide and to see; one naming nobody is anyone's", () => {
    const r = new AppKeyRequests();
    const forBob = r.request("Cura", "bob", 0);
    const open = r.request("PrusaSlicer", null, 0);
    expect(r.pendingFor("alice", 1).map((x) => x.app)).toEqual(["PrusaSlicer"]);
    expect(r.pendingFor("bob", 1).map((x) => x.app).sort()).toEqual(["Cura", "PrusaSlicer"]);
    expect(r.decide(forBob.userToken, "alice", { grant: true, key: "ALICE-KEY" }, 2)).toBe(false);
    expect(r.decide(forBob.userToken, "alice", { grant: false }, 2)).toBe(false);
    expect(r.poll(forBob.appToken, 3)).toEqual({ status: "pending" });
    expect(r.decide(forBob.userToken, "bob", { grant: true, key: "BOB-KEY" }, 4)).toBe(true);
    expect(r.poll(forBob.appToken, 5)).toEqual({ status: "granted", key: "BOB-KEY" });
    expect(r.decide(open.userToken, "alice", { grant: false }, 6)).toBe(true);
  });
});

describe("the accounts store", () => {
  const db = openDatabase(dir);
  const bus = createBus();
  const revoked: Events["accounts.revoked"][] = [];
  bus.on("accounts.revoked", (e) => revoked.push(e));
  const accounts = new Accounts(db, bus);

  test("passwords are argon2id hashes; names and weak passwords are refused with reasons", async () => {
    const admin = await accounts.addUser("root", "a very long password", "admins");
    const row = db.query("SELECT password_hash FROM users WHERE id = ?").get(admin.id) as { password_hash: string };
    expect(row.password_hash).toStartWith("$argon2id$");
    await expect(accounts.addUser("x y", "long enough pw", "users")).rejects.toThrow(/user name/);
    await expect(accounts.addUser("bob", "short", "users")).rejects.toThrow(/at least 8/);
    const long = await accounts.addUser("bob", "x".repeat(1025), "users").catch((e) => e);
    expect([long.message, long.hint]).toEqual(["The password is not acceptable: the password may be at most 1024 characters.", "Use a shorter one; a few random words work well."]);
    await expect(accounts.addUser("ROOT", "another long pw", "users")).rejects.toThrow(/already/);
    expect((await accounts.login("root", "a very long password", "a")).ok).toBe(true);
    expect((await accounts.login("root", "wrong password!", "a")).ok).toBe(false);
    expect((await accounts.login("nobody", "wrong password!", "a")).ok).toBe(false);
  });

  test("two requests adding the same name at once: one user, and the other is told the name is taken", async () => {
    const [a, b] = await Promise.allSettled([accounts.addUser("twin", "a long password", "users"), accounts.addUser("TWIN", "a long password", "users")]);
    expect([a.status, b.status].sort()).toEqual(["fulfilled", "rejected"]);
    const refused = (a.status === "rejected" ? a.reason : (b as PromiseRejectedResult).reason) as { code?: string; status?: number };
    expect([refused.code, refused.status]).toEqual(["user_exists", 409]);
    accounts.users.remove(accounts.users.byName("twin")!.id);
  });

  test("the last admin can be neither demoted nor removed", async () => {
    const root = accounts.users.byName("root")!;
    expect(() => accounts.setGroup(root, "users")).toThrow(/only admin/);
    expect(() => accounts.removeUser(root)).toThrow(/only admin/);
  });

  test("a password change ends the user's sessions and tells the push sockets", async () => {
    const root = accounts.users.byName("root")!;
    const { token } = accounts.startSession({ user: root, permissions: new Set(), via: "session", printerId: null }, "password");
    expect(accounts.principalForSession(token)).toBeDefined();
    await accounts.setPassword(root, "a new long password");
    expect(accounts.principalForSession(token)).toBeUndefined();
    expect(revoked.at(-1)).toMatchObject({ userId: root.id, reason: "modified" });
  });

  test("a socket session made with a key keeps the key's scope and ends with it", () => {
    const root = accounts.users.byName("root")!;
    const { key, record } = accounts.createKey(root, { name: "ro", scope: "read-only" });
    const viaKey = accounts.principalForKey(key)!;
    expect([...viaKey.permissions]).toEqual(["status", "webcam"]);
    const { token } = accounts.startSession(viaKey, "apikey");
    expect([...accounts.principalForSession(token)!.permissions]).toEqual(["status", "webcam"]);
    accounts.revokeKey(record.id);
    expect(accounts.principalForSession(token)).toBeUndefined();
    expect(accounts.principalForKey(key)).toBeUndefined();
  });

  test("a key polled many times a second is checked once, yet every change to it or its user counts at once", async () => {
    const bob = await accounts.addUser("bob", "bob's long password", "users");
    const now = Date.now();
    const { key, record } = accounts.createKey(bob, { name: "poller", scope: "full", expiresAt: now + 5000 });
    const first = accounts.principalForKey(key, now)!;
    expect(first.user!.name).toBe("bob");
    // Reused while nothing changed (the same principal, no queries for the key or the user)…
    expect(accounts.principalForKey(key, now + 10)).toBe(first);
    // …and for a second at most.
    expect(accounts.principalForKey(key, now + 1500)).not.toBe(first);

    // A change by this host, even to another table, is seen at once: a deactivated user's key stops.
    accounts.users.setActive(bob.id, false);
    expect(accounts.principalForKey(key, now + 1510)).toBeUndefined();
    accounts.users.setActive(bob.id, true);
    expect(accounts.principalForKey(key, now + 1520)?.user?.active).toBe(true);
    expect(accounts.principalForKey(key, now + 1525)!.permissions.has("control")).toBe(true);
    accounts.setGroup(accounts.users.get(bob.id)!, "readonly");
    expect(accounts.principalForKey(key, now + 1530)!.permissions.has("control")).toBe(false);

    // A change by another process (the `layerline apikey` CLI has its own connection) too.
    const cli = openDatabase(dir);
    try {
      expect(accounts.principalForKey(key, now + 1540)).toBeDefined();
      cli.query("DELETE FROM api_keys WHERE id = ?").run(record.id);
      expect(accounts.principalForKey(key, now + 1550)).toBeUndefined();
    } finally {
      cli.close();
    }

    // An expiring key is refused from its expiry on, however recently it was checked.
    const short = accounts.createKey(bob, { name: "short", scope: "full", expiresAt: now + 2000 });
    expect(accounts.principalForKey(short.key, now + 1999)).toBeDefined();
    expect(accounts.principalForKey(short.key, now + 2000)).toBeUndefined();
  });

  test("camera tokens: one per key and printer, the same on every call, stored as a digest, the camera only, and gone with their key", async () => {
    const carol = await accounts.addUser("carol", "carol's long password", "users");
    const now = Date.now();
    const full = accounts.createKey(carol, { name: "app", scope: "full" });
    const viaKey = accounts.principalForKey(full.key, now)!;
    const token = accounts.cameraTokenFor(viaKey, "p1", now)!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(token).not.toContain(full.key);
    // Stable: apps read the settings once and keep the URL; another printer or key has its own.
    expect(accounts.cameraTokenFor(viaKey, "p1", now + 1000)).toBe(token);
    const other = accounts.cameraTokenFor(viaKey, "p2", now)!;
    expect(other).not.toBe(token);
    const second = accounts.createKey(carol, { name: "app 2", scope: "read-only" });
    expect(accounts.cameraTokenFor(accounts.principalForKey(second.key, now)!, "p1", now)).not.toBe(token);
    // Only the digest is stored.
    const rows = db.query("SELECT * FROM camera_tokens WHERE api_key_id = ?").all(full.record.id) as Record<string, unknown>[];
    expect(rows.length).toBe(2);
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(rows.map((r) => r.digest)).toContain(new Bun.CryptoHasher("sha256").update(token).digest("hex"));

    // What it speaks for: watching printer p1, even when its key may do everything; it is no API key.
    const principal = accounts.principalForCameraToken(token, now)!;
    expect({ via: principal.via, user: principal.user?.name, permissions: [...principal.permissions], printer: principal.printerId, key: principal.apiKey }).toEqual({ via: "camera", user: "carol", permissions: ["webcam"], printer: "p1", key: undefined });
    expect(accounts.principalForKey(token, now)).toBeUndefined();
    expect(accounts.principalForCameraToken(full.key, now)).toBeUndefined();

    // None for a key that may not watch, nor for another printer than the key's own, nor without a key.
    const status = accounts.principalForKey(accounts.createKey(carol, { name: "status", scope: "status" }).key, now)!;
    expect(accounts.cameraTokenFor(status, "p1", now)).toBeNull();
    const pinned = accounts.principalForKey(accounts.createKey(carol, { name: "pinned", scope: "read-only", printerId: "p2" }).key, now)!;
    expect(accounts.cameraTokenFor(pinned, "p1", now)).toBeNull();
    expect(accounts.cameraTokenFor(pinned, "p2", now)).not.toBeNull();
    const { token: session } = accounts.startSession(viaKey, "apikey");
    expect(accounts.cameraTokenFor(accounts.principalForSession(session)!, "p1", now)).toBeNull();

    // The user losing the webcam permission (their group) takes it from the token at once; getting it back gives it back.
    const operators = accounts.users.groupPermissions("users");
    accounts.users.setGroupPermissions("users", operators.filter((p) => p !== "webcam"));
    expect([...accounts.principalForCameraToken(token, now)!.permissions]).toEqual([]);
    accounts.users.setGroupPermissions("users", operators);
    expect([...accounts.principalForCameraToken(token, now)!.permissions]).toEqual(["webcam"]);
    // A deactivated user's tokens stop.
    accounts.users.setActive(carol.id, false);
    expect(accounts.principalForCameraToken(token, now)).toBeUndefined();
    accounts.users.setActive(carol.id, true);

    // Revoking the key ends its tokens (and removes them); the user's other keys keep theirs.
    accounts.revokeKey(full.record.id);
    expect(accounts.principalForCameraToken(token, now)).toBeUndefined();
    expect(accounts.principalForCameraToken(other, now)).toBeUndefined();
    expect((db.query("SELECT COUNT(*) AS n FROM camera_tokens WHERE api_key_id = ?").get(full.record.id) as { n: number }).n).toBe(0);
    const kept = accounts.cameraTokenFor(accounts.principalForKey(second.key, now)!, "p1", now)!;
    expect(accounts.principalForCameraToken(kept, now)).toBeDefined();
    // An expiring key's tokens expire with it.
    const expiring = accounts.createKey(carol, { name: "week", scope: "read-only", expiresAt: now + 5000 });
    const short = accounts.cameraTokenFor(accounts.principalForKey(expiring.key, now)!, "p1", now)!;
    expect(accounts.principalForCameraToken(short, now + 4999)).toBeDefined();
    expect(accounts.principalForCameraToken(short, now + 5000)).toBeUndefined();
    // Removing the user removes them all.
    accounts.removeUser(accounts.users.get(carol.id)!);
    expect(accounts.principalForCameraToken(kept, now)).toBeUndefined();
    expect((db.query("SELECT COUNT(*) AS n FROM camera_tokens").get() as { n: number }).n).toBe(0);
  });
});
