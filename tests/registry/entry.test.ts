import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readEntry } from "../../src/registry/entry.ts";
import { MAX_ENTRY_BYTES, parseFrontMatter } from "../../src/registry/front-matter.ts";
import { isRange as isSemverRange, normaliseRange } from "../../src/plugins/semver.ts";
import { layerlineEntry, REAL_ENTRIES } from "./helpers.ts";

const real = (name: string) => readFileSync(join(REAL_ENTRIES, name), "utf8");
const minimal = (front: string, body = "Body.") => `---\n${front}\n---\n${body}\n`;
const VALID = `id: demo
title: Demo
description: A demo plugin.
author: Someone
license: MIT
date: 2024-02-29
homepage: https://example.org/demo
source: https://github.com/someone/demo
archive: https://github.com/someone/demo/archive/main.zip`;

test("all 9 real entries are valid, with their fields as their authors wrote them", () => {
  const names = readdirSync(REAL_ENTRIES).sort();
  expect(names).toHaveLength(9);
  for (const name of names) {
    const { entry, problems } = readEntry(name, real(name));
    expect({ name, problems }).toEqual({ name, problems: [] });
    expect(entry!.data.id).toBe(name.replace(/\.md$/, ""));
  }
  const octorelay = readEntry("OctoRelay.md", real("OctoRelay.md")).entry!.data;
  expect(octorelay.authors).toEqual(["Boris Burgstaller"]);
  expect(octorelay.compatibility).toEqual({ octoprint: ["1.3.0"], os: ["linux"], python: ">=2.7,<3" });
  expect(octorelay.date).toBe("2021-03-13");
  const dlp = readEntry("DisplayLayerProgress.md", real("DisplayLayerProgress.md")).entry!;
  expect(dlp.data.compatibility?.octoprint).toEqual(["1.3.10", "1.4.0"]);
  expect(dlp.data.screenshots).toHaveLength(6);
  expect(dlp.body).toContain("{{ page.homepage | absolute_url }}");
  const simply = readEntry("SimplyPrint.md", real("SimplyPrint.md")).entry!.data;
  expect(simply.attributes).toEqual(["cloud", "commercial", "free-tier"]);
  expect(simply.privacypolicy).toBe("https://simplyprint.io/legal/en/privacy");
  expect(readEntry("Spoolman.md", real("Spoolman.md")).entry!.data.authors).toEqual(["Michał Dziekoński (mdziekon)"]);
});

test("every problem of an entry is reported with its field, and the entry is refused", () => {
  const text = minimal(`id: ../../etc
title: ""
description: x
license: MIT
date: 2021-02-30
homepage: ftp://example.org
source: https://github.com/a/b
archive: not a url
tags: oops
compatibility:
  os: [linux, plan9]
  layerline: "one point oh"
attributes: [cloud, free]`);
  const { entry, problems } = readEntry("bad.md", text);
  expect(entry).toBeNull();
  const fields = problems.filter((p) => p.severity === "error").map((p) => p.field);
  expect(fields).toEqual(expect.arrayContaining(["id", "title", "date", "homepage", "archive", "tags", "compatibility.os.1", "compatibility.layerline", "attributes.1"]));
  for (const p of problems) {
    expect(p.file).toBe("bad.md");
    expect(p.message.length).toBeGreaterThan(5);
  }
  expect(problems.find((p) => p.field === "date")!.message).toBe("is not a real date");
  expect(problems.find((p) => p.field === "compatibility.os.1")!.message).toContain("must be one of windows, linux");
});

test("missing required fields say 'is required'; unknown fields and a renamed file are warnings", () => {
  const missing = readEntry("x.md", minimal("id: x\ntitle: X"));
  expect(missing.entry).toBeNull();
  expect(missing.problems.filter((p) => p.message === "is required").map((p) => p.field).sort()).toEqual(["archive", "date", "description", "homepage", "license", "source"]);

  const warned = readEntry("other-name.md", minimal(`${VALID}\nfavourite_colour: blue\nstats:\n  week: 1`));
  expect(warned.entry).not.toBeNull();
  expect(warned.problems.map((p) => [p.severity, p.field])).toEqual([
    ["warning", "favourite_colour"],
    ["warning", "stats"],
    ["warning", "id"],
  ]);
});

test("a Layerline plugin declares its API range and must have a lower-case id", () => {
  const ok = readEntry("demo.md", minimal(`${VALID}\ncompatibility:\n  layerline: "^1.2.0"`));
  expect(ok.entry!.data.compatibility?.layerline).toBe("^1.2.0");
  const upper = readEntry("Demo.md", minimal(`${VALID.replace("id: demo", "id: Demo")}\ncompatibility:\n  layerline: "^1.2.0"`));
  expect(upper.entry).toBeNull();
  expect(upper.problems[0]!.field).toBe("id");
  expect(readEntry("x.md", layerlineEntry({ id: "x", archive: "https://example.org/x.tgz", api: ">=1.0.0 <2.0.0" })).entry).not.toBeNull();
});

test("semver ranges: what plugin manifests write is accepted, garbage is not", () => {
  for (const r of ["^1.0.0", "~1.2", "1.x", "*", ">=1.0.0 <2.0.0", "1.0.0 - 1.4.0", "^1.0.0 || ^2.0.0", ">= 1.2.3", "1.2.3-beta.1"]) expect([r, isSemverRange(r)]).toEqual([r, true]);
  for (const r of ["", "one", "^", "1..0", ">=1.0.0 <", "latest", "^1.0.0; rm -rf /"]) expect([r, isSemverRange(r)]).toEqual([r, false]);
  expect(normaliseRange(">= 1.0.0   <2.0.0")).toBe(">=1.0.0 <2.0.0");
  expect(normaliseRange("^1.0.0||^2.0.0")).toBe("^1.0.0 || ^2.0.0");
});

test("hostile front matter: bad YAML (with its line), alias bombs, deep nesting, huge files, duplicates", () => {
  const bad = parseFrontMatter("---\nid: x\ntitle: [unclosed\ndescription: y\n---\n");
  expect(bad.ok).toBe(false);
  if (!bad.ok) expect(bad.problem.message).toBe("is not valid YAML (near line 3 of the file): Unexpected token");

  const bomb = ["a: &a [x,x,x,x,x,x,x,x,x]"];
  for (let i = 1; i < 9; i++) bomb.push(`${"abcdefghi"[i]}: &${"abcdefghi"[i]} [${Array(9).fill(`*${"abcdefghi"[i - 1]}`).join(",")}]`);
  const bombed = parseFrontMatter(`---\n${bomb.join("\n")}\n---\n`);
  expect(bombed.ok).toBe(false);
  if (!bombed.ok) expect(bombed.problem.message).toContain("Excessive aliasing");

  const deep = parseFrontMatter(`---\na: ${"[".repeat(20_000)}${"]".repeat(20_000)}\n---\n`);
  expect(deep.ok).toBe(false);

  const huge = readEntry("huge.md", minimal(VALID, "x".repeat(MAX_ENTRY_BYTES)));
  expect(huge.entry).toBeNull();
  expect(huge.problems[0]!.message).toContain(`at most ${MAX_ENTRY_BYTES} bytes`);

  expect(readEntry("n.md", "# just markdown\n").problems[0]!.field).toBe("(front matter)");
  expect(readEntry("n.md", "---\nid: x\n").problems[0]!.message).toContain("not closed");
  expect(readEntry("n.md", "---\n- a\n- b\n---\n").problems[0]!.message).toContain("mapping");

  const dup = readEntry("demo.md", minimal(`${VALID}\ntitle: Second title`));
  expect(dup.entry!.data.title).toBe("Second title");
  expect(dup.problems).toEqual([{ file: "demo.md", field: "title", message: "is given more than once (the last one counts)", severity: "warning" }]);

  // Code-executing tags do nothing: the value is just text.
  const tagged = readEntry("demo.md", minimal(VALID.replace("title: Demo", "title: !!js/function 'function(){ return 1 }'")));
  expect(tagged.entry!.data.title).toBe("function(){ return 1 }");
  // __proto__ is a key like any other; it cannot reach Object.prototype.
  readEntry("demo.md", minimal(`${VALID}\n__proto__:\n  polluted: yes`));
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});
