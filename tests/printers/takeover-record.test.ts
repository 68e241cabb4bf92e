/**
 * What a printer's thread leaves for the thread that replaces it (handoff.ts) when a plugin's
 * receive hook never returns, on the real serial path: the controller on one end of a socat pty
 * pair, the test playing a Marlin with ADVANCED_OK on the other (so it decides exactly which
 * replies arrive in one read). Several answers come in one read and the hook hangs on a later one
 * of them: the record must count the answers taken before it, or the new thread would wait for
 * answers already given (and take the next ones for the wrong lines).
 *
 * A hook that really never returned would block this test's own thread; the record it would leave
 * is the one read when the hook is entered — the stopped thread writes nothing after that.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LineHooks } from "../../src/plugins/serial/pipeline.ts";
import { sentLines } from "../../src/printers/continuation.ts";
import { PrinterController } from "../../src/printers/controller.ts";
import { handoffBuffer, readHandoff, type Handoff } from "../../src/printers/handoff.ts";
import { loadQuirkSources } from "../../src/printers/quirks-sources.ts";
import { unframe } from "../../src/protocol/framing.ts";
import { QuirksLibrary } from "../../src/protocol/quirks-library.ts";
import { SerialTransport } from "../../src/transport/serial.ts";
import { createPtyPair, type PtyPair } from "../helpers/pty.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The file: G1 lines, so the job's lines are told apart from the host's own (polls, connect sequence). */
const GCODE = Array.from({ length: 40 }, (_, i) => `G1 X${i + 1} F3000`).join("\n") + "\n";
/** The answers held back and then written in one go. */
const HELD = 3;

test("several answers in one read, the receive hook hung on the last: the record holds the answers taken before it", async () => {
  const pty: PtyPair = await createPtyPair();
  cleanups.push(() => pty.close());
  const dir = mkdtempSync(join(tmpdir(), "layerline-takeover-record-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "job.gcode"), GCODE);

  // The printer: every line answered at once (`ok N<n> P15 B3`), except from the job's fifth G1
  // line on, where answers are held until HELD are owed and then written in one write.
  const printer = new SerialTransport({ path: pty.device, baudRate: 250_000 });
  const encoder = new TextEncoder();
  let pending = "";
  let g1 = 0;
  let held: string[] = [];
  let heldDone = false;
  /** The reply the hook hangs on, and the line numbers whose answers went out in the same write. */
  let target: { reply: string; before: number[]; n: number } | undefined;
  const answer = (line: string): string => {
    const u = unframe(line);
    const n = u.lineNumber;
    const ok = n === undefined ? "ok P15 B3" : `ok N${n} P15 B3`;
    if (u.command.startsWith("M115")) return `FIRMWARE_NAME:Marlin 2.1.2.1 (Github) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 MACHINE_TYPE:Test EXTRUDER_COUNT:1\nCap:ADVANCED_OK:1\n${ok}\n`;
    if (u.command.startsWith("M105")) return `${ok} T:20.0 /0.0 B:20.0 /0.0 @:0 B@:0\n`;
    return `${ok}\n`;
  };
  await printer.open({
    data(chunk) {
      pending += new TextDecoder().decode(chunk);
      let at: number;
      while ((at = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, at);
        pending = pending.slice(at + 1);
        const reply = answer(line);
        if (unframe(line).command.startsWith("G1 ")) g1++;
        if (!heldDone && g1 >= 5) {
          held.push(reply);
          if (held.length === HELD) {
            heldDone = true;
            const numbers = held.map((r) => Number(/^ok N(\d+)/.exec(r)![1]));
            target = { reply: held[HELD - 1]!.trimEnd(), before: numbers.slice(0, -1), n: numbers[HELD - 1]! };
            void printer.write(encoder.encode(held.join("")));
          }
          continue;
        }
        void printer.write(encoder.encode(reply));
      }
    },
    closed() {},
  });
  cleanups.push(() => printer.close());

  // A plugin's receive hook that "hangs" on the target reply: the record as it stands then.
  const buffer = handoffBuffer();
  let left: Handoff | undefined;
  const hooks: LineHooks = {
    hooks: (stage) => stage === "receive",
    hasScripts: () => false,
    run: (_stage, line) => {
      if (target && !left && line === target.reply) left = readHandoff(buffer);
      return [line];
    },
    script: () => [],
  };
  const controller = new PrinterController({
    record: { id: "p", name: "p", transport: "serial", port: pty.host, baud: 250_000, window: 4, autoconnect: true, isDefault: true, createdAt: 0 },
    library: new QuirksLibrary((await loadQuirkSources(undefined)).sources),
    filesDir: dir,
    hooks,
    handoff: buffer,
    publish: () => {},
  });
  cleanups.push(() => controller.dispose());
  expect((await controller.connect()).ok).toBe(true);
  for (let i = 0; i < 500 && !(controller.status.state === "operational" && controller.status.firmware); i++) await Bun.sleep(10);
  expect(controller.status.state).toBe("operational");
  await Bun.sleep(300); // the connect sequence through
  expect((await controller.startJob("job.gcode")).ok).toBe(true);
  for (let i = 0; i < 500 && !left; i++) await Bun.sleep(10);

  expect(target).toBeDefined();
  expect(left).toBeDefined();
  // The answers before the target in the same read were taken: the lines still owed start at the target's.
  const link = sentLines(left!);
  expect(link.lastAcked).toBe(target!.before.at(-1)!);
  expect(link.inFlight.length).toBeGreaterThan(0);
  expect(link.inFlight[0]!.n).toBe(target!.n);
  expect(link.inFlight.map((e) => e.n)).toEqual(Array.from({ length: left!.writtenN - target!.n + 1 }, (_, i) => target!.n + i));
}, 30_000);
