/**
 * The update API and notice on an in-process host: status, settings, checks that fail for the
 * usual reasons, the old-platform rule, and refusals. (The real swap is in self-update.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Requirements } from "../../src/update/manifest.ts";
import type { ProcessControl } from "../../src/update/process-control.ts";
import { VERSION } from "../../src/version.ts";
import { startTestHost, type TestHost } from "../helpers/host.ts";
import { manifestFor, ReleaseServer, throwawayKey, type KeyPair } from "./helpers.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
let dir: string;
let key: KeyPair;
let server: ReleaseServer;
let binary: string;
let host: TestHost;

/** A process control for a binary that is not this test process: installable, never re-executed. */
function fakeControl(execPath: string | null): ProcessControl & { reexecs: number; exits: number[] } {
  const control = {
    execPath,
    argv: [],
    cwd: dir,
    reexecs: 0,
    exits: [] as number[],
    reexec() {
      control.reexecs++;
      return "not in a test";
    },
    exit(code: number) {
      control.exits.push(code);
      return undefined as never;
    },
  };
  return control;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "layerline-update-api-"));
  key = throwawayKey(dir);
  server = new ReleaseServer();
  mkdirSync(join(dir, "bin"));
  binary = join(dir, "bin", "layerline");
  writeFileSync(binary, "#!/bin/sh\necho 9.0.0\n", { mode: 0o755 });
  host = await startTestHost({ update: { publicKey: key.publicKey, control: fakeControl(binary) } });
}, 30_000);

afterAll(async () => {
  await host?.close();
  server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("update status and settings", () => {
  test("GET /api/v1/update describes this host", async () => {
    const status = await (await host.api("/api/v1/update")).json();
    expect(status).toMatchObject({ version: VERSION, channel: "stable", checkHours: 24, installable: { ok: true }, job: { state: "idle" }, lastResult: null });
    expect(status.platform.kernel).toMatch(/^\d+\.\d+/);
    expect(status.target).toBe(process.arch === "x64" ? "linux-x64" : "linux-arm64");
    expect((await (await host.api("/api/v1")).json()).endpoints.map((e: { path: string }) => e.path)).toContain("/api/v1/update/start");
  });

  test("settings are validated and kept", async () => {
    const bad = await host.api("/api/v1/update/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ url: "ftp://x", channel: "nightly" }) });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toMatch(/url|channel/);
    const good = await host.api("/api/v1/update/settings", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ url: `${server.url}/{channel}/release.json`, channel: "beta", checkHours: 0, selfTestSeconds: 60 }),
    });
    expect(good.status).toBe(200);
    expect(await good.json()).toMatchObject({ url: `${server.url}/{channel}/release.json`, channel: "beta", checkHours: 0, selfTestSeconds: 60 });
    const reset = await host.api("/api/v1/update/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ url: null, channel: "stable" }) });
    expect((await reset.json()).url).toBeNull();
  });

  test("checks that fail say why", async () => {
    const none = await (await host.post("/api/v1/update/check")).json();
    expect(none.check.error).toMatchObject({ code: "no_source", message: "No update URL is configured." });

    const missing = await (await host.post("/api/v1/update/check", { url: `${server.url}/nothing/release.json` })).json();
    expect(missing.check.error.code).toBe("fetch_failed");
    expect(missing.check.error.message).toContain("404");

    server.publish("garbage", { hello: "world" }, { bytes: new Uint8Array(1) });
    const garbage = await (await host.post("/api/v1/update/check", { url: `${server.url}/garbage/release.json` })).json();
    expect(garbage.check.error.code).toBe("bad_manifest");

    server.publish("beta-only", await manifestFor(binary, { version: "9.0.0", key: key.privateKey, channel: "beta" }), { file: binary });
    const beta = await (await host.post("/api/v1/update/check", { url: `${server.url}/beta-only/release.json` })).json();
    expect(beta.check.error).toMatchObject({ code: "wrong_channel" });

    const refused = await host.post("/api/v1/update/start", { url: `${server.url}/garbage/release.json` });
    expect(refused.status).toBe(409);
    expect((await refused.json()).error.code).toBe("bad_manifest");
    const invalid = await host.post("/api/v1/update/start", { url: 42 });
    expect(invalid.status).toBe(400);
    const cancel = await host.post("/api/v1/update/cancel");
    expect(cancel.status).toBe(409);
  });

  test("a manifest that never ends is refused once it is too big, not read into memory", async () => {
    // 2 MB without a length, then the connection stays open: the whole body never arrives.
    const endless = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: () => new Response(new ReadableStream({ start: (c) => { for (let i = 0; i < 32; i++) c.enqueue(new Uint8Array(65536).fill(32)); } })),
    });
    try {
      const url = `http://127.0.0.1:${endless.port}/release.json`;
      const status = await (await host.post("/api/v1/update/check", { url })).json();
      expect(status.check.error).toEqual({
        code: "bad_manifest",
        message: `${url} is too big for a release manifest (it is larger than the limit of 1048576 bytes).`,
        hint: "Check the update URL: it must point at a release.json.",
      });
    } finally {
      endless.stop(true);
    }
  }, 10_000);

  test("a failed check is shown on every page with the reason, can be tried again, and put away until it fails differently", async () => {
    const notice = async () => (await host.api("/ui/update/notice")).text();
    const signed = await manifestFor(binary, { version: "9.0.0", key: key.privateKey });
    const altered = server.publish("altered", { ...signed, manifest: { ...signed.manifest, notes: "Install me." } }, { file: binary });
    await host.post("/api/v1/update/check", { url: altered });
    const shown = await notice();
    expect(shown).toContain('data-kind="error"');
    expect(shown).toContain("Could not check for updates.");
    expect(shown).toContain("The release manifest&#39;s signature does not verify: it was changed after it was signed.");
    expect(shown).toContain('hx-post="/ui/update/check"');

    // Put away; the same failure again stays away, another one shows.
    await host.api("/ui/update/dismiss", { method: "POST" });
    expect(await notice()).toContain("hidden");
    await host.post("/api/v1/update/check", { url: altered });
    expect(await notice()).not.toContain("Could not check for updates.");
    await host.post("/api/v1/update/check", { url: `${server.url}/nothing/release.json` });
    expect(await notice()).toContain("The update server answered 404");
    await host.api("/ui/update/dismiss", { method: "POST" });

    // Check again (the configured source) answers with the fresh notice.
    await host.api("/api/v1/update/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ url: server.publish("again", signed, { file: binary }) }) });
    const again = await (await host.api("/ui/update/check", { method: "POST" })).text();
    expect(again).toContain("Layerline 9.0.0 is available");
    await host.api("/api/v1/update/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ url: null }) });
  });

  test("nothing newer: up to date, and start says so", async () => {
    const url = server.publish("same", await manifestFor(binary, { version: VERSION, key: key.privateKey }), { file: binary });
    const status = await (await host.post("/api/v1/update/check", { url })).json();
    expect(status.check).toMatchObject({ verdict: "up-to-date", latest: { version: VERSION } });
    const res = await host.post("/api/v1/update/start", { url });
    expect(res.status).toBe(409);
    expect((await res.json()).error).toMatchObject({ code: "no_update" });
  });

  test("a version this one is too old for is not installed directly", async () => {
    const url = server.publish("min", await manifestFor(binary, { version: "9.0.0", key: key.privateKey, minimumVersion: "8.0.0" }), { file: binary });
    expect((await (await host.post("/api/v1/update/check", { url })).json()).check).toMatchObject({ verdict: "too-old", minimumVersion: "8.0.0" });
    const res = await host.post("/api/v1/update/start", { url });
    expect((await res.json()).error.message).toContain("update to 8.0.0 or later first");
  });
});

describe("`layerline update` and this running host", () => {
  test("the command authenticates with the host's local token; a wrong token is refused with the reason", async () => {
    const url = server.publish("cli", await manifestFor(binary, { version: "9.2.0", key: key.privateKey, notes: "From the command line." }), { file: binary });
    const run = async () => {
      // Asynchronous: the release server runs in this process.
      const proc = Bun.spawn(["bun", MAIN, "update", "--check", "--data-dir", host.dataDir, "--url", url], { stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      return { stdout, stderr, exitCode };
    };
    const ok = await run();
    expect(ok.stdout).toContain(`is running (pid ${process.pid}, ${host.url})`);
    expect(ok.stdout).toContain("Layerline 9.2.0 is available");
    expect(ok.exitCode).toBe(0);

    const file = join(host.dataDir, "update", "running.json");
    const announced = readFileSync(file, "utf8");
    writeFileSync(file, JSON.stringify({ ...JSON.parse(announced), token: "x".repeat(43) }));
    try {
      const refused = await run();
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain(`The running Layerline refused the local token from ${file}`);
    } finally {
      writeFileSync(file, announced);
    }
  }, 30_000);
});

describe("old platforms", () => {
  const migration = "This system is too old for Layerline 9. Flash Raspberry Pi OS Bookworm (64-bit) and copy the data folder across: https://example.org/migrate";

  test("a release that needs a newer kernel is not offered; the migration path is shown", async () => {
    const url = server.publish("new-kernel", await manifestFor(binary, { version: "9.0.0", key: key.privateKey, requires: { kernel: "99.0" }, migration }), { file: binary });
    const status = await (await host.post("/api/v1/update/check", { url })).json();
    expect(status.check).toMatchObject({ verdict: "unsupported", migration, latest: { version: "9.0.0" } });
    expect(status.check.unmet[0]).toMatch(/^Linux kernel 99\.0 or newer \(this system has \d/);

    const notice = await (await host.api("/ui/update/notice")).text();
    expect(notice).toContain("Layerline 9.0.0 no longer runs on this system");
    expect(notice).toContain("This host stays on " + VERSION);
    expect(notice).toContain("Flash Raspberry Pi OS Bookworm");
    expect(notice).not.toContain("/ui/update/start");

    const res = await host.post("/api/v1/update/start", { url });
    expect(res.status).toBe(409);
    const error = (await res.json()).error;
    expect(error.code).toBe("unsupported_platform");
    expect(error.message).toContain(`This host stays on ${VERSION}`);
    expect(error.hint).toBe(migration);
    expect((await (await host.api("/api/v1/update")).json()).job.state).toBe("idle");
  });

  test("a missing CPU feature, a newer C library, or no build for this architecture", async () => {
    const cases: [string, Requirements, RegExp][] = [
      ["cpu", { cpu: ["no_such_feature"] }, /CPU with no_such_feature/],
      ["glibc", { glibc: "9.99" }, /GNU C library 9\.99 or newer/],
    ];
    for (const [name, requires, expected] of cases) {
      const url = server.publish(`old-${name}`, await manifestFor(binary, { version: "9.0.0", key: key.privateKey, requires, migration }), { file: binary });
      const status = await (await host.post("/api/v1/update/check", { url })).json();
      expect(status.check.verdict).toBe("unsupported");
      expect(status.check.unmet.join()).toMatch(expected);
    }
    const signed = await manifestFor(binary, { version: "9.0.0", key: key.privateKey, migration });
    const other = process.arch === "x64" ? "linux-arm64" : "linux-x64";
    const { signManifest } = await import("../../src/update/signature.ts");
    const url = server.publish("other-arch", signManifest({ ...signed.manifest, targets: { [other]: signed.manifest.targets["linux-x64"]! } }, key.privateKey), { file: binary });
    const status = await (await host.post("/api/v1/update/check", { url })).json();
    expect(status.check.verdict).toBe("unsupported");
    expect(status.check.unmet[0]).toContain("this release has none");
  });

  test("a release the platform can run is offered with an Update button", async () => {
    const url = server.publish("fine", await manifestFor(binary, { version: "9.0.0", key: key.privateKey, requires: { kernel: "3.2", cpu: [] }, notes: "Line one\n<b>not markup</b>" }), { file: binary });
    const status = await (await host.post("/api/v1/update/check", { url })).json();
    expect(status.check.verdict).toBe("update");
    const notice = await (await host.api("/ui/update/notice")).text();
    expect(notice).toContain("Layerline 9.0.0 is available");
    expect(notice).toContain('hx-post="/ui/update/start"');
    expect(notice).toContain("&lt;b&gt;not markup&lt;/b&gt;");
  });
});

describe("periodic checks", () => {
  test("the configured source is checked on schedule and a new release is logged", async () => {
    const lines: string[] = [];
    const url = server.publish("periodic", await manifestFor(binary, { version: "9.2.0", key: key.privateKey }), { file: binary });
    const periodic = await startTestHost({ log: (l) => lines.push(l), update: { publicKey: key.publicKey, firstCheckDelayMs: 100 } });
    try {
      expect((await (await periodic.api("/api/v1/update")).json()).check).toBeNull();
      await periodic.api("/api/v1/update/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ url, checkHours: 6 }) });
      const status = await periodic.waitFor("/api/v1/update", (s) => s.check !== null, 5_000);
      expect(status.check).toMatchObject({ verdict: "update", latest: { version: "9.2.0" } });
      expect(lines.join("\n")).toContain("Layerline 9.2.0 is available");
    } finally {
      await periodic.close();
    }
  }, 30_000);
});

describe("from source", () => {
  test("a host running from source checks but does not install", async () => {
    const source = await startTestHost({ update: { publicKey: key.publicKey } });
    try {
      const url = server.publish("src", await manifestFor(binary, { version: "9.0.0", key: key.privateKey }), { file: binary });
      const status = await (await source.post("/api/v1/update/check", { url })).json();
      expect(status.installable).toMatchObject({ ok: false });
      expect(status.installable.reason).toContain("runs from source");
      const res = await source.post("/api/v1/update/start", { url });
      expect(res.status).toBe(409);
      expect((await res.json()).error.code).toBe("not_installable");
      expect(await (await source.api("/ui/update/notice")).text()).toContain("runs from source");
    } finally {
      await source.close();
    }
  }, 30_000);
});

describe("leftovers", () => {
  test("a download a crash left next to the binary is removed at the next start; one under way is not", async () => {
    const bin = mkdtempSync(join(dir, "bin-"));
    const binary2 = join(bin, "layerline");
    writeFileSync(binary2, "#!/bin/sh\necho 9.0.0\n", { mode: 0o755 });
    const stale = join(bin, ".layerline-download-layerline-0badf00d");
    const fresh = join(bin, ".layerline-download-layerline-5eed1e55");
    writeFileSync(stale, new Uint8Array(1000));
    writeFileSync(fresh, new Uint8Array(1000));
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(stale, hourAgo, hourAgo);
    const lines: string[] = [];
    const restarted = await startTestHost({ log: (l) => lines.push(l), update: { publicKey: key.publicKey, control: fakeControl(binary2) } });
    try {
      expect(readdirSync(bin).sort()).toEqual([".layerline-download-layerline-5eed1e55", "layerline"]);
      expect(lines).toContain(`Removed ${stale}, a download an earlier run left unfinished.`);
    } finally {
      await restarted.close();
    }
  }, 30_000);
});
