/**
 * Messages between the main thread and a printer's Worker. Both sides are our code (inside the
 * validation edge), so plain types suffice; the controller's results already carry problems.
 */
import type { SerialPluginReport, SerialPluginSpec } from "../plugins/serial/protocol.ts";
import type { ControllerOutput, Result } from "./controller.ts";
import type { PrinterRecord } from "./record.ts";
import type { QuirksSource } from "../protocol/quirks-library.ts";
import type { VirtualPrinterOptionsInput } from "../virtual/options.ts";

/** The controller methods the main thread may call. */
export type ControllerMethod =
  | "connect"
  | "disconnect"
  | "send"
  | "emergencyStop"
  | "startJob"
  | "pauseJob"
  | "resumeJob"
  | "cancelJob"
  | "restartJob"
  | "cancelObject"
  | "adoptPlan"
  | "setScripts"
  | "setInterrupted"
  | "sdRefresh"
  | "sdPrint"
  | "sdDelete"
  | "sdUpload"
  | "answerPrompt"
  | "setWindow"
  | "replan"
  | "queryLimits"
  | "trace"
  | "adopt";

export interface WorkerInit {
  type: "init";
  record: PrinterRecord;
  quirks: QuirksSource[];
  filesDir: string;
  virtual?: VirtualPrinterOptionsInput;
  traceDir?: string;
  /** Terminals offered as serial ports besides the system's, e.g. /dev/printer* (see listSerialPorts). */
  extraPorts?: readonly string[];
  /** Shared with the main thread: which plugin's code runs now (see IN_PLUGIN_WHAT). */
  inPlugin: Int32Array;
  /** The host's streaming flags and this printer's slot: 1 while a print or upload streams (read by the main thread's watchdog). */
  streaming: { flags: Int32Array; slot: number };
  /** Where the thread leaves the link's state for one that may replace it (src/printers/handoff.ts). */
  handoff: SharedArrayBuffer;
}

export type ToWorker =
  | WorkerInit
  | { type: "call"; id: number; method: ControllerMethod; args: unknown[] }
  /** The plugins with serial hooks this Worker should run (the whole set, in order). */
  | { type: "plugins"; specs: SerialPluginSpec[] }
  /** The watchdog's question: the Worker answers "pong" at once unless something blocks its thread. */
  | { type: "ping" }
  | { type: "dispose" };

export type FromWorker =
  | ControllerOutput
  | { type: "reply"; id: number; result: Result<unknown> }
  | { type: "plugin"; report: SerialPluginReport }
  | { type: "pong" }
  /** The thread's nice value once it raised its priority as far as allowed (null: unknown). */
  | { type: "priority"; nice: number | null }
  | { type: "disposed" };
