/**
 * The plugin API of version 1.2.0, pinned: what `layerline` exports, what `ctx` offers, the
 * vocabulary of hooks, slots, events and permissions. A change here is an API change: bump
 * PLUGIN_API_VERSION (minor for additions, major for removals) and update docs/plugins.md.
 */
import { expect, test } from "bun:test";
import mitt from "mitt";
import { BUDGET_MS, FAULT_LIMIT, LINE_STAGES, PERMISSIONS, PLUGIN_API_VERSION, SCRIPTS, SLOTS } from "../../src/plugins/api.ts";
import { DEPRECATIONS, removedIn, withDeprecations, type Deprecation } from "../../src/plugins/deprecations.ts";
import { createContext, Registrations } from "../../src/plugins/host-api.ts";
import { satisfies } from "../../src/plugins/semver.ts";
import { SDK_EXPORTS } from "../../src/plugins/virtual-module.ts";
import { gcodeNumber, parseGcode } from "../../src/plugins/sdk.ts";
import { startTestHost } from "../helpers/host.ts";

test("API version 1.2.0 and its vocabulary", () => {
  // 1.1.0 added ctx.machine to serial hooks, 1.2.0 the viewer in UI slots' props: plugins written
  // for ^1.0.0 still load; one that needs ctx.machine declares ^1.1.0 and is refused by a 1.0 host.
  expect(PLUGIN_API_VERSION).toBe("1.2.0");
  expect(satisfies(PLUGIN_API_VERSION, "^1.0.0")).toBe(true);
  expect(satisfies(PLUGIN_API_VERSION, "^1.1.0")).toBe(true);
  expect(satisfies("1.1.0", "^1.2.0")).toBe(false);
  expect([...LINE_STAGES]).toEqual(["queue", "send", "receive"]);
  expect([...SCRIPTS]).toEqual(["afterConnected", "beforePrintStarted", "afterPrintDone", "afterPrintCancelled", "afterPrintPaused", "beforePrintResumed"]);
  expect([...SLOTS]).toEqual(["dashboard.card", "settings.section", "navbar.item", "file.actions"]);
  expect(Object.keys(PERMISSIONS)).toEqual(["printer.commands", "printer.jobs", "files.read", "files.write", "network"]);
  expect(BUDGET_MS).toEqual({ line: 50, event: 2000, task: 30000, slot: 500, route: 10000, setup: 5000 });
  expect(FAULT_LIMIT).toBe(3);
});

test("what plugins can import from \"layerline\" at runtime", () => {
  expect(SDK_EXPORTS).toEqual(["API_VERSION", "Html", "HttpError", "PLUGIN_BRAND", "PluginApiError", "definePlugin", "escape", "gcodeNumber", "html", "parseGcode", "raw", "v"]);
});

test("what ctx offers, and the printer and file calls", async () => {
  const host = await startTestHost({ plugins: { bundledDirs: [] } });
  try {
    const ctx = createContext(
      { bus: mitt(), printers: host.printers, files: host.files, filesChanged: () => {} },
      {
        id: "t",
        version: "1.0.0",
        apiVersion: PLUGIN_API_VERSION,
        permissions: [],
        settings: () => ({}),
        setSettings: (c) => c,
        storage: { get: () => undefined, set: () => {}, delete: () => {}, keys: () => [] },
        log: () => {},
        notify: () => {},
        fault: () => {},
        run: (_what, fn) => fn(),
      },
      new Registrations(),
    );
    expect(Object.keys(ctx).sort()).toEqual(["apiVersion", "every", "files", "id", "log", "notify", "on", "onDispose", "printers", "route", "settings", "slot", "storage", "version"]);
    expect(Object.keys(ctx.printers).sort()).toEqual(["cancelJob", "get", "list", "pauseJob", "resumeJob", "send", "startJob"]);
    expect(Object.keys(ctx.files).sort()).toEqual(["get", "list", "read", "remove", "write"]);
    expect(Object.keys(ctx.settings).sort()).toEqual(["get", "onChange", "set"]);
    expect(Object.keys(ctx.storage).sort()).toEqual(["delete", "get", "keys", "set"]);
    // Without the permission in its manifest, a plugin cannot act on printers or files.
    await expect(ctx.printers.send("virtual-printer", ["M105"])).rejects.toThrow('may not send G-code to printers: its manifest does not ask for the "printer.commands" permission');
    expect(() => ctx.files.list()).toThrow('"files.read" permission');
    // Reading printers needs no permission; their shape is the API's, not the host's status.
    expect(Object.keys(ctx.printers.list()[0]!).sort()).toEqual(["firmware", "id", "isDefault", "job", "name", "problem", "progress", "state", "temperatures"]);
  } finally {
    await host.close();
  }
}, 30_000);

test("a deprecated call keeps working, warns once, through the next major version", () => {
  expect(DEPRECATIONS).toEqual([]); // 1.x deprecates nothing yet
  expect(removedIn("1.4.0")).toBe("3.0.0");
  const table: Deprecation[] = [
    { name: "printers.command", since: "1.2.0", replacement: "ctx.printers.send", call: (ctx, id, lines) => (ctx as any).printers.send(id, lines) },
  ];
  const make = () => ({ printers: { send: (id: string, lines: string[]) => `${id}:${lines.join(",")}` } }) as any;
  const warnings: string[] = [];
  for (const api of ["1.2.0", "1.9.0", "2.5.0"]) {
    const ctx = withDeprecations(make(), api, (m) => warnings.push(`${api} ${m}`), table);
    expect(ctx.printers.command("p", ["M105"])).toBe("p:M105");
    expect(ctx.printers.command("p", ["M106"])).toBe("p:M106");
  }
  expect(warnings).toEqual([
    "1.2.0 ctx.printers.command is deprecated since plugin API 1.2.0 and will be removed in 3.0.0; use ctx.printers.send.",
    "1.9.0 ctx.printers.command is deprecated since plugin API 1.2.0 and will be removed in 3.0.0; use ctx.printers.send.",
    "2.5.0 ctx.printers.command is deprecated since plugin API 1.2.0 and will be removed in 3.0.0; use ctx.printers.send.",
  ]);
  expect(withDeprecations(make(), "3.0.0", () => {}, table).printers.command).toBeUndefined();
});

test("G-code helpers", () => {
  expect(parseGcode("G1 X10 Y-2.5 F3000")).toEqual({ code: "G1", params: { X: "10", Y: "-2.5", F: "3000" } });
  expect(parseGcode("m600")).toEqual({ code: "M600", params: {} });
  expect(parseGcode("M117 Hello X1")).toEqual({ code: "M117", params: { "": "Hello X1" } });
  expect(parseGcode("G28 X Y")).toEqual({ code: "G28", params: { X: "", Y: "" } });
  expect(parseGcode("@pause")).toBeNull();
  const c = parseGcode("G1 Z.3 E-1")!;
  expect([gcodeNumber(c, "z"), gcodeNumber(c, "E"), gcodeNumber(c, "X")]).toEqual([0.3, -1, undefined]);
});

test("parseGcode answers exactly as its definition by regular expressions, on real and hostile lines", () => {
  // The definition (parseGcode scans characters instead, since plugins call it for every line).
  const byRegex = (line: string) => {
    const m = /^\s*([GMTgmt])(\d+(?:\.\d+)?)(.*)$/.exec(line);
    if (!m) return null;
    const code = `${m[1]!.toUpperCase()}${m[2]}`;
    if (code === "M117" || code === "M118") return { code, params: { "": m[3]!.trim() } };
    const params: Record<string, string> = {};
    for (const p of m[3]!.matchAll(/([A-Za-z])\s*([-+]?[0-9.]*)/g)) params[p[1]!.toUpperCase()] = p[2]!;
    return { code, params };
  };
  const lines = [
    "G1 X10 Y-2.5 F3000", "g1x1y2", "G0 X+1 Y-.5 Z1.2.3", "G28 X Y", "  \tM104 S200", "\u00a0G1 X1", "\ufeffG1", "G1.5 X1", "G1. X1", "G12.34.5",
    "T0", "T", "M", "G", "", " ", "M117   Printing… 50% ", "m118 E1 hello", "G1 X1\nY2", "G1 X1\r", "G1 X 10 Y\t-3", "G1 X- Y+", "G1 ÄX1 ßY2",
    "M600", "N12 G1 X1*20", "@pause", "G1 X1 X2", "G92 E0 e1", "G1 X1\u2028", "G1\u3000X1", "M73 P50 R12", "G2 I1 J-1 X2 Y3 E.3",
  ];
  let seed = 3;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const alphabet = "GMTgmtXYZEFIJPSRxyz0123456789.-+ \t\u00a0\n\r;*@Ä";
  for (let i = 0; i < 5000; i++) lines.push(Array.from({ length: Math.floor(random() * 16) }, () => alphabet[Math.floor(random() * alphabet.length)]).join(""));
  for (const line of lines) {
    const expected = byRegex(line);
    const got = parseGcode(line);
    expect([line, got]).toEqual([line, expected]);
    if (got) expect([line, Object.keys(got.params)]).toEqual([line, Object.keys(expected!.params)]);
    for (const letter of ["x", "X", "e", "Ä", "ä", "", "xy"]) if (got) expect(gcodeNumber(got, letter)).toBe(gcodeNumber(expected!, letter));
  }
});
