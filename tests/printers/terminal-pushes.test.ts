/**
 * The terminal's share of the status pushes: a fast print records thousands of lines a second, and
 * every browser and app gets every push, so each carries at most the latest 50 lines and a line
 * saying how many it left out; the counts add up to every line recorded.
 */
import { expect, test } from "bun:test";
import { dirname } from "node:path";
import { PrinterController, type LogLine } from "../../src/printers/controller.ts";
import { loadQuirkSources } from "../../src/printers/quirks-sources.ts";
import { isJobRunning } from "../../src/printers/status.ts";
import { clean } from "../../src/protocol/framing.ts";
import { QuirksLibrary } from "../../src/protocol/quirks-library.ts";

const TORUS = new URL("../fixtures/ps25_ender3_torus_0.20normal_pla.gcode", import.meta.url).pathname;

test("a fast print: each push has at most the latest 50 terminal lines and says how many more there were", async () => {
  const pushes: LogLine[][] = [];
  const controller = new PrinterController({
    record: { id: "t", name: "t", transport: "virtual", port: null, baud: 115200, window: 1, autoconnect: true, isDefault: true, createdAt: 0 },
    library: new QuirksLibrary((await loadQuirkSources(undefined)).sources),
    filesDir: dirname(TORUS),
    virtual: { timeScale: 0 },
    publish: (out) => {
      if (out.type === "log") pushes.push(out.lines);
    },
  });
  expect((await controller.connect()).ok).toBe(true);
  for (let i = 0; i < 200 && controller.status.state !== "operational"; i++) await Bun.sleep(10);
  expect((await controller.startJob("ps25_ender3_torus_0.20normal_pla.gcode")).ok).toBe(true);
  for (let i = 0; i < 3000 && isJobRunning(controller.status.job?.state); i++) await Bun.sleep(10);
  expect(controller.status.job?.state).toBe("done");
  await Bun.sleep(400); // the last push
  await controller.disconnect();

  let recorded = 0;
  let cut = 0;
  for (const lines of pushes) {
    const note = /^… ([\d,]+) lines not shown \(the flight recorder has every line\)$/.exec(lines[0]!.text);
    const left = note && lines[0]!.dir === "info" ? Number(note[1]!.replaceAll(",", "")) : 0;
    const shown = lines.length - (left ? 1 : 0);
    expect(shown).toBeLessThanOrEqual(50);
    if (left) {
      cut++;
      expect(shown).toBe(50); // only a full push leaves lines out
    }
    recorded += shown + left;
  }
  expect(cut).toBeGreaterThan(0);
  // Every line of the file went out and was answered: at least two recorded lines each.
  const fileLines = (await Bun.file(TORUS).text()).split("\n").filter((l) => clean(l) !== "").length;
  expect(recorded).toBeGreaterThanOrEqual(2 * fileLines);
  // Not every line reached the terminal (the pushes were cut), yet the counts add up.
  const sent = pushes.flat().filter((l) => l.dir === "send").map((l) => l.text);
  expect(sent.length).toBeLessThan(fileLines);
}, 60_000);
