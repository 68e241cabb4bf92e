/**
 * The host's internal bus (whose payloads change as the host does) translated into the plugin
 * API's events (which stay as documented for the API's major version). Only events some plugin
 * listens to are translated.
 */
import { subscribe, type Bus } from "../events.ts";
import type { PrinterManager } from "../printers/manager.ts";
import type { PrinterState } from "../printers/status.ts";
import { printerInfo, type PluginBus } from "./host-api.ts";

/** Forwards until the returned function is called. */
export function bridgeEvents(bus: Bus, plugins: PluginBus, printers: PrinterManager): () => void {
  const lastState = new Map<string, PrinterState>();
  const listened = (name: string) => (plugins.all.get(name as never)?.length ?? 0) > 0;
  return subscribe(bus, {
    "printer.status": ({ id, status }) => {
      const previous = lastState.get(id);
      lastState.set(id, status.state);
      if (previous !== undefined && previous !== status.state && listened("printer.state")) {
        plugins.emit("printer.state", { printer: id, state: status.state, previous });
      }
      const session = printers.get(id);
      if (session && listened("printer.status")) plugins.emit("printer.status", { printer: printerInfo({ record: session.record, status }) });
    },
    "printer.event": ({ id, event }) => {
      switch (event.type) {
        case "job":
          plugins.emit("job", { printer: id, file: event.file, state: event.state, reason: event.reason ?? null });
          return;
        case "notice":
          plugins.emit("printer.notice", { printer: id, level: event.level, message: event.message });
          return;
        case "firmwareError":
          plugins.emit("printer.firmwareError", { printer: id, text: event.text });
          return;
      }
    },
    "files.changed": () => plugins.emit("files.changed", {}),
    "analysis.finished": ({ path, ok, error }) => plugins.emit("analysis.finished", { path, ok, error: error ?? null }),
  });
}
