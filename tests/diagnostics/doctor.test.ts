/**
 * `layerline doctor` as a person runs it: on a data folder with no host running (the checks run
 * in the command, the database opened read-only), on one a host serves (the host is asked with
 * its local token), with a support bundle; exit status 0 when nothing is wrong, 1 with a
 * problem, 2 for bad options.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { ReportSchema } from "../../src/diagnostics/finding.ts";
import { lockDataDir } from "../../src/host-lock.ts";
import { START_RECORD_FILE } from "../../src/plugins/safe-mode.ts";
import { holdForUpdate } from "../../src/update/offline-lock.ts";
import { startTestHost } from "../helpers/host.ts";
import { createPtyPair } from "../helpers/pty.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "layerline-doctor-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the command without blocking this process's event loop (a host in this process answers it). */
async function doctor(...args: string[]) {
  const proc = Bun.spawn(["bun", MAIN, "doctor", ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, HOME: dir } });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code: await proc.exited, out, err };
}

describe("layerline doctor", () => {
  test("bad options: exit 2 with the usage; --help", async () => {
    const bad = await doctor("--frobnicate");
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("Usage: layerline doctor");
    const help = await doctor("--help");
    expect(help.code).toBe(0);
    expect(help.out).toContain("--bundle FILE");
  }, 20_000);

  test("a data folder that does not exist is a problem: exit 1, with what to do", async () => {
    const r = await doctor("--data-dir", join(dir, "nowhere"));
    expect(r.code).toBe(1);
    expect(r.out).toContain("PROBLEMS");
    expect(r.out).toContain(`${join(dir, "nowhere")} does not exist.`);
    expect(r.out).toContain("no host running: checked by layerline doctor");
  }, 20_000);

  test("with the host stopped: checks the data folder itself (exit 0 when fine); while it runs: asks it; a problem: exit 1", async () => {
    const dataDir = join(dir, "data");
    mkdirSync(dataDir);
    const host = await startTestHost({ dataDir, diagnostics: { firstDelayMs: 3_600_000 } });
    let printer = "";
    try {
      // While it runs, the host answers (its links are known: not "unknown").
      const asked = await doctor("--data-dir", dataDir, "--json");
      const report = v.parse(ReportSchema, JSON.parse(asked.out));
      expect(report.source).toBe("host");
      expect(report.findings.find((f) => f.id === "serial.adapters" || f.id.endsWith(".link"))).toBeDefined();
      expect(report.findings.find((f) => f.id === "layerline.restarts")!.status).toBe("ok");
      expect(asked.code).toBe(report.counts.problem > 0 ? 1 : 0);

      // --local checks from the command, even so.
      const local = v.parse(ReportSchema, JSON.parse((await doctor("--data-dir", dataDir, "--json", "--local")).out));
      expect(local.source).toBe("doctor");
      // A running host's own start is not taken for a crash.
      expect(local.findings.find((f) => f.id === "layerline.crashed-starts")).toBeUndefined();
      // Its text does not say that no host runs.
      const localText = (await doctor("--data-dir", dataDir, "--local")).out;
      expect(localText).toContain("checked by layerline doctor itself, not by the running host");
      expect(localText).not.toContain("no host running");

      // A problem on the running host: its printer's port held by another program.
      const pty = await createPtyPair();
      const holder = Bun.spawn(["bash", "-c", `exec 3<>"$0"; exec sleep 60`, pty.host], { stdout: "ignore", stderr: "ignore" });
      try {
        while ((await Bun.file(`/proc/${holder.pid}/comm`).text().catch(() => "")).trim() !== "sleep") await Bun.sleep(20);
        const res = await host.post("/api/v1/printers", { name: "Held", transport: "serial", port: pty.host, autoconnect: false });
        printer = ((await res.json()) as { id: string }).id;
        const held = await doctor("--data-dir", dataDir);
        expect(held.code).toBe(1);
        expect(held.out).toContain(`sleep (pid ${holder.pid}`);
        expect(held.out).toContain(`$ kill ${holder.pid}`);
      } finally {
        holder.kill();
        await holder.exited;
        await pty.close();
        await host.api(`/api/v1/printers/${printer}`, { method: "DELETE" });
      }
    } finally {
      await host.close();
    }

    // Stopped: the command reads the data folder itself.
    const alone = await doctor("--data-dir", dataDir, "--verbose");
    expect(alone.out).toContain("no host running: checked by layerline doctor");
    expect(alone.out).toContain("Restarts of printer threads are recorded by the running host");
    expect(alone.code).toBe(alone.out.includes("PROBLEMS") ? 1 : 0);
    expect(alone.out).not.toContain("PROBLEMS");
    expect(alone.code).toBe(0);

    const bundle = join(dir, "support.tar.gz");
    const withBundle = await doctor("--data-dir", dataDir, "--bundle", bundle);
    expect(withBundle.err).toContain(`Support bundle written to ${bundle}`);
    const listing = Bun.spawnSync(["tar", "tzf", bundle]).stdout.toString();
    expect(listing).toMatch(/layerline-support-[^/]+\/findings\.json/);
    expect(listing).toMatch(/layerline-support-[^/]+\/printers\/virtual-printer\/trace\.jsonl/);
    const findings = Bun.spawnSync(["tar", "xzf", bundle, "-O", "--wildcards", "*/findings.json"]).stdout.toString();
    expect(v.parse(ReportSchema, JSON.parse(findings)).source).toBe("doctor");
    expect(readFileSync(bundle).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
  }, 60_000);

  test("a host still starting (it holds the data folder, has not announced itself yet) is named, and its unfinished start is no crash", async () => {
    const dataDir = join(dir, "starting");
    mkdirSync(dataDir);
    // What a start leaves before it has run a minute, as a crashed one would.
    writeFileSync(join(dataDir, START_RECORD_FILE), JSON.stringify({ unfinished: 1, suspects: [] }));
    const crashed = await doctor("--data-dir", dataDir);
    expect(crashed.out).toContain("Starts that crashed");
    const lock = lockDataDir(dataDir)!;
    try {
      const r = await doctor("--data-dir", dataDir);
      expect(r.out).toContain(`A Layerline (pid ${process.pid}) is starting on this data folder and does not answer yet`);
      expect(r.out).not.toContain("Starts that crashed");
    } finally {
      lock.release();
    }
  }, 30_000);

  test("an offline `layerline update` holding the data folder is named as such, not as a host starting", async () => {
    const dataDir = join(dir, "updating");
    const taken = await holdForUpdate(dataDir);
    if (!("hold" in taken)) throw new Error("no host runs here: the update holds the folder");
    try {
      const r = await doctor("--data-dir", dataDir);
      expect(r.out).toContain(`Layerline in this data folder is being updated (layerline update, pid ${process.pid})`);
      expect(r.out).not.toContain("is starting on this data folder");
    } finally {
      taken.hold.release();
    }
  }, 30_000);
});
