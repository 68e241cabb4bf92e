/**
 * The camera links OctoPrint clients are given (`GET /api/settings` → webcam.streamUrl and
 * snapshotUrl) carry a camera token instead of the client's API key: through a real host, the
 * link plays with no other credentials, the token opens nothing but that printer's camera, and it
 * ends with its key (an open stream too) or when the user may no longer watch.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFrames, startTestCamera, type TestCamera } from "../helpers/camera.ts";
import { startTestHost, type TestHost } from "../helpers/host.ts";

let host: TestHost;
let camera: TestCamera;
let printer: string;

const isJpeg = (f: Uint8Array) => f[0] === 0xff && f[1] === 0xd8 && f[f.length - 2] === 0xff && f[f.length - 1] === 0xd9;

beforeAll(async () => {
  [host, camera] = await Promise.all([startTestHost(), startTestCamera()]);
  printer = (await (await host.api("/api/v1/printers")).json()).printers[0].id;
  const res = await host.api(`/api/v1/printers/${printer}/camera`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ streamUrl: camera.streamUrl }) });
  expect(res.status).toBe(200);
}, 30_000);
afterAll(async () => {
  await host?.close();
  await camera?.stop();
});

/** A new API key of a new user in `group`, as an app would hold it. */
async function appKey(name: string, group: "users" | "readonly" = "readonly", scope = "read-only") {
  const user = await host.accounts.addUser(name, `${name}'s long password`, group);
  return { user, ...host.accounts.createKey(user, { name: `${name}'s app`, scope }) };
}

/** The webcam block an OctoPrint client reading the settings with `key` is given. */
async function webcamOf(key: string, path = "/api/settings") {
  const res = await host.api(path, { headers: { "x-api-key": key } });
  expect(res.status).toBe(200);
  return (await res.json()).webcam;
}

const tokenOf = (url: string) => new URL(url).searchParams.get("camera_token")!;

test("the settings' camera links carry a camera token, not the key; the same on every call; they play with no other credentials", async () => {
  const { key } = await appKey("octoapp");
  const webcam = await webcamOf(key);
  expect(webcam.streamUrl).toMatch(new RegExp(`^${host.url}/api/v1/printers/${printer}/camera/stream\\?camera_token=[A-Za-z0-9_-]{43}$`));
  expect(JSON.stringify(webcam)).not.toContain(key);
  expect(JSON.stringify(webcam)).not.toContain("apikey");
  const token = tokenOf(webcam.streamUrl);
  expect(webcam.snapshotUrl).toBe(`${host.url}/api/v1/printers/${printer}/camera/snapshot?camera_token=${token}`);
  expect(webcam.webcams[0].compat.stream).toBe(webcam.streamUrl);
  // Apps read the settings once and keep the links: reading them again (or under the printer's prefix) gives the same.
  expect((await webcamOf(key)).streamUrl).toBe(webcam.streamUrl);
  expect((await webcamOf(key, `/printers/${printer}/api/settings`)).streamUrl).toBe(webcam.streamUrl);

  const stream = await host.anonymous(new URL(webcam.streamUrl).pathname + new URL(webcam.streamUrl).search);
  expect(stream.status).toBe(200);
  expect(stream.headers.get("content-type")).toStartWith("multipart/x-mixed-replace");
  expect((await readFrames(stream, 2)).every(isJpeg)).toBe(true);
  const snapshot = await fetch(webcam.snapshotUrl);
  expect(snapshot.status).toBe(200);
  expect(isJpeg(new Uint8Array(await snapshot.arrayBuffer()))).toBe(true);
  // Cache busters clients add are fine.
  expect((await fetch(`${webcam.snapshotUrl}&bypassCache=${Date.now()}`)).status).toBe(200);
}, 30_000);

test("a camera token opens nothing but its printer's camera picture: not as an API key, not on any other route", async () => {
  const { key } = await appKey("curious", "users", "full");
  const token = tokenOf((await webcamOf(key)).streamUrl);
  const q = `camera_token=${token}`;
  // Elsewhere in the native API: refused, saying what the token is for.
  for (const path of ["/api/v1/printers", `/api/v1/printers/${printer}/camera`, "/api/v1/timelapse", "/api/v1/apikeys", `/api/v1/printers/${printer}`, `/api/v1/printers/${printer}/terminal`]) {
    const res = await host.anonymous(`${path}?${q}`);
    const body = await res.json();
    expect({ path, status: res.status, code: body.error.code }).toEqual({ path, status: 401, code: "camera_token_only" });
  }
  expect((await host.anonymous(`/api/v1/printers/${printer}/camera?${q}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ streamUrl: "" }) })).status).toBe(401);
  expect(host.webcam.camera(printer).streamUrl).toBe(camera.streamUrl);
  // The OctoPrint API (its own 403), including its snapshot download and the settings that would show the camera's address.
  for (const path of ["/api/printer", "/api/settings", "/api/job", "/downloads/camera/current", "/api/timelapse", `/printers/${printer}/api/settings`]) {
    const res = await host.anonymous(`${path}?${q}`);
    expect({ path, status: res.status }).toEqual({ path, status: 403 });
    expect(res.headers.get("content-type")).not.toBe("image/jpeg");
  }
  // Sent the way API keys are sent, on the camera's own routes too: not a key.
  const snapshot = `/api/v1/printers/${printer}/camera/snapshot`;
  for (const headers of [{ "x-api-key": token }, { authorization: `Bearer ${token}` }] as Record<string, string>[]) {
    const res = await host.api(snapshot, { headers });
    expect({ headers, status: res.status, code: (await res.json()).error.code }).toEqual({ headers, status: 401, code: "invalid_credentials" });
  }
  expect((await host.anonymous(`${snapshot}?apikey=${token}`)).status).toBe(401);
  expect((await host.anonymous(`/api/printer?apikey=${token}`)).status).toBe(403);
  // Another printer's camera: refused (a token is one printer's).
  const other = await host.anonymous(`/api/v1/printers/other-printer/camera/snapshot?${q}`);
  expect({ status: other.status, code: (await other.json()).error.code }).toEqual({ status: 403, code: "wrong_printer" });
  // A made-up token: refused as a dead camera link.
  const forged = await host.anonymous(`${snapshot}?camera_token=${"A".repeat(43)}`);
  expect({ status: forged.status, code: (await forged.json()).error.code }).toEqual({ status: 401, code: "invalid_camera_token" });
  // And its own route still works.
  expect((await host.anonymous(`${snapshot}?${q}`)).status).toBe(200);
}, 30_000);

test("revoking the key the token came from ends it at once, and cuts a stream open with it", async () => {
  const { key, record } = await appKey("revoked");
  const url = (await webcamOf(key)).streamUrl;
  const snapshot = `/api/v1/printers/${printer}/camera/snapshot?camera_token=${tokenOf(url)}`;
  expect((await host.anonymous(snapshot)).status).toBe(200);
  const open = await fetch(url);
  expect(open.status).toBe(200);
  const reader = open.body!.getReader();
  expect((await reader.read()).done).toBe(false);

  // Revoked as its user does it, through the API.
  const revoke = await host.api(`/api/v1/apikeys/${record.id}`, { method: "DELETE" });
  expect(revoke.status).toBeLessThan(300);
  const refused = await host.anonymous(snapshot);
  const body = await refused.json();
  expect({ status: refused.status, code: body.error.code }).toEqual({ status: 401, code: "invalid_camera_token" });
  expect(body.error.hint).toContain("/api/settings");
  expect((await fetch(url)).status).toBe(401);

  // The open stream ends within a couple of seconds (the camera sends 10 pictures a second).
  const deadline = Date.now() + 5000;
  let ended = false;
  while (Date.now() < deadline) {
    const { done } = await reader.read();
    if (done) {
      ended = true;
      break;
    }
  }
  expect(ended).toBe(true);
}, 30_000);

test("the token follows its user: without the webcam permission it is refused, with it back it works again; a removed user's tokens are gone", async () => {
  const { user, key } = await appKey("watcher");
  const snapshot = (await webcamOf(key)).snapshotUrl;
  expect((await fetch(snapshot)).status).toBe(200);
  const readonly = host.accounts.users.groupPermissions("readonly");
  host.accounts.users.setGroupPermissions("readonly", readonly.filter((p) => p !== "webcam"));
  try {
    const res = await fetch(snapshot);
    const body = await res.json();
    expect({ status: res.status, code: body.error.code }).toEqual({ status: 403, code: "forbidden" });
    expect(body.error.message).toContain("webcam");
    // Nor does a key without the permission get a link at all: no webcam block, as OctoPrint.
    expect(await webcamOf(key)).toBeUndefined();
  } finally {
    host.accounts.users.setGroupPermissions("readonly", readonly);
  }
  expect((await fetch(snapshot)).status).toBe(200);
  host.accounts.removeUser(user);
  expect((await fetch(snapshot)).status).toBe(401);
}, 30_000);
