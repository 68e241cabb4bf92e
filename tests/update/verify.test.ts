/**
 * The pieces an update is built from: manifest signatures, what a release means for a host,
 * platform requirements, verified downloads, the atomic swap and the database backup.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/db/database.ts";
import { backupDatabase, restoreDatabase } from "../../src/update/backup.ts";
import { evaluateRelease, type HostFacts } from "../../src/update/check.ts";
import { downloadVerified } from "../../src/update/download.ts";
import { execve } from "../../src/update/exec.ts";
import { previousPath, replaceKeepingPrevious, restorePrevious } from "../../src/update/install.ts";
import { manifestUrl, type ReleaseManifest } from "../../src/update/manifest.ts";
import { compareDotted, unmetRequirements, type Platform } from "../../src/update/platform.ts";
import { UpdateError } from "../../src/update/problem.ts";
import { progressLine, TerminalProgress } from "../../src/update/progress.ts";
import { RELEASE_PUBLIC_KEY, trustedPublicKey } from "../../src/update/release-key.ts";
import { keyId, parsePublicKey } from "../../src/signing/ed25519.ts";
import { canonicalJson, signManifest, verifyRelease } from "../../src/update/signature.ts";
import { throwawayKey } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "layerline-verify-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const key = throwawayKey(dir);

const manifest: ReleaseManifest = {
  format: 1,
  name: "layerline",
  version: "2.0.0",
  channel: "stable",
  published: "2025-05-01T10:00:00.000Z",
  minimumVersion: "1.0.0",
  notes: "Notes ✓",
  migration: "Reflash with a newer OS.",
  targets: {
    "linux-x64": { file: "layerline-linux-x64", size: 10, sha256: "a".repeat(64), requires: { glibc: "2.17", cpu: ["avx2"] } },
    "linux-arm64": { file: "layerline-linux-arm64", size: 11, sha256: "b".repeat(64) },
  },
};

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (e instanceof UpdateError) return e;
    throw e;
  }
  throw new Error("expected a refusal");
};

describe("signatures", () => {
  test("canonical JSON sorts keys at every level and ignores layout", () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: "x" }], e: null })).toBe('{"a":[{"c":"x","d":2}],"b":1,"e":null}');
    expect(canonicalJson(JSON.parse('{ "z" : 1,\n "y" : "é" }'))).toBe('{"y":"é","z":1}');
  });

  test("a signed manifest verifies, also pretty-printed, and only with its key", () => {
    const signed = signManifest(manifest, key.privateKey);
    expect(signed.signature.keyId).toBe(keyId(key.publicKey));
    expect(verifyRelease(JSON.stringify(signed, null, 2), key.publicKey)).toEqual(manifest);
    const other = throwawayKey(dir);
    const e = refusal(() => verifyRelease(JSON.stringify(signed), other.publicKey));
    expect(e.code).toBe("bad_signature");
    expect(e.message).toContain(`signed by key ${keyId(key.publicKey)}, but this host trusts key ${keyId(other.publicKey)}`);
  });

  test("any change after signing is refused, even one the schema would accept", () => {
    const signed = signManifest(manifest, key.privateKey);
    for (const change of [{ version: "2.0.1" }, { notes: "Notes" }, { targets: { ...manifest.targets, "linux-x64": { ...manifest.targets["linux-x64"]!, size: 11 } } }]) {
      const e = refusal(() => verifyRelease(JSON.stringify({ ...signed, manifest: { ...signed.manifest, ...change } }), key.publicKey));
      expect(e.code).toBe("bad_signature");
      expect(e.message).toContain("changed after it was signed");
    }
    const forged = { ...signed, signature: { ...signed.signature, value: Buffer.alloc(64).toString("base64") } };
    expect(refusal(() => verifyRelease(JSON.stringify(forged), key.publicKey)).code).toBe("bad_signature");
  });

  test("malformed files are refused before anything is trusted", () => {
    expect(refusal(() => verifyRelease("<html>", key.publicKey)).code).toBe("bad_manifest");
    expect(refusal(() => verifyRelease(JSON.stringify({ manifest }), key.publicKey)).message).toContain("signature");
    // Correctly signed, but not a valid manifest (a path as the file name).
    const bad = { ...manifest, targets: { "linux-x64": { ...manifest.targets["linux-x64"]!, file: "../../etc/passwd" } } };
    const e = refusal(() => verifyRelease(JSON.stringify(signManifest(bad, key.privateKey)), key.publicKey));
    expect(e.code).toBe("bad_manifest");
    expect(e.message).toContain("targets.linux-x64.file: must be a plain file name");
  });

  test("a release that adds a target this version does not know still verifies, and is offered here", () => {
    const future = { ...manifest, targets: { ...manifest.targets, "linux-riscv64": { file: "layerline-linux-riscv64", size: 12, sha256: "c".repeat(64), requires: { isa: "rv64gc" } } } };
    const verified = verifyRelease(JSON.stringify(signManifest(future as ReleaseManifest, key.privateKey)), key.publicKey);
    expect(verified.targets["linux-x64"]).toEqual(manifest.targets["linux-x64"]!);
    expect(evaluateRelease(verified, { version: "1.5.0", target: "linux-arm64", platform: { arch: "arm64", kernel: "6.1", glibc: "2.36", cpu: [] }, failedVersions: [] })).toEqual({ kind: "update", target: manifest.targets["linux-arm64"]! });
  });

  test("the built-in key is a real Ed25519 public key; --update-public-key files are checked", () => {
    expect(trustedPublicKey().asymmetricKeyType).toBe("ed25519");
    expect(keyId(parsePublicKey(RELEASE_PUBLIC_KEY))).toMatch(/^[0-9a-f]{16}$/);
    expect(keyId(trustedPublicKey(key.publicKeyFile))).toBe(keyId(key.publicKey));
    expect(() => trustedPublicKey(join(dir, "missing.pem"))).toThrow("Cannot read the update public key");
    writeFileSync(join(dir, "not-a-key.pem"), "hello");
    expect(() => trustedPublicKey(join(dir, "not-a-key.pem"))).toThrow("is not a PEM public key");
  });

  test("{channel} in the update URL names the channel's manifest", () => {
    expect(manifestUrl("https://example.org/{channel}/release.json", "beta")).toBe("https://example.org/beta/release.json");
    expect(manifestUrl("https://example.org/release.json", "beta")).toBe("https://example.org/release.json");
  });
});

describe("what a release means for a host", () => {
  const platform: Platform = { arch: "x64", kernel: "6.1.0-18-amd64", glibc: "2.36", cpu: ["sse4_2", "avx2"] };
  const facts = (change: Partial<HostFacts> = {}): HostFacts => ({ version: "1.5.0", target: "linux-x64", platform, failedVersions: [], ...change });

  test("newer and runnable: an update", () => {
    expect(evaluateRelease(manifest, facts())).toEqual({ kind: "update", target: manifest.targets["linux-x64"]! });
  });
  test("not newer: up to date (also a downgrade is never offered)", () => {
    expect(evaluateRelease(manifest, facts({ version: "2.0.0" })).kind).toBe("up-to-date");
    expect(evaluateRelease(manifest, facts({ version: "3.0.0" })).kind).toBe("up-to-date");
    expect(evaluateRelease({ ...manifest, version: "2.0.0-beta.1" }, facts({ version: "2.0.0" })).kind).toBe("up-to-date");
  });
  test("older than the minimum upgrade-from version", () => {
    expect(evaluateRelease(manifest, facts({ version: "0.9.0" }))).toEqual({ kind: "too-old", minimumVersion: "1.0.0" });
  });
  test("a platform the release no longer supports gets the migration text", () => {
    expect(evaluateRelease(manifest, facts({ platform: { ...platform, cpu: ["sse4_2"] } }))).toEqual({
      kind: "unsupported",
      unmet: ["a CPU with avx2 (this processor lacks it)"],
      migration: "Reflash with a newer OS.",
    });
    expect(evaluateRelease(manifest, facts({ target: null })).kind).toBe("unsupported");
  });
  test("a version rolled back here before is not offered again", () => {
    expect(evaluateRelease(manifest, facts({ failedVersions: ["2.0.0"] })).kind).toBe("failed-before");
  });
  test("requirements compare as dotted numbers", () => {
    expect(compareDotted("5.10.0-rc1", "5.4")).toBeGreaterThan(0);
    expect(compareDotted("4.19.0-25-amd64", "5.4")).toBeLessThan(0);
    expect(unmetRequirements({ kernel: "5.4", glibc: "2.31" }, { ...platform, kernel: "4.19.0-25-amd64", glibc: "2.28" })).toEqual([
      "Linux kernel 5.4 or newer (this system has 4.19.0-25-amd64)",
      "GNU C library 2.31 or newer (this system has 2.28)",
    ]);
    expect(unmetRequirements({ glibc: "2.17" }, { ...platform, glibc: null })[0]).toContain("has none");
    expect(unmetRequirements(undefined, platform)).toEqual([]);
  });
});

describe("verified downloads", () => {
  const body = new TextEncoder().encode("the new binary ".repeat(5000));
  const sha256 = new Bun.CryptoHasher("sha256").update(body).digest("hex");
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/ok") return new Response(body);
      if (path === "/longer") return new Response(new Blob([body, body]));
      if (path === "/chunked-short")
        return new Response(
          new ReadableStream({
            start(c) {
              c.enqueue(body.slice(0, 1000));
              c.close();
            },
          }),
        );
      // Sends the first 1000 bytes, then nothing more (the connection stays open).
      if (path === "/stalls") return new Response(new ReadableStream({ start: (c) => c.enqueue(body.slice(0, 1000)) }), { headers: { "content-length": String(body.length) } });
      // Never answers at all.
      if (path === "/silent") return new Promise<Response>(() => {});
      return new Response("no", { status: 404 });
    },
  });
  afterAll(() => server.stop(true));
  const url = (p: string) => `http://127.0.0.1:${server.port}${p}`;

  const failure = async (p: string, expected = { size: body.length, sha256 }, options: { stallMs?: number } = {}) => {
    const folder = mkdtempSync(join(dir, "dl-"));
    const error = await downloadVerified(url(p), expected, folder, options).then(
      () => null,
      (e) => e as UpdateError,
    );
    expect(readdirSync(folder)).toEqual([]); // nothing left behind
    return error!;
  };

  test("a good download lands in a temp file in the target folder, with progress", async () => {
    const folder = mkdtempSync(join(dir, "dl-"));
    const seen: number[] = [];
    const path = await downloadVerified(url("/ok"), { size: body.length, sha256 }, folder, { mode: 0o755, onProgress: (r) => seen.push(r) });
    expect(path.startsWith(join(folder, ".layerline-download-ok-"))).toBe(true);
    expect(new Uint8Array(readFileSync(path))).toEqual(body);
    expect(statSync(path).mode & 0o777).toBe(0o755);
    expect(seen.at(-1)).toBe(body.length);
  });

  test("wrong size, wrong hash, a short or a missing file are refused and deleted", async () => {
    expect((await failure("/longer")).code).toBe("size_mismatch");
    expect((await failure("/ok", { size: body.length, sha256: "0".repeat(64) })).code).toBe("hash_mismatch");
    const short = await failure("/chunked-short");
    expect(short.code).toBe("size_mismatch");
    expect(short.message).toContain(`ended after 1000 of ${body.length} bytes (truncated)`);
    expect((await failure("/missing")).code).toBe("fetch_failed");
    // More bytes than the manifest says: stopped as soon as it is known, not after the whole file.
    const big = await failure("/ok", { size: 100, sha256 });
    expect(big.code).toBe("size_mismatch");
  });

  test("a server that stops sending, or never answers, ends the download with the reason", async () => {
    const stalled = await failure("/stalls", undefined, { stallMs: 300 });
    expect(stalled).toBeInstanceOf(UpdateError);
    expect(stalled.toJSON()).toEqual({
      code: "fetch_failed",
      message: `The download of stalls stalled: nothing arrived for 0.3 s after 1000 of ${body.length} bytes. Nothing was installed.`,
      hint: "Check the network connection and try again; if it keeps happening, the server is overloaded or down.",
    });
    const silent = await failure("/silent", undefined, { stallMs: 300 });
    expect(silent.message).toBe(`The server did not answer within 0.3 s for ${url("/silent")}. Nothing was installed.`);
  }, 10_000);
});

describe("the swap", () => {
  test("replaces atomically, keeps the previous file, and can restore it", () => {
    const target = join(dir, "layerline");
    writeFileSync(target, "v1", { mode: 0o750 });
    writeFileSync(join(dir, ".new"), "v2");
    replaceKeepingPrevious(join(dir, ".new"), target);
    expect(readFileSync(target, "utf8")).toBe("v2");
    expect(readFileSync(previousPath(target), "utf8")).toBe("v1");
    expect(statSync(target).mode & 0o777).toBe(0o750);
    expect(existsSync(join(dir, ".new"))).toBe(false);
    expect(restorePrevious(target)).toBe(true);
    expect(readFileSync(target, "utf8")).toBe("v1");
    expect(readFileSync(`${target}.failed`, "utf8")).toBe("v2");
    expect(restorePrevious(target)).toBe(false);
  });

  test("a failed swap leaves the installed file and removes the download", () => {
    const target = join(dir, "no-such-folder", "layerline");
    writeFileSync(join(dir, ".new2"), "v2");
    expect(() => replaceKeepingPrevious(join(dir, ".new2"), target)).toThrow("The installed version is unchanged");
    expect(existsSync(join(dir, ".new2"))).toBe(false);
  });
});

describe("re-executing", () => {
  test("execve reports why the kernel refused, and this process goes on", () => {
    expect(execve(join(dir, "no-such-binary"), ["x"], {})).toBe("ENOENT");
    writeFileSync(join(dir, "not-executable"), "data");
    expect(execve(join(dir, "not-executable"), ["x"], {})).toBe("EACCES");
  });
});

describe("database backup", () => {
  test("VACUUM INTO copy while in WAL; restoring drops the newer WAL", () => {
    const data = mkdtempSync(join(dir, "db-"));
    const db = openDatabase(data);
    db.query("INSERT INTO settings (key, value) VALUES ('before', '1')").run();
    backupDatabase(db, join(data, "backup.sqlite"));
    db.query("INSERT INTO settings (key, value) VALUES ('after', '1')").run();
    db.exec("CREATE TABLE newer (x)");
    db.close();
    writeFileSync(join(data, "layerline.sqlite-wal"), "stale wal of the newer version");
    restoreDatabase(join(data, "backup.sqlite"), join(data, "layerline.sqlite"));
    expect(existsSync(join(data, "layerline.sqlite-wal"))).toBe(false);
    const again = openDatabase(data);
    expect((again.query("SELECT key FROM settings").all() as { key: string }[]).map((r) => r.key)).toEqual(["before"]);
    expect(again.query("SELECT name FROM sqlite_master WHERE name = 'newer'").get()).toBeNull();
    again.close();
  });
});

describe("the terminal progress bar", () => {
  test("draws a bar with percent, size and rate", () => {
    expect(progressLine(5 * 1024 * 1024, 10 * 1024 * 1024, 2000, 10)).toBe("[#####-----]  50%  5.0/10.0 MB  2.5 MB/s");
    expect(progressLine(0, 0, 0, 4)).toBe("[----]   0%  0.0/0.0 MB  0.0 MB/s");
  });

  test("redraws in place on a terminal, one line per tenth in a log", () => {
    const tty = { text: "", isTTY: true, write(t: string) { this.text += t; } };
    const bar = new TerminalProgress(tty);
    bar.update(10, 10);
    bar.finish();
    expect(tty.text.startsWith("\r[")).toBe(true);
    expect(tty.text.endsWith("\n")).toBe(true);
    const log = { text: "", write(t: string) { this.text += t; } };
    const logged = new TerminalProgress(log);
    for (let i = 0; i <= 100; i++) logged.update(i, 100);
    expect(log.text.trim().split("\n")).toHaveLength(11);
  });
});
