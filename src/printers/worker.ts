/**
 * Entry of a printer's Worker: one PrinterController per worker, driven by messages.
 * Built as its own entrypoint so the compiled binary can start it (see build.ts).
 */
import { refuseExits, survivePluginErrors } from "../plugins/exit-guard.ts";
import { WorkerPluginHost } from "../plugins/serial/worker-host.ts";
import { QuirksLibrary } from "../protocol/quirks-library.ts";
import { PrinterController } from "./controller.ts";
import { raisePrinterThread } from "./priority.ts";
import { coarseJobState } from "./status.ts";
import { StreamingFlag } from "./streaming-flags.ts";
import type { Result } from "./controller.ts";
import type { FromWorker, ToWorker } from "./worker-protocol.ts";

declare const self: Worker;

let controller: PrinterController | undefined;
const post = (msg: FromWorker) => self.postMessage(msg);
// Plugins with serial hooks run here, beside the serial path, never waiting on the main thread.
const plugins = new WorkerPluginHost((report) => post({ type: "plugin", report }));
// A plugin's process.exit() would end this thread and its print: refused, and the plugin's fault
// (also from its own timer, where nothing of the host catches the refusal, as is any other error
// the plugin's own timer leaves uncaught).
refuseExits({ runningNow: () => plugins.runningNow(), uncaught: (plugin, e) => plugins.uncaughtFrom(plugin, e), unattributed: (how, e) => plugins.unattributed(how, e) });
survivePluginErrors();

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const msg = event.data;
  switch (msg.type) {
    case "ping":
      post({ type: "pong" });
      return;
    case "init": {
      post({ type: "priority", nice: raisePrinterThread() });
      plugins.watchedThrough(msg.inPlugin);
      const streaming = new StreamingFlag(msg.streaming.flags, msg.streaming.slot);
      // The main thread already reported problems in these files when it loaded them.
      controller = new PrinterController({
        record: msg.record,
        library: new QuirksLibrary(msg.quirks),
        filesDir: msg.filesDir,
        virtual: msg.virtual,
        traceDir: msg.traceDir,
        extraPorts: msg.extraPorts,
        hooks: plugins,
        handoff: msg.handoff,
        publish: (out) => {
          // For the main thread's watchdog, which must not restart the host under a print.
          if (out.type === "status") streaming.update(out.status);
          post(out);
        },
      });
      const c = controller;
      plugins.attach({
        id: msg.record.id,
        name: msg.record.name,
        job: () => (c.status.job ? { file: c.status.job.file, state: coarseJobState(c.status.job.state) } : null),
        machine: () => c.machine,
      });
      return;
    }
    case "plugins":
      await plugins.update(msg.specs);
      return;
    case "call": {
      if (!controller) return;
      // A print must not start before the plugins named so far are in place.
      await plugins.ready;
      const fn = controller[msg.method] as (...args: unknown[]) => unknown;
      try {
        const result = await fn.apply(controller, msg.args);
        post({ type: "reply", id: msg.id, result: result as Result<unknown> });
      } catch (e) {
        // A bug, not bad input: report it instead of leaving the caller waiting forever.
        post({ type: "reply", id: msg.id, result: { ok: false, error: { code: "internal", message: (e as Error).message, hint: "This is a bug in Layerline; please report it with the log." } } });
      }
      return;
    }
    case "dispose":
      await controller?.dispose();
      post({ type: "disposed" });
      return;
  }
};
