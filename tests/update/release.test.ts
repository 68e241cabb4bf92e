/**
 * `bun run release`: both targets built, measured and listed in a signed dist/release.json.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { release } from "../../build.ts";
import { sha256File } from "../../src/update/download.ts";
import { keyId } from "../../src/signing/ed25519.ts";
import { verifyRelease } from "../../src/update/signature.ts";
import { setUpAdmin } from "../helpers/host.ts";
import { throwawayKey } from "./helpers.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "layerline-release-"));
const key = throwawayKey(dir);
const keyFile = join(dir, "signing-key.pem");
writeFileSync(keyFile, key.privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let manifestPath: string;
beforeAll(async () => {
  manifestPath = await release(
    { version: "1.4.0-beta.2", channel: "beta", notes: "Beta notes.", minimumVersion: "1.0.0", kernel: "4.19", migration: "Reflash.", out: join(dir, "dist") },
    { LAYERLINE_SIGNING_KEY: keyFile },
  );
}, 180_000);

describe("bun run release", () => {
  test("writes both binaries and a manifest signed by the key from LAYERLINE_SIGNING_KEY", async () => {
    const text = readFileSync(manifestPath, "utf8");
    const signed = JSON.parse(text);
    expect(signed.signature.keyId).toBe(keyId(key.publicKey));
    const manifest = verifyRelease(text, key.publicKey);
    expect(manifest).toMatchObject({ version: "1.4.0-beta.2", channel: "beta", notes: "Beta notes.", minimumVersion: "1.0.0", migration: "Reflash." });
    for (const [target, cpu] of [["linux-x64", ["avx2"]], ["linux-arm64", undefined]] as const) {
      const entry = manifest.targets[target]!;
      const file = join(dir, "dist", entry.file);
      expect(entry.file).toBe(`layerline-${target}`);
      expect(entry.size).toBe(Bun.file(file).size);
      expect(entry.sha256).toBe(await sha256File(file));
      // The C library requirement is read from the binary itself.
      expect(entry.requires).toEqual({ kernel: "4.19", glibc: expect.stringMatching(/^2\.\d+$/), ...(cpu ? { cpu: [...cpu] } : {}) });
    }
    // The version is stamped into the binaries.
    expect(Bun.spawnSync([join(dir, "dist", "layerline-linux-x64"), "--version"]).stdout.toString().trim()).toBe("1.4.0-beta.2");
  });

  test("the build follows its channel", async () => {
    const proc = Bun.spawn([join(dir, "dist", "layerline-linux-x64"), "--port", "0", "--host", "127.0.0.1", "--data-dir", join(dir, "data")], { stdout: "pipe", stderr: "pipe" });
    try {
      const reader = proc.stdout.getReader();
      let out = "";
      while (!out.includes("is running")) out += new TextDecoder().decode((await reader.read()).value);
      const url = /(http:\/\/\S+)/.exec(out)![1];
      const key = await setUpAdmin(url);
      expect(await (await fetch(`${url}/api/v1/update`, { headers: { "x-api-key": key } })).json()).toMatchObject({ channel: "beta", version: "1.4.0-beta.2" });
    } finally {
      proc.kill();
      await proc.exited;
    }
  }, 30_000);

  test("without LAYERLINE_SIGNING_KEY it refuses and says how", () => {
    const r = Bun.spawnSync(["bun", "run", "release", "--target", "x64", "--out", join(dir, "unsigned")], { cwd: ROOT, env: { ...process.env, LAYERLINE_SIGNING_KEY: "" } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString()).toContain("LAYERLINE_SIGNING_KEY is not set");
  }, 60_000);
});
