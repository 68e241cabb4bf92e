/**
 * The serial path before the web in the kernel's scheduler (src/printers/priority.ts), on a real
 * host process: its main thread (HTTP, SSE) runs at nice +10 once the printers run; each
 * printer's thread raises itself to nice -10 where it may (as root, with CAP_SYS_NICE or a
 * LimitNICE that allows it), also a printer added after the start. Where it may not, a printer
 * added later stays at the web's priority, and the diagnosis says so (run under
 * `setpriv --bounding-set -sys_nice --inh-caps -sys_nice` to see that branch).
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { niceFromStat } from "../../src/printers/priority.ts";
import { setUpAdmin, spawnServe, waitUntil } from "../helpers/host.ts";

const dataDir = mkdtempSync(join(tmpdir(), "layerline-priority-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Each thread's nice value. */
function threadNices(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const nice = niceFromStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8"));
      if (nice !== null) out.set(Number(tid), nice);
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** Whether this process may lower a nice value below 0 (root, CAP_SYS_NICE or RLIMIT_NICE above 20). */
function mayRaise(): boolean {
  const status = readFileSync("/proc/self/status", "utf8");
  const caps = BigInt(`0x${/^CapEff:\s*([0-9a-f]+)/m.exec(status)![1]}`);
  const CAP_SYS_NICE = 23n;
  if ((caps >> CAP_SYS_NICE) & 1n) return true;
  const limit = /^Max nice priority\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
  return Number(limit?.[1] ?? 0) >= 30;
}

test("the web's thread at nice 10, each printer's thread at -10 where allowed, also one added later; the diagnosis says where they stand", async () => {
  const { proc, url } = await spawnServe(dataDir);
  try {
    const key = await setUpAdmin(url);
    const api = (path: string, init: RequestInit = {}) => fetch(url + path, { ...init, headers: { "x-api-key": key, "content-type": "application/json", ...init.headers } });
    const raised = () => [...threadNices(proc.pid)].filter(([tid, nice]) => tid !== proc.pid && nice === -10).length;
    const diagnosis = async () => {
      const report = (await (await api("/api/v1/diagnostics")).json()) as { findings: { id: string; status: string; found: string }[] };
      return report.findings.find((f) => f.id === "layerline.priority")!;
    };
    await waitUntil(async () => threadNices(proc.pid).get(proc.pid), (nice) => nice === 10);
    if (mayRaise()) await waitUntil(async () => raised(), (n) => n === 1);
    expect((await api("/api/v1/printers", { method: "POST", body: JSON.stringify({ name: "Second", transport: "virtual" }) })).status).toBe(201);
    await waitUntil(async () => (await (await api("/api/v1/printers/second")).json()) as { state: string }, (p) => p.state === "operational");
    if (mayRaise()) {
      await waitUntil(async () => raised(), (n) => n === 2);
      const priority = await diagnosis();
      expect(priority.status).toBe("ok");
      expect(priority.found).toContain("nice -10 against the web's 10");
    } else {
      // Not allowed to raise: the printer started with the host runs at 0, the one added later at the web's 10.
      const priority = await diagnosis();
      expect(priority.status).toBe("warning");
      expect(priority.found).toContain("The thread of second runs at the web's priority");
    }
  } finally {
    proc.kill();
    await proc.exited;
  }
}, 60_000);
