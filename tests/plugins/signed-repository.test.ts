/**
 * End to end on loopback: a real `layerline registry serve --sign-key` (its own process, built from
 * the fixture entries plus one Layerline plugin) and a real host that trusts the index's key:
 * the signed index is verified, the plugin installs from it; a host trusting another key refuses
 * the index and says which keys; with no key the page says plainly the index is unsigned.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { keyId, publicKeyPem } from "../../src/signing/ed25519.ts";
import { startTestHost, type TestHost } from "../helpers/host.ts";
import { entriesFolder, layerlineEntry, startFileServer, tempDir, type FileServer } from "../registry/helpers.ts";
import { throwawayKey, type KeyPair } from "../update/helpers.ts";
import { pluginArchive, routeEntry } from "./helpers.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
let work: string;
let key: KeyPair;
let other: KeyPair;
let archives: FileServer;
let registry: Bun.Subprocess<"ignore", "pipe", "inherit">;
let registryUrl: string;
let host: TestHost;

beforeAll(async () => {
  work = tempDir("layerline-signed-repo-");
  key = throwawayKey(work);
  other = throwawayKey(work);
  const keyFile = join(work, "index-key.pem");
  writeFileSync(keyFile, key.privateKey.export({ type: "pkcs8", format: "pem" }));
  archives = startFileServer();
  archives.files.set("/signed-hello-1.0.0.tgz", pluginArchive({ id: "signed-hello", version: "1.0.0", entry: routeEntry("hello from a signed index") }));
  const entries = await entriesFolder({ extra: { "signed-hello.md": layerlineEntry({ id: "signed-hello", archive: `${archives.url}/signed-hello-1.0.0.tgz`, api: "^1.0.0" }) } });
  const site = join(work, "site");
  // Not spawnSync: the archive server runs in this process and must answer the build.
  const built = Bun.spawn(["bun", MAIN, "registry", "build", "--entries", entries, "--out", site, "--sign-key", keyFile], { stdout: "pipe", stderr: "inherit" });
  expect(await new Response(built.stdout).text()).toContain(`signed by key ${keyId(key.publicKey)}`);
  expect(await built.exited).toBe(0);
  registry = Bun.spawn(["bun", MAIN, "registry", "serve", "--site", site, "--data-dir", join(work, "registry"), "--entries", entries, "--sign-key", keyFile, "--port", "0", "--host", "127.0.0.1"], { stdout: "pipe", stderr: "inherit" });
  const reader = registry.stdout.getReader();
  let out = "";
  while (!/serving .* on (http:\/\/\S+)/.test(out)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`registry serve exited: ${out}`);
    out += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  registryUrl = /serving .* on (http:\/\/\S+)/.exec(out)![1]!;
  host = await startTestHost();
}, 60_000);

afterAll(async () => {
  await host?.close();
  registry?.kill("SIGINT");
  await registry?.exited;
  archives?.stop();
  rmSync(work, { recursive: true, force: true });
});

const settings = (body: Record<string, unknown>) => host.api("/api/v1/plugins/repository/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const refresh = async () => (await host.post("/api/v1/plugins/repository/refresh")).json() as Promise<Record<string, any>>;
const statusOnPage = async () => /<div id="repo-status"[\s\S]*?<\/div>/.exec(await (await host.api("/plugins/repository")).text())![0];

test("a host trusting the registry's key verifies its index and installs a plugin from it", async () => {
  const res = await settings({ url: `${registryUrl}/plugins.json`, refreshHours: 0, publicKey: publicKeyPem(key.publicKey) });
  expect(res.status).toBe(200);
  expect((await res.json()).trustedKey).toMatchObject({ keyId: keyId(key.publicKey), source: "setting" });
  const status = await refresh();
  expect(status).toMatchObject({ error: null, verified: true, keyId: keyId(key.publicKey), entries: 10 });
  expect(await statusOnPage()).toContain(`Signature verified with key <code>${keyId(key.publicKey)}</code> (set in the repository settings).`);
  const installed = await host.post("/api/v1/plugins/install", { id: "signed-hello" });
  expect(installed.status).toBe(201);
  expect(await installed.json()).toMatchObject({ plugin: { id: "signed-hello", version: "1.0.0", installed: { source: "repository" } } });
  expect(await (await host.api("/api/v1/plugins/signed-hello/value")).json()).toEqual({ value: "hello from a signed index" });
}, 60_000);

test("trusting another key: the index is refused, naming both keys; no key: used, and said to be unsigned", async () => {
  await settings({ publicKey: publicKeyPem(other.publicKey) });
  const refused = await refresh();
  expect(refused.error).toContain(`plugins.json is signed by key ${keyId(key.publicKey)}, but this host trusts key ${keyId(other.publicKey)} for this index.`);
  expect(refused).toMatchObject({ entries: 0, verified: false });
  const bad = await settings({ publicKey: "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----" });
  expect(bad.status).toBe(400);
  expect(JSON.stringify(await bad.json())).toContain("must be an Ed25519 public key in PEM form");

  await settings({ publicKey: null });
  expect(await refresh()).toMatchObject({ error: null, entries: 10, verified: false, keyId: null, trustedKey: null });
  expect(await statusOnPage()).toContain("Unsigned: no public key is set for this index, so its signature is not checked");
}, 60_000);

test("setting the key answers with the index fetched and verified with it, not the unsigned cached copy's verdict", async () => {
  // In use now: the index fetched without a key, so without its signatures.
  await settings({ publicKey: null });
  expect(await refresh()).toMatchObject({ error: null, entries: 10, verified: false });
  const res = await settings({ publicKey: publicKeyPem(key.publicKey) });
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ error: null, entries: 10, verified: true, keyId: keyId(key.publicKey), source: `${registryUrl}/plugins.json` });
  // The settings form answers the same way (its toast), for another key and back.
  const form = (publicKey: string) =>
    host.api("/ui/plugins/repository/settings", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", "hx-request": "true" }, body: new URLSearchParams({ url: `${registryUrl}/plugins.json`, refreshHours: "0", publicKey }) });
  const refusedToast = await (await form(publicKeyPem(other.publicKey))).text();
  expect(refusedToast).toContain(`signed by key ${keyId(key.publicKey)}, but this host trusts key ${keyId(other.publicKey)}`);
  const verifiedToast = await (await form(publicKeyPem(key.publicKey))).text();
  expect(verifiedToast).toContain(`Saved; 10 plugins in the index, signature verified with key ${keyId(key.publicKey)}.`);
}, 60_000);
