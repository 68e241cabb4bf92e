import { describe, expect, test } from "bun:test";
import type { Permission } from "../../src/accounts/permissions.ts";
import { DEFAULT_GROUP_PERMISSIONS } from "../../src/accounts/permissions.ts";
import { parseCommand, refusal, SeenIds, type Command } from "../../src/mqtt/commands.ts";

const base = "layerline/bench";
const bytes = (s: string) => new TextEncoder().encode(s);
const parse = (topic: string, payload: string | Uint8Array, retained = false) => parseCommand(base, topic, typeof payload === "string" ? bytes(payload) : payload, retained);

describe("parseCommand", () => {
  const accepted: [string, string, string, Partial<Command>][] = [
    ["HA button press", "layerline/bench/p1/cmd/pause", "PRESS", { printer: "p1", verb: "pause", id: null, commands: [] }],
    ["press in any case, spaces around", "layerline/bench/p1/cmd/resume", " press \n", { verb: "resume", id: null }],
    ["JSON with an id", "layerline/bench/p1/cmd/cancel", '{"id":"c-7"}', { verb: "cancel", id: "c-7" }],
    ["JSON without an id", "layerline/bench/p1/cmd/connect", "{}", { verb: "connect", id: null }],
    ["G-code as text lines", "layerline/bench/p1/cmd/gcode", "G28\n\nM105\r\n", { verb: "gcode", commands: ["G28", "M105"] }],
    ["G-code as JSON", "layerline/bench/p1/cmd/gcode", '{"id":"g","commands":["M117 hi"]}', { verb: "gcode", id: "g", commands: ["M117 hi"] }],
    ["disconnect", "layerline/bench/ender-3/cmd/disconnect", "PRESS", { printer: "ender-3", verb: "disconnect" }],
  ];
  for (const [name, topic, payload, expected] of accepted) {
    test(`accepts: ${name}`, () => {
      const r = parse(topic, payload);
      expect(r.ok).toBe(true);
      if (r.ok) expect(r.command).toMatchObject(expected);
    });
  }

  const refused: [string, string, string | Uint8Array, boolean, string, string | null][] = [
    ["another base topic", "layerline/other/p1/cmd/pause", "PRESS", false, "is not a command topic", null],
    ["too many levels", "layerline/bench/p1/cmd/pause/now", "PRESS", false, "is not a command topic", null],
    ["unknown verb", "layerline/bench/p1/cmd/explode", "PRESS", false, '"explode" is not a command; the commands are pause, resume, cancel, connect, disconnect, gcode', null],
    ["a retained copy", "layerline/bench/p1/cmd/pause", "PRESS", true, "retained message", null],
    ["empty (a retained message being deleted)", "layerline/bench/p1/cmd/pause", "", false, "the payload is empty", null],
    ["other text", "layerline/bench/p1/cmd/pause", "please", false, 'must be PRESS or JSON like {"id":"1"}; got "please"', null],
    ["broken JSON", "layerline/bench/p1/cmd/pause", "{nope", false, "not valid JSON", null],
    ["unknown key", "layerline/bench/p1/cmd/pause", '{"id":"a","now":true}', false, "may only have an id", "a"],
    ["id not text", "layerline/bench/p1/cmd/pause", '{"id":5}', false, "id: id must be text", null],
    ["not UTF-8", "layerline/bench/p1/cmd/pause", new Uint8Array([0xff, 0xfe, 0x50]), false, "not UTF-8", null],
    ["G-code JSON without commands", "layerline/bench/p1/cmd/gcode", '{"id":"g"}', false, "commands", "g"],
    ["G-code line with a newline inside", "layerline/bench/p1/cmd/gcode", '{"commands":["M105\\nM112"]}', false, "must be one line", null],
    ["G-code empty list", "layerline/bench/p1/cmd/gcode", '{"commands":[]}', false, "send at least one command", null],
    ["G-code line too long", "layerline/bench/p1/cmd/gcode", `M117 ${"x".repeat(300)}`, false, "at most 256 characters", null],
    ["payload too big", "layerline/bench/p1/cmd/gcode", "M105\n".repeat(20_000), false, "at most 65536 are accepted", null],
  ];
  for (const [name, topic, payload, retained, reason, id] of refused) {
    test(`refuses: ${name}`, () => {
      const r = parse(topic, payload, retained);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.reason).toContain(reason);
        expect(r.id).toBe(id);
      }
    });
  }
});

describe("refusal: the guard's rule for the verb's API route", () => {
  const user = (name: string) => ({ id: name, name, group: "users" as const, active: true, createdAt: 0 }) as never;
  const command = (verb: Command["verb"]): Command => ({ printer: "p1", verb, id: null, commands: [] });
  const operator = new Set<Permission>(DEFAULT_GROUP_PERMISSIONS.users);
  const printOnly = new Set<Permission>(["status", "print"]);
  const readonly = new Set<Permission>(DEFAULT_GROUP_PERMISSIONS.readonly);
  const cases: [string, Set<Permission> | null, Command["verb"], string | null][] = [
    ["operator pauses", operator, "pause", null],
    ["operator sends G-code", operator, "gcode", null],
    ["operator disconnects", operator, "disconnect", null],
    ["print-only user pauses", printOnly, "cancel", null],
    ["print-only user may not send G-code", printOnly, "gcode", 'user "u" may not send G-code (it needs the "control" permission)'],
    ["print-only user may not connect", printOnly, "connect", 'user "u" may not connect (it needs the "control" permission)'],
    ["read-only user may not pause", readonly, "pause", 'user "u" may not pause (it needs the "print" permission)'],
    ["nobody configured", null, "pause", "commands over MQTT are off: no Layerline user is chosen for them (Settings → MQTT)"],
  ];
  for (const [name, permissions, verb, expected] of cases) {
    test(name, () => {
      const actor = permissions ? { user: user("u"), permissions } : { user: null, permissions: new Set<Permission>() };
      expect(refusal(actor, command(verb))).toBe(expected);
    });
  }
});

test("SeenIds: an id is done once, and only the latest ones are remembered", () => {
  const seen = new SeenIds(2);
  expect([seen.first("a"), seen.first("a"), seen.first("b"), seen.first("c"), seen.first("a")]).toEqual([true, false, true, true, true]);
});
