/**
 * The self-diagnosis over HTTP on a real host: the API's answer and its schema (also in the
 * OpenAPI document), who may read it (admin, and `layerline doctor`'s local token), the
 * Diagnostics page and Run again, the dashboard's notice when a problem is found (a printer's
 * pty held by another process), and the support bundle — its files, and no secret in it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { ReportSchema } from "../../src/diagnostics/finding.ts";
import { ADMIN, startTestHost, type TestHost } from "../helpers/host.ts";
import { createPtyPair, type PtyPair } from "../helpers/pty.ts";
import { login } from "../helpers/session.ts";

let host: TestHost;
const cleanups: (() => unknown)[] = [];
beforeAll(async () => {
  host = await startTestHost({ diagnostics: { firstDelayMs: 3_600_000, intervalMs: 3_600_000 } });
}, 30_000);
afterAll(() => host.close());
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const running = () => JSON.parse(readFileSync(join(host.dataDir, "update", "running.json"), "utf8")) as { token: string };
const html = async (path: string, init?: RequestInit) => {
  const res = await host.api(path, init);
  expect(res.status).toBe(200);
  return res.text();
};

/** A serial printer whose pty another program holds open: a problem finding. */
async function heldPrinter(): Promise<{ id: string; pid: number }> {
  const pty: PtyPair = await createPtyPair();
  cleanups.push(() => pty.close());
  const res = await host.post("/api/v1/printers", { name: "Held", transport: "serial", port: pty.host, autoconnect: false });
  expect(res.status).toBe(201);
  const { id } = (await res.json()) as { id: string };
  cleanups.push(() => host.api(`/api/v1/printers/${id}`, { method: "DELETE" }));
  const holder = Bun.spawn(["bash", "-c", `exec 3<>"$0"; exec sleep 60`, pty.host], { stdout: "ignore", stderr: "ignore" });
  cleanups.push(() => (holder.kill(), holder.exited));
  while ((await Bun.file(`/proc/${holder.pid}/comm`).text().catch(() => "")).trim() !== "sleep") await Bun.sleep(20);
  return { id, pid: holder.pid };
}

describe("GET /api/v1/diagnostics", () => {
  test("answers the findings, problems first, in the documented shape", async () => {
    const res = await host.api("/api/v1/diagnostics");
    expect(res.status).toBe(200);
    const report = v.parse(ReportSchema, await res.json());
    expect(report.source).toBe("host");
    const c = report.counts;
    expect(c.problem + c.warning + c.unknown + c.ok + c["not-applicable"]).toBe(report.findings.length);
    const order = ["problem", "warning", "unknown", "ok", "not-applicable"];
    const ranks = report.findings.map((f) => order.indexOf(f.status));
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    const areas = new Set(report.findings.map((f) => f.area));
    expect([...areas].sort()).toEqual(["connectivity", "layerline", "power", "serial", "storage", "system"]);
    // The running host knows its own state: nothing about Layerline is unknown.
    const version = report.findings.find((f) => f.id === "layerline.version")!;
    expect(version.found).toContain(`pid ${process.pid}`);
    expect(report.findings.find((f) => f.id === "layerline.restarts")!.status).toBe("ok");
    expect(host.diagnostics.latest()?.at).toBe(report.at);
  });

  test("admins only, and the local token of this machine; in the OpenAPI document with its schema", async () => {
    const admin = host.accounts.users.byName(ADMIN.username)!;
    const ro = host.accounts.createKey(admin, { name: "dashboard", scope: "read-only" }).key;
    const operator = host.accounts.createKey(admin, { name: "farm", scope: "operator" }).key;
    for (const key of [ro, operator]) {
      expect((await host.api("/api/v1/diagnostics", { headers: { "x-api-key": key } })).status).toBe(403);
      expect((await host.api("/api/v1/diagnostics/bundle", { headers: { "x-api-key": key } })).status).toBe(403);
      expect((await host.api("/settings/diagnostics", { headers: { "x-api-key": key } })).status).toBe(403);
    }
    expect((await host.anonymous("/api/v1/diagnostics")).status).toBe(401);
    const local = { "x-layerline-local-token": running().token };
    expect((await host.anonymous("/api/v1/diagnostics", { headers: local })).status).toBe(200);
    expect((await host.anonymous("/api/v1/diagnostics/bundle", { headers: local })).status).toBe(200);
    // The token opens the diagnosis, nothing else that needs admin.
    expect((await host.anonymous("/api/v1/users", { headers: local })).status).toBe(403);
    expect((await host.anonymous("/settings/diagnostics", { headers: local })).status).toBe(403);

    const doc = await (await host.anonymous("/api/v1/openapi.json")).json();
    const op = doc.paths["/api/v1/diagnostics"].get;
    expect(op["x-permission"]).toBe("admin");
    const schema = op.responses["200"].content["application/json"].schema;
    expect(schema.properties.findings.items.properties.status.enum).toEqual(["problem", "warning", "unknown", "ok", "not-applicable"]);
    expect(doc.paths["/api/v1/diagnostics/bundle"].get.responses["200"].content["application/gzip"].schema).toEqual({ type: "string", format: "binary" });
  });

  test("a printer's port held by another program is a problem, named with its fix", async () => {
    const { id, pid } = await heldPrinter();
    const report = v.parse(ReportSchema, await (await host.api("/api/v1/diagnostics")).json());
    const busy = report.findings.find((f) => f.id === `serial.${id}.busy`)!;
    expect(busy.status).toBe("problem");
    expect(busy.found).toContain(`sleep (pid ${pid}`);
    expect(report.findings[0]!.status).toBe("problem");
  }, 20_000);
});

describe("the Diagnostics page and the dashboard's notice", () => {
  test("the page lists the findings grouped, with Run again and the bundle; Run again runs the checks", async () => {
    await host.diagnostics.run();
    const session = await login(host);
    const page = await (await host.anonymous("/settings/diagnostics", { headers: { cookie: session.cookie } })).text();
    expect(page).toContain("data-run-again");
    expect(page).toContain('href="/api/v1/diagnostics/bundle"');
    expect(page).toContain('data-finding="storage.writable"');
    expect(page).toContain('aria-current="page">Diagnostics');
    const before = host.diagnostics.latest()!.at;
    await Bun.sleep(5);
    const fragment = await html("/ui/diagnostics/run", { method: "POST" });
    expect(fragment).toContain('id="diagnostics-report"');
    expect(host.diagnostics.latest()!.at).toBeGreaterThan(before);
  });

  test("problems come first on the page, and the dashboard shows a notice linking to it; none without problems", async () => {
    await host.diagnostics.run();
    expect(await html("/ui/diagnostics/notice")).toContain('data-problems="0"');
    const { id } = await heldPrinter();
    const page = await html("/ui/diagnostics/run", { method: "POST" });
    const problems = page.indexOf('data-group="problem"');
    expect(problems).toBeGreaterThan(-1);
    expect(problems).toBeLessThan(page.indexOf('data-group="ok"'));
    expect(page).toContain(`data-finding="serial.${id}.busy" data-status="problem"`);
    const notice = await html("/ui/diagnostics/notice");
    expect(notice).toContain('data-problems="1"');
    expect(notice).toContain("Other programs using");
    expect(notice).toContain('href="/settings/diagnostics"');
    // On the dashboard for an admin; not for a read-only user, who may not open the page.
    const session = await login(host);
    expect(await (await host.anonymous("/", { headers: { cookie: session.cookie } })).text()).toContain('hx-get="/ui/diagnostics/notice"');
    await host.accounts.addUser("viewer", "a long enough password", "readonly");
    const viewer = await login(host, "viewer", "a long enough password");
    expect(await (await host.anonymous("/", { headers: { cookie: viewer.cookie } })).text()).not.toContain("/ui/diagnostics/notice");
  }, 20_000);
});

describe("the support bundle", () => {
  test("holds the findings, system facts, log, each printer's trace, profile and quirks — and no secret", async () => {
    const apiKey = host.apiKey;
    const mqttPassword = "mqtt-s3cret-pass word";
    const camPassword = "campass-9876";
    const camToken = "camtoken-5555";
    expect((await host.api("/api/v1/mqtt", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ enabled: false, host: "mqtt.invalid", username: "layerline", password: mqttPassword }) })).status).toBe(200);
    const camera = await host.api("/api/v1/printers/virtual-printer/camera", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ streamUrl: `http://camuser:${camPassword}@127.0.0.1:9/?action=stream&token=${camToken}`, snapshotUrl: `http://127.0.0.1:9/snapshot?apikey=${apiKey}` }),
    });
    expect(camera.status).toBe(200);
    // Lines that quote secrets, as a plugin or an error might log them.
    host.recentLog.add("log", `installing https://example.org/p.tgz?apikey=${apiKey}`);
    host.recentLog.add("error", `request failed: Authorization: Bearer ${apiKey}`);
    host.recentLog.add("error", `broker refused the password ${mqttPassword}`);
    await host.waitFor("/api/v1/printers/virtual-printer", (p: any) => p.state === "operational" && p.firmware !== null);

    const res = await host.api("/api/v1/diagnostics/bundle");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/gzip");
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="layerline-support-[\dT-]+\.tar\.gz"$/);
    const out = mkdtempSync(join(tmpdir(), "layerline-bundle-"));
    cleanups.push(() => rmSync(out, { recursive: true, force: true }));
    await Bun.write(join(out, "bundle.tar.gz"), await res.arrayBuffer());
    expect(Bun.spawnSync(["tar", "xzf", "bundle.tar.gz"], { cwd: out }).exitCode).toBe(0);
    const [folder] = readdirSync(out).filter((n) => n.startsWith("layerline-support-"));
    const root = join(out, folder!);
    const files = (Bun.spawnSync(["find", ".", "-type", "f"], { cwd: root }).stdout.toString().trim().split("\n")).map((f) => f.slice(2)).sort();
    for (const f of ["README.txt", "findings.txt", "findings.json", "system.json", "log.txt", "settings.json", "plugins.json", "printers/virtual-printer/printer.json", "printers/virtual-printer/profile.json", "printers/virtual-printer/quirks.json", "printers/virtual-printer/trace.jsonl"]) {
      expect(files).toContain(f);
    }
    v.parse(ReportSchema, JSON.parse(readFileSync(join(root, "findings.json"), "utf8")));
    expect(readFileSync(join(root, "findings.txt"), "utf8")).toContain("The data folder can be written");
    expect(JSON.parse(readFileSync(join(root, "system.json"), "utf8")).dataDir).toBe(host.dataDir);
    expect(readFileSync(join(root, "printers/virtual-printer/trace.jsonl"), "utf8")).toContain('"dir":"send"');
    expect(JSON.parse(readFileSync(join(root, "printers/virtual-printer/quirks.json"), "utf8")).family).toBe("marlin2");
    expect(JSON.parse(readFileSync(join(root, "printers/virtual-printer/profile.json"), "utf8")).volume.width).toBeNumber();
    const settings = JSON.parse(readFileSync(join(root, "settings.json"), "utf8"));
    expect(settings["mqtt.config"].password).toBe("[redacted]");
    expect(settings["mqtt.config"].host).toBe("mqtt.invalid");
    expect(settings["webcam.camera.virtual-printer"].streamUrl).toBe("http://[redacted]@127.0.0.1:9/?action=stream&token=[redacted]");
    expect(readFileSync(join(root, "log.txt"), "utf8")).toContain("installing https://example.org/p.tgz?apikey=[redacted]");

    // Not one secret, anywhere in any file (grep, as a person checking the bundle would).
    for (const secret of [apiKey, mqttPassword, camPassword, camToken, running().token, ADMIN.password]) {
      const grep = Bun.spawnSync(["grep", "-rlF", "--", secret, "."], { cwd: root });
      expect({ secret, files: grep.stdout.toString().trim() }).toEqual({ secret, files: "" });
    }
    expect(statSync(join(root, "log.txt")).size).toBeGreaterThan(0);
  }, 30_000);
});
