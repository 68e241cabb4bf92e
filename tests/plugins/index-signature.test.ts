/**
 * The signed plugin index on the host: an index (and its notices) is used only when its detached
 * signature verifies with the key trusted for the URL in use; a refused one leaves the copy in use
 * as it was; the cached copy is verified again on load. Keys are throwaway ones made here (as the
 * update tests do), never the release key; the index is served on loopback.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import * as v from "valibot";
import { openDatabase } from "../../src/db/database.ts";
import { SettingsStore } from "../../src/db/settings.ts";
import { detachedSignature, keyId, publicKeyPem } from "../../src/signing/ed25519.ts";
import { PluginRepository, RepositorySettingsSchema } from "../../src/plugins/repository/source.ts";
import { signatureUrl } from "../../src/plugins/repository/signature.ts";
import { tempDir } from "../registry/helpers.ts";
import { throwawayKey, type KeyPair } from "../update/helpers.ts";

const INDEX = JSON.stringify([
  { id: "first", title: "First plugin" },
  { id: "second", title: "Second plugin" },
], null, 1);
const NOTICES = JSON.stringify([{ plugin: "first", text: "Version 1 loses settings", kind: "warning" }]);

let dir: string;
let db: Database;
let server: ReturnType<typeof Bun.serve>;
let key: KeyPair;
let other: KeyPair;
/** What the index server answers, by file name (absent: 404). */
let files: Map<string, string>;
const url = (name = "plugins.json") => `http://127.0.0.1:${server.port}/r/${name}`;

/** Publishes an index and notices, signed with `by` (or not at all). */
function publish(index: string, by: KeyPair | null, notices: string | null = NOTICES) {
  files = new Map([["plugins.json", index]]);
  if (notices !== null) files.set("notices.json", notices);
  if (by) for (const [name, text] of [...files]) files.set(`${name}.sig`, detachedSignature(Buffer.from(text), by.privateKey));
}

beforeAll(() => {
  dir = tempDir("layerline-index-signature-");
  key = throwawayKey(dir);
  other = throwawayKey(dir);
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      const body = files.get(new URL(req.url).pathname.split("/").pop()!);
      return body === undefined ? new Response("not here", { status: 404 }) : new Response(body);
    },
  });
});
afterAll(() => {
  server.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

let dataDir: string;
beforeEach(() => {
  dataDir = tempDir("layerline-index-host-");
  db = openDatabase(dataDir);
});

const repository = (builtIn?: { url: string | null; publicKey: string | null }) => {
  const repo = new PluginRepository({ dataDir, settings: new SettingsStore(db), log: () => {}, builtIn: builtIn ?? { url: null, publicKey: null } });
  repo.stop();
  return repo;
};
/** A repository set to the test index, trusting `trust`'s public key. */
const trusting = (trust: KeyPair | null) => {
  const repo = repository();
  repo.changeSettings({ url: url(), refreshHours: 0, publicKey: trust ? publicKeyPem(trust.publicKey) : null });
  repo.stop();
  return repo;
};
const pem = (k: KeyPair) => publicKeyPem(k.publicKey);

describe("a trusted key", () => {
  test("a signed index and its notices verify and are used; the status names the key", async () => {
    publish(INDEX, key);
    const repo = trusting(key);
    await repo.refresh();
    expect(repo.status()).toMatchObject({ error: null, entries: 2, verified: true, keyId: keyId(key.publicKey), trustedKey: { keyId: keyId(key.publicKey), source: "setting", publicKey: pem(key) } });
    expect(repo.noticesFor("first", null).map((n) => n.text)).toEqual(["Version 1 loses settings"]);
    // A restart verifies the cached copy again (no request needed).
    files = new Map();
    expect(repository().status()).toMatchObject({ entries: 2, verified: true, keyId: keyId(key.publicKey), error: null });
  });

  test("one changed byte: refused, the copy in use (and in the cache) stays", async () => {
    publish(INDEX, key);
    const repo = trusting(key);
    await repo.refresh();
    const signed = files.get("plugins.json.sig")!;
    publish(INDEX.replace("First plugin", "First plugim"), key);
    files.set("plugins.json.sig", signed); // the old signature beside a changed file
    await repo.refresh();
    const status = repo.status();
    expect(status.error).toBe(`Could not refresh the plugin repository from ${url()}: plugins.json's signature does not verify with key ${keyId(key.publicKey)}: the file was changed after it was signed. It is not used; tell whoever runs the repository.`);
    expect(status).toMatchObject({ entries: 2, verified: true, keyId: keyId(key.publicKey) });
    expect(repo.list().map((e) => e.title)).toEqual(["First plugin", "Second plugin"]);
    expect(repository().list().map((e) => e.title)).toEqual(["First plugin", "Second plugin"]);
  });

  test("a changed notices.json is refused with the index", async () => {
    publish(INDEX, key);
    files.set("notices.json", NOTICES.replace("loses", "keeps"));
    const repo = trusting(key);
    await repo.refresh();
    expect(repo.status().error).toContain("notices.json's signature does not verify");
    expect(repo.status().entries).toBe(0);
  });

  test("signed by another key: refused, naming both keys and the fix", async () => {
    publish(INDEX, other);
    const repo = trusting(key);
    await repo.refresh();
    expect(repo.status().error).toBe(
      `Could not refresh the plugin repository from ${url()}: plugins.json is signed by key ${keyId(other.publicKey)}, but this host trusts key ${keyId(key.publicKey)} for this index. ` +
        "If the repository changed its key, paste its new public key in the repository settings; to use an index that is not signed, remove the public key there.",
    );
    expect(repo.status()).toMatchObject({ entries: 0, verified: false, keyId: null });
  });

  test("no .sig beside the index: refused, saying how to sign it or stop trusting (in full, however long the URL)", async () => {
    publish(INDEX, null);
    const long = url(`${"a-long-folder/".repeat(20)}plugins.json`);
    const repo = repository();
    repo.changeSettings({ url: long, refreshHours: 0, publicKey: pem(key) });
    repo.stop();
    await repo.refresh();
    const error = repo.status().error!;
    expect(error).toContain(`plugins.json is not signed: its signature ${signatureUrl(long)} could not be fetched (the server answered 404`);
    expect(error).toContain(`only uses an index signed by key ${keyId(key.publicKey)} (set in the repository settings)`);
    expect(error).toEndWith("Sign it (layerline registry build --sign-key FILE) and publish the .sig files beside it, or remove the public key in the repository settings to use it unsigned.");
    expect(repo.status().entries).toBe(0);
  });

  test("a signature file that is not one says so", async () => {
    publish(INDEX, key);
    files.set("plugins.json.sig", "<html>captive portal</html>");
    const repo = trusting(key);
    await repo.refresh();
    expect(repo.status().error).toContain(`${signatureUrl(url())} is not a signature file`);
  });

  test("a cached copy changed on disk is not used at the next start", async () => {
    publish(INDEX, key);
    await trusting(key).refresh();
    const cache = join(dataDir, "cache", "plugin-repository.json");
    const saved = JSON.parse(readFileSync(cache, "utf8"));
    writeFileSync(cache, JSON.stringify({ ...saved, index: saved.index.replace("Second plugin", "Evil plugin") }));
    files = new Map();
    const status = repository().status();
    expect(status.error).toBe(`The cached plugin index (from ${url()}) is not used: plugins.json's signature does not verify with key ${keyId(key.publicKey)}: the file was changed after it was signed. It is not used; tell whoever runs the repository.`);
    expect(status).toMatchObject({ entries: 0, fetchedAt: null, verified: false });
  });

  test("setting a key re-checks the copy in use: an unsigned one is put away at once; the answer is the fetch's", async () => {
    publish(INDEX, null);
    const repo = trusting(null);
    await repo.refresh();
    expect(repo.status()).toMatchObject({ entries: 2, verified: false, trustedKey: null });
    const changing = repo.changeSettings({ publicKey: pem(key) });
    // Not used while the index is fetched again under the new key.
    expect(repo.status()).toMatchObject({ entries: 0, verified: false, trustedKey: { keyId: keyId(key.publicKey) } });
    await changing;
    // The index served is still unsigned: that is the verdict, not the cached copy's.
    expect(repo.status()).toMatchObject({ entries: 0, verified: false });
    expect(repo.status().error).toStartWith(`Could not refresh the plugin repository from ${url()}: plugins.json is not signed: its signature ${url()}.sig could not be fetched (the server answered 404 Not Found)`);
    publish(INDEX, key);
    await repo.refresh();
    expect(repo.status()).toMatchObject({ entries: 2, verified: true, error: null });
  });

  test("setting the key of an index that is signed answers verified, though the copy in use was fetched without signatures", async () => {
    publish(INDEX, key);
    const repo = trusting(null);
    await repo.refresh();
    expect(repo.status()).toMatchObject({ entries: 2, verified: false, trustedKey: null });
    await repo.changeSettings({ publicKey: pem(key) });
    expect(repo.status()).toMatchObject({ entries: 2, verified: true, keyId: keyId(key.publicKey), error: null });
  });
});

describe("no trusted key", () => {
  test("a missing .sig is accepted, as unsigned", async () => {
    publish(INDEX, null);
    const repo = trusting(null);
    await repo.refresh();
    expect(repo.status()).toMatchObject({ error: null, entries: 2, verified: false, keyId: null, trustedKey: null });
    expect(repo.noticesFor("first", null)).toHaveLength(1);
  });

  test("a cache written before signing (parsed JSON) is still read while no key is trusted", () => {
    const cache = join(dataDir, "cache", "plugin-repository.json");
    mkdirSync(join(dataDir, "cache"), { recursive: true });
    writeFileSync(cache, JSON.stringify({ url: url(), fetchedAt: Date.now(), index: JSON.parse(INDEX), notices: JSON.parse(NOTICES) }));
    expect(repository().status()).toMatchObject({ entries: 2, verified: false, error: null });
    new SettingsStore(db).set("plugins.repositoryPublicKey", pem(key));
    expect(repository().status()).toMatchObject({ entries: 0, error: expect.stringContaining("plugins.json is not signed: its signature") });
    expect(repository().status().error).toContain("(the cached copy has none)");
  });
});

describe("which key is trusted", () => {
  test("the built-in key checks the built-in URL only; a key set with a URL goes when the URL changes", async () => {
    publish(INDEX, key);
    const repo = repository({ url: url(), publicKey: pem(key) });
    expect(repo.status().trustedKey).toMatchObject({ keyId: keyId(key.publicKey), source: "built-in" });
    await repo.refresh();
    expect(repo.status()).toMatchObject({ verified: true, keyId: keyId(key.publicKey) });
    // Another index: no key, so unsigned (and the copy in use is no longer counted as verified).
    repo.changeSettings({ url: url("other/plugins.json") });
    repo.stop();
    expect(repo.status()).toMatchObject({ trustedKey: null, verified: false, entries: 2 });
    // A key for it, then back to the built-in URL: the key set for the other index is dropped.
    // (The copy in use, signed by the built-in key, is put away: it is not signed by this one.)
    repo.changeSettings({ publicKey: pem(other) });
    repo.stop();
    expect(repo.status()).toMatchObject({ trustedKey: { keyId: keyId(other.publicKey), source: "setting" }, entries: 0 });
    repo.changeSettings({ url: null });
    repo.stop();
    expect(repo.status().trustedKey).toMatchObject({ keyId: keyId(key.publicKey), source: "built-in" });
    await repo.refresh();
    expect(repo.status()).toMatchObject({ verified: true, entries: 2, error: null });
  });

  test("a public key setting must be an Ed25519 PEM public key", () => {
    const rsa = Bun.spawnSync(["openssl", "genpkey", "-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:1024"]).stdout.toString();
    const rsaPublic = Bun.spawnSync(["openssl", "pkey", "-pubout"], { stdin: Buffer.from(rsa) }).stdout.toString();
    for (const bad of ["not a key", rsaPublic, readFileSync(key.publicKeyFile, "utf8").replace("MC", "XX")]) {
      const parsed = v.safeParse(RepositorySettingsSchema, { publicKey: bad });
      expect(parsed.success).toBe(false);
      expect(parsed.issues![0].message).toContain("must be an Ed25519 public key in PEM form");
    }
    expect(v.parse(RepositorySettingsSchema, { publicKey: `\n${pem(key)}\n` }).publicKey).toBe(pem(key).trim());
  });
});

describe("shutdown", () => {
  test("a refresh whose fetch comes back after close() touches neither the closed database nor the cache", async () => {
    // Every request (the index, its notices) is held until the test lets them all go.
    const held: (() => void)[] = [];
    const slow = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        await new Promise<void>((resolve) => held.push(resolve));
        return new URL(req.url).pathname.endsWith("notices.json") ? new Response(NOTICES) : new Response(INDEX);
      },
    });
    const ownDir = tempDir("layerline-index-close-");
    const ownDb = openDatabase(ownDir);
    try {
      const repo = new PluginRepository({ dataDir: ownDir, settings: new SettingsStore(ownDb), log: () => {}, builtIn: { url: null, publicKey: null } });
      repo.changeSettings({ url: `http://127.0.0.1:${slow.port}/plugins.json`, refreshHours: 24 });
      repo.stop();
      const refreshing = repo.refresh();
      while (held.length === 0) await Bun.sleep(5);
      // The host stops: the repository first, then the database.
      repo.close();
      ownDb.close();
      for (let i = 0; i < 100 && held.length > 0; i++) {
        held.splice(0).forEach((release) => release());
        await Bun.sleep(10);
      }
      await refreshing; // rejected (a read of the closed database) before close() existed
      expect(() => readFileSync(join(ownDir, "cache", "plugin-repository.json"))).toThrow();
    } finally {
      slow.stop(true);
      rmSync(ownDir, { recursive: true, force: true });
    }
  });
});
