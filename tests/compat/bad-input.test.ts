/**
 * Bad input on every registered endpoint — wrong types, missing fields, broken JSON, huge bodies,
 * junk query strings — gets a 4xx (JSON on API paths), never a 500.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { routeKind } from "../../src/server/route-kind.ts";
import { readyHost, routeUrl, type TestHost } from "../helpers/host.ts";

let host: TestHost;
let printer: string;

beforeAll(async () => {
  ({ host, printer } = await readyHost());
}, 30_000);
afterAll(() => host.close());

const concrete = (path: string) => routeUrl(path, printer, "no/such%2F..%2Ffile.gcode");

const BODIES: [string, string, BodyInit][] = [
  ["broken JSON", "application/json", "{nope"],
  ["wrong types", "application/json", JSON.stringify({ command: 5, commands: "M105", targets: [1], target: "hot", file: 3, name: [], scope: 7, username: {}, password: 1, x: "far", axes: "x", passive: "maybe", decision: "perhaps", profile: 3, appearance: 1 })],
  ["missing fields", "application/json", "{}"],
  ["an array", "application/json", "[1,2,3]"],
  ["a huge body", "application/json", JSON.stringify({ command: "x".repeat(3_000_000) })],
  ["JSON nested 20,000 deep", "application/json", "[".repeat(20_000) + "]".repeat(20_000)],
  ["a broken form", "multipart/form-data; boundary=zzz", "--zzz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nunterminated"],
  ["a form without a file", "application/x-www-form-urlencoded", "select=maybe&print=perhaps&path=../../etc"],
];

test("OctoPrint command endpoints name what is wrong", async () => {
  const cases: [string, unknown, RegExp][] = [
    ["/api/job", { command: "explode" }, /command/],
    ["/api/printer/tool", { command: "target", targets: { tool0: "hot" } }, /targets/],
    ["/api/printer/bed", { command: "target", target: 900 }, /500/],
    ["/api/printer/printhead", { command: "home", axes: [] }, /axis/],
    ["/api/connection", { command: "connect", port: "/etc/passwd" }, /absolute path|virtual printer/],
    ["/api/printer/command", { commands: [] }, /./],
    ["/api/printer/command", {}, /"commands": \["G28"/],
    ["/api/printer/command", { commands: "M105" }, /"commands": \["G28"/],
  ];
  for (const [path, body, message] of cases) {
    const res = await host.post(path, body);
    expect({ path, status: res.status }).toEqual({ path, status: 400 });
    expect((await res.json()).error).toMatch(message);
  }
  // Commands are JSON, as in OctoPrint: a form post (a page on another site) does nothing.
  const form = await host.api("/api/printer/command", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "command=M117 formtest" });
  expect(form.status).toBe(400);
  expect(await form.json()).toEqual({ error: "Expected content-type JSON" });
  expect((await host.api("/api/job", { method: "POST", headers: { "content-type": "text/plain" }, body: '{"command":"cancel"}' })).status).toBe(400);
});

test("feed and flow rates are read as OctoPrint reads them: a whole number is a percentage, a fraction a factor", async () => {
  for (const [path, command, factor] of [
    ["/api/printer/tool", "flowrate", 95],
    ["/api/printer/tool", "flowrate", 1.05],
    ["/api/printer/printhead", "feedrate", 150],
    ["/api/printer/printhead", "feedrate", 0.5],
    ["/api/printer/printhead", "feedrate", 2],
  ] as const) {
    expect([command, factor, (await host.post(path, { command, factor })).status]).toEqual([command, factor, 204]);
  }
  for (const factor of [0, 0.001, -5, 1000]) expect((await host.post("/api/printer/tool", { command: "flowrate", factor })).status).toBe(400);
  await Bun.sleep(300);
  const sent = (await (await host.api(`/api/v1/printers/${printer}/trace`)).text())
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l))
    .filter((e) => e.dir === "send" && /M22[01]/.test(e.line))
    .map((e) => e.line.replace(/^N\d+ | *\*\d+$/g, ""));
  expect(sent).toEqual(["M221 S95", "M221 S105", "M220 S150", "M220 S50", "M220 S2"]);
});

// Last: it disconnects, stops and even removes the printer along the way.
test("every route answers bad input with a 4xx, never a 500", async () => {
  const routes = host.routes.filter((r) => r.method !== "WS");
  const failures: string[] = [];
  let checked = 0;
  for (const r of routes) {
    const path = concrete(r.path);
    const attempts: [string, RequestInit][] =
      r.method === "GET"
        ? [["junk query", { method: "GET" }]]
        : BODIES.map(([what, type, body]) => [what, { method: r.method, headers: { "content-type": type }, body }]);
    for (const [what, init] of attempts) {
      const url = r.method === "GET" ? `${path}?history=%ZZ&limit=-5&recursive=perhaps&exclude[]=x&printer=nope&next=//evil` : path;
      const res = await host.api(url, { ...init, redirect: "manual" });
      checked++;
      if (res.status >= 500) failures.push(`${r.method} ${r.path} with ${what}: ${res.status} ${(await res.text()).slice(0, 120)}`);
      // (SockJS transports answer in SockJS's own plain-text framing.)
      else if (res.status >= 400 && routeKind(new URL(url, host.url).pathname) !== "html" && !r.path.includes("/sockjs/")) {
        const type = res.headers.get("content-type") ?? "";
        if (!type.includes("json")) failures.push(`${r.method} ${r.path} with ${what}: ${res.status} is not JSON (${type})`);
        else {
          const body = await res.json();
          if (!body.error) failures.push(`${r.method} ${r.path} with ${what}: no error in ${JSON.stringify(body).slice(0, 80)}`);
        }
      }
    }
  }
  expect(failures).toEqual([]);
  expect(checked).toBeGreaterThan(400);
}, 120_000);
