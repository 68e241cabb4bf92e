/**
 * The files folder (`<data-dir>/files/`) and its metadata in sqlite: files and folders, uploads
 * streamed to a temporary file and renamed into place only when complete (so an aborted upload
 * leaves nothing), move / copy / rename / delete, free space, and each file's sha256 (duplicates
 * share one). Files being printed cannot be deleted, moved or overwritten.
 */
import type { Database } from "bun:sqlite";
import { copyFileSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statfsSync, statSync, type Stats } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import { chunksOf } from "./multipart.ts";
import { isPrintable, safeRelativePath } from "./paths.ts";

export interface StoredFile {
  /** Relative to the files folder, with `/` separators. */
  path: string;
  name: string;
  size: number;
  /** Milliseconds since the epoch (upload time, or the file's mtime if it was copied in by hand). */
  date: number;
  /** Hex sha256 of the content; null until it has been computed (files copied in by hand). */
  sha256: string | null;
}

export interface StoredFolder {
  path: string;
  name: string;
}

export class FileError extends Error {
  constructor(
    readonly code: "invalid_path" | "not_printable" | "not_found" | "in_use" | "exists" | "not_empty" | "upload_incomplete" | "no_space" | "read_only",
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

const TEMP_PREFIX = ".upload-";
const FULL_HINT = "Delete files you no longer need, then try again.";

/**
 * A full disk (or quota), or one that has turned read-only, as the error a person reads (`what`
 * says what was not done); any other error unchanged.
 */
export function diskError(e: unknown, what: string): unknown {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") return new FileError("no_space", `The disk is full: ${what}.`, FULL_HINT);
  if (code === "EROFS") {
    return new FileError("read_only", `The files folder's disk is read-only: ${what}.`, "Check the disk: an SD card that turns read-only by itself is usually failing. Copy your files off it.");
  }
  return e;
}
const IN_USE_HINT = "Wait for the print to end or cancel it.";

interface FileRow {
  path: string;
  size: number;
  uploaded_at: number;
  sha256: string | null;
  mtime: number | null;
}

/** An upload being received: bytes go to a hidden temporary file, hashed on the way. */
export class TempUpload {
  private readonly hasher = new Bun.CryptoHasher("sha256");
  size = 0;
  private closed = false;

  constructor(
    readonly tempPath: string,
    private readonly handle: FileHandle,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    this.hasher.update(chunk);
    let written = 0;
    while (written < chunk.length) {
      const { bytesWritten } = await this.handle.write(chunk, written, chunk.length - written);
      written += bytesWritten;
    }
    this.size += chunk.length;
  }

  /** Flushes to disk and returns the sha256. */
  async close(): Promise<string> {
    if (!this.closed) {
      this.closed = true;
      await this.handle.sync();
      await this.handle.close();
    }
    return this.hasher.digest("hex");
  }

  /** Deletes the temporary file (an aborted or refused upload). */
  async discard(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.handle.close().catch(() => {});
    }
    removeTemp(this.tempPath);
  }
}

export class FileStorage {
  /** Names on disk left out of the listing (each warned about once). */
  private readonly unusable = new Set<string>();
  /** Told of every move or rename (`from` and `to` are files', or folders' whose content moved along). */
  private readonly moveListeners = new Set<(from: string, to: string) => void>();

  constructor(
    readonly root: string,
    private readonly db: Database,
    /** Paths that must not be deleted, moved or overwritten (files being printed). */
    private readonly inUse: () => Set<string> = () => new Set(),
  ) {
    mkdirSync(root, { recursive: true });
    try {
      this.removeLeftoverTemps(root);
    } catch (e) {
      // A read-only disk must not stop the host: the files can still be listed and printed.
      console.warn(`files: leftover partial uploads could not be removed: ${(e as Error).message}`);
    }
  }

  /** Every printable file, newest first. Files copied into the folder by hand are picked up. */
  list(): StoredFile[] {
    const files: StoredFile[] = [];
    this.walk("", files, []);
    return this.withRows(files).sort((a, b) => b.date - a.date || a.path.localeCompare(b.path));
  }

  /** Every folder, sorted by path. */
  folders(): StoredFolder[] {
    const folders: StoredFolder[] = [];
    this.walk("", [], folders);
    return folders.sort((a, b) => a.path.localeCompare(b.path));
  }

  /** Metadata of one file, or undefined. */
  get(path: string): StoredFile | undefined {
    const rel = this.checkPath(path);
    const st = this.lstat(rel);
    // lstat: a symlink could point outside the files folder, so it is not a file of ours.
    if (!st?.isFile()) return undefined;
    return this.withRows([{ path: rel, name: baseName(rel), size: st.size, date: st.mtimeMs, sha256: null }])[0];
  }

  /** Whether `path` is a folder. */
  isFolder(path: string): boolean {
    const check = safeRelativePath(path);
    return check.ok && !!this.lstat(check.path)?.isDirectory();
  }

  /** Absolute path of a stored file (for the printer and the analyser to read). */
  absolute(path: string): string {
    return join(this.root, this.checkPath(path));
  }

  /** Files with the same content as `sha256`. */
  withHash(sha256: string): string[] {
    return (this.db.query("SELECT path FROM files WHERE sha256 = ? ORDER BY path").all(sha256) as { path: string }[]).map((r) => r.path);
  }

  /** Records a content hash computed elsewhere (the analyser hashes files copied in by hand). */
  setHash(path: string, sha256: string, size: number, mtime: number): void {
    this.db.query("UPDATE files SET sha256 = ?, size = ?, mtime = ? WHERE path = ?").run(sha256, size, Math.round(mtime), path);
  }

  /** Free and total bytes on the files folder's disk. */
  space(): { free: number; total: number } {
    const s = statfsSync(this.root);
    return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
  }

  /** Refuses an upload whose announced size (a Content-Length; NaN when unknown) cannot fit in the free space. */
  checkSpace(bytes: number): void {
    if (Number.isFinite(bytes) && bytes > this.space().free) {
      throw new FileError("no_space", `There is not enough free space for this upload (${bytes} bytes).`, FULL_HINT);
    }
  }

  /**
   * Checks that a file may be stored at `path` (a valid printable name, not being printed, not
   * through a symlink) before any byte is received. Returns the normalised path.
   */
  checkTarget(path: string, overwrite = true): string {
    const rel = this.newPath(path);
    const name = baseName(rel);
    if (!isPrintable(name)) throw new FileError("not_printable", `"${name}" is not a G-code file.`, "Upload a file ending in .gcode, .gco or .g.");
    if (this.inUse().has(rel)) throw new FileError("in_use", `"${rel}" is being printed and cannot be replaced.`, IN_USE_HINT);
    this.checkNoLinks(rel);
    this.checkFolders(rel);
    const st = this.lstat(rel);
    if (st?.isDirectory()) throw new FileError("exists", `"${rel}" is a folder.`, "Choose another name.");
    if (st && !overwrite) throw new FileError("exists", `"${rel}" already exists.`, "Choose another name, or allow overwriting.");
    return rel;
  }

  /** Starts receiving an upload into a hidden temporary file in the files folder. */
  async beginUpload(): Promise<TempUpload> {
    const temp = join(this.root, `${TEMP_PREFIX}${crypto.randomUUID()}`);
    try {
      return new TempUpload(temp, await open(temp, "wx"));
    } catch (e) {
      throw diskError(e, "the upload was not stored");
    }
  }

  /** Moves a finished upload into place at `path` (replacing a file unless it is printing). */
  async commitUpload(upload: TempUpload, path: string, overwrite = true): Promise<StoredFile> {
    let rel: string;
    try {
      rel = this.checkTarget(path, overwrite);
    } catch (e) {
      await upload.discard();
      throw e;
    }
    const abs = join(this.root, rel);
    let sha256: string;
    try {
      // Closing flushes to disk: a full disk may only show here.
      sha256 = await upload.close();
      this.makeParents(rel);
      renameSync(upload.tempPath, abs);
    } catch (e) {
      await upload.discard();
      throw diskError(e, `"${rel}" was not stored (any previous file of that name is unchanged)`);
    }
    const st = statSync(abs);
    const now = Date.now();
    this.upsert(rel, st, now, sha256);
    return { path: rel, name: baseName(rel), size: st.size, date: now, sha256 };
  }

  /** Stores `data` at `path` (folder/name), streamed to disk. */
  async save(path: string, data: Blob | ReadableStream<Uint8Array>, overwrite = true): Promise<StoredFile> {
    this.checkTarget(path, overwrite);
    const upload = await this.beginUpload();
    try {
      for await (const chunk of chunksOf(data instanceof Blob ? data.stream() : data)) await upload.write(chunk);
    } catch (e) {
      await upload.discard();
      throw diskError(e, `"${path}" was not stored (any previous file of that name is unchanged)`);
    }
    return this.commitUpload(upload, path, overwrite);
  }

  /** Creates a folder (and its parents). */
  mkdir(path: string): StoredFolder {
    const rel = this.newPath(path);
    this.checkNoLinks(rel);
    this.checkFolders(rel);
    const st = this.lstat(rel);
    if (st && !st.isDirectory()) throw new FileError("exists", `"${rel}" already exists as a file.`, "Choose another name.");
    this.makeParents(`${rel}/x`);
    return { path: rel, name: baseName(rel) };
  }

  /** Calls `listener` after each move or rename (what refers to files by path follows them); returns the function that stops it. */
  onMoved(listener: (from: string, to: string) => void): () => void {
    this.moveListeners.add(listener);
    return () => this.moveListeners.delete(listener);
  }

  /** Moves (or renames) a file or folder to `to`. */
  move(from: string, to: string, overwrite = false): string {
    const src = this.checkPath(from);
    const dst = this.newPath(to);
    const st = this.existing(src);
    this.refuseBusy(src, st.isDirectory(), "moved");
    if (dst === src) return dst;
    if (st.isDirectory() && (dst + "/").startsWith(src + "/")) throw new FileError("invalid_path", `A folder cannot be moved into itself.`, "Choose a destination outside it.");
    if (st.isFile()) this.checkTarget(dst, overwrite);
    else {
      this.checkNoLinks(dst);
      if (this.lstat(dst)) throw new FileError("exists", `"${dst}" already exists.`, "Choose another name.");
    }
    this.makeParents(dst);
    try {
      renameSync(join(this.root, src), join(this.root, dst));
    } catch (e) {
      throw diskError(e, `"${src}" was not moved`);
    }
    this.db.transaction(() => {
      if (st.isFile()) {
        this.db.query("DELETE FROM files WHERE path = ?").run(dst);
        this.db.query("UPDATE files SET path = ? WHERE path = ?").run(dst, src);
      } else {
        const rows = this.db.query("SELECT path FROM files WHERE path LIKE ? ESCAPE '\\'").all(likePrefix(src)) as { path: string }[];
        for (const r of rows) this.db.query("UPDATE files SET path = ? WHERE path = ?").run(dst + r.path.slice(src.length), r.path);
      }
    })();
    for (const listener of this.moveListeners) listener(src, dst);
    return dst;
  }

  /** Copies a file (content hash and analysis are shared) or a folder. */
  copy(from: string, to: string, overwrite = false): string {
    const src = this.checkPath(from);
    const dst = this.newPath(to);
    const st = this.existing(src);
    if (dst === src) throw new FileError("exists", `"${dst}" already exists.`, "Choose another name for the copy.");
    if (st.isDirectory()) {
      if ((dst + "/").startsWith(src + "/")) throw new FileError("invalid_path", "A folder cannot be copied into itself.", "Choose a destination outside it.");
      this.checkNoLinks(dst);
      if (this.lstat(dst)) throw new FileError("exists", `"${dst}" already exists.`, "Choose another name.");
      this.mkdir(dst);
      for (const f of this.list().filter((f) => f.path.startsWith(src + "/"))) this.copy(f.path, dst + f.path.slice(src.length), overwrite);
      for (const d of this.folders().filter((d) => d.path.startsWith(src + "/"))) this.mkdir(dst + d.path.slice(src.length));
      return dst;
    }
    this.checkTarget(dst, overwrite);
    this.makeParents(dst);
    const temp = join(this.root, `${TEMP_PREFIX}${crypto.randomUUID()}`);
    try {
      copyFileSync(join(this.root, src), temp);
      renameSync(temp, join(this.root, dst));
    } catch (e) {
      removeTemp(temp);
      throw diskError(e, `"${src}" was not copied`);
    }
    const sha = (this.db.query("SELECT sha256 FROM files WHERE path = ?").get(src) as { sha256: string | null } | null)?.sha256 ?? null;
    this.upsert(dst, statSync(join(this.root, dst)), Date.now(), sha);
    return dst;
  }

  /** Deletes a file; refused while it is printing. */
  remove(path: string): void {
    const rel = this.checkPath(path);
    if (this.inUse().has(rel)) throw new FileError("in_use", `"${rel}" is being printed and cannot be deleted.`, IN_USE_HINT);
    const st = this.lstat(rel);
    if (!st) throw new FileError("not_found", `There is no file "${rel}".`, "Check the name; the file list shows what exists.");
    if (!st.isFile()) throw new FileError("not_found", `"${rel}" is not a file.`, "Only files can be deleted here.");
    try {
      rmSync(join(this.root, rel));
    } catch (e) {
      throw diskError(e, `"${rel}" was not deleted`);
    }
    this.db.query("DELETE FROM files WHERE path = ?").run(rel);
  }

  /** Deletes a folder; one with content only when `recursive`, and never one holding a file being printed. */
  removeFolder(path: string, recursive = false): void {
    const rel = this.checkPath(path);
    const st = this.lstat(rel);
    if (!st?.isDirectory()) throw new FileError("not_found", `There is no folder "${rel}".`, "Check the name; the file list shows what exists.");
    this.refuseBusy(rel, true, "deleted");
    const abs = join(this.root, rel);
    if (!recursive && readdirSync(abs).length > 0) throw new FileError("not_empty", `The folder "${rel}" is not empty.`, "Delete its files first, or ask for a recursive delete.");
    try {
      rmSync(abs, { recursive: true });
    } catch (e) {
      throw diskError(e, `"${rel}" was not deleted`);
    }
    this.db.query("DELETE FROM files WHERE path LIKE ? ESCAPE '\\'").run(likePrefix(rel));
  }

  private refuseBusy(rel: string, folder: boolean, verb: string): void {
    for (const busy of this.inUse()) {
      if (busy === rel || (folder && busy.startsWith(rel + "/"))) {
        throw new FileError("in_use", folder ? `"${rel}" holds "${busy}", which is being printed, so it cannot be ${verb}.` : `"${rel}" is being printed and cannot be ${verb}.`, IN_USE_HINT);
      }
    }
  }

  private existing(rel: string): Stats {
    this.checkNoLinks(rel);
    const st = this.lstat(rel);
    if (!st || (!st.isFile() && !st.isDirectory())) throw new FileError("not_found", `There is no file or folder "${rel}".`, "Check the name; the file list shows what exists.");
    return st;
  }

  private checkPath(path: string): string {
    const check = safeRelativePath(path);
    // A hostile path can be megabytes long: the message quotes its start.
    const shown = path.length > 200 ? `${path.slice(0, 200)}…` : path;
    if (!check.ok) throw new FileError("invalid_path", `The path "${shown}" is not allowed: ${check.reason}.`, "Use a plain relative name such as folder/part.gcode.");
    return check.path;
  }

  /**
   * A name for something new, in Unicode NFC: "é" typed on one system and sent decomposed by
   * another would otherwise be two files whose names look the same. (Existing names are found as
   * they are on disk, so a file copied in by hand under a decomposed name stays usable.)
   */
  private newPath(path: string): string {
    return this.checkPath(path).normalize("NFC");
  }

  /** Refuses a path that passes through (or is) a symbolic link: it could lead outside the folder. */
  private checkNoLinks(rel: string): void {
    const parts = rel.split("/");
    for (let i = 1; i <= parts.length; i++) {
      const st = this.lstat(parts.slice(0, i).join("/"));
      if (!st) return;
      if (st.isSymbolicLink()) throw new FileError("invalid_path", `The path "${rel}" goes through a symbolic link.`, "Layerline only stores files inside its files folder.");
    }
  }

  /** Refuses a path whose folders include an existing file ("a.gcode/b.gcode"): nothing can be made inside a file. */
  private checkFolders(rel: string): void {
    const parts = rel.split("/");
    for (let i = 1; i < parts.length; i++) {
      const folder = parts.slice(0, i).join("/");
      const st = this.lstat(folder);
      if (!st) return;
      if (!st.isDirectory() && !st.isSymbolicLink()) throw new FileError("exists", `"${folder}" is a file, so "${rel}" cannot be made inside it.`, "Choose a folder, or another name.");
    }
  }

  private makeParents(rel: string): void {
    this.checkNoLinks(rel);
    this.checkFolders(rel);
    const parent = dirname(join(this.root, rel));
    try {
      mkdirSync(parent, { recursive: true });
    } catch (e) {
      throw diskError(e, `the folder of "${rel}" was not made`);
    }
  }

  private lstat(rel: string): Stats | undefined {
    try {
      return lstatSync(join(this.root, rel));
    } catch {
      return undefined;
    }
  }

  private upsert(rel: string, st: Stats, uploadedAt: number, sha256: string | null): void {
    this.db
      .query("INSERT INTO files (path, size, uploaded_at, sha256, mtime) VALUES (?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET size = excluded.size, uploaded_at = excluded.uploaded_at, sha256 = excluded.sha256, mtime = excluded.mtime")
      .run(rel, st.size, Math.round(uploadedAt), sha256, Math.round(st.mtimeMs));
  }

  /**
   * Joins what is on disk with the rows: files copied in by hand get a row; a file changed on
   * disk since it was hashed (size or mtime differ) loses its stale hash.
   */
  private withRows(files: StoredFile[]): StoredFile[] {
    if (files.length === 0) return files;
    const rows = new Map((this.db.query("SELECT path, size, uploaded_at, sha256, mtime FROM files").all() as FileRow[]).map((r) => [r.path, r]));
    for (const f of files) {
      const row = rows.get(f.path);
      const mtime = Math.round(f.date);
      if (!row) {
        this.db.query("INSERT OR REPLACE INTO files (path, size, uploaded_at, sha256, mtime) VALUES (?, ?, ?, NULL, ?)").run(f.path, f.size, mtime, mtime);
        continue;
      }
      if (row.sha256 !== null && (row.size !== f.size || row.mtime !== mtime)) {
        this.db.query("UPDATE files SET sha256 = NULL, size = ?, mtime = ? WHERE path = ?").run(f.size, mtime, f.path);
        row.sha256 = null;
      }
      f.date = row.uploaded_at;
      f.sha256 = row.sha256;
    }
    return files;
  }

  private walk(rel: string, files: StoredFile[], folders: StoredFolder[]): void {
    const dir = join(this.root, rel);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith(".")) continue;
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      const check = safeRelativePath(childRel);
      if (!check.ok) {
        // Copied in by hand under a name no request could address (a leading space, a backslash):
        // listed, it could be neither read nor renamed, and would break what touches every file.
        if (!this.unusable.has(childRel)) {
          this.unusable.add(childRel);
          console.warn(`files: left out "${childRel}": ${check.reason}. Rename it on disk to use it.`);
        }
        continue;
      }
      // Symlinks are never followed: they could point outside the files folder.
      if (entry.isDirectory()) {
        folders.push({ path: childRel, name: entry.name });
        this.walk(childRel, files, folders);
      } else if (entry.isFile() && isPrintable(entry.name)) {
        const st = statSync(join(dir, entry.name));
        files.push({ path: childRel, name: entry.name, size: st.size, date: st.mtimeMs, sha256: null });
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

/**
 * Removes a temporary file, if it is there. On a disk turned read-only even that fails: the
 * error being reported matters more, and the next start removes what is left.
 */
function removeTemp(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // Left for removeLeftoverTemps.
  }
}

function baseName(rel: string): string {
  return rel.slice(rel.lastIndexOf("/") + 1);
}

/** A LIKE pattern for everything under folder `rel`. */
function likePrefix(rel: string): string {
  return rel.replace(/[\\%_]/g, (c) => `\\${c}`) + "/%";
}
