import { describe, expect, test } from "bun:test";
import { Bench, type Timed } from "./harness.ts";

const WAIT_LINE = /^ T:(\d+\.\d{2}) \/210\.00 B:\d+\.\d{2} \/\d+\.\d{2} @:\d+ B@:\d+ W:(\?|\d+)$/;

function ready(options = {}): Bench {
  const b = new Bench(options);
  b.sendN(0, "M110 N0");
  b.take();
  return b;
}

describe("virtual firmware: heaters", () => {
  test("a hotend warms to its target in 60–90 s and cools when switched off", () => {
    const b = ready();
    b.send("M104 S210");
    b.wait(30_000);
    const at30 = b.fw.state.hotends[0]!.temperature;
    expect(at30).toBeGreaterThan(80);
    expect(at30).toBeLessThan(180);
    b.wait(30_000);
    expect(b.fw.state.hotends[0]!.temperature).toBeLessThan(209);
    b.wait(30_000);
    expect(Math.abs(b.fw.state.hotends[0]!.temperature - 210)).toBeLessThan(1);
    b.wait(600_000);
    expect(Math.abs(b.fw.state.hotends[0]!.temperature - 210)).toBeLessThan(0.5); // holds, no drift
    b.send("M104 S0");
    b.wait(60_000);
    const cooled = b.fw.state.hotends[0]!.temperature;
    expect(cooled).toBeLessThan(150);
    expect(cooled).toBeGreaterThan(40);
  });

  test("a bed reaches 60 °C in 60–120 s", () => {
    const b = ready();
    b.send("M140 S60");
    b.wait(60_000);
    expect(b.fw.state.bed.temperature).toBeLessThan(59);
    b.wait(60_000);
    expect(Math.abs(b.fw.state.bed.temperature - 60)).toBeLessThan(1);
    expect(b.fw.state.bed.target).toBe(60);
  });

  test("M105 and M155 autoreport show the same fields; autoreport stops with S0", () => {
    const b = ready();
    b.send("M104 S200").send("M140 S50").wait(5000).take();
    b.send("M105");
    const [ok] = b.take();
    expect(ok).toMatch(/^ok T:\d+\.\d{2} \/200\.00 B:\d+\.\d{2} \/50\.00 @:127 B@:127$/);
    b.send("M155 S2");
    expect(b.take()).toEqual(["ok"]);
    const start = b.now;
    b.wait(7000);
    const reports = b.takeTimed();
    expect(reports.map((r) => r.t - start)).toEqual([2000, 4000, 6000]);
    for (const r of reports) expect(r.line).toMatch(/^ T:\d+\.\d{2} \/200\.00 B:\d+\.\d{2} \/50\.00 @:\d+ B@:\d+$/);
    b.send("M155 S0").wait(10_000);
    expect(b.take()).toEqual(["ok"]);
  });

  test("with two extruders the lines carry T0:/T1: and @0:/@1:, and T1 selects the tool", () => {
    const b = ready({ extruders: 2 });
    b.send("M104 T1 S180").send("T1").send("M105");
    const out = b.take();
    expect(out.slice(0, 3)).toEqual(["ok", "echo:Active Extruder: 1", "ok"]);
    expect(out[3]).toMatch(
      /^ok T:\d+\.\d{2} \/180\.00 B:\d+\.\d{2} \/0\.00 T0:\d+\.\d{2} \/0\.00 T1:\d+\.\d{2} \/180\.00 @:\d+ B@:\d+ @0:\d+ @1:\d+$/,
    );
    b.send("M104 T5 S100").send("T7");
    expect(b.take()).toEqual(["echo:M104 Invalid extruder 5", "ok", "echo:T7 Invalid extruder", "ok"]);
  });

  test("M109 withholds ok until at target plus residency, with 1 s temperature and 2 s busy lines", () => {
    const b = ready();
    const start = b.now;
    const from = b.log.length;
    b.send("M109 S210");
    const okAt = b.until((l) => l === "ok");
    const out: Timed[] = b.log.slice(from, b.log.indexOf(okAt));
    const temps = out.filter((l) => l.line.startsWith(" T:"));
    const busy = out.filter((l) => l.line === "echo:busy: processing");
    expect(temps.length + busy.length).toBe(out.length);
    for (const l of temps) expect(l.line).toMatch(WAIT_LINE);
    // one temperature line per second from the start, one busy line per 2 s
    expect(temps.map((l) => l.t - start)).toEqual(temps.map((_, i) => i * 1000));
    expect(busy.map((l) => l.t - start)).toEqual(busy.map((_, i) => (i + 1) * 2000));
    // W:? while heating, then the residency countdown 9…0
    const ws = temps.map((l) => WAIT_LINE.exec(l.line)![2]);
    const firstCount = ws.findIndex((w) => w !== "?");
    expect(ws.slice(0, firstCount).every((w) => w === "?")).toBe(true);
    expect(ws.slice(firstCount)).toEqual(["9", "8", "7", "6", "5", "4", "3", "2", "1", "0"]);
    const heatSeconds = (okAt.t - start) / 1000;
    expect(heatSeconds).toBeGreaterThan(70);
    expect(heatSeconds).toBeLessThan(110);
    expect(Math.abs(b.fw.state.hotends[0]!.temperature - 210)).toBeLessThan(1);
    // nothing else ran while waiting, and the ok is for M109
    expect(b.executed.map((e) => e.command)).toEqual(["M110 N0", "M109 S210"]);
  });

  test("lines sent during M109 wait and run after it", () => {
    const b = ready();
    b.send("M109 S200").wait(3000).send("M114");
    expect(b.take().some((l) => l.startsWith("X:"))).toBe(false);
    b.until((l) => l.startsWith("X:"));
    expect(b.take().slice(-3)).toEqual(["ok", "X:0.00 Y:0.00 Z:0.00 E:0.00 Count X:0 Y:0 Z:0", "ok"]);
  });

  test("M108 breaks the heating wait at once (emergency parser)", () => {
    const b = ready();
    b.send("M109 S210").wait(5000).take();
    b.send("M108");
    expect(b.take()).toEqual(["ok", "ok"]);
    expect(b.fw.state.hotends[0]!.temperature).toBeLessThan(60);
    expect(b.fw.state.hotends[0]!.target).toBe(210); // the target stays, only the wait ends
    expect(b.executed.map((e) => e.command)).toEqual(["M110 N0", "M109 S210", "M108"]);
  });

  test("without the emergency parser M108 cannot reach a blocked firmware", () => {
    const b = ready({ emergencyParser: false });
    b.send("M109 S210").wait(5000).take();
    b.send("M108").wait(2000);
    expect(b.take().includes("ok")).toBe(false);
  });

  test("M190 waits for the bed; M109 S below the current temperature does not wait", () => {
    const b = ready();
    b.send("M190 S60");
    const okAt = b.until((l) => l === "ok");
    expect(okAt.t / 1000).toBeGreaterThan(60);
    expect(okAt.t / 1000).toBeLessThan(140);
    b.take();
    b.send("M109 S0");
    expect(b.take()).toEqual(["ok"]);
  });

  test("timeScale 50 heats fifty times faster; instant mode jumps to the target", () => {
    const real = ready();
    real.send("M109 S210");
    const realOk = real.until((l) => l === "ok").t;
    const fast = ready({ timeScale: 50 });
    fast.send("M109 S210");
    const fastOk = fast.until((l) => l === "ok").t;
    expect(fastOk / realOk).toBeGreaterThan(1 / 55);
    expect(fastOk / realOk).toBeLessThan(1 / 45);
    const instant = ready({ timeScale: 0 });
    instant.send("M109 S210").send("M190 S60").send("M105");
    const out = instant.take();
    expect(out.at(-1)).toBe("ok T:210.00 /210.00 B:60.00 /60.00 @:86 B@:47");
    expect(out.filter((l) => l === "ok").length).toBe(2);
  });
});
