import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildRegistry, type BuildResult } from "../../src/registry/build.ts";
import type { IndexEntry, Notice } from "../../src/registry/index-format.ts";
import { downloadArchive, inspectArchive } from "../../src/registry/plugin-archive.ts";
import { makeTar } from "../helpers/archives.ts";
import { layerlineEntry, pluginArchive, startFileServer, tempDir, writeFolder, type FileServer } from "./helpers.ts";

const NOW = Date.parse("2026-03-01T12:00:00Z");
const PWNED = join(tempDir("layerline-pwned-"), "ran");
let files: FileServer;
let work: string;
let entries: string;
let out: string;
let result: BuildResult;
let byId: Map<string, IndexEntry>;

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

beforeAll(async () => {
  files = startFileServer();
  const put = (path: string, bytes: Uint8Array) => {
    files.files.set(path, bytes);
    return `${files.url}${path}`;
  };
  const plugins: Record<string, { api: string; archive: Uint8Array }> = {
    good: { api: "^1.0.0", archive: pluginArchive({ name: "good", version: "1.0.0", api: "^1.0.0", permissions: ["printer.commands", "files.read"] }) },
    drifted: { api: "^1.0.0", archive: pluginArchive({ name: "drifted", version: "2.3.0", api: ">= 1.2.0  <3.0.0", format: "zip" }) },
    nopkg: { api: "^1.0.0", archive: makeTar([{ path: "nopkg-1.0.0/setup.py", content: "print('a python plugin')" }], { gzip: true }) },
    renamed: { api: "^1.0.0", archive: pluginArchive({ name: "something-else", version: "1.0.0" }) },
    escape: { api: "^1.0.0", archive: makeTar([{ path: "escape/package.json", content: "{}" }, { path: "../../outside.ts", content: "x" }], { gzip: true }) },
    // package.json names an entry file the archive lacks.
    noentry: {
      api: "^1.0.0",
      archive: makeTar(
        [
          { path: "noentry-1.0.0/package.json", content: JSON.stringify({ name: "noentry", version: "1.0.0", layerline: { api: "^1.0.0", entry: "src/main.ts" } }) },
          { path: "noentry-1.0.0/index.ts", content: "export default {};" },
        ],
        { gzip: true },
      ),
    },
    nodefault: { api: "^1.0.0", archive: pluginArchive({ name: "nodefault", version: "1.0.0", source: "export const x = 1;\n" }) },
    syntax: { api: "^1.0.0", archive: pluginArchive({ name: "syntax", version: "1.0.0", source: "export default {{{ not typescript" }) },
    // Its entry file would write a file if it were ever run: the registry reads it, never runs it.
    sneaky: { api: "^1.0.0", archive: pluginArchive({ name: "sneaky", version: "0.9.0", source: `import { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(PWNED)}, "ran");\nexport default {};\n` }) },
  };
  const texts: Record<string, string> = {};
  for (const [id, p] of Object.entries(plugins)) texts[`${id}.md`] = layerlineEntry({ id, archive: put(`/${id}-1.tgz`, p.archive), api: p.api });
  texts["missing.md"] = layerlineEntry({ id: "missing", archive: `${files.url}/nothing-here.tgz`, api: "^1.0.0" });
  work = tempDir();
  entries = writeFolder(join(work, "entries"), texts);
  out = join(work, "site");
  result = await buildRegistry({ entriesDir: entries, outDir: out, now: () => NOW });
  byId = new Map(result.index.map((e) => [e.id, e]));
}, 30_000);
afterAll(() => {
  files.stop();
  rmSync(work, { recursive: true, force: true });
});

const noticeFor = (id: string): Notice | undefined => result.notices.find((n) => n.plugin === id);

test("a matching archive: its sha256, size, version and permissions go into the index; nothing is corrected", () => {
  const bytes = files.files.get("/good-1.tgz")!;
  const good = byId.get("good")!;
  expect(good.compatibility.layerline).toBe("^1.0.0");
  expect(good.version).toBe("1.0.0");
  expect(good.sha256).toBe(sha(bytes));
  expect(good.size).toBe(bytes.length);
  expect(good.permissions).toEqual(["printer.commands", "files.read"]);
  expect(good.compatibility_check).toEqual({ declared: "^1.0.0", found: "^1.0.0", corrected: false });
  expect(good.releases).toEqual([{ version: "1.0.0", date: "2026-03-01 12:00:00 +0000", archive: `${files.url}/good-1.tgz`, sha256: sha(bytes), size: bytes.length, layerline: "^1.0.0" }]);
  expect(noticeFor("good")).toBeUndefined();
});

test("a declared range the archive contradicts is corrected in the index, with a compatibility notice", () => {
  const drifted = byId.get("drifted")!;
  expect(drifted.compatibility.layerline).toBe(">=1.2.0 <3.0.0");
  expect(drifted.compatibility_check).toEqual({ declared: "^1.0.0", found: ">=1.2.0 <3.0.0", corrected: true });
  expect(noticeFor("drifted")).toEqual({
    plugin: "drifted",
    date: "2026-03-01T12:00:00.000Z",
    text: "Plugin drifted 2.3.0 works with Layerline API >=1.2.0 <3.0.0, not ^1.0.0 as its registry entry said; the index was corrected.",
    versions: ["2.3.0"],
    link: "plugins/drifted/",
    kind: "compatibility",
  });
  const page = readFileSync(join(out, "plugins/drifted/index.html"), "utf8");
  expect(page).toContain('<div class="notice compatibility" data-kind="compatibility">Plugin drifted 2.3.0 works with Layerline API');
  expect(page).toContain('<span class="badge warn" title="The entry declared ^1.0.0">corrected</span>');
  expect(JSON.parse(readFileSync(join(out, "notices.json"), "utf8"))).toContainEqual(noticeFor("drifted"));
});

test("archives that are no usable plugin make the entry listed but not installable, and say why", () => {
  const why: Record<string, string> = {
    nopkg: "the archive has no package.json in nopkg-1.0.0/: it is not a Layerline plugin",
    renamed: 'its package.json names the plugin "something-else", but the entry\'s id is "renamed"',
    escape: 'the archive is unusable: "../../outside.ts" points outside the archive\'s folder.',
    noentry: 'the entry file "src/main.ts" named by package.json is not in the archive',
    nodefault: 'the entry file "index.ts" has no default export (the plugin definition)',
    syntax: 'the entry file "index.ts" does not parse',
  };
  for (const [id, reason] of Object.entries(why)) {
    const record = byId.get(id)!;
    expect([id, record.compatibility.layerline, record.sha256, record.version]).toEqual([id, undefined, undefined, undefined]);
    expect(record.compatibility_check).toEqual({ declared: "^1.0.0", found: null, corrected: true });
    expect(noticeFor(id)!.kind).toBe("compatibility");
    expect(noticeFor(id)!.text).toContain(reason);
    expect(result.problems.find((p) => p.file === `${id}.md` && p.field === "archive")!.message).toContain(reason);
  }
});

test("the entry file is read, never run", () => {
  expect(byId.get("sneaky")!.version).toBe("0.9.0");
  expect(existsSync(PWNED)).toBe(false);
});

test("an archive that cannot be downloaded is a warning; the plugin is listed without install data and without a notice", () => {
  const missing = byId.get("missing")!;
  expect(missing.sha256).toBeUndefined();
  expect(missing.compatibility.layerline).toBeUndefined();
  expect(noticeFor("missing")).toBeUndefined();
  expect(result.problems.filter((p) => p.file === "missing.md").map((p) => p.message)).toEqual([
    "downloading the archive failed: 404 Not Found",
    "the archive could not be checked, so the plugin is listed without install data until the next build",
  ]);
});

test("the next build asks conditionally (304: nothing downloaded); a new release keeps the old one in the history", async () => {
  const again = await buildRegistry({ entriesDir: entries, outDir: out, now: () => NOW + 86_400_000 });
  expect(again.archivesDownloaded).toBe(0);
  expect(files.notModified).toBe(9);
  expect(again.index.find((e) => e.id === "good")!.sha256).toBe(byId.get("good")!.sha256);

  const v110 = pluginArchive({ name: "good", version: "1.1.0", api: "^1.1.0" });
  files.files.set("/good-1.1.0.tgz", v110);
  writeFileSync(join(entries, "good.md"), layerlineEntry({ id: "good", archive: `${files.url}/good-1.1.0.tgz`, api: "^1.1.0" }));
  const third = await buildRegistry({ entriesDir: entries, outDir: out, now: () => NOW + 2 * 86_400_000 });
  const good = third.index.find((e) => e.id === "good")!;
  expect(good.version).toBe("1.1.0");
  expect(good.releases!.map((r) => [r.version, r.archive, r.layerline])).toEqual([
    ["1.1.0", `${files.url}/good-1.1.0.tgz`, "^1.1.0"],
    ["1.0.0", `${files.url}/good-1.tgz`, "^1.0.0"],
  ]);
  expect(good.releases![1]!.date).toBe("2026-03-01 12:00:00 +0000");

  // Re-publishing different bytes under the same version is flagged.
  files.files.set("/good-1.1.0.tgz", pluginArchive({ name: "good", version: "1.1.0", api: "^1.1.0", extra: [{ path: "good-1.1.0/CHANGED", content: "x" }] }));
  const fourth = await buildRegistry({ entriesDir: entries, outDir: out, now: () => NOW + 3 * 86_400_000 });
  expect(fourth.problems.find((p) => p.file === "good.md")!.message).toMatch(/^the archive of version 1\.1\.0 changed since the last build \(sha256 [0-9a-f]{12}… → [0-9a-f]{12}…\); publish a new version instead$/);
});

test("downloads are capped: a declared or actual size over the limit is refused", async () => {
  const big = new Uint8Array(300_000);
  files.files.set("/big.tgz", big);
  const refused = await downloadArchive(`${files.url}/big.tgz`, { maxBytes: 100_000 });
  expect(refused).toEqual({ status: "failed", reason: "the archive is 300000 bytes; the registry accepts at most 100000" });
  // A server that does not say the length is cut off while streaming.
  const chunked = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: () =>
      new Response(
        new ReadableStream({
          start(c) {
            for (let i = 0; i < 50; i++) c.enqueue(new Uint8Array(10_000));
            c.close();
          },
        }),
      ),
  });
  try {
    const cut = await downloadArchive(`http://127.0.0.1:${chunked.port}/x.tgz`, { maxBytes: 100_000 });
    expect(cut).toEqual({ status: "failed", reason: "the archive is larger than 100000 bytes, the most the registry accepts" });
  } finally {
    chunked.stop(true);
  }
  // A gzip bomb is stopped by the archive reader's limits, not unpacked.
  const bomb = inspectArchive(new Uint8Array(Bun.gzipSync(new Uint8Array(70 * 1024 * 1024))));
  expect(bomb.manifest).toBeNull();
  expect(bomb.problems[0]).toMatch(/^the archive is unusable: /);
});
