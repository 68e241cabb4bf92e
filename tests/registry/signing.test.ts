/**
 * Signing the repository index: `registry build --sign-key` writes detached signatures over the
 * exact bytes of plugins.json and notices.json; `registry serve --sign-key` signs every site it
 * rebuilds after a statistics export and serves the signatures. A throwaway key, never the release key.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { buildRegistry } from "../../src/registry/build.ts";
import { registryCli } from "../../src/registry/cli.ts";
import { startRegistryService } from "../../src/registry/service.ts";
import { keyId, SignatureSchema, signatureVerifies } from "../../src/signing/ed25519.ts";
import { throwawayKey, type KeyPair } from "../update/helpers.ts";
import { REAL_ENTRIES, tempDir } from "./helpers.ts";

let work: string;
let key: KeyPair;
let keyFile: string;

beforeAll(() => {
  work = tempDir();
  key = throwawayKey(work);
  keyFile = join(work, "index-key.pem");
  writeFileSync(keyFile, key.privateKey.export({ type: "pkcs8", format: "pem" }));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The signature of `file` in `dir`, checked over the file's bytes. */
function signatureOf(dir: string, file: string, publicKey = key.publicKey) {
  const signature = v.parse(SignatureSchema, JSON.parse(readFileSync(join(dir, `${file}.sig`), "utf8")));
  return { ...signature, verifies: signatureVerifies(readFileSync(join(dir, file)), signature, publicKey) };
}

test("build --sign-key: plugins.json.sig and notices.json.sig verify over the files' exact bytes; one changed byte does not", async () => {
  const out = join(work, "site");
  const result = await buildRegistry({ entriesDir: REAL_ENTRIES, outDir: out, signKey: key.privateKey });
  expect(result.signedBy).toBe(keyId(key.publicKey));
  for (const file of ["plugins.json", "notices.json"]) expect(signatureOf(out, file)).toMatchObject({ algorithm: "ed25519", keyId: keyId(key.publicKey), verifies: true });
  const signature = v.parse(SignatureSchema, JSON.parse(readFileSync(join(out, "plugins.json.sig"), "utf8")));
  const bytes = readFileSync(join(out, "plugins.json"));
  bytes[bytes.length - 2] ^= 1;
  expect(signatureVerifies(bytes, signature, key.publicKey)).toBe(false);
  // Without a key: no signature files, and none left from a signed build.
  expect((await buildRegistry({ entriesDir: REAL_ENTRIES, outDir: out })).signedBy).toBeNull();
  expect(Bun.file(join(out, "plugins.json.sig")).size).toBe(0);
});

test("the CLI: --sign-key signs and says so; a key that is none, or --sign-key on serve without --entries, is refused", async () => {
  const errors: string[] = [];
  const logs: string[] = [];
  const [error, log] = [console.error, console.log];
  console.error = (line: string) => errors.push(line);
  console.log = (line: string) => logs.push(line);
  try {
    const out = join(work, "cli-site");
    expect(await registryCli(["build", "--entries", REAL_ENTRIES, "--out", out, "--sign-key", keyFile])).toBe(0);
    expect(logs.at(-1)).toContain(`plugins.json and notices.json signed by key ${keyId(key.publicKey)}.`);
    expect(signatureOf(out, "plugins.json").verifies).toBe(true);
    expect(await registryCli(["build", "--entries", REAL_ENTRIES, "--out", out, "--sign-key", key.publicKeyFile])).toBe(2);
    expect(errors.at(-1)).toContain(`The --sign-key file ${key.publicKeyFile} is not a PKCS#8 PEM private key`);
    expect(errors.at(-1)).toContain("openssl genpkey -algorithm ed25519");
    expect(await registryCli(["build", "--entries", REAL_ENTRIES, "--out", out, "--sign-key", join(work, "nope.pem")])).toBe(2);
    expect(errors.at(-1)).toStartWith(`Cannot read the --sign-key file ${join(work, "nope.pem")}: ENOENT.`);
    expect(await registryCli(["serve", "--site", out, "--data-dir", join(work, "d"), "--sign-key", keyFile])).toBe(2);
    expect(errors.at(-1)).toContain("--sign-key needs --entries");
  } finally {
    console.error = error;
    console.log = log;
  }
});

test("serve re-signs the index it rebuilds after a statistics export, and serves the signatures", async () => {
  const site = join(work, "served");
  const other = throwawayKey(work);
  // The site as first built was signed by another key: the service's rebuilds sign with its own.
  await buildRegistry({ entriesDir: REAL_ENTRIES, outDir: site, signKey: other.privateKey });
  const service = await startRegistryService({ dataDir: join(work, "data"), siteDir: site, port: 0, host: "127.0.0.1", build: { entriesDir: REAL_ENTRIES, signKey: key.privateKey }, log: () => {} });
  try {
    expect(signatureOf(site, "plugins.json")).toMatchObject({ keyId: keyId(key.publicKey), verifies: true });
    const before = readFileSync(join(site, "plugins.json"), "utf8");
    const ping = { schema: 1, instance: crypto.randomUUID(), host: { version: "0.1.0", os: "linux", arch: "x64" }, plugins: [{ id: "GPX", version: "2.6.8" }], events: [], prints: { started: 0, finished: 0 }, firmware: [] };
    expect((await fetch(`${service.url}/api/v1/tracking/ping`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(ping) })).status).toBe(204);
    const run = await service.exportNow();
    expect(run.build?.signedBy).toBe(keyId(key.publicKey));
    const served = await fetch(`${service.url}/plugins.json`);
    const index = new Uint8Array(await served.arrayBuffer());
    expect(new TextDecoder().decode(index)).not.toBe(before); // GPX's new usage is in it
    const sigResponse = await fetch(`${service.url}/plugins.json.sig`);
    expect(sigResponse.status).toBe(200);
    expect(sigResponse.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(sigResponse.headers.get("access-control-allow-origin")).toBe("*");
    const signature = v.parse(SignatureSchema, await sigResponse.json());
    expect(signature.keyId).toBe(keyId(key.publicKey));
    expect(signatureVerifies(index, signature, key.publicKey)).toBe(true);
    const notices = new Uint8Array(await (await fetch(`${service.url}/notices.json`)).arrayBuffer());
    expect(signatureVerifies(notices, v.parse(SignatureSchema, await (await fetch(`${service.url}/notices.json.sig`)).json()), key.publicKey)).toBe(true);
  } finally {
    await service.stop();
  }
}, 30_000);
