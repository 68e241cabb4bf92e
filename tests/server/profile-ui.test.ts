/**
 * The printer profile page over real HTTP: the printer's bed and extruders, and its machine
 * limits beside what the firmware reported — save the whole set, take the printer's report, ask
 * the printer again, clear; a bad value is shown in the form and nothing is stored.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestHost, type TestHost } from "../helpers/host.ts";

describe("the printer profile page", () => {
  let host: TestHost;
  let id: string;
  const form = (path: string, fields: Record<string, string> = {}) => host.api(path, { method: "POST", body: new URLSearchParams(fields) });
  const html = async (res: Response) => {
    expect(res.status).toBe(200);
    return res.text();
  };
  const profile = async () => (await (await host.api(`/api/v1/printers/${id}/profile`)).json()) as { profile: any; reportedLimits: any };

  beforeAll(async () => {
    host = await startTestHost();
    id = (await (await host.api("/api/v1/printers")).json()).printers[0].id;
    await host.waitFor(`/api/v1/printers/${id}/profile`, (p: any) => p.profile.limits !== undefined);
  }, 30_000);
  afterAll(() => host?.close());

  test("the page: the printer's fields, its limits as reported, and the dashboard links to it", async () => {
    const page = await html(await host.api(`/settings/printers/${id}/profile`));
    expect(page).toContain('name="width" value="200"');
    expect(page).toContain("as the printer reported");
    expect(page).toContain('name="maxFeedrate.z" min="0" step="any" value="5" placeholder="5"');
    expect(page).toContain("This is the default printer");
    expect(await html(await host.api(`/?printer=${id}`))).toContain(`href="/settings/printers/${id}/profile"`);
  });

  test("saving the limits stores the whole set; an empty field is no limit; a bad value stores nothing", async () => {
    let answer = await html(await form(`/ui/printers/${id}/profile/limits`, { "maxFeedrate.z": "8", "maxFeedrate.e": "", printAcceleration: "900" }));
    expect(answer).toContain("Saved.");
    expect((await profile()).profile.limits).toEqual({ maxFeedrate: { z: 8 }, printAcceleration: 900 });
    // The reported values stay visible beside the profile's own (and where they differ).
    expect(answer).toContain('name="maxFeedrate.z" min="0" step="any" value="8" placeholder="5" aria-label="Max feed rate Z (mm/s)" class="differs" title="The printer reported 5"');
    expect(answer).not.toContain("as the printer reported");
    answer = await html(await form(`/ui/printers/${id}/profile/limits`, { "maxFeedrate.z": "fast" }));
    // The problem is named as the form names the field, not by its path in the profile.
    expect(answer).toContain("Not saved — Max feed rate Z (mm/s): must be a number of 0 or more (it was &quot;fast&quot;)");
    expect(answer).not.toContain("maxFeedrate.z:");
    expect((await profile()).profile.limits).toEqual({ maxFeedrate: { z: 8 }, printAcceleration: 900 });
  });

  test("use the printer's reported limits, ask it again, clear", async () => {
    let answer = await html(await form(`/ui/printers/${id}/profile/limits/from-printer`));
    expect(answer).toContain("The printer&#39;s reported limits are the profile&#39;s now.");
    const { profile: p, reportedLimits } = await profile();
    expect(p.limits).toEqual(reportedLimits);
    answer = await html(await form(`/ui/printers/${id}/limits/query`));
    expect(answer).toContain("the printer reported the same limits as before");
    answer = await html(await form(`/ui/printers/${id}/profile/limits/clear`));
    expect(answer).toContain("Cleared");
    expect((await profile()).profile.limits).toBeUndefined();
  });

  test("the printer's own fields: saved, and a bad value is shown in the form", async () => {
    const fields = { name: "Ender", model: "Ender-3", width: "220", depth: "220", height: "250", formFactor: "rectangular", origin: "lowerleft", count: "1", nozzleDiameter: "0.4", heatedBed: "on" };
    let answer = await html(await form(`/ui/printers/${id}/profile`, fields));
    expect(answer).toContain("Saved.");
    expect((await profile()).profile).toMatchObject({ name: "Ender", heatedBed: true, heatedChamber: false, volume: { width: 220, height: 250 } });
    answer = await html(await form(`/ui/printers/${id}/profile`, { ...fields, width: "0" }));
    expect(answer).toContain("Not saved — Bed width (mm): must be at least 1");
    expect(answer).not.toContain("volume.width");
    expect(answer).toContain("<label>Bed width (mm) <input");
    answer = await html(await form(`/ui/printers/${id}/profile`, { ...fields, nozzleDiameter: "9" }));
    expect(answer).toContain("Not saved — Nozzle (mm): must be at most 5");
    expect((await profile()).profile.volume.width).toBe(220);
    // JSON clients keep the machine path.
    const patched = await host.api(`/api/v1/printers/${id}/profile`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ volume: { width: 0 } }) });
    expect(patched.status).toBe(400);
    expect((await patched.json()).error.message).toBe("The profile was not changed: volume.width: must be at least 1.");
  });
});
