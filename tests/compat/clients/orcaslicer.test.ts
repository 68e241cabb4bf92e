/**
 * OrcaSlicer's "OctoPrint" print host: PrusaSlicer's class, copied with small differences.
 * Client source read: SoftFever/OrcaSlicer src/slic3r/Utils/OctoPrint.cpp (OctoPrint::test,
 * upload, make_url, validate_version_text, set_auth). Differences from PrusaSlicer that matter:
 * the API key is NOT trimmed (a key pasted with a trailing space or newline is sent as it is),
 * and after the test the upload may go to the resolved IP address with the port re-added.
 * The upload itself is the same curl form: `print`, `path`, `file`.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readyHost, type TestHost } from "../../helpers/host.ts";
import { layeredGcode } from "../../helpers/gcode.ts";
import { multipart } from "../../helpers/multipart.ts";

let host: TestHost;
beforeAll(async () => {
  ({ host } = await readyHost());
}, 30_000);
afterAll(() => host.close());

test("a key pasted with surrounding whitespace passes the test and the upload", async () => {
  // HTTP trims header values; a tab or spaces around the key must still authenticate.
  const key = ` ${host.apiKey}\t`;
  const v = await fetch(`${host.url}/api/version`, { headers: { "X-Api-Key": key } });
  expect(v.status).toBe(200);
  expect((await v.json()).text).toStartWith("OctoPrint");
  // The upload, to the address the test resolved (127.0.0.1 with the port re-added).
  const { body, contentType } = multipart([
    { name: "print", value: "false" },
    { name: "path", value: "orca" },
    { name: "file", value: layeredGcode({ layers: 1, objects: [{ name: "p", x: 5, y: 5 }] }), filename: "Plate_1.gcode", type: "application/octet-stream" },
  ]);
  const url = new URL(host.url);
  const up = await fetch(`http://127.0.0.1:${url.port}/api/files/local`, { method: "POST", headers: { "X-Api-Key": key, "content-type": contentType }, body });
  expect(up.status).toBe(201);
  expect((await up.json()).files.local.path).toBe("orca/Plate_1.gcode");
});

test("an empty key (Orca's default) is refused like OctoPrint refuses it, with a JSON error to show", async () => {
  const res = await fetch(`${host.url}/api/version`, { headers: { "X-Api-Key": "" } });
  expect(res.status).toBe(403);
  expect(typeof (await res.json()).error).toBe("string");
});
