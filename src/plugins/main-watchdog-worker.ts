/**
 * Entry of the main thread's watchdog Worker (see main-thread-watch.ts): reads the main thread's
 * beat once a second; when it has stopped for the configured time while a plugin's code runs,
 * writes the plugin down, waits for running prints and uploads to end, and starts Layerline again
 * in place. Built as its own entrypoint so the compiled binary can start it (see build.ts).
 */
import { endedState, STREAMING, type EndedState } from "../printers/streaming-flags.ts";
import { closeOnExecAll, execve } from "../update/exec.ts";
import { BEAT, MAIN_WHAT, PLUGIN, WHAT, writeHungRecord, type ToWatchdog } from "./main-thread-watch.ts";

declare const self: Worker;

const CHECK_MS = 1000;
let ids: string[] = [];
let slots: (string | null)[] = [];

self.onmessage = (event: MessageEvent<ToWatchdog>) => {
  const msg = event.data;
  if (msg.type === "plugins") ids = [...msg.ids];
  else if (msg.type === "printers") slots = [...msg.slots];
  else watch(msg);
};

function watch(init: Extract<ToWatchdog, { type: "init" }>): void {
  let beat = Atomics.load(init.shared, BEAT);
  let beatAt = Date.now();
  let reported = false;
  let toldWaiting = false;
  let written = "";
  setInterval(() => {
    const now = Date.now();
    const current = Atomics.load(init.shared, BEAT);
    if (current !== beat) {
      beat = current;
      beatAt = now;
      reported = toldWaiting = false;
      return;
    }
    const seconds = Math.round((now - beatAt) / 1000);
    if (now - beatAt < init.stuckMs) return;
    const tag = Atomics.load(init.shared, PLUGIN);
    const plugin = tag > 0 ? ids[tag - 1] : undefined;
    if (!plugin) {
      if (!reported) console.error(`layerline: the main thread (web interface, API) has not answered for ${seconds} s, outside any plugin's code; prints go on in their own threads.`);
      reported = true;
      return;
    }
    const what = MAIN_WHAT[Atomics.load(init.shared, WHAT)] || "code";
    // Kept current while stuck: prints that end meanwhile were never seen ending by the main
    // thread, and the next start (this watchdog's, or one by hand) must know how they ended.
    const ended = endedPrints(init.streaming);
    if (!reported || JSON.stringify(ended) !== written) {
      writeHungRecord(init.dataDir, { plugin, what, seconds, at: now, ended });
      written = JSON.stringify(ended);
    }
    if (!reported) {
      console.error(`layerline: the plugin ${plugin} has not returned from its ${what} for ${seconds} s, which stops the web interface and the API; it will be disabled when Layerline starts again.`);
      reported = true;
    }
    if (streams(init.streaming)) {
      if (!toldWaiting) console.error("layerline: a print or an upload is running; Layerline starts again once it has ended.");
      toldWaiting = true;
      return;
    }
    if (!init.restart) return;
    console.error("layerline: starting again without that plugin.");
    closeOnExecAll();
    // The data folder's lock goes on to the new start (src/host-lock.ts).
    const failed = execve(init.restart.execPath, init.restart.argv, process.env, init.restart.carry);
    console.error(`layerline: could not start again (${failed}); restart Layerline yourself — the plugin will be disabled then.`);
    init.restart = null;
  }, CHECK_MS);
}

/** Whether some printer streams a print or an upload now (each printer's Worker sets its flag). */
function streams(flags: Int32Array): boolean {
  for (let i = 0; i < flags.length; i++) if (Atomics.load(flags, i) === STREAMING) return true;
  return false;
}

function endedPrints(flags: Int32Array): { printer: string; state: EndedState }[] {
  const out: { printer: string; state: EndedState }[] = [];
  slots.forEach((printer, slot) => {
    const state = endedState(Atomics.load(flags, slot));
    if (printer && state) out.push({ printer, state });
  });
  return out;
}
