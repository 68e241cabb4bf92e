/** The `webcam` permission reaches the groups of a database made before it existed, once. */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/db/database.ts";
import { migrations } from "../../src/db/migrations/index.ts";
import { m012_webcam_permission } from "../../src/db/migrations/012-webcam-permission.ts";

test("users and read-only keep watching; guests and changed groups are left as they were; running it again changes nothing", () => {
  const dir = mkdtempSync(join(tmpdir(), "layerline-webcam-perm-"));
  try {
    const before = migrations.slice(0, migrations.indexOf(m012_webcam_permission));
    const old = openDatabase(dir, "old.sqlite", before);
    old.run(`UPDATE groups SET permissions = '["status","print"]' WHERE key = 'users'`);
    old.close();
    const db = openDatabase(dir, "old.sqlite");
    const groups = () => Object.fromEntries((db.query("SELECT key, permissions FROM groups").all() as { key: string; permissions: string }[]).map((g) => [g.key, JSON.parse(g.permissions)]));
    expect(groups()).toMatchObject({ users: ["status", "print", "webcam"], readonly: ["status", "webcam"], guests: [] });
    db.run(m012_webcam_permission);
    expect(groups().readonly).toEqual(["status", "webcam"]);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
