/**
 * Custom controls over real HTTP with the virtual printer: the definition saved and read back
 * (native and OctoPrint's shape), refused in words when wrong, pressed with parameters (the
 * filled-in G-code reaches the printer the way typed commands do), read-outs following the
 * printer's replies, and who may do what.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CONTROL_LIMITS, EXAMPLE_CONTROLS } from "../../src/controls/model.ts";
import { readyHost, type TestHost } from "../helpers/host.ts";

let host: TestHost;
let printer: string;
let readerKey: string;
let operatorKey: string;

const put = (body: unknown, key?: string) =>
  host.api("/api/v1/controls", { method: "PUT", headers: { "content-type": "application/json", ...(key ? { "x-api-key": key } : {}) }, body: typeof body === "string" ? body : JSON.stringify(body) });
const run = (body: unknown, key?: string) =>
  host.api(`/api/v1/printers/${printer}/controls/run`, { method: "POST", headers: { "content-type": "application/json", ...(key ? { "x-api-key": key } : {}) }, body: JSON.stringify(body) });
const sentLines = async (): Promise<string[]> => {
  const { lines } = await (await host.api(`/api/v1/printers/${printer}/terminal`)).json();
  return lines.filter((l: any) => l.dir === "send").map((l: any) => l.text as string);
};
const waitForSent = async (text: string) => {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if ((await sentLines()).some((l) => l.includes(text))) return;
    await Bun.sleep(50);
  }
  throw new Error(`"${text}" was never sent; the terminal has ${(await sentLines()).slice(-10).join(" | ")}`);
};

beforeAll(async () => {
  ({ host, printer } = await readyHost());
  const reader = await host.accounts.addUser("reader", "reader-password", "readonly");
  readerKey = host.accounts.createKey(reader, { name: "reader", scope: "full" }).key;
  const operator = await host.accounts.addUser("operator", "operator-password", "users");
  operatorKey = host.accounts.createKey(operator, { name: "operator", scope: "full" }).key;
}, 30_000);
afterAll(() => host?.close());

describe("the definition", () => {
  test("none at first; saved and read back, natively and in OctoPrint's shape", async () => {
    expect((await (await host.api("/api/v1/controls")).json()).controls).toEqual([]);
    expect(await (await host.api("/api/printer/command/custom")).json()).toEqual({ controls: [] });

    const res = await put({ controls: EXAMPLE_CONTROLS });
    expect(res.status).toBe(200);
    const saved = await res.json();
    expect(saved.controls).toEqual(EXAMPLE_CONTROLS);
    expect(typeof saved.updatedAt).toBe("number");
    expect((await (await host.api("/api/v1/controls")).json()).controls).toEqual(EXAMPLE_CONTROLS);

    const octo = await (await host.api("/api/printer/command/custom")).json();
    expect(octo.controls).toHaveLength(EXAMPLE_CONTROLS.length);
    expect(octo.controls[1]).toEqual({
      name: "Fan",
      layout: "horizontal",
      children: [
        { name: "Set fan", command: "M106 S%(speed)s", input: [{ name: "Speed (0-255)", parameter: "speed", default: 255, slider: { min: 0, max: 255, step: 1 } }] },
        { name: "Fan off", command: "M107" },
      ],
    });
    const position = octo.controls[2].children[1];
    expect(position).toMatchObject({ name: "Get position", command: "M114", template: "Position: X={0} Y={1} Z={2}" });
    expect(position.key).toMatch(/^[0-9a-f]{32}$/);
    expect(position.template_key).toMatch(/^[0-9a-f]{32}$/);
  });

  test("bad bodies are 400s that say what is wrong, and store nothing", async () => {
    const before = (await (await host.api("/api/v1/controls")).json()).controls;
    const refused = async (body: unknown, words: string) => {
      const res = await put(body);
      expect(res.status).toBe(400);
      const { error } = await res.json();
      expect(error.message).toContain(words);
    };
    await refused("{not json", "");
    await refused({ controls: [{ name: "Pos", command: "M114", regex: "X:([0-9", template: "{0}" }] }, "controls[0].regex: is not a valid regular expression");
    await refused({ controls: [{ name: "Slow", command: "M114", regex: "(a+)+$", template: "{0}" }] }, "controls[0].regex: it repeats a group that repeats itself");
    await refused({ controls: Array.from({ length: CONTROL_LIMITS.controls + 1 }, (_, i) => ({ name: `b${i}`, command: "M105" })) }, `at most ${CONTROL_LIMITS.controls} are allowed`);
    await refused({ controls: [{ name: "Fan", children: [{ name: "On", command: "M106 S%(s)s" , input: [{ name: "S", parameter: "speed" }] }] }] }, "controls[0].children[0].command: %(s)s names no parameter");
    await refused({ controls: "M84" }, "controls: must be a list");
    expect((await (await host.api("/api/v1/controls")).json()).controls).toEqual(before);
  });
});

describe("pressing a control", () => {
  test("sends its G-code with the parameters filled in to the printer, as typed commands go", async () => {
    expect((await put({ controls: EXAMPLE_CONTROLS })).status).toBe(200);
    const res = await run({ path: "1.0", parameters: { speed: 128 } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ sent: ["M106 S128"] });
    await waitForSent("M106 S128");
    // A missing parameter takes its default.
    expect(await (await run({ path: "1.0" })).json()).toEqual({ sent: ["M106 S255"] });
    await waitForSent("M106 S255");
    // Through the dashboard's form too, with the parameter as the slider sends it.
    const form = await host.api(`/ui/printers/${printer}/controls/run`, { method: "POST", body: new URLSearchParams({ path: "1.0", "p.speed": "77" }) });
    expect(form.status).toBe(200);
    await waitForSent("M106 S77");
  }, 20_000);

  test("a parameter out of range, an unknown control or a container is refused in words", async () => {
    let res = await run({ path: "1.0", parameters: { speed: 999 } });
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toBe('"Speed (0-255)" must be a number from 0 to 255.');
    res = await run({ path: "7.3" });
    expect(res.status).toBe(404);
    expect((await res.json()).error.message).toContain('There is no command control at "7.3"');
    res = await run({ path: "1" });
    expect(res.status).toBe(404);
    res = await run({ path: "../1", parameters: { speed: "x\nM112" } });
    expect(res.status).toBe(400);
    res = await run({ path: "1.0", parameters: { speed: "1\nM112" } });
    expect(res.status).toBe(400);
    const form = await host.api(`/ui/printers/${printer}/controls/run`, { method: "POST", body: new URLSearchParams({ path: "1.0", "p.speed": "900" }) });
    expect(await form.text()).toContain("must be a number from 0 to 255");
  });

  test("a press from a list older than the last save is refused, not sent to whatever control sits there now", async () => {
    const shown = (await (await host.api("/api/v1/controls")).json()).updatedAt as number;
    const page = await (await host.api(`/?printer=${printer}`)).text();
    expect(page).toContain(`<input type="hidden" name="version" value="${shown}">`);
    expect((await run({ path: "1.0", parameters: { speed: 31 }, version: shown })).status).toBe(200);
    await waitForSent("M106 S31");
    // Saved again (here the same set, at once; the list shown before is older all the same).
    expect((await put({ controls: EXAMPLE_CONTROLS })).status).toBe(200);
    const stale = await run({ path: "1.0", parameters: { speed: 32 }, version: shown });
    expect(stale.status).toBe(409);
    const body = await stale.json();
    expect(body.error.code).toBe("controls_changed");
    expect(body.error.message).toContain("Nothing was sent");
    const form = await host.api(`/ui/printers/${printer}/controls/run`, { method: "POST", body: new URLSearchParams({ path: "1.0", "p.speed": "33", version: String(shown) }) });
    expect(await form.text()).toContain("were changed since this list was shown");
    expect((await sentLines()).filter((l) => /M106 S3[23]\b/.test(l))).toEqual([]);
    const now = (await (await host.api("/api/v1/controls")).json()).updatedAt as number;
    expect((await run({ path: "1.0", parameters: { speed: 34 }, version: now })).status).toBe(200);
    await waitForSent("M106 S34");
  }, 20_000);

  test("a read-out shows what its regex finds in the printer's replies, on the dashboard", async () => {
    await host.post(`/api/v1/printers/${printer}/commands`, { commands: ["G28", "G1 X12 Y34 Z5 F6000"] });
    expect((await run({ path: "2.1" })).status).toBe(200);
    const deadline = Date.now() + 10_000;
    let page = "";
    while (Date.now() < deadline) {
      page = await (await host.api(`/?printer=${printer}`)).text();
      if (page.includes("Position: X=12.00 Y=34.00 Z=5.00")) break;
      await Bun.sleep(100);
    }
    expect(page).toContain("Position: X=12.00 Y=34.00 Z=5.00");
    expect(page).toContain(`hx-post="/ui/printers/${printer}/controls/run"`);
    expect(page).toContain('hx-confirm="Turn the motors off? The printer loses its position."');
  }, 20_000);

  test("OctoPrint's push channel carries the read-out as feedbackCommandOutput (the regex's key, the text by template key)", async () => {
    const octo = (await (await host.api("/api/printer/command/custom")).json()).controls[2].children[1];
    const ws = new WebSocket(`${host.url.replace("http", "ws")}/sockjs/websocket?apikey=${host.apiKey}`);
    const messages: any[] = [];
    ws.onmessage = (e) => messages.push(JSON.parse(String(e.data)));
    try {
      const until = async (check: () => boolean) => {
        const deadline = Date.now() + 10_000;
        while (!check() && Date.now() < deadline) await Bun.sleep(20);
        expect(check()).toBe(true);
      };
      await until(() => messages.some((m) => m.history));
      await host.post(`/api/v1/printers/${printer}/commands`, { commands: ["G1 X55 Y66 Z4 F6000"] });
      expect((await run({ path: "2.1" })).status).toBe(200);
      const wanted = { name: octo.key, output: { [octo.template_key]: "Position: X=55.00 Y=66.00 Z=4.00" } };
      await until(() => messages.some((m) => JSON.stringify(m.feedbackCommandOutput) === JSON.stringify(wanted)));
    } finally {
      ws.close();
    }
  }, 20_000);

  test("OctoPrint's command endpoint fills in parameters as OctoPrint does", async () => {
    const res = await host.api("/api/printer/command", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ commands: ["M117 fan %(speed)s%%"], parameters: { speed: 42 } }) });
    expect(res.status).toBe(204);
    await waitForSent("M117 fan 42%");
    const bad = await host.api("/api/printer/command", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ command: "M117 %(nothing)s", parameters: { speed: 1 } }) });
    expect(bad.status).toBe(400);
  });
});

describe("permissions", () => {
  test("a read-only user sees the read-outs but may neither press nor edit; an operator may press but not edit", async () => {
    expect((await host.api("/api/v1/controls", { headers: { "x-api-key": readerKey } })).status).toBe(200);
    expect((await put({ controls: [] }, readerKey)).status).toBe(403);
    expect((await run({ path: "1.0" }, readerKey)).status).toBe(403);
    const form = await host.api(`/ui/printers/${printer}/controls/run`, { method: "POST", headers: { "x-api-key": readerKey }, body: new URLSearchParams({ path: "1.0" }) });
    expect(form.status).toBe(403);
    expect((await host.api("/settings/controls", { headers: { "x-api-key": readerKey } })).status).toBe(403);
    const page = await (await host.api(`/?printer=${printer}`, { headers: { "x-api-key": readerKey } })).text();
    expect(page).toContain("data-readout=");
    expect(page).not.toContain("/controls/run");

    expect((await run({ path: "3" }, operatorKey)).status).toBe(404); // allowed to press; there is no such control
    expect((await put({ controls: [] }, operatorKey)).status).toBe(403);
    expect((await (await host.api("/api/v1/controls")).json()).controls).toEqual(EXAMPLE_CONTROLS);
  });
});

describe("Settings → Custom controls", () => {
  const form = (path: string, fields: Record<string, string> = {}) => host.api(path, { method: "POST", body: new URLSearchParams(fields) });

  test("the page shows the definition; a wrong one is shown with its problems and not saved; the example loads unsaved", async () => {
    const page = await (await host.api("/settings/controls")).text();
    expect(page).toContain("Preheat PLA");

    let answer = await (await form("/ui/controls", { definition: '[{"name": "Off", "comand": "M84"}]' })).text();
    expect(answer).toContain("Not saved");
    expect(answer).toContain("controls[0].comand: unknown field");
    expect(answer).toContain("&quot;comand&quot;"); // the text as typed stays in the box
    expect((await (await host.api("/api/v1/controls")).json()).controls).toEqual(EXAMPLE_CONTROLS);

    answer = await (await form("/ui/controls", { definition: '[{"name": "Off", "command": "M84"}]' })).text();
    expect(answer).toContain("Saved.");
    expect((await (await host.api("/api/v1/controls")).json()).controls).toEqual([{ name: "Off", command: "M84" }]);

    answer = await (await form("/ui/controls/example")).text();
    expect(answer).toContain("press Save to keep it");
    expect(answer).toContain("M106 S%(speed)s");
    expect((await (await host.api("/api/v1/controls")).json()).controls).toEqual([{ name: "Off", command: "M84" }]);
    // An empty box saves no controls.
    expect(await (await form("/ui/controls", { definition: "" })).text()).toContain("Saved.");
    expect((await (await host.api("/api/v1/controls")).json()).controls).toEqual([]);
  });
});
