/**
 * User accounts and their groups in sqlite. A user belongs to one group; the group's permissions
 * (editable, except that admins always have all) are what the user may do.
 */
import type { Database } from "bun:sqlite";
import * as v from "valibot";
import { DEFAULT_GROUP_PERMISSIONS, GROUPS, PermissionSchema, type Group, type Permission } from "./permissions.ts";

export interface User {
  id: string;
  name: string;
  group: Group;
  active: boolean;
  createdAt: number;
}

interface Row {
  id: string;
  name: string;
  password_hash: string;
  group_key: Group;
  active: number;
  created_at: number;
}

const toUser = (r: Row): User => ({ id: r.id, name: r.name, group: r.group_key, active: r.active === 1, createdAt: r.created_at });
const PermissionListSchema = v.array(PermissionSchema);

export class UserStore {
  constructor(private readonly db: Database) {}

  list(): User[] {
    return (this.db.query("SELECT * FROM users ORDER BY created_at, name").all() as Row[]).map(toUser);
  }

  get(id: string): User | undefined {
    const row = this.db.query("SELECT * FROM users WHERE id = ?").get(id) as Row | null;
    return row ? toUser(row) : undefined;
  }

  byName(name: string): (User & { passwordHash: string }) | undefined {
    const row = this.db.query("SELECT * FROM users WHERE name = ?").get(name) as Row | null;
    return row ? { ...toUser(row), passwordHash: row.password_hash } : undefined;
  }

  /** Whether an active admin exists (until one does, the host is in first-run mode). */
  adminExists(): boolean {
    return this.db.query("SELECT 1 FROM users WHERE group_key = 'admins' AND active = 1 LIMIT 1").get() !== null;
  }

  create(name: string, passwordHash: string, group: Group, now: number): User {
    const id = crypto.randomUUID();
    this.db.query("INSERT INTO users (id, name, password_hash, group_key, active, created_at) VALUES (?, ?, ?, ?, 1, ?)").run(id, name, passwordHash, group, now);
    return this.get(id)!;
  }

  setPassword(id: string, passwordHash: string): void {
    this.db.query("UPDATE users SET password_hash = ? WHERE id = ?").run(passwordHash, id);
  }

  setGroup(id: string, group: Group): void {
    this.db.query("UPDATE users SET group_key = ? WHERE id = ?").run(group, id);
  }

  setActive(id: string, active: boolean): void {
    this.db.query("UPDATE users SET active = ? WHERE id = ?").run(active ? 1 : 0, id);
  }

  remove(id: string): void {
    this.db.query("DELETE FROM users WHERE id = ?").run(id);
  }

  /** Active admins other than `id` (the last admin may not be demoted or removed). */
  otherAdmins(id: string): number {
    return (this.db.query("SELECT COUNT(*) AS n FROM users WHERE group_key = 'admins' AND active = 1 AND id != ?").get(id) as { n: number }).n;
  }

  /** The permissions of a group, as stored (admins: all). */
  groupPermissions(group: Group): Permission[] {
    if (group === "admins") return DEFAULT_GROUP_PERMISSIONS.admins;
    const row = this.db.query("SELECT permissions FROM groups WHERE key = ?").get(group) as { permissions: string } | null;
    if (!row) return [];
    try {
      const parsed = v.safeParse(PermissionListSchema, JSON.parse(row.permissions));
      return parsed.success ? parsed.output : DEFAULT_GROUP_PERMISSIONS[group];
    } catch {
      return DEFAULT_GROUP_PERMISSIONS[group];
    }
  }

  setGroupPermissions(group: Exclude<Group, "admins">, permissions: Permission[]): void {
    this.db.query("UPDATE groups SET permissions = ? WHERE key = ?").run(JSON.stringify(permissions.filter((p) => p !== "admin")), group);
  }

  groups(): { key: Group; permissions: Permission[] }[] {
    return GROUPS.map((key) => ({ key, permissions: this.groupPermissions(key) }));
  }
}
