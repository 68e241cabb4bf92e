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
    const op = doc.paths[path]?.[r.method.toLowerCase()];
    expect({ route: `${r.method} ${r.path}`, present: !!op }).toEqual({ route: `${r.method} ${r.path}`, present: true });
    // Every route says what it does (the index of /api/v1 lists the same words).
    expect({ route: `${r.method} ${r.path}`, described: op.summary !== `${r.method} ${r.path}` }).toEqual({ route: `${r.method} ${r.path}`, described: true });
  }
  const commands = doc.paths["/api/v1/printers/{id}/commands"].post;
  expect(commands["x-permission"]).toBe("control");
  expect(commands.requestBody.content["application/json"].schema.properties.commands.type).toBe("array");
  expect(commands.requestBody.content["application/json"].schema.properties.commands.maxItems).toBe(1000);
  const upload = doc.paths["/api/v1/files"].post.requestBody.content["multipart/form-data"].schema;
  expect(upload.properties.file).toEqual({ type: "string", format: "binary" });
  expect(upload.required).toEqual(["file"]);
  expect(Object.keys(upload.properties)).toEqual(["file", "path", "filename", "overwrite"]);
  // The same route makes a folder from JSON; PUT takes the raw bytes.
  expect(doc.paths["/api/v1/files"].post.requestBody.content["application/json"].schema.required).toEqual(["folder"]);
  expect(doc.paths["/api/v1/files/{path}"].put.requestBody.content["application/octet-stream"].schema).toEqual({ type: "string", format: "binary" });
  const fileCommand = doc.paths["/api/v1/files/{path}"].post.requestBody.content["application/json"].schema;
  expect(fileCommand.oneOf.map((s: any) => s.properties.command.enum ?? [s.properties.command.const])).toEqual([["move", "copy"], ["rename"], ["analyse"]]);
  expect(doc.paths["/api/v1/files/{path}"].post["x-permission"]).toBe("files.delete");
  expect(doc.paths["/api/v1/analysis/settings"].put.requestBody.content["application/json"].schema.properties.onlyWhenIdle.type).toBe("boolean");
  // Self-update: the sources and settings it takes.
  expect(Object.keys(doc.paths["/api/v1/update/check"].post.requestBody.content["application/json"].schema.properties)).toEqual(["url", "channel"]);
  expect(Object.keys(doc.paths["/api/v1/update/start"].post.requestBody.content["application/json"].schema.properties)).toEqual(["url", "channel", "force"]);
  expect(Object.keys(doc.paths["/api/v1/update/settings"].put.requestBody.content["application/json"].schema.properties)).toEqual(["url", "channel", "checkHours", "selfTestSeconds"]);
  expect(doc.paths["/api/v1/update/start"].post["x-permission"]).toBe("update");
  expect(doc.paths["/api/v1/version"].get.security).toEqual([]);
  expect(doc.paths["/api/v1/printers/{id}"].get.summary.length).toBeGreaterThan(10);
});

test("the docs page shows each endpoint with a curl example using the key", async () => {
  const page = await (await host.anonymous("/api/v1/docs")).text();
  expect(page).toContain("POST /api/v1/printers/:id/commands");
  expect(page).toContain(`curl -H &quot;X-Api-Key: $KEY&quot; -X POST -H &#39;content-type: application/json&#39; -d &#39;{&quot;commands&quot;:[&quot;G28&quot;,&quot;M105&quot;]}&#39; ${host.url}/api/v1/printers/ID/commands`);
  expect(page).toContain(`-F file=@benchy.gcode ${host.url}/api/v1/files`);
  expect(page).toContain(`curl -H &quot;X-Api-Key: $KEY&quot; -X POST -H &#39;content-type: application/json&#39; -d &#39;{&quot;folder&quot;:&quot;…&quot;}&#39; ${host.url}/api/v1/files`);
  expect(page).toContain(`curl -H &quot;X-Api-Key: $KEY&quot; -T benchy.gcode ${host.url}/api/v1/files/benchy.gcode`);
  expect(page).toContain(`curl -H &quot;X-Api-Key: $KEY&quot; -X PUT -H &#39;content-type: application/json&#39; -d &#39;{&quot;onlyWhenIdle&quot;:true}&#39; ${host.url}/api/v1/analysis/settings`);
  expect(page).toContain(`curl -H &quot;X-Api-Key: $KEY&quot; -X POST -H &#39;content-type: application/json&#39; -d &#39;{&quot;url&quot;:&quot;…&quot;}&#39; ${host.url}/api/v1/update/start`);
  // One example for each shape a body may take.
  for (const command of ['{&quot;command&quot;:&quot;move&quot;,&quot;destination&quot;:&quot;…&quot;}', '{&quot;command&quot;:&quot;rename&quot;,&quot;name&quot;:&quot;My key&quot;}', '{&quot;command&quot;:&quot;analyse&quot;}']) {
    expect(page).toContain(`-d &#39;${command}&#39; ${host.url}/api/v1/files/benchy.gcode`);
  }
});
