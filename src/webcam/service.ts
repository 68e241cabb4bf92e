/**
 * The host's cameras: each printer's camera config, one relay per camera stream, and snapshots
 * (the stream's newest frame when it is fresh, else the snapshot URL, else a frame from the
 * stream). Snapshots asked for while one is being fetched share that fetch, so pollers (apps,
 * dashboards, the timelapse) never cost the camera more than one request at a time. Only
 * configured URLs are ever fetched: the host is no general URL fetcher (§6).
 */
import type { SettingsStore } from "../db/settings.ts";
import { readLimited, TooLargeError } from "../read-limited.ts";
import { hasCamera, readCamera, writeCamera, type Camera, type CameraPatch } from "./camera.ts";
import { MAX_FRAME_BYTES } from "./mjpeg.ts";
import { CAMERA_FETCH_HEADER, CameraProblem } from "./problem.ts";
import { CameraRelay, type RelayOptions } from "./relay.ts";

export interface Snapshot {
  jpeg: Uint8Array;
  contentType: string;
  at: number;
}

export interface WebcamOptions extends RelayOptions {
  /** A frame of an open stream younger than this serves as a snapshot. */
  freshMs?: number;
  /** How long a snapshot may take. */
  snapshotTimeoutMs?: number;
}

export class WebcamService {
  private relays = new Map<string, CameraRelay>();
  /** Snapshot fetches under way, by snapshot URL. */
  private fetching = new Map<string, Promise<Snapshot>>();
  private readonly freshMs: number;
  private readonly snapshotTimeoutMs: number;

  constructor(
    private readonly settings: SettingsStore,
    private readonly options: WebcamOptions = {},
  ) {
    this.freshMs = options.freshMs ?? 2000;
    this.snapshotTimeoutMs = options.snapshotTimeoutMs ?? 5000;
  }

  camera(printerId: string): Camera {
    return readCamera(this.settings, printerId);
  }

  /** Stores a change; an open stream of the old URL is closed (its viewers reconnect to the new one). */
  configure(printerId: string, patch: CameraPatch): Camera {
    const camera = { ...this.camera(printerId), ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) } as Camera;
    writeCamera(this.settings, printerId, camera);
    const relay = this.relays.get(printerId);
    if (relay && relay.url !== camera.streamUrl) {
      relay.stop();
      this.relays.delete(printerId);
    }
    return camera;
  }

  /** The relay of the printer's stream (opened on first use). */
  relay(printerId: string): CameraRelay {
    const { streamUrl } = this.camera(printerId);
    if (streamUrl === "") throw noStream();
    let relay = this.relays.get(printerId);
    if (!relay || relay.url !== streamUrl) {
      relay?.stop();
      relay = new CameraRelay(streamUrl, this.options);
      this.relays.set(printerId, relay);
    }
    return relay;
  }

  /**
   * A viewer's stream of the printer's camera, once the camera has sent its first frame (so a
   * camera that is down is an error answer, not an empty picture); it ends when `allowed` says no.
   */
  async stream(printerId: string, allowed?: () => boolean): Promise<ReadableStream<Uint8Array>> {
    const relay = this.relay(printerId);
    const stream = relay.viewer(allowed);
    try {
      await relay.next(0, this.options.connectTimeoutMs ?? 5000);
    } catch (e) {
      await stream.cancel();
      throw e;
    }
    return stream;
  }

  /** One picture of the printer's camera now. */
  async snapshot(printerId: string): Promise<Snapshot> {
    const camera = this.camera(printerId);
    if (!hasCamera(camera)) throw new CameraProblem("no_camera", "This printer has no camera set up.", "Add its stream or snapshot URL under the printer's Camera settings.");
    const relay = camera.streamUrl !== "" ? this.relays.get(printerId) : undefined;
    const latest = relay?.url === camera.streamUrl ? relay.latest : null;
    if (latest && Date.now() - latest.at <= this.freshMs) return { jpeg: latest.jpeg, contentType: "image/jpeg", at: latest.at };
    if (camera.snapshotUrl !== "") return this.fetchShared(camera.snapshotUrl);
    const frame = await this.relay(printerId).next(latest?.seq ?? 0, this.snapshotTimeoutMs);
    return { jpeg: frame.jpeg, contentType: "image/jpeg", at: frame.at };
  }

  /** The picture of a fetch of `url` under way, else of a new one. */
  private fetchShared(url: string): Promise<Snapshot> {
    const under = this.fetching.get(url);
    if (under) return under;
    const shot = fetchSnapshot(url, this.snapshotTimeoutMs).finally(() => {
      if (this.fetching.get(url) === shot) this.fetching.delete(url);
    });
    this.fetching.set(url, shot);
    return shot;
  }

  /** Closes every camera connection (host stop). */
  stop(): void {
    for (const r of this.relays.values()) r.stop();
    this.relays.clear();
  }
}

const noStream = () => new CameraProblem("no_camera", "This printer has no camera stream set up.", "Add its stream URL (e.g. http://127.0.0.1:8080/?action=stream) under the printer's Camera settings.");

/** GET of a snapshot URL with a timeout, refusing what is not a picture or too big. */
async function fetchSnapshot(url: string, timeoutMs: number): Promise<Snapshot> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const response = await fetch(url, { signal: abort.signal, headers: { accept: "image/jpeg, image/*", [CAMERA_FETCH_HEADER]: "1" } });
    const problem = CameraProblem.ofResponse(response, "snapshot");
    if (problem) {
      await response.body?.cancel().catch(() => {});
      throw problem;
    }
    const jpeg = await readLimited(response, MAX_FRAME_BYTES).catch((e: unknown) => {
      if (e instanceof TooLargeError) throw new CameraProblem("camera_bad_stream", `The snapshot is too big (${e.message}).`, "Check that the snapshot URL answers one picture (for mjpg-streamer and µStreamer: /?action=snapshot).");
      throw e;
    });
    // Only a JPEG is passed on: whatever else a URL answers (a page, a file, an SVG with a script)
    // must not reach viewers through the host, nor a timelapse's frames.
    if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8 || jpeg[2] !== 0xff) {
      const type = response.headers.get("content-type")?.split(";")[0];
      throw new CameraProblem("camera_bad_stream", `The snapshot URL answered ${type ? `with ${type} that is` : "something"} not a JPEG picture.`, "Check the snapshot URL (for mjpg-streamer and µStreamer: /?action=snapshot).");
    }
    return { jpeg, contentType: "image/jpeg", at: Date.now() };
  } catch (e) {
    if (e instanceof CameraProblem) throw e;
    if (abort.signal.aborted) throw new CameraProblem("camera_timeout", `The camera's snapshot took longer than ${timeoutMs / 1000} s.`, "Check that the streamer runs and that the snapshot URL is right.");
    throw CameraProblem.of(e, url);
  } finally {
    clearTimeout(timer);
  }
}

