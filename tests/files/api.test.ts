/** The native files API over real HTTP: uploads, analysis, thumbnails, downloads, folders, refusals. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { contentDisposition } from "../../src/server/api/files.ts";
import { startTestHost, upload, type TestHost, jobEnded } from "../helpers/host.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;
const TORUS = FIXTURES + "ps25_ender3_torus_0.20normal_pla.gcode";
const FLSUN = FIXTURES + "ps25_flsun_qqspro_delta_screw_0.20quality_pla_g3arcs_thumb.gcode";

let host: TestHost;
let printer: string;

beforeAll(async () => {
  host = await startTestHost();
  const { printers } = await (await host.api("/api/v1/printers")).json();
  printer = printers[0].id;
  await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "operational");
  // Files are planned with the default printer's machine limits, which it reports once connected.
  // These tests compare our figures with the slicer's, so the printer has none: the report is
  // waited for (no analysis is redone under a test's feet) and taken out of the profile.
  await host.waitFor(`/api/v1/printers/${printer}/profile`, (p: any) => p.profile.limits !== undefined);
  await host.api(`/api/v1/printers/${printer}/profile`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ limits: null }) });
}, 30_000);
afterAll(() => host.close());

const json = async (res: Response) => ({ status: res.status, body: await res.json() });
const expectError = async (res: Response, status: number, code: string) => {
  const { status: s, body } = await json(res);
  expect(s).toBe(status);
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(5);
  return body.error;
};
const analysed = (path: string) =>
  host.waitFor(`/api/v1/files/${path}`, (f: any) => f.analysis.state === "done" || f.analysis.state === "error", 30_000);
const del = (path: string) => host.api(`/api/v1/files/${path}`, { method: "DELETE" });
/** Nothing but the named entries is in the files folder (no temporary files either). */
const onDisk = () => readdirSync(join(host.dataDir, "files")).sort();

describe("files API", () => {
  test("an upload is analysed in the background: figures, thumbnails, full analysis", async () => {
    const res = await upload(host, "delta.gcode", Bun.file(FLSUN), "printers/flsun");
    expect(res.status).toBe(201);
    expect(res.headers.get("location")).toBe("/api/v1/files/printers/flsun/delta.gcode");
    const stored = await res.json();
    expect(stored).toMatchObject({ path: "printers/flsun/delta.gcode", size: Bun.file(FLSUN).size, sha256: "dcfdb2c3bf39790376fa9dfa76a5198bb59a3c02d5afca8e85e70ff1aa8c2842" });

    const entry = await analysed("printers/flsun/delta.gcode");
    expect(entry.analysis.state).toBe("done");
    const s = entry.analysis.summary;
    expect(s.layerCount).toBe(130);
    expect(Math.abs(s.estimatedTime / 720 - 1)).toBeLessThan(0.03);
    expect(s.slicer).toMatchObject({ name: "PrusaSlicer", version: "2.5.0", estimatedTime: 720, filamentUsedMm: [327.6] });
    expect(entry.thumbnails.map((t: any) => `${t.width}x${t.height}`)).toEqual(["260x260", "16x16"]);

    // Thumbnails: immutable under their versioned URL, revalidated without it.
    const thumb = await host.api(entry.thumbnails[0].url);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get("content-type")).toBe("image/png");
    expect(thumb.headers.get("cache-control")).toContain("immutable");
    expect((await thumb.bytes()).length).toBe(11863);
    const etag = thumb.headers.get("etag")!;
    const again = await host.api(entry.thumbnails[0].url.split("?")[0], { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(again.headers.get("cache-control")).toBe("no-cache");
    await expectError(await host.api("/api/v1/files/printers/flsun/delta.gcode/thumbnails/1x1.png"), 404, "no_thumbnail");

    // The full analysis: what the job layer and the OctoPrint API read.
    const full = await (await host.api("/api/v1/files/printers/flsun/delta.gcode/analysis")).json();
    expect(full.layers).toHaveLength(130);
    expect(full.timeline.at(-1)).toEqual([stored.size, full.estimatedTime]);
    expect(full.filament[0]).toMatchObject({ tool: 0 });
    expect(full.printingArea.minX).toBeLessThan(0);
    expect(full.travelDimensions.height).toBeGreaterThan(100);
  }, 40_000);

  test("downloads with Range and ETag", async () => {
    const url = "/api/v1/files/printers/flsun/delta.gcode/content";
    const whole = await host.api(url);
    expect(whole.status).toBe(200);
    expect(await whole.text()).toBe(await Bun.file(FLSUN).text());
    const etag = whole.headers.get("etag")!;
    expect(etag).toContain("dcfdb2c3");
    const part = await host.api(url, { headers: { range: "bytes=2-21" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 2-21/${Bun.file(FLSUN).size}`);
    expect(await part.text()).toBe((await Bun.file(FLSUN).text()).slice(2, 22));
    const suffix = await host.api(url, { headers: { range: "bytes=-10" } });
    expect((await suffix.text()).length).toBe(10);
    expect((await host.api(url, { headers: { range: "bytes=999999999-" } })).status).toBe(416);
    // Several ranges or a malformed header: the whole file, as RFC 9110 lets a server do (not a 416).
    for (const range of ["bytes=0-1, 5-9", "bytes=oops"]) {
      const ignored = await host.api(url, { headers: { range } });
      expect(ignored.status).toBe(200);
      expect((await ignored.text()).length).toBe(Bun.file(FLSUN).size);
    }
    expect((await host.api(url, { headers: { "if-none-match": etag } })).status).toBe(304);
  });

  test("a download keeps its name with curl -O -J (a plain filename= beside filename*=)", async () => {
    // The native download and OctoPrint's, each into its own empty folder.
    for (const url of ["/api/v1/files/printers/flsun/delta.gcode/content", "/downloads/files/local/printers/flsun/delta.gcode"]) {
      const dir = mkdtempSync(join(tmpdir(), "layerline-download-"));
      try {
        // Asynchronously: the host answers from this same process.
        const curl = Bun.spawn(["curl", "-s", "-f", "-O", "-J", "-H", `X-Api-Key: ${host.apiKey}`, host.url + url], { cwd: dir });
        expect(await curl.exited).toBe(0);
        expect(readdirSync(dir)).toEqual(["delta.gcode"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    expect(contentDisposition("attachment", 'café "1".gcode')).toBe(`attachment; filename="caf_ _1_.gcode"; filename*=UTF-8''caf%C3%A9%20%221%22.gcode`);
  });

  test("names that escape the folder are refused with 400 and nothing is written", async () => {
    const before = onDisk();
    await expectError(await upload(host, "x.gcode", "G1 X1\n", "../.."), 400, "invalid_path");
    await expectError(await upload(host, `${"a".repeat(300)}.gcode`, "G1 X1\n"), 400, "invalid_path");
    await expectError(await upload(host, "x.gcode", "G1 X1\n", "a\u0000b"), 400, "invalid_path");
    await expectError(await upload(host, "notes.txt", "hello"), 400, "not_printable");
    await expectError(await host.post("/api/v1/files", { folder: "../outside" }), 400, "invalid_path");
    await expectError(await host.post("/api/v1/files/printers/flsun/delta.gcode", { command: "move", destination: "../../x.gcode" }), 400, "invalid_path");
    await expectError(await host.api("/api/v1/files/%E0%A4%A", { method: "DELETE" }), 400, "invalid_path");
    // A name that is broken percent-encoding (filename*=) is a wrong name, not an incomplete upload.
    const badName = `--B\r\nContent-Disposition: form-data; name="file"; filename*=UTF-8''a%FF.gcode\r\n\r\nG1 X1\r\n--B--\r\n`;
    const broken = await expectError(await host.api("/api/v1/files", { method: "POST", headers: { "content-type": "multipart/form-data; boundary=B" }, body: badName }), 400, "invalid_path");
    expect(broken.message).toContain("percent-encoded");
    expect(broken.hint).toContain("filename*=UTF-8''");
    expect(onDisk()).toEqual(before);
    // A path given with the file name is reduced to the name.
    const ok = await upload(host, "../../sneaky.gcode", "G1 X1\n");
    expect((await ok.json()).path).toBe("sneaky.gcode");
    await del("sneaky.gcode");
  });

  test("folders, move, copy, rename, delete; duplicates by content; search and sort", async () => {
    expect((await host.post("/api/v1/files", { folder: "archive/2024" })).status).toBe(201);
    await upload(host, "torus.gcode", Bun.file(TORUS));
    await upload(host, "torus-again.gcode", Bun.file(TORUS), "archive");
    // Duplicates are known by content hash, which the background analysis computes.
    await analysed("torus.gcode");
    await analysed("archive/torus-again.gcode");
    const copy = await json(await host.post("/api/v1/files/torus.gcode", { command: "copy", destination: "archive/2024/torus-copy.gcode" }));
    expect(copy.status).toBe(200);
    expect(copy.body.duplicates.sort()).toEqual(["archive/torus-again.gcode", "torus.gcode"]);
    await expectError(await host.post("/api/v1/files/torus.gcode", { command: "copy", destination: "archive/torus-again.gcode" }), 409, "exists");
    const renamed = await json(await host.post("/api/v1/files/archive/torus-again.gcode", { command: "rename", name: "ring.gcode" }));
    expect(renamed.body.path).toBe("archive/ring.gcode");
    const moved = await json(await host.post("/api/v1/files/archive/2024", { command: "move", destination: "old/2024" }));
    expect(moved.body.path).toBe("old/2024");

    const list = await (await host.api("/api/v1/files?q=TORUS&sort=name")).json();
    expect(list.files.map((f: any) => f.path)).toEqual(["old/2024/torus-copy.gcode", "torus.gcode"]); // by name: "torus-copy" < "torus."
    expect(list.folders.map((f: any) => f.path)).toContain("old/2024");
    expect(list.free).toBeGreaterThan(0);
    expect(list.total).toBeGreaterThan(list.free);
    const bySize = await (await host.api("/api/v1/files?sort=size&order=desc")).json();
    expect(bySize.files[0].size).toBeGreaterThanOrEqual(bySize.files.at(-1).size);
    const folder = await (await host.api("/api/v1/files/old")).json();
    expect(folder).toMatchObject({ type: "folder", path: "old" });

    await expectError(await del("old"), 409, "not_empty");
    expect((await host.api("/api/v1/files/old?recursive=true", { method: "DELETE" })).status).toBe(204);
    expect((await del("archive/ring.gcode")).status).toBe(204);
    // Copies share one analysis: the copy was analysed without a second pass.
    const torus = await analysed("torus.gcode");
    expect(torus.analysis.summary.layerCount).toBe(28);
  }, 30_000);

  test("a file being printed cannot be deleted, moved or overwritten (409)", async () => {
    await upload(host, "busy.gcode", Bun.file(TORUS));
    expect((await host.post(`/api/v1/printers/${printer}/job`, { file: "busy.gcode" })).status).toBe(200);
    await host.post(`/api/v1/printers/${printer}/job/pause`);
    await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.job?.state === "paused");
    await expectError(await del("busy.gcode"), 409, "in_use");
    await expectError(await upload(host, "busy.gcode", "G1 X1\n"), 409, "in_use");
    // The folder named after the file part (curl -F file=@busy.gcode -F path=elsewhere) is another file.
    expect((await upload(host, "busy.gcode", "G1 X1\n", "elsewhere")).status).toBe(201);
    expect(await (await host.api("/api/v1/files/elsewhere/busy.gcode/content")).text()).toBe("G1 X1\n");
    await expectError(await host.post("/api/v1/files/busy.gcode", { command: "rename", name: "other.gcode" }), 409, "in_use");
    expect(await (await host.api("/api/v1/files/busy.gcode/content")).text()).toBe(await Bun.file(TORUS).text());
    await host.post(`/api/v1/printers/${printer}/job/cancel`);
    await host.waitFor(`/api/v1/printers/${printer}`, jobEnded);
    expect((await del("busy.gcode")).status).toBe(204);
  }, 30_000);

  test("garbage gets a clear analysis error; the file stays usable", async () => {
    await upload(host, "junk.gcode", "this is not\ng-code at all\n".repeat(40));
    const entry = await analysed("junk.gcode");
    expect(entry.analysis.state).toBe("error");
    expect(entry.analysis.error.code).toBe("not_gcode");
    const err = await expectError(await host.api("/api/v1/files/junk.gcode/analysis"), 404, "no_analysis");
    expect(err.message).toContain("does not look like G-code");
    expect((await host.api("/api/v1/files/junk.gcode/content")).status).toBe(200);
    const stored = () => (host.db.query("SELECT COUNT(*) AS n FROM file_analyses WHERE sha256 = ?").get(entry.sha256) as { n: number }).n;
    expect(stored()).toBe(1);
    expect((await del("junk.gcode")).status).toBe(204);
    expect(stored()).toBe(0); // the analysis of content no file has any more is dropped
  }, 30_000);

  test("names that look the same are the same file: é composed or decomposed (Unicode NFC)", async () => {
    const composed = "caf\u00e9.gcode";
    const decomposed = "cafe\u0301.gcode";
    expect((await upload(host, composed, "G1 X1\n")).status).toBe(201);
    const second = await upload(host, decomposed, "G1 X2\n");
    expect(second.status).toBe(201);
    expect((await second.json()).path).toBe(composed);
    const { files } = await (await host.api("/api/v1/files?q=caf")).json();
    expect(files.map((f: any) => f.path)).toEqual([composed]);
    expect(await (await host.api(`/api/v1/files/${encodeURIComponent(composed)}/content`)).text()).toBe("G1 X2\n");
    // A folder made under the decomposed name is found under the composed one.
    expect((await host.post("/api/v1/files", { folder: "d\u00e9j\u00e0" })).status).toBe(201);
    expect((await upload(host, "x.gcode", "G1\n", "de\u0301ja\u0300")).status).toBe(201);
    expect((await host.api(`/api/v1/files/${encodeURIComponent("d\u00e9j\u00e0")}/x.gcode`)).status).toBe(200);
    expect((await host.api(`/api/v1/files/${encodeURIComponent("d\u00e9j\u00e0")}?recursive=true`, { method: "DELETE" })).status).toBe(204);
    expect((await del(encodeURIComponent(composed))).status).toBe(204);
    expect(onDisk().filter((n) => /^(caf|d)/.test(n.normalize("NFC")))).toEqual([]);
  }, 30_000);

  test("move or copy onto an existing folder puts the file into it, keeping its name", async () => {
    await host.post("/api/v1/files", { folder: "bin" });
    await upload(host, "tomove.gcode", "G1 X1\n");
    const moved = await host.post("/api/v1/files/tomove.gcode", { command: "move", destination: "bin" });
    expect(moved.status).toBe(200);
    expect((await moved.json()).path).toBe("bin/tomove.gcode");
    const copied = await host.post("/api/v1/files/bin/tomove.gcode", { command: "copy", destination: "bin/" });
    await expectError(copied, 409, "exists"); // into the folder it is in: the same name
    await expectError(await host.post("/api/v1/files/bin/tomove.gcode", { command: "copy", destination: "nowhere/" }), 404, "file_not_found");
    expect((await host.api("/api/v1/files/bin?recursive=true", { method: "DELETE" })).status).toBe(204);
    expect(onDisk().filter((n) => n === "bin" || n === "tomove.gcode")).toEqual([]);
  }, 30_000);

  test("nothing can be made inside a file: upload, PUT, folder, move and copy under 'a.gcode/' are a 409, not a 500", async () => {
    await upload(host, "solid.gcode", "G1 X1\n");
    await upload(host, "loose.gcode", "G1 X2\n");
    await host.post("/api/v1/files", { folder: "loosedir" });
    const attempts = [
      upload(host, "x.gcode", "G1\n", "solid.gcode"),
      host.api("/api/v1/files/solid.gcode/x.gcode", { method: "PUT", body: "G1\n" }),
      host.post("/api/v1/files", { folder: "solid.gcode/sub" }),
      host.post("/api/v1/files/loose.gcode", { command: "move", destination: "solid.gcode/loose.gcode" }),
      host.post("/api/v1/files/loose.gcode", { command: "copy", destination: "solid.gcode/deep/loose.gcode" }),
      host.post("/api/v1/files/loosedir", { command: "copy", destination: "solid.gcode/loosedir" }),
      host.post("/api/v1/files/loosedir", { command: "move", destination: "solid.gcode/loosedir" }),
    ];
    for (const res of await Promise.all(attempts)) expect((await expectError(res, 409, "exists")).message).toContain('"solid.gcode" is a file');
    expect(await (await host.api("/api/v1/files/solid.gcode/content")).text()).toBe("G1 X1\n");
    for (const p of ["solid.gcode", "loose.gcode", "loosedir"]) expect((await del(p)).status).toBe(204);
  }, 30_000);

  test("absurd numbers in a file: the analysis finishes and says which line, instead of staying unanalysed", async () => {
    await upload(host, "absurd.gcode", "G28\nM83\nG1 Z0.2 F3000\nG1 X10 Y10 E1 F1200\nG1 X1e999 Y1e308 E1\nG1 X20 Y10 E1\n");
    const entry = await analysed("absurd.gcode");
    expect(entry.analysis.state).toBe("done");
    expect(entry.analysis.summary.warnings.join(" ")).toMatch(/number too large for any printer \(the first at byte 42\)/);
    expect(entry.analysis.summary.dimensions).toEqual({ width: 20, depth: 10, height: 0 });
    expect((await host.api("/api/v1/files/absurd.gcode/analysis")).status).toBe(200);
    expect((await del("absurd.gcode")).status).toBe(204);
  }, 30_000);

  test("analysis can wait for idle printers; progress is pushed over SSE", async () => {
    const settings = await (await host.api("/api/v1/analysis/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ onlyWhenIdle: true }) })).json();
    expect(settings.onlyWhenIdle).toBe(true);
    await upload(host, "hold.gcode", Bun.file(TORUS));
    await upload(host, "job.gcode", "G1 X1 F600\n".repeat(5000));
    await analysed("job.gcode");
    await host.api("/api/v1/files/hold.gcode", { method: "DELETE" });
    // Start a print, pause it (still "printing" for the queue), then upload: the analysis waits.
    await host.post(`/api/v1/printers/${printer}/job`, { file: "job.gcode" });
    await host.post(`/api/v1/printers/${printer}/job/pause`);
    await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.job?.state === "paused");
    const events = await host.api("/api/v1/events");
    const reader = events.body!.getReader();
    await upload(host, "later.gcode", new Blob([Bun.file(FLSUN), "; a different file: not analysed yet\n"]));
    await Bun.sleep(500);
    expect((await (await host.api("/api/v1/files/later.gcode")).json()).analysis.state).toBe("queued");
    expect((await (await host.api("/api/v1/analysis")).json()).queued).toContain("later.gcode");
    await host.post(`/api/v1/printers/${printer}/job/cancel`);
    const entry = await analysed("later.gcode");
    expect(entry.analysis.state).toBe("done");
    // The push channel carried the queue, progress and the end.
    let text = "";
    const decoder = new TextDecoder();
    while (!text.includes('"state":"done"')) text += decoder.decode((await reader.read()).value);
    await reader.cancel();
    expect(text).toContain("event: analysis");
    expect(text).toContain('"path":"later.gcode","state":"queued"');
    await host.api("/api/v1/analysis/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ onlyWhenIdle: false }) });
  }, 40_000);

  test("PUT streams a raw body into a file", async () => {
    const res = await host.api("/api/v1/files/raw/part.gcode", { method: "PUT", body: "G1 X5 F600\n" });
    expect(res.status).toBe(201);
    expect((await res.json()).path).toBe("raw/part.gcode");
    await expectError(await host.api("/api/v1/files/raw/part.gcode?overwrite=false", { method: "PUT", body: "G1 X6\n" }), 409, "exists");
    // A form sent with PUT (curl -F … -X PUT) is refused, not stored with its framing as G-code.
    const form = new FormData();
    form.append("file", new Blob(["G1 X7\n"]), "part.gcode");
    await expectError(await host.api("/api/v1/files/raw/part.gcode", { method: "PUT", body: form }), 400, "invalid_request");
    expect(await (await host.api("/api/v1/files/raw/part.gcode/content")).text()).toBe("G1 X5 F600\n");
  });
});
