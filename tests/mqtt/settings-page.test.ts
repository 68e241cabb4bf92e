/**
 * Settings → MQTT as a logged-in admin uses it: the form saves (the password never comes back),
 * refused values are shown beside their fields, a broker that is not there shows as retrying with
 * the reason in words, and only users with the settings permission reach the page.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import * as v from "valibot";
import { startTestHost, type TestHost } from "../helpers/host.ts";
import { login, type BrowserSession } from "../helpers/session.ts";

let host: TestHost;
let admin: BrowserSession;

beforeAll(async () => {
  host = await startTestHost({ mqtt: { reconnectMs: 200 } });
  admin = await login(host);
}, 30_000);
afterAll(() => host.close());

const post = (session: BrowserSession, path: string, fields: Record<string, string>) =>
  host.anonymous(path, {
    method: "POST",
    headers: { cookie: session.cookie, "x-csrf-token": session.csrf, "hx-request": "true", "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields),
  });
const get = (session: BrowserSession, path: string) => host.anonymous(path, { headers: { cookie: session.cookie } });

/** A loopback port nothing listens on. */
function deadPort(): number {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

const brokerPort = deadPort();
const fields = (over: Record<string, string> = {}) => ({
  enabled: "on", host: "127.0.0.1", port: String(brokerPort), username: "farm", password: "hunter2-broker",
  baseTopic: "layerline/bench", discovery: "on", discoveryPrefix: "homeassistant", commandUser: "", ...over,
});

test("the page is under Settings; the form saves and never shows the password again", async () => {
  const page = await (await get(admin, "/settings/mqtt")).text();
  expect(page).toContain('href="/settings/mqtt" aria-current="page"');
  expect(page).toContain('data-state="off"');
  const saved = await post(admin, "/ui/mqtt", fields());
  expect(saved.status).toBe(200);
  const form = await saved.text();
  expect(form).toContain("Saved.");
  expect(form).not.toContain("hunter2-broker");
  expect(form).toContain('data-password-set="true"');
  expect((await (await host.api("/api/v1/mqtt")).json()).settings).toMatchObject({ enabled: true, username: "farm", passwordSet: true, baseTopic: "layerline/bench", commandUser: null });
  // Saving again with the password field empty keeps it.
  await post(admin, "/ui/mqtt", fields({ password: "" }));
  expect(host.settings.get("mqtt.config", v.object({ password: v.string() }), { password: "" }).password).toBe("hunter2-broker");
  // Another broker without the password again: refused beside the password, nothing saved (the
  // stored password would otherwise go to whoever runs that broker).
  const moved = await (await post(admin, "/ui/mqtt", fields({ host: "198.51.100.7", password: "" }))).text();
  expect(moved).toContain('data-error="password"');
  expect((await (await host.api("/api/v1/mqtt")).json()).settings.host).toBe("127.0.0.1");
}, 20_000);

test("a broker that is not there: retrying, with the reason in words on the status card", async () => {
  const card = await waitForCard((text) => text.includes("refused the connection"));
  expect(card).toContain('data-state="retrying"');
  expect(card).toContain("is it running, and on that port?");
}, 20_000);

async function waitForCard(ok: (text: string) => boolean): Promise<string> {
  const until = Date.now() + 10_000;
  for (;;) {
    const text = await (await get(admin, "/ui/mqtt/status")).text();
    if (ok(text) || Date.now() > until) return text;
    await Bun.sleep(100);
  }
}

test("refused values are shown beside their fields, as typed, and nothing is saved", async () => {
  const res = await post(admin, "/ui/mqtt", fields({ baseTopic: "layerline/#", port: "99999", commandUser: "ghost", password: "typed-secret" }));
  const form = await res.text();
  expect(form).toContain('data-error="baseTopic"');
  expect(form).toContain("must not contain + or #");
  expect(form).toContain('data-error="port"');
  expect(form).toContain('data-error="commandUser"');
  expect(form).toContain('value="layerline/#"');
  expect(form).not.toContain("typed-secret");
  expect((await (await host.api("/api/v1/mqtt")).json()).settings.baseTopic).toBe("layerline/bench");
}, 20_000);

test("turning it off: the bridge is off; operators cannot open the page", async () => {
  const { enabled: _, ...off } = fields();
  await post(admin, "/ui/mqtt", off);
  expect(await waitForCard((t) => t.includes('data-state="off"'))).toContain('data-state="off"');
  await host.accounts.addUser("olga", "olga-password", "users");
  const olga = await login(host, "olga", "olga-password");
  expect((await get(olga, "/settings/mqtt")).status).toBe(403);
  expect((await post(olga, "/ui/mqtt", fields())).status).toBe(403);
}, 20_000);
