/**
 * The controls service on a real sqlite file: the definition survives a restart, a stored row that
 * no longer passes the checks is ignored with a warning (never a broken page), and read-outs follow
 * each printer's received lines from the bus — sent lines and other printers' lines aside.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlsService } from "../../src/controls/service.ts";
import { EXAMPLE_CONTROLS, readouts } from "../../src/controls/model.ts";
import { openDatabase } from "../../src/db/database.ts";
import { createBus } from "../../src/events.ts";

const dirs: string[] = [];
const dataDir = () => {
  const d = mkdtempSync(join(tmpdir(), "layerline-controls-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

test("saved controls are there after a restart; a stored row that fails the checks is ignored with a warning", () => {
  const dir = dataDir();
  let db = openDatabase(dir);
  new ControlsService({ db, bus: createBus() }).save(EXAMPLE_CONTROLS);
  db.close();
  db = openDatabase(dir);
  expect(new ControlsService({ db, bus: createBus() }).list()).toEqual(EXAMPLE_CONTROLS);
  db.query("UPDATE custom_controls SET definition = ? WHERE id = 1").run(JSON.stringify([{ name: "Slow", regex: "(a+)+$", template: "{0}" }]));
  const warnings: string[] = [];
  const service = new ControlsService({ db, bus: createBus(), log: (l) => warnings.push(l) });
  expect(service.list()).toEqual([]);
  expect(warnings).toEqual([expect.stringContaining("the stored custom controls are not valid and are ignored (controls[0].regex: it repeats a group")]);
  db.close();
});

test("read-outs follow each printer's received lines on the bus, and changes are announced once", () => {
  const db = openDatabase(dataDir());
  const bus = createBus();
  const service = new ControlsService({ db, bus, now: () => 1000 });
  service.save(EXAMPLE_CONTROLS);
  service.start();
  const announced: unknown[] = [];
  bus.on("controls.output", (e) => announced.push(e));
  const [position] = readouts(EXAMPLE_CONTROLS);
  bus.emit("printer.log", { id: "a", lines: [{ t: 1, dir: "send", text: "X:9 Y:9 Z:9" }, { t: 1, dir: "recv", text: "X:1.00 Y:2.00 Z:3.00 E:0.00" }] });
  bus.emit("printer.log", { id: "a", lines: [{ t: 2, dir: "recv", text: "X:1.00 Y:2.00 Z:3.00 E:0.00" }] });
  bus.emit("printer.log", { id: "b", lines: [{ t: 2, dir: "recv", text: "X:5.00 Y:5.00 Z:5.00" }] });
  expect(announced).toEqual([
    { printer: "a", key: position!.key, text: "Position: X=1.00 Y=2.00 Z=3.00" },
    { printer: "b", key: position!.key, text: "Position: X=5.00 Y=5.00 Z=5.00" },
  ]);
  expect(service.outputs("a")).toEqual({ [position!.key]: "Position: X=1.00 Y=2.00 Z=3.00" });
  expect(service.outputs("c")).toEqual({ [position!.key]: "" });
  expect(service.octoprintFeedback(position!.key, "t")).toEqual({ name: position!.octoprint.key, output: { [position!.octoprint.templateKey]: "t" } });
  service.stop();
  bus.emit("printer.log", { id: "a", lines: [{ t: 3, dir: "recv", text: "X:7.00 Y:7.00 Z:7.00" }] });
  expect(announced).toHaveLength(2);
  db.close();
});
