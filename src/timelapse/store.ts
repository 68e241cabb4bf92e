/**
 * Where timelapses live under the data folder: `timelapse/frames/<set>/frame000001.jpg…` with the
 * set's `set.json` (printer, file, how it ended, counts, the camera's turn), and the rendered
 * videos `timelapse/<set>.mp4` with their `.thumb.jpg`. Names are checked before they touch the
 * disk (letters, digits, `._-`, no leading dot), so nothing outside the folder is ever reached.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, statfsSync, writeFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";

export const SetMetaSchema = v.object({
  printer: v.string(),
  file: v.string(),
  startedAt: v.number(),
  endedAt: v.optional(v.nullable(v.number()), null),
  /** How the print went; "recording" while it runs. */
  result: v.optional(v.picklist(["recording", "done", "cancelled", "failed"]), "recording"),
  frames: v.optional(v.number(), 0),
  failed: v.optional(v.number(), 0),
  /** The last capture's problem, for people. */
  lastError: v.optional(v.nullable(v.string()), null),
  fps: v.optional(v.number(), 25),
  postRoll: v.optional(v.number(), 0),
  flipH: v.optional(v.boolean(), false),
  flipV: v.optional(v.boolean(), false),
  rotate: v.optional(v.number(), 0),
  /** The render's last failure (ffmpeg missing, ffmpeg's error). */
  renderError: v.optional(v.nullable(v.string()), null),
});
export type SetMeta = v.InferOutput<typeof SetMetaSchema>;

export interface VideoEntry {
  name: string;
  printer: string | null;
  bytes: number;
  date: number;
  thumbnail: boolean;
}

export interface SetEntry extends SetMeta {
  name: string;
  bytes: number;
}

const NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}$/;
export const VIDEO_EXTENSIONS = [".mp4", ".mkv", ".m4v", ".mpg"];

/** A frame's file name: 1-based, six digits (`frame%06d.jpg` for ffmpeg). */
export const frameName = (n: number) => `frame${String(n).padStart(6, "0")}.jpg`;
export const FRAME_PATTERN = "frame%06d.jpg";

export class TimelapseStore {
  readonly root: string;
  readonly framesRoot: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, "timelapse");
    this.framesRoot = join(this.root, "frames");
    mkdirSync(this.framesRoot, { recursive: true });
  }

  /** Free bytes on the timelapse folder's disk. */
  freeBytes(): number {
    const s = statfsSync(this.root);
    return s.bavail * s.bsize;
  }

  static validName(name: string): boolean {
    return NAME.test(name) && !name.includes("..");
  }

  /** A new frame set for a print: `<printer>_<file without extension>_<YYYYmmddHHMMSS>`. */
  createSet(meta: Omit<SetMeta, "result" | "frames" | "failed" | "lastError" | "endedAt" | "renderError">): string {
    const base = meta.file.split("/").pop()!.replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9_-]+/g, "_").slice(0, 80) || "print";
    const stamp = new Date(meta.startedAt).toISOString().replace(/[-:T]/g, "").slice(0, 14);
    let name = `${meta.printer.replace(/[^A-Za-z0-9_-]+/g, "_")}_${base}_${stamp}`;
    for (let i = 2; existsSync(join(this.framesRoot, name)) || existsSync(this.videoPath(`${name}.mp4`)); i++) name = `${name.replace(/-\d+$/, "")}-${i}`;
    mkdirSync(join(this.framesRoot, name), { recursive: true });
    this.writeMeta(name, v.parse(SetMetaSchema, meta));
    return name;
  }

  setDir(name: string): string {
    if (!TimelapseStore.validName(name)) throw new Error(`bad set name ${name}`);
    return join(this.framesRoot, name);
  }

  meta(name: string): SetMeta | null {
    if (!TimelapseStore.validName(name)) return null;
    try {
      const parsed = v.safeParse(SetMetaSchema, JSON.parse(readFileSync(join(this.setDir(name), "set.json"), "utf8")));
      return parsed.success ? parsed.output : null;
    } catch {
      return null;
    }
  }

  writeMeta(name: string, meta: SetMeta): void {
    const file = join(this.setDir(name), "set.json");
    writeFileSync(`${file}.tmp`, JSON.stringify(meta));
    renameSync(`${file}.tmp`, file);
  }

  updateMeta(name: string, change: (m: SetMeta) => Partial<SetMeta>): SetMeta | null {
    const meta = this.meta(name);
    if (!meta) return null;
    const next = { ...meta, ...change(meta) };
    this.writeMeta(name, next);
    return next;
  }

  /** Writes frame `n` (1-based) of a set, whole or not at all. */
  writeFrame(name: string, n: number, jpeg: Uint8Array): void {
    const file = join(this.setDir(name), frameName(n));
    writeFileSync(`${file}.tmp`, jpeg);
    renameSync(`${file}.tmp`, file);
  }

  frameCount(name: string): number {
    try {
      return readdirSync(this.setDir(name)).filter((f) => /^frame\d{6}\.jpg$/.test(f)).length;
    } catch {
      return 0;
    }
  }

  /** Frame sets not rendered (yet), newest first. */
  sets(): SetEntry[] {
    let names: string[];
    try {
      names = readdirSync(this.framesRoot);
    } catch {
      return [];
    }
    const out: SetEntry[] = [];
    for (const name of names) {
      const meta = this.meta(name);
      if (!meta) continue;
      let bytes = 0;
      for (const f of readdirSync(this.setDir(name))) bytes += statSync(join(this.setDir(name), f)).size;
      out.push({ ...meta, name, frames: this.frameCount(name), bytes });
    }
    return out.sort((a, b) => b.startedAt - a.startedAt);
  }

  deleteSet(name: string): boolean {
    if (!this.meta(name)) return false;
    rmSync(this.setDir(name), { recursive: true, force: true });
    return true;
  }

  videoPath(name: string): string {
    if (!TimelapseStore.validName(name)) throw new Error(`bad video name ${name}`);
    return join(this.root, name);
  }

  /** A finished video's path, or null when `name` is not one (bad name, hidden, not a video, missing). */
  video(name: string): string | null {
    if (!TimelapseStore.validName(name) || !VIDEO_EXTENSIONS.some((e) => name.endsWith(e))) return null;
    const path = join(this.root, name);
    return existsSync(path) ? path : null;
  }

  /** Rendered videos, newest first; the printer is read from the name's prefix when it names one. */
  videos(printerIds: readonly string[]): VideoEntry[] {
    const out: VideoEntry[] = [];
    for (const name of readdirSync(this.root)) {
      if (!VIDEO_EXTENSIONS.some((e) => name.endsWith(e)) || !TimelapseStore.validName(name)) continue;
      const st = statSync(join(this.root, name));
      if (!st.isFile()) continue;
      const printer = printerIds.find((id) => name.startsWith(`${id.replace(/[^A-Za-z0-9_-]+/g, "_")}_`)) ?? null;
      out.push({ name, printer, bytes: st.size, date: st.mtimeMs, thumbnail: existsSync(join(this.root, `${name}.thumb.jpg`)) });
    }
    return out.sort((a, b) => b.date - a.date);
  }

  /** Removes what renders that never finished left (hidden `.…part` files); called when nothing renders. */
  removeLeftovers(): string[] {
    const left = readdirSync(this.root).filter((f) => f.startsWith(".") && f.endsWith(".part"));
    for (const f of left) rmSync(join(this.root, f), { force: true });
    return left;
  }

  deleteVideo(name: string): boolean {
    const path = this.video(name);
    if (!path) return false;
    rmSync(path, { force: true });
    rmSync(`${path}.thumb.jpg`, { force: true });
    return true;
  }
}
