/**
 * The layer viewer's reading side, on the main thread: a file's layers from its stored analysis
 * (each with its byte offset and the machine state where it starts), and one layer read from disk
 * and parsed (`toolpath.ts`). Bounded per request: a layer is read whole up to MAX_LAYER_BYTES; a
 * larger one (vase mode, where one "layer" can be the whole file) is drawn from SAMPLES windows
 * spread over it. The last few layers parsed are kept, already decimated.
 */
import type { AnalysisResult } from "../analysis/result.ts";
import type { AnalysisStore } from "../analysis/store.ts";
import type { Bus } from "../events.ts";
import { decimate, parseToolpath, type Toolpath, type Window } from "./toolpath.ts";

/** Bytes of a layer read at most per request (about 20–40 ms of parsing on a small machine). */
export const MAX_LAYER_BYTES = 2 * 1024 * 1024;
/** Windows a larger layer is drawn from. */
export const SAMPLES = 8;
/** Points drawn at most per layer: extrusions and travel moves (the SVG stays a few hundred kB at most). */
export const EXTRUSION_POINTS = 12_000;
export const TRAVEL_POINTS = 4_000;

const FILES_KEPT = 4;
const LAYERS_KEPT = 12;

/** What the viewer needs of a file's analysis. */
export interface FileLayers {
  sha256: string;
  /** The file's size when analysed. */
  bytes: number;
  layers: AnalysisResult["layers"];
  layerSource: AnalysisResult["layerSource"];
  estimatedTime: number;
  printingArea: AnalysisResult["printingArea"];
  /** The slicer's nozzle, mm, if it said. */
  nozzle: number | null;
}

/** One layer, parsed. */
export interface LayerPath {
  toolpath: Toolpath;
  /** The layer's bytes, and whether it was drawn from samples of them. */
  bytes: number;
  sampled: boolean;
}

/** A byte range of the file to read, as a `Window` once read. */
export interface Range {
  from: number;
  to: number;
  resync: boolean;
  final: boolean;
}

/**
 * The byte ranges to read for the layer [start, end): all of it when small enough, else SAMPLES
 * windows spread evenly, the first at the layer's start (where its recorded state holds), the
 * last ending at its end.
 * Example: `layerRanges(0, 100)` is `[{ from: 0, to: 100, resync: false, final: true }]`.
 */
export function layerRanges(start: number, end: number, max = MAX_LAYER_BYTES, samples = SAMPLES): Range[] {
  const length = Math.max(0, end - start);
  if (length <= max) return [{ from: start, to: end, resync: false, final: true }];
  const size = Math.floor(max / samples);
  const ranges: Range[] = [];
  // Evenly spaced: the first at the start, the last ending at the end.
  for (let k = 0; k < samples; k++) {
    const from = start + Math.floor((k * (length - size)) / (samples - 1));
    ranges.push({ from, to: from + size, resync: k > 0, final: from + size === end });
  }
  return ranges;
}

/** The byte range [start, end) of layer `index` (0-based) of a file of `bytes` bytes. */
export function layerSpan(layers: FileLayers["layers"], index: number, bytes: number): [number, number] {
  return [layers[index]!.offset, layers[index + 1]?.offset ?? bytes];
}

export class LayerReader {
  private readonly files = new Map<string, FileLayers>();
  private readonly paths = new Map<string, Promise<LayerPath>>();

  constructor(
    private readonly store: AnalysisStore,
    bus: Bus,
  ) {
    // A file analysed again may have other layers (another analyser, other limits: other times).
    bus.on("analysis.finished", () => {
      this.files.clear();
      this.paths.clear();
    });
  }

  /** The layers of the content `sha256`, undefined while it has no (current) analysis. */
  layers(sha256: string): FileLayers | undefined {
    const kept = this.files.get(sha256);
    if (kept) return kept;
    const r = this.store.result(sha256);
    if (!r) return undefined;
    const view: FileLayers = {
      sha256,
      bytes: r.bytes,
      layers: r.layers,
      layerSource: r.layerSource,
      estimatedTime: r.estimatedTime,
      printingArea: r.printingArea,
      nozzle: r.slicer.nozzleDiameter,
    };
    keep(this.files, sha256, view, FILES_KEPT);
    return view;
  }

  /** Layer `index` (0-based) of the file at `absolute` (whose content is `file.sha256`), parsed and decimated. */
  path(absolute: string, file: FileLayers, index: number): Promise<LayerPath> {
    const key = `${file.sha256} ${index}`;
    const kept = this.paths.get(key);
    if (kept) {
      // Most recently used last: the oldest is dropped first.
      this.paths.delete(key);
      this.paths.set(key, kept);
      return kept;
    }
    const read = readLayer(absolute, file, index);
    keep(this.paths, key, read, LAYERS_KEPT);
    // A failed read (the file vanished) is not kept.
    read.catch(() => this.paths.get(key) === read && this.paths.delete(key));
    return read;
  }
}

async function readLayer(absolute: string, file: FileLayers, index: number): Promise<LayerPath> {
  const [start, end] = layerSpan(file.layers, index, file.bytes);
  const ranges = layerRanges(start, end);
  const handle = Bun.file(absolute);
  const windows: Window[] = [];
  for (const r of ranges) windows.push({ bytes: await handle.slice(r.from, r.to).bytes(), offset: r.from, resync: r.resync, final: r.final });
  const toolpath = decimate(parseToolpath(windows, file.layers[index]!.start), EXTRUSION_POINTS, TRAVEL_POINTS);
  return { toolpath, bytes: end - start, sampled: ranges.length > 1 };
}

function keep<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.set(key, value);
  while (map.size > max) map.delete(map.keys().next().value!);
}
