/**
 * Rendering frame sets into videos with ffmpeg (webcam.md §4.5): one render at a time for the whole
 * host, at the lowest CPU priority, postponed while a printer prints when its settings say so;
 * written under a hidden temporary name and renamed when ffmpeg succeeded; a thumbnail from the
 * last second; progress from `-progress pipe:1`. Without ffmpeg the frames stay and the set says
 * how to install it. The argument list and the progress parsing are pure.
 */
import { existsSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Bus, Events } from "../events.ts";
import { FRAME_PATTERN, type SetMeta, type TimelapseStore } from "./store.ts";

export const FFMPEG_MISSING = "ffmpeg is not installed, so timelapses cannot be rendered (the frames are kept). Install it with `sudo apt-get install ffmpeg`, then render them from the Timelapse page.";

/** The video filters for a set: even sizes for H.264, the camera's flips and turn, the post-roll, yuv420p. */
export function renderFilters(meta: Pick<SetMeta, "flipH" | "flipV" | "rotate" | "postRoll">): string {
  const f = ["scale=trunc(iw/2)*2:trunc(ih/2)*2"];
  if (meta.flipH) f.push("hflip");
  if (meta.flipV) f.push("vflip");
  // Clockwise degrees: transpose=1 turns 90° clockwise, 2 counter-clockwise.
  if (meta.rotate === 90) f.push("transpose=1");
  if (meta.rotate === 180) f.push("hflip", "vflip");
  if (meta.rotate === 270) f.push("transpose=2");
  if (meta.postRoll > 0) f.push(`tpad=stop_mode=clone:stop_duration=${meta.postRoll}`);
  f.push("format=yuv420p");
  return f.join(",");
}

/** ffmpeg's arguments to render the frames in `dir` into `out` (an mp4). */
export function renderArgs(ffmpeg: string, dir: string, meta: SetMeta, out: string): string[] {
  return [
    ffmpeg, "-hide_banner", "-nostats", "-loglevel", "error", "-progress", "pipe:1", "-y",
    "-framerate", String(meta.fps), "-start_number", "1", "-i", join(dir, FRAME_PATTERN),
    "-vf", renderFilters(meta),
    "-c:v", "libx264", "-preset", "veryfast", "-threads", "1", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
    "-f", "mp4", out,
  ];
}

/** The frames ffmpeg reports done in a chunk of its `-progress` output (the last `frame=`), or null. */
export function framesDone(text: string): number | null {
  const all = [...text.matchAll(/^frame=(\d+)$/gm)];
  return all.length ? Number(all[all.length - 1]![1]) : null;
}

export interface RenderStatus {
  /** The set being rendered and how far (0–100), or null. */
  current: { set: string; progress: number } | null;
  queued: string[];
  /** Whether ffmpeg is there at all. */
  ffmpeg: boolean;
  /** Why the queue waits (a printer prints), or null. */
  waiting: string | null;
}

export interface RendererOptions {
  store: TimelapseStore;
  /** Whether a render of this set has to wait now (a printer prints and its settings say wait). */
  postponed: (meta: SetMeta) => boolean;
  /** ffmpeg's path (default: found on PATH); null = none. */
  ffmpeg?: string | null;
  log?: (line: string) => void;
  /** How often a postponed queue looks again. */
  recheckMs?: number;
  /** Where renders are announced (`timelapse.event`). */
  bus?: Bus;
  /** A render ended: the video's name, or the set's problem. */
  finished?: (set: string, result: { video: string } | { error: string }) => void;
}

export class Renderer {
  private queue: string[] = [];
  private current: { set: string; progress: number; proc: Bun.Subprocess | null } | null = null;
  private waiting: string | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private readonly ffmpeg: string | null;

  constructor(private readonly options: RendererOptions) {
    this.ffmpeg = options.ffmpeg === undefined ? Bun.which("ffmpeg") : options.ffmpeg;
  }

  get available(): boolean {
    return this.ffmpeg !== null;
  }

  status(): RenderStatus {
    return { current: this.current ? { set: this.current.set, progress: this.current.progress } : null, queued: [...this.queue], ffmpeg: this.available, waiting: this.waiting };
  }

  /** Whether a set is queued or rendering. */
  busyWith(set: string): boolean {
    return this.current?.set === set || this.queue.includes(set);
  }

  enqueue(set: string): void {
    if (this.busyWith(set)) return;
    this.queue.push(set);
    this.pump();
  }

  /** Takes a set out of the queue (it is being deleted); a running render of it is stopped. */
  forget(set: string): void {
    this.queue = this.queue.filter((s) => s !== set);
    if (this.current?.set === set) this.current.proc?.kill();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.current?.proc?.kill();
  }

  private pump(): void {
    if (this.current || this.stopped || this.timer) return;
    const set = this.queue[0];
    if (!set) {
      this.waiting = null;
      return;
    }
    const meta = this.options.store.meta(set);
    if (!meta) {
      this.queue.shift();
      return this.pump();
    }
    if (this.options.postponed(meta)) {
      this.waiting = "A printer is printing: rendering waits until no printer prints.";
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, this.options.recheckMs ?? 2000);
      return;
    }
    this.waiting = null;
    this.queue.shift();
    this.current = { set, progress: 0, proc: null };
    const event = (e: Omit<Events["timelapse.event"], "printer" | "set">) => this.options.bus?.emit("timelapse.event", { printer: meta.printer, set, file: meta.file, ...e });
    event({ kind: "rendering" });
    void this.render(set, meta, (progress) => event({ kind: "progress", progress }))
      .then((result) => {
        // The host stopped and killed ffmpeg: no failure of the set; the next start renders it.
        if (this.stopped) return;
        event("error" in result ? { kind: "render-failed", error: result.error } : { kind: "rendered", video: result.video });
        if ("error" in result) {
          this.options.store.updateMeta(set, () => ({ renderError: result.error }));
          this.options.log?.(`timelapse ${set}: ${result.error}`);
        }
        this.options.finished?.(set, result);
      })
      .finally(() => {
        this.current = null;
        this.pump();
      });
  }

  private async render(set: string, meta: SetMeta, progressed: (percent: number) => void): Promise<{ video: string } | { error: string }> {
    const { store } = this.options;
    if (!this.ffmpeg) return { error: FFMPEG_MISSING };
    const frames = store.frameCount(set);
    if (frames === 0) return { error: "The set has no frames to render: the camera gave no picture during the print." };
    const video = `${set}${meta.result === "done" || meta.result === "recording" ? "" : "-fail"}.mp4`;
    const out = store.videoPath(video);
    const part = join(store.root, `.${video}.part`);
    const total = frames + Math.round(meta.postRoll * meta.fps);
    const args = renderArgs(this.ffmpeg, store.setDir(set), meta, part);
    // Lowest priority: a render must never take the CPU the printers' threads need.
    const nice = Bun.which("nice");
    const proc = Bun.spawn(nice ? [nice, "-n", "19", ...args] : args, { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    this.current!.proc = proc;
    const stderr = new Response(proc.stderr).text();
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout as unknown as AsyncIterable<Uint8Array>) {
      const done = framesDone(decoder.decode(chunk, { stream: true }));
      const percent = done === null ? null : Math.min(99, Math.round((done / total) * 100));
      if (percent !== null && this.current && percent !== this.current.progress) progressed((this.current.progress = percent));
    }
    const code = await proc.exited;
    if (code !== 0 || !existsSync(part)) {
      rmSync(part, { force: true });
      const why = (await stderr).trim().split("\n").slice(-3).join(" ");
      return { error: `ffmpeg could not render the timelapse (exit ${code}${why ? `: ${why}` : ""}). The frames are kept; render them again from the Timelapse page.` };
    }
    renameSync(part, out);
    // The thumbnail is a nicety: a failure leaves the video without one.
    const thumb = Bun.spawn([this.ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-sseof", "-1", "-i", out, "-update", "1", "-frames:v", "1", "-q:v", "3", `${out}.thumb.jpg`], { stdout: "ignore", stderr: "ignore" });
    await thumb.exited;
    if (this.current) this.current.progress = 100;
    store.deleteSet(set);
    return { video };
  }
}
