/**
 * One upstream MJPEG connection per camera, fanned out to every viewer (webcam.md §5.3). The relay
 * parses the camera's frames and keeps only the newest; each viewer is sent the newest frame it has
 * not seen whenever it is ready for one, so a slow viewer skips frames instead of queueing them
 * (memory per viewer: one frame). Snapshots and timelapse captures take the newest frame too. The
 * upstream opens on first use and closes a grace period after its last user leaves, or when the
 * camera stops sending; its failures become a CameraProblem with words for people.
 */
import { boundaryOf, framePart, MjpegParser, StreamFormatError } from "./mjpeg.ts";
import { CAMERA_FETCH_HEADER, CameraProblem } from "./problem.ts";

export interface Frame {
  jpeg: Uint8Array;
  /** When it arrived (ms since the epoch). */
  at: number;
  /** 1, 2, 3… per relay. */
  seq: number;
}

export interface RelayOptions {
  /** How long the camera may take to answer (headers). */
  connectTimeoutMs?: number;
  /** No frame for this long ends the connection with a problem. */
  stallMs?: number;
  /** The upstream stays open this long after its last user, for the next page load. */
  graceMs?: number;
}

type Waiter = { after: number; resolve: (f: Frame) => void; reject: (e: CameraProblem) => void; timer: ReturnType<typeof setTimeout> };

export class CameraRelay {
  /** The newest frame of the open connection (null when closed: an old picture is no snapshot). */
  latest: Frame | null = null;
  private seq = 0;
  private abort: AbortController | null = null;
  private users = 0;
  private waiters = new Set<Waiter>();
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private stallTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly connectTimeoutMs: number;
  private readonly stallMs: number;
  private readonly graceMs: number;

  constructor(
    readonly url: string,
    options: RelayOptions = {},
  ) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.stallMs = options.stallMs ?? 10_000;
    this.graceMs = options.graceMs ?? 5000;
  }

  /** Whether the upstream connection is open (or opening). */
  get open(): boolean {
    return this.abort !== null;
  }

  get viewers(): number {
    return this.users;
  }

  /**
   * The first frame newer than `after` (a seq; 0 = any), opening the upstream if needed.
   * Rejects with a CameraProblem when the camera fails or sends nothing within `timeoutMs`.
   */
  next(after: number, timeoutMs: number): Promise<Frame> {
    if (this.latest && this.latest.seq > after) return Promise.resolve(this.latest);
    this.ensureOpen();
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        after,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(w);
          this.idleLater();
          reject(new CameraProblem("camera_timeout", `The camera sent no picture within ${Math.round(timeoutMs / 1000)} s.`, "Check that the streamer runs and that the stream URL is right; open it on this machine with curl to see what it answers."));
        }, timeoutMs),
      };
      this.waiters.add(w);
    });
  }

  /**
   * A viewer: the host's own MJPEG stream of this camera, which starts with the first frame and
   * ends when the camera fails, the viewer goes, or `allowed` (asked before each frame) says the
   * viewer may watch no longer. Wait for `next(0, …)` first to turn a camera that does not answer
   * into an error response rather than an empty stream.
   */
  viewer(allowed: () => boolean = () => true): ReadableStream<Uint8Array> {
    let last = 0;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.users--;
      this.idleLater();
    };
    this.users++;
    this.clearIdle();
    return new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          try {
            const f = await this.next(last, this.stallMs + this.connectTimeoutMs);
            if (!allowed()) throw new Error("no longer allowed");
            last = f.seq;
            controller.enqueue(framePart(f.jpeg, f.at));
          } catch {
            release();
            controller.close();
          }
        },
        cancel: release,
      },
      // One frame waits for a viewer at most; pull() is asked for the next only when it is taken.
      { highWaterMark: 1 },
    );
  }

  /** Closes the upstream and fails whoever waits. */
  stop(problem = new CameraProblem("camera_stopped", "The camera's connection was closed.", "Reload to connect again.")): void {
    this.clearIdle();
    this.clearStall();
    this.latest = null;
    const abort = this.abort;
    this.abort = null;
    abort?.abort();
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(problem);
    }
    this.waiters.clear();
  }

  private ensureOpen(): void {
    this.clearIdle();
    if (this.abort) return;
    const abort = new AbortController();
    this.abort = abort;
    void this.run(abort).catch((e: unknown) => {
      if (this.abort !== abort) return;
      this.stop(e instanceof CameraProblem ? e : CameraProblem.of(e, this.url));
    });
  }

  private async run(abort: AbortController): Promise<void> {
    const connectTimer = setTimeout(() => abort.abort(new CameraProblem("camera_timeout", `The camera did not answer within ${this.connectTimeoutMs / 1000} s.`, "Check that the streamer runs and that the stream URL (host and port) is right.")), this.connectTimeoutMs);
    let response: Response;
    try {
      response = await fetch(this.url, { signal: abort.signal, redirect: "follow", headers: { accept: "multipart/x-mixed-replace, image/jpeg, */*", [CAMERA_FETCH_HEADER]: "1" } });
    } catch (e) {
      throw abort.signal.reason instanceof CameraProblem ? abort.signal.reason : e;
    } finally {
      clearTimeout(connectTimer);
    }
    const problem = CameraProblem.ofResponse(response, "stream");
    if (problem) {
      await response.body?.cancel().catch(() => {});
      throw problem;
    }
    const parser = new MjpegParser(boundaryOf(response.headers.get("content-type")));
    this.armStall(abort);
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        if (this.abort !== abort) return;
        for (const jpeg of parser.push(chunk)) this.publish(jpeg, abort);
      }
    } catch (e) {
      if (this.abort !== abort) return;
      if (e instanceof StreamFormatError) throw new CameraProblem("camera_bad_stream", `${e.message}.`, "Check that the stream URL is an MJPEG stream (…?action=stream), not a page or a video.");
      throw abort.signal.reason instanceof CameraProblem ? abort.signal.reason : e;
    }
    if (this.abort === abort) throw new CameraProblem("camera_ended", "The camera ended its stream.", "Check the streamer; it may have been restarted or may serve one viewer only.");
  }

  private publish(jpeg: Uint8Array, abort: AbortController): void {
    this.latest = { jpeg, at: Date.now(), seq: ++this.seq };
    this.armStall(abort);
    for (const w of [...this.waiters]) {
      if (this.latest.seq <= w.after) continue;
      clearTimeout(w.timer);
      this.waiters.delete(w);
      w.resolve(this.latest);
    }
    this.idleLater();
  }

  private armStall(abort: AbortController): void {
    this.clearStall();
    this.stallTimer = setTimeout(() => abort.abort(new CameraProblem("camera_stalled", `The camera sent no picture for ${this.stallMs / 1000} s.`, "Check the camera and the streamer.")), this.stallMs);
  }

  private clearStall(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
  }

  /** With no viewer and nobody waiting, close after the grace period. */
  private idleLater(): void {
    if (!this.abort || this.users > 0 || this.waiters.size > 0 || this.idleTimer) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.users === 0 && this.waiters.size === 0) this.stop();
    }, this.graceMs);
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}
