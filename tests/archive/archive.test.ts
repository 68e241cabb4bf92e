import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ArchiveError, checkArchive, commonRoot, openArchive, safeEntryPath } from "../../src/archive/archive.ts";
import { extractArchive } from "../../src/archive/extract.ts";
import { makeTar, makeZip } from "../helpers/archives.ts";

const dir = mkdtempSync(join(tmpdir(), "layerline-archive-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const text = (b: Uint8Array) => new TextDecoder().decode(b);

const PLUGIN = [
  { path: "hello-1.0.0/", type: "directory" as const },
  { path: "hello-1.0.0/package.json", content: '{"name":"hello","version":"1.0.0"}' },
  { path: "hello-1.0.0/src/index.ts", content: "export default {};" },
  { path: `hello-1.0.0/${"deep/".repeat(25)}file.txt`, content: "long name" },
];

describe("reading archives", () => {
  for (const [format, bytes] of [
    ["tar.gz", makeTar(PLUGIN, { gzip: true })],
    ["tar", makeTar(PLUGIN)],
    ["zip", makeZip(PLUGIN)],
  ] as const) {
    test(`${format}: entries, contents, common root`, () => {
      const a = openArchive(bytes);
      const entries = checkArchive(a);
      expect(entries.filter((e) => e.type === "file").map((e) => e.path)).toEqual([
        "hello-1.0.0/package.json",
        "hello-1.0.0/src/index.ts",
        `hello-1.0.0/${"deep/".repeat(25)}file.txt`,
      ]);
      expect(JSON.parse(text(a.read("hello-1.0.0/package.json"))).name).toBe("hello");
      expect(text(a.read("./hello-1.0.0/src/index.ts"))).toBe("export default {};");
      expect(commonRoot(entries)).toBe("hello-1.0.0");
    });
  }

  test("extract strips the shared root folder", () => {
    const target = join(dir, "x1");
    const written = extractArchive(makeTar(PLUGIN, { gzip: true }), target, { stripRoot: true });
    expect(written).toContain("package.json");
    expect(readFileSync(join(target, "src/index.ts"), "utf8")).toBe("export default {};");
  });

  test("garbage is not an archive", () => {
    expect(() => openArchive(new TextEncoder().encode("hello world".repeat(100)))).toThrow(ArchiveError);
    expect(() => openArchive(makeTar(PLUGIN, { gzip: true }).subarray(0, 40))).toThrow(ArchiveError);
  });
});

describe("hostile archives are refused before anything is written", () => {
  const cases: [string, Uint8Array, ArchiveError["code"]][] = [
    ["tar path escape", makeTar([{ path: "../../evil.ts", content: "x" }]), "unsafe_path"],
    ["zip path escape", makeZip([{ path: "pkg/../../evil.ts", content: "x" }]), "unsafe_path"],
    ["absolute path", makeTar([{ path: "/etc/cron.d/evil", content: "x" }]), "unsafe_path"],
    ["tar symlink out", makeTar([{ path: "pkg/link", type: "symlink", linkTarget: "/etc/passwd" }]), "link"],
    ["tar hard link", makeTar([{ path: "pkg/hard", type: "hardlink", linkTarget: "/etc/shadow" }]), "link"],
    ["zip symlink", makeZip([{ path: "pkg/link", type: "symlink", linkTarget: "../../.." }]), "link"],
    ["too large", makeTar([{ path: "big.bin", content: new Uint8Array(17 * 1024 * 1024) }], { gzip: true }), "too_large"],
  ];
  for (const [name, bytes, code] of cases) {
    test(name, () => {
      const target = join(dir, `h-${name.replace(/\W+/g, "-")}`);
      let error: unknown;
      try {
        extractArchive(bytes, target);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ArchiveError);
      expect((error as ArchiveError).code).toBe(code);
      expect(existsSync(target)).toBe(false);
      expect(existsSync(join(dir, "evil.ts"))).toBe(false);
    });
  }

  test("a zip entry that unpacks to more than it declares (a bomb) fails instead of filling memory", () => {
    const bomb = makeZip([{ path: "pkg/a.txt", content: "A".repeat(10_000_000), declaredSize: 100 }]);
    const a = openArchive(bomb);
    expect(checkArchive(a)).toHaveLength(1); // declared sizes look harmless…
    expect(() => a.read("pkg/a.txt")).toThrow(ArchiveError); // …the content is not
  });

  test("too many entries", () => {
    const many = makeTar(Array.from({ length: 20 }, (_, i) => ({ path: `f${i}`, content: "x" })));
    expect(() => checkArchive(openArchive(many), { maxEntries: 10, maxFileBytes: 100, maxTotalBytes: 1000 })).toThrow(/entries/);
  });

  test("entry names", () => {
    expect(safeEntryPath("a/./b//c")).toBe("a/b/c");
    expect(() => safeEntryPath("a/../../b")).toThrow(ArchiveError);
    expect(() => safeEntryPath("C:\\windows")).toThrow(ArchiveError);
    expect(() => safeEntryPath("a\0b")).toThrow(ArchiveError);
  });
});
