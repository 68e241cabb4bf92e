/**
 * PrusaSlicer's "OctoPrint" print host, replayed as it speaks.
 * Client source read: prusa3d/PrusaSlicer src/slic3r/Utils/OctoPrint.cpp (OctoPrint::test,
 * upload_inner_with_host, validate_version_text, set_auth, make_url; PrusaLink::test_with_method_check).
 * - test(): GET <host>/api/version with `X-Api-Key` (trimmed); needs a string `api`, and a `text`
 *   starting with "OctoPrint" (PrusaLink accepts "OctoPrint" too, and switches to PUT uploads
 *   only when `capabilities.upload-by-put` is true). Any HTTP error is shown with its body.
 * - upload(): test() first, then POST <host>/api/files/local, curl multipart in this order:
 *   `print` ("true"/"false"), `path` (the parent folder: "" or "/" for the top, "a/b" nested),
 *   `file` (with the filename). Only the status matters (2xx = done).
 * - <host> may carry a path ("http://pi/printers/x/") and a trailing slash.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readyHost, type TestHost } from "../../helpers/host.ts";
import { layeredGcode } from "../../helpers/gcode.ts";
import { multipart } from "../../helpers/multipart.ts";
import { fixture, shapeDiff } from "../../helpers/shape.ts";

let host: TestHost;
let printer: string;
beforeAll(async () => {
  ({ host, printer } = await readyHost());
}, 30_000);
afterAll(() => host.close());

/** PrusaSlicer's make_url(): the host as typed, then the API path. */
const makeUrl = (hostField: string, path: string) => (hostField.endsWith("/") ? `${hostField}${path}` : `${hostField}/${path}`);

/** OctoPrint::upload(): curl's form with print, path, file. */
async function upload(hostField: string, key: string, uploadPath: string, print: boolean, content = layeredGcode({ layers: 2, objects: [{ name: "part", x: 20, y: 20 }] })) {
  const slash = uploadPath.lastIndexOf("/");
  const parent = slash < 0 ? "" : uploadPath.slice(0, slash) || "/";
  const name = uploadPath.slice(slash + 1);
  const { body, contentType } = multipart([
    { name: "print", value: print ? "true" : "false" },
    { name: "path", value: parent },
    { name: "file", value: content, filename: name, type: "application/octet-stream" },
  ]);
  return fetch(makeUrl(hostField, "api/files/local"), { method: "POST", headers: { "X-Api-Key": key, "content-type": contentType }, body });
}

describe("test(): the version check", () => {
  test("api and text as PrusaSlicer (and its PrusaLink host type) check them, at the root and under a printer's prefix", async () => {
    for (const base of [host.url, `${host.url}/`, `${host.url}/printers/${printer}`, `${host.url}/printers/${printer}/`]) {
      const res = await fetch(makeUrl(base, "api/version"), { headers: { "X-Api-Key": host.apiKey } });
      expect(res.status).toBe(200);
      const v = await res.json();
      expect(typeof v.api).toBe("string");
      expect(v.text).toStartWith("OctoPrint");
      // No capabilities.upload-by-put: PrusaLink keeps to the multipart POST below.
      expect(v.capabilities?.["upload-by-put"]).toBeUndefined();
      expect(shapeDiff(v, fixture("api_version"))).toEqual([]);
    }
  });

  test("a wrong key fails the test with OctoPrint's 403 body", async () => {
    const res = await fetch(makeUrl(host.url, "api/version"), { headers: { "X-Api-Key": "not-a-key" } });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual(fixture("api_version_no_key_403"));
  });
});

describe("upload(): multipart print, path, file", () => {
  test("to the top (path \"\" and \"/\"), and into folders that do not exist yet", async () => {
    for (const [uploadPath, stored] of [
      ["top.gcode", "top.gcode"],
      ["/slash.gcode", "slash.gcode"],
      ["prints/benchy 0.2mm PLA.gcode", "prints/benchy 0.2mm PLA.gcode"],
      ["a/b/c/deep.gcode", "a/b/c/deep.gcode"],
    ] as const) {
      const res = await upload(host.url, host.apiKey, uploadPath, false);
      expect(res.status).toBe(201);
      const body = await res.json();
      expect(body.files.local.path).toBe(stored);
      expect(body).toMatchObject({ done: true, effectivePrint: false });
      expect(shapeDiff(body, fixture("api_files_local_POST_upload"))).toEqual([]);
    }
    const listed = await (await host.api("/api/files/local/a/b/c/deep.gcode")).json();
    expect(listed).toMatchObject({ name: "deep.gcode", path: "a/b/c/deep.gcode", type: "machinecode", origin: "local" });
  });

  test("print=true through a printer's prefix starts the print there", async () => {
    const res = await upload(`${host.url}/printers/${printer}/`, host.apiKey, "from-slicer.gcode", true);
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ effectivePrint: true, effectiveSelect: true });
    const done = await host.waitFor("/api/job", (j: any) => j.job.file.name === "from-slicer.gcode" && j.state === "Operational" && j.progress.completion === 100, 30_000);
    expect(done.job.file.origin).toBe("local");
  }, 40_000);

  test("print=true while the printer is off: the file lands, the print is not started, no error", async () => {
    expect((await host.post("/api/connection", { command: "disconnect" })).status).toBe(204);
    await host.waitFor("/api/connection", (c: any) => c.current.state === "Closed");
    const res = await upload(host.url, host.apiKey, "while-off.gcode", true);
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ effectivePrint: false, effectiveSelect: false, done: true });
    expect((await host.api("/api/files/local/while-off.gcode")).status).toBe(200);
    expect((await host.post("/api/connection", { command: "connect" })).status).toBe(204);
    await host.waitFor("/api/job", (j: any) => j.state === "Operational");
  }, 30_000);

  test("what PrusaSlicer shows as the error: a non-G-code file is a 415 and a missing file part a 400, each with an error text", async () => {
    const stl = multipart([
      { name: "print", value: "false" },
      { name: "path", value: "" },
      { name: "file", value: "solid x\nendsolid x\n", filename: "model.stl", type: "application/octet-stream" },
    ]);
    const bad = await fetch(`${host.url}/api/files/local`, { method: "POST", headers: { "X-Api-Key": host.apiKey, "content-type": stl.contentType }, body: stl.body });
    expect(bad.status).toBe(415);
    expect(typeof (await bad.json()).error).toBe("string");
    const none = multipart([{ name: "print", value: "false" }, { name: "path", value: "" }]);
    const missing = await fetch(`${host.url}/api/files/local`, { method: "POST", headers: { "X-Api-Key": host.apiKey, "content-type": none.contentType }, body: none.body });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({ error: "No file included" });
  });
});
