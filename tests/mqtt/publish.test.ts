import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import type { PrinterEvent } from "../../src/printers/controller.ts";
import { initialStatus, type Job, type PrinterStatus, type Progress } from "../../src/printers/status.ts";
import { announcedHeaters, discoveryConfigs, heaterName, hostDiscovery } from "../../src/mqtt/discovery.ts";
import { availabilityOf, eventMessage, stateDocument, throttle } from "../../src/mqtt/publish.ts";
import { applyChange, defaultBaseTopic, defaultConfig, MqttConfigChangeSchema, viewOf } from "../../src/mqtt/settings.ts";

const job = (over: Partial<Job> = {}): Job => ({
  id: "j1", file: "parts/bracket.gcode", source: "host", size: 1000, state: "printing", startedAt: 0, endedAt: null, reason: null, sha256: null,
  layer: { current: 3, count: 40, z: 0.6 }, objects: [], pause: null, resumedFrom: null, ...over,
});
const progress = (over: Partial<Progress> = {}): Progress => ({
  completion: 42.46, bytesSent: 424, bytesTotal: 1000, linesSent: 10, line: 10, lines: 100, printTime: 1830.4, timeLeft: 2510.6, timeLeftOrigin: "analysis", filament: 0, ...over,
});
const status = (over: Partial<PrinterStatus>): PrinterStatus => ({ ...initialStatus("p1"), ...over });

describe("stateDocument", () => {
  const cases: [string, PrinterStatus, Record<string, unknown>][] = [
    ["never connected", status({}), { state: "closed", connected: false, printing: false, job: null, file: null, progress: null, elapsed: null, left: null, z: null, temperatures: {}, problem: null }],
    [
      "idle, temperatures rounded to tenths",
      status({ state: "operational", temperatures: { tool0: { actual: 21.94, target: 0 }, bed: { actual: 60.06, target: null } } }),
      { state: "operational", connected: true, printing: false, temperatures: { tool0: { actual: 21.9, target: 0 }, bed: { actual: 60.1, target: null } } },
    ],
    [
      "printing",
      status({ state: "printing", job: job(), progress: progress(), position: { x: 1, y: 2, z: 12.44, e: null } }),
      { state: "printing", printing: true, job: "printing", file: "parts/bracket.gcode", progress: 42.5, elapsed: 1830, left: 2511, layer: 3, layers: 40, z: 12.4 },
    ],
    ["paused counts as printing (the job runs)", status({ state: "paused", job: job({ state: "paused" }), progress: progress() }), { state: "paused", printing: true, job: "paused" }],
    ["time left unknown", status({ state: "printing", job: job(), progress: progress({ timeLeft: null }) }), { left: null, progress: 42.5 }],
    ["done: no time left", status({ state: "operational", job: job({ state: "done" }), progress: progress({ completion: 100 }) }), { printing: false, job: "done", progress: 100, left: null }],
    [
      "error with the problem in words",
      status({ state: "error", problem: { code: "x", message: "The printer stopped answering.", hint: "Check the cable." } }),
      { state: "error", connected: false, problem: "The printer stopped answering." },
    ],
  ];
  for (const [name, input, expected] of cases) test(name, () => expect(stateDocument(input)).toMatchObject(expected));
});

test("availability follows the printer's link", () => {
  const of = (state: PrinterStatus["state"]) => availabilityOf(status({ state }));
  expect(["closed", "connecting", "operational", "printing", "paused", "error"].map((s) => of(s as never))).toEqual(["offline", "offline", "online", "online", "online", "offline"]);
});

describe("throttle: on change, at most once per interval", () => {
  const cases: [string, { sent: string | null; at: number }, string, number, ReturnType<typeof throttle>][] = [
    ["first one goes at once", { sent: null, at: 0 }, "a", 100, { action: "now" }],
    ["unchanged is not sent", { sent: "a", at: 0 }, "a", 5000, { action: "same" }],
    ["changed after the interval", { sent: "a", at: 1000 }, "b", 2000, { action: "now" }],
    ["changed within the interval waits for the rest of it", { sent: "a", at: 1000 }, "b", 1300, { action: "wait", ms: 700 }],
  ];
  for (const [name, state, text, now, expected] of cases) test(name, () => expect(throttle(state, text, now, 1000)).toEqual(expected));
});

describe("eventMessage", () => {
  const at = Date.UTC(2025, 0, 2, 3, 4, 5);
  const event = (state: "started" | "paused" | "resumed" | "done" | "cancelled" | "failed", reason?: string): PrinterEvent => ({ type: "job", state, file: "a.gcode", reason, job: job(), progress: progress() });
  for (const state of ["started", "paused", "resumed", "done", "cancelled"] as const) {
    test(state, () => expect(eventMessage("p1", event(state), at)).toEqual({ name: state, payload: { event: state, printer: "p1", file: "a.gcode", job: "j1", reason: null, progress: 42.5, elapsed: 1830, at: "2025-01-02T03:04:05.000Z" } }));
  }
  test("failed carries the reason", () => expect(eventMessage("p1", event("failed", "Thermal runaway"), at)?.payload.reason).toBe("Thermal runaway"));
  test("other printer events are not published", () => {
    expect(eventMessage("p1", { type: "notice", level: "info", message: "hi" }, at)).toBeNull();
    expect(eventMessage("p1", { type: "startRequested" }, at)).toBeNull();
  });
});

describe("discovery", () => {
  const input = { prefix: "homeassistant", base: "layerline/bench-2", printer: { id: "mk4", name: "Prusa MK4", model: "Prusa-Firmware" }, heaters: ["bed", "tool0", "tool1"], version: "1.2.3" };
  const messages = discoveryConfigs(input);
  const byTopic = new Map(messages.map((m) => [m.topic, m.config!]));

  test("one entity per thing, topics as HA names them, unique ids from [a-zA-Z0-9_-]", () => {
    expect(messages.map((m) => m.topic)).toEqual([
      "homeassistant/sensor/layerline_bench-2_mk4_state/config",
      "homeassistant/binary_sensor/layerline_bench-2_mk4_connected/config",
      "homeassistant/binary_sensor/layerline_bench-2_mk4_printing/config",
      "homeassistant/sensor/layerline_bench-2_mk4_progress/config",
      "homeassistant/sensor/layerline_bench-2_mk4_time_left/config",
      "homeassistant/sensor/layerline_bench-2_mk4_elapsed/config",
      "homeassistant/sensor/layerline_bench-2_mk4_file/config",
      "homeassistant/sensor/layerline_bench-2_mk4_bed_temperature/config",
      "homeassistant/sensor/layerline_bench-2_mk4_bed_target/config",
      "homeassistant/sensor/layerline_bench-2_mk4_tool0_temperature/config",
      "homeassistant/sensor/layerline_bench-2_mk4_tool0_target/config",
      "homeassistant/sensor/layerline_bench-2_mk4_tool1_temperature/config",
      "homeassistant/sensor/layerline_bench-2_mk4_tool1_target/config",
      "homeassistant/button/layerline_bench-2_mk4_pause/config",
      "homeassistant/button/layerline_bench-2_mk4_resume/config",
      "homeassistant/button/layerline_bench-2_mk4_cancel/config",
    ]);
    for (const m of messages) expect(m.config!.unique_id as string).toMatch(/^[a-zA-Z0-9_-]+$/);
  });

  test("the device block names the printer and its host", () => {
    expect(byTopic.get("homeassistant/sensor/layerline_bench-2_mk4_state/config")!.device).toEqual({
      identifiers: ["layerline_bench-2_mk4"], name: "Prusa MK4", manufacturer: "Layerline", model: "Prusa-Firmware", sw_version: "Layerline 1.2.3", via_device: "layerline_bench-2",
    });
  });

  test("sensors read the state document; temperatures are HA temperature measurements", () => {
    expect(byTopic.get("homeassistant/sensor/layerline_bench-2_mk4_tool1_temperature/config")).toMatchObject({
      name: "Nozzle 2 temperature", state_topic: "layerline/bench-2/mk4/state", device_class: "temperature", unit_of_measurement: "°C", state_class: "measurement",
      availability: [{ topic: "layerline/bench-2/status" }, { topic: "layerline/bench-2/mk4/availability" }], availability_mode: "all",
    });
    expect(byTopic.get("homeassistant/sensor/layerline_bench-2_mk4_time_left/config")).toMatchObject({ device_class: "duration", unit_of_measurement: "s" });
    // The state stays visible while the printer is off-line: only the host's availability counts.
    expect(byTopic.get("homeassistant/sensor/layerline_bench-2_mk4_state/config")).toMatchObject({ availability: [{ topic: "layerline/bench-2/status" }], device_class: "enum" });
    expect(byTopic.get("homeassistant/sensor/layerline_bench-2_mk4_state/config")!.availability_mode).toBeUndefined();
  });

  test("buttons publish PRESS, not retained, QoS 1, on the command topics", () => {
    expect(byTopic.get("homeassistant/button/layerline_bench-2_mk4_cancel/config")).toMatchObject({ command_topic: "layerline/bench-2/mk4/cmd/cancel", payload_press: "PRESS", retain: false, qos: 1 });
  });

  test("heater names and the heaters announced before any report", () => {
    expect(["tool0", "tool1", "bed", "chamber"].map(heaterName)).toEqual(["Nozzle", "Nozzle 2", "Bed", "Chamber"]);
    expect(announcedHeaters([])).toEqual(["bed", "tool0"]);
    expect(announcedHeaters(["tool0", "chamber", "bed"])).toEqual(["bed", "chamber", "tool0"]);
  });

  test("heater keys come from the serial line: only [a-zA-Z0-9_-] ones become entities (topics, unique ids, templates)", () => {
    // parseTemperatures takes any key that starts with a capital and has no space or colon: line noise or odd firmware.
    const reported = ["tool0", "bed", "X/+/#", "A'] or 1 or ['", "P", "Ç"];
    expect(announcedHeaters(reported)).toEqual(["P", "bed", "tool0"]);
    expect(announcedHeaters(["X/+/#"])).toEqual(["bed", "tool0"]);
    const messages = discoveryConfigs({ prefix: "homeassistant", base: "layerline/x", printer: { id: "p", name: "P", model: null }, heaters: announcedHeaters(reported), version: "1" });
    for (const m of messages) expect(m.topic).toMatch(/^homeassistant\/[a-z_]+\/[a-zA-Z0-9_-]+\/config$/);
  });

  test("the host's device: on-line from the availability topic", () => {
    expect(hostDiscovery({ prefix: "ha", base: "layerline/bench-2", version: "1.2.3" })).toMatchObject({
      topic: "ha/binary_sensor/layerline_bench-2_host/config",
      config: { state_topic: "layerline/bench-2/status", payload_on: "online", payload_off: "offline", device: { identifiers: ["layerline_bench-2"] } },
    });
  });
});

describe("settings", () => {
  test("the default base topic comes from the host name, as one safe level", () => {
    expect([defaultBaseTopic("Workshop-Pi"), defaultBaseTopic("pi.local"), defaultBaseTopic("Ünïcode box"), defaultBaseTopic("")]).toEqual(["layerline/workshop-pi", "layerline/pi-local", "layerline/n-code-box", "layerline/host"]);
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ["wildcard in the base topic", { baseTopic: "layerline/+" }, "must not contain + or #"],
    ["empty level", { baseTopic: "a//b" }, "single slashes"],
    ["leading slash", { discoveryPrefix: "/homeassistant" }, "single slashes"],
    ["port out of range", { port: 70000 }, "1–65535"],
    ["host with a scheme", { host: "mqtt://broker" }, "without spaces or slashes"],
  ];
  for (const [name, change, message] of invalid) {
    test(`refuses: ${name}`, () => {
      const r = v.safeParse(MqttConfigChangeSchema, change);
      expect(r.success).toBe(false);
      expect(r.issues![0].message).toContain(message);
    });
  }

  test("the password: absent or empty keeps it, null clears it, and views never carry it", () => {
    const current = { ...defaultConfig(), host: "broker", password: "old" };
    const apply = (change: object) => {
      const r = applyChange(current, change);
      if (!r.ok) throw new Error(r.message);
      return r.config;
    };
    expect(apply({}).password).toBe("old");
    expect(apply({ password: "" }).password).toBe("old");
    expect(apply({ password: "new" }).password).toBe("new");
    expect(apply({ password: null }).password).toBe("");
    const view = viewOf(current);
    expect(view.passwordSet).toBe(true);
    expect(JSON.stringify(view)).not.toContain("old");
  });

  test("the stored password only goes to its broker: changing the address, port or TLS needs it again", () => {
    const current = { ...defaultConfig(), enabled: true, host: "broker", password: "old" };
    for (const change of [{ host: "evil.example" }, { port: 1884 }, { tls: true }, { allowUntrusted: true }, { host: "evil.example", password: "" }]) {
      expect(applyChange(current, change)).toMatchObject({ ok: false, field: "password" });
    }
    expect(applyChange(current, { host: "evil.example", password: "new" })).toMatchObject({ ok: true, config: { host: "evil.example", password: "new" } });
    expect(applyChange(current, { host: "other", password: null })).toMatchObject({ ok: true, config: { host: "other", password: "" } });
    // The same broker (a form sends every field): the password is kept.
    expect(applyChange(current, { host: "broker", port: 1883, baseTopic: "a/b" })).toMatchObject({ ok: true, config: { password: "old" } });
    // No password stored: nothing to protect.
    expect(applyChange({ ...current, password: "" }, { host: "other" }).ok).toBe(true);
  });

  test("turning on needs a broker", () => {
    expect(applyChange(defaultConfig(), { enabled: true })).toEqual({ ok: false, field: "host", message: "name the broker (a host name or address) to turn the bridge on" });
  });
});
