/**
 * The files folder (`<data-dir>/files/`) and its metadata in sqlite. Uploads are written to a
 * temporary file and renamed into place only when complete, so an aborted upload leaves nothing.
 */
import type { Database } from "bun:sqlite";
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, lstatSync } from "node:fs";
import { dirname, join } from "node:path";
import { isPrintable, safeRelativePath } from "./paths.ts";

export interface StoredFile {
  /** Relative to the files folder, with `/` separators. */
  path: string;
  name: string;
  size: number;
  /** Milliseconds since the epoch. */
  date: number;
}

export class FileError extends Error {
  constructor(
    readonly code: "invalid_path" | "not_printable" | "not_found" | "in_use" | "exists",
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

const TEMP_PREFIX = ".upload-";

export class FileStorage {
  constructor(
    readonly root: string,
    private readonly db: Database,
    /** Paths that must not be deleted or overwritten (files being printed). */
    private readonly inUse: () => Set<string> = () => new Set(),
  ) {
    mkdirSync(root, { recursive: true });
    this.removeLeftoverTemps(root);
  }

  /** Every printable file, newest first. Files copied into the folder by hand are picked up. */
  list(): StoredFile[] {
    const files: StoredFile[] = [];
    this.walk("", files);
    const known = new Map(
      (this.db.query("SELECT path, uploaded_at FROM files").all() as { path: string; uploaded_at: number }[]).map((r) => [r.path, r.uploaded_at]),
    );
    for (const f of files) {
      const at = known.get(f.path);
      if (at === undefined) this.db.query("INSERT OR REPLACE INTO files (path, size, uploaded_at) VALUES (?, ?, ?)").run(f.path, f.size, f.date);
      else f.date = at;
    }
    return files.sort((a, b) => b.date - a.date || a.path.localeCompare(b.path));
  }

  /** Metadata of one file, or undefined. */
  get(path: string): StoredFile | undefined {
    const rel = this.checkPath(path);
    const abs = join(this.root, rel);
    try {
      // lstat: a symlink could point outside the files folder, so it is not a file of ours.
      const st = lstatSync(abs);
      if (!st.isFile()) return undefined;
      const row = this.db.query("SELECT uploaded_at FROM files WHERE path = ?").get(rel) as { uploaded_at: number } | null;
      return { path: rel, name: rel.split("/").pop()!, size: st.size, date: row?.uploaded_at ?? st.mtimeMs };
    } catch {
      return undefined;
    }
  }

  /** Absolute path of a stored file (for the printer to read). */
  absolute(path: string): string {
    return join(this.root, this.checkPath(path));
  }

  /** Stores an upload at `path` (folder/name), replacing an existing file unless it is printing. */
  async save(path: string, data: Blob): Promise<StoredFile> {
    const rel = this.checkPath(path);
    const name = rel.split("/").pop()!;
    if (!isPrintable(name)) {
      throw new FileError("not_printable", `"${name}" is not a G-code file.`, "Upload a file ending in .gcode, .gco or .g.");
    }
    if (this.inUse().has(rel)) {
      throw new FileError("in_use", `"${rel}" is being printed and cannot be replaced.`, "Wait for the print to end or cancel it.");
    }
    const abs = join(this.root, rel);
    mkdirSync(dirname(abs), { recursive: true });
    const temp = join(dirname(abs), `${TEMP_PREFIX}${crypto.randomUUID()}`);
    try {
      await Bun.write(temp, data);
      renameSync(temp, abs);
    } catch (e) {
      rmSync(temp, { force: true });
      throw e;
    }
    const size = statSync(abs).size;
    const now = Date.now();
    this.db.query("INSERT OR REPLACE INTO files (path, size, uploaded_at) VALUES (?, ?, ?)").run(rel, size, now);
    return { path: rel, name, size, date: now };
  }

  /** Deletes a file; refused while it is printing. */
  remove(path: string): void {
    const rel = this.checkPath(path);
    if (this.inUse().has(rel)) {
      throw new FileError("in_use", `"${rel}" is being printed and cannot be deleted.`, "Wait for the print to end or cancel it.");
    }
    const abs = join(this.root, rel);
    let st;
    try {
      st = lstatSync(abs);
    } catch {
      throw new FileError("not_found", `There is no file "${rel}".`, "Check the name; the file list shows what exists.");
    }
    if (!st.isFile()) throw new FileError("not_found", `"${rel}" is not a file.`, "Only files can be deleted here.");
    rmSync(abs);
    this.db.query("DELETE FROM files WHERE path = ?").run(rel);
  }

  private checkPath(path: string): string {
    const check = safeRelativePath(path);
    if (!check.ok) throw new FileError("invalid_path", `The path "${path}" is not allowed: ${check.reason}.`, "Use a plain relative name such as folder/part.gcode.");
    return check.path;
  }

  private walk(rel: string, out: StoredFile[]): void {
    const dir = join(this.root, rel);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith(".")) continue;
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      // Symlinks are never followed: they could point outside the files folder.
      if (entry.isDirectory()) this.walk(childRel, out);
      else if (entry.isFile() && isPrintable(entry.name)) {
        const st = statSync(join(dir, entry.name));
        out.push({ path: childRel, name: entry.name, size: st.size, date: st.mtimeMs });
      }
    }
  }

  private removeLeftoverTemps(dir: string): void {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isFile() && entry.name.startsWith(TEMP_PREFIX)) rmSync(join(dir, entry.name), { force: true });
      else if (entry.isDirectory() && !entry.name.startsWith(".")) this.removeLeftoverTemps(join(dir, entry.name));
    }
  }
}
