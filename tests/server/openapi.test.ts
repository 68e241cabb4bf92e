/**
 * The API's description is generated from the registered routes and their valibot schemas.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestHost, type TestHost } from "../helpers/host.ts";

let host: TestHost;
beforeAll(async () => {
  host = await startTestHost();
}, 30_000);
afterAll(() => host.close());

test("openapi.json lists every native route with its permission and body schema", async () => {
  const res = await host.anonymous("/api/v1/openapi.json");
  expect(res.status).toBe(200);
  const doc = await res.json();
  expect(doc.openapi).toBe("3.1.0");
  const native = host.routes.filter((r) => r.method !== "WS" && r.path.startsWith("/api/v1"));
  for (const r of native) {
    const path = r.path.replace(/\/$/, "").replace(/:(\w+)/g, "{$1}").replace("*", "{path}") || "/";
    expect({ route: `${r.method} ${r.path}`, present: !!doc.paths[path]?.[r.method.toLowerCase()] }).toEqual({ route: `${r.method} ${r.path}`, present: true });
  }
  const commands = doc.paths["/api/v1/printers/{id}/commands"].post;
  expect(commands["x-permission"]).toBe("control");
  expect(commands.requestBody.content["application/json"].schema.properties.commands.type).toBe("array");
  expect(commands.requestBody.content["application/json"].schema.properties.commands.maxItems).toBe(1000);
  const upload = doc.paths["/api/v1/files"].post.requestBody.content["multipart/form-data"].schema;
  expect(upload.properties.file).toEqual({ type: "string", format: "binary" });
  expect(doc.paths["/api/v1/version"].get.security).toEqual([]);
  expect(doc.paths["/api/v1/printers/{id}"].get.summary.length).toBeGreaterThan(10);
});

test("the docs page shows each endpoint with a curl example using the key", async () => {
  const page = await (await host.anonymous("/api/v1/docs")).text();
  expect(page).toContain("POST /api/v1/printers/:id/commands");
  expect(page).toContain(`curl -H &quot;X-Api-Key: $KEY&quot; -X POST -H &#39;content-type: application/json&#39; -d &#39;{&quot;commands&quot;:[&quot;G28&quot;,&quot;M105&quot;]}&#39; ${host.url}/api/v1/printers/ID/commands`);
  expect(page).toContain(`-F file=@benchy.gcode ${host.url}/api/v1/files`);
});
