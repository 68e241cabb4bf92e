/**
 * The command line: help, version, and clear messages for the usual mistakes.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultDataDir } from "../src/config.ts";

const MAIN = new URL("../src/main.ts", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "layerline-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (...args: string[]) => {
  const r = Bun.spawnSync(["bun", MAIN, ...args], { env: { ...process.env, HOME: dir } });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};

/** Starts `layerline serve` and resolves once it prints that it is running (or exits). */
async function serve(args: string[]) {
  const proc = Bun.spawn(["bun", MAIN, ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, HOME: dir } });
  const reader = proc.stdout.getReader();
  let out = "";
  const deadline = Date.now() + 15_000;
  // One read in flight at a time: a read that loses the race to the timer still gets the next
  // chunk, so it is kept for the next round instead of being dropped with its data.
  let pending: ReturnType<typeof reader.read> | null = null;
  while (!out.includes("is running") && Date.now() < deadline && proc.exitCode === null) {
    pending ??= reader.read();
    const result = await Promise.race([pending, Bun.sleep(200).then(() => null)]);
    if (result === null) continue;
    pending = null;
    if (result.done) break;
    if (result.value) out += new TextDecoder().decode(result.value);
  }
  if (pending === null) reader.releaseLock();
  return { proc, out };
}

describe("layerline CLI", () => {
  test("--help lists the options and --version prints the version", () => {
    const help = run("--help");
    expect(help.code).toBe(0);
    for (const flag of ["--port", "--host", "--data-dir", "--serial", "--baud", "--extra-ports"]) expect(help.out).toContain(flag);
    const version = run("--version");
    expect(version.out.trim()).toMatch(/^\d+\.\d+\.\d+/);
  }, 20_000);

  test("the README's option table of serve and --help name the same options, and --help the virtual printer's the README shows", () => {
    const help = run("--help").out;
    const serveHelp = help.slice(help.indexOf("Options for serve:"), help.indexOf("Without --serial"));
    const helpFlags = new Set(serveHelp.match(/^ {2}--[a-z-]+/gm)!.map((f) => f.trim()));
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const table = readme.slice(readme.indexOf("The options of `layerline serve`"), readme.indexOf("On first start without `--serial`"));
    const readmeFlags = new Set(table.match(/^\| `(--[a-z-]+)/gm)!.map((f) => f.slice(3)));
    expect([...readmeFlags].sort()).toEqual([...helpFlags].sort());
    for (const flag of ["--no-cancel-objects", "--no-motion-before-homing", "--glued-delete-ok"]) {
      expect(readme).toContain(flag);
      expect(help).toContain(flag);
    }
  }, 20_000);

  test("the data folder defaults to XDG_DATA_HOME or ~/.local/share", () => {
    expect(defaultDataDir({ XDG_DATA_HOME: "/x/data", HOME: "/home/u" })).toBe("/x/data/layerline");
    expect(defaultDataDir({ HOME: "/home/u" })).toBe("/home/u/.local/share/layerline");
  });

  test("bad options are named", () => {
    const r = run("--port", "99999");
    expect(r.code).toBe(2);
    expect(r.err).toContain("--port");
    const unknown = run("--frobnicate");
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain("frobnicate");
    const relative = run("--extra-ports", "/dev/printer*,printer*");
    expect(relative.code).toBe(2);
    expect(relative.err).toContain("--extra-ports: must be absolute paths");
  }, 20_000);

  test("an unusable data folder is explained", () => {
    const blocker = join(dir, "not-a-folder");
    writeFileSync(blocker, "x");
    const r = run("--data-dir", join(blocker, "data"), "--port", "0");
    expect(r.code).toBe(1);
    expect(r.err).toContain("Cannot use the data folder");
    expect(r.err).toContain("--data-dir");
  }, 20_000);

  test("a port in use is explained", async () => {
    const blocker = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("busy") });
    try {
      const r = run("--port", String(blocker.port), "--host", "127.0.0.1", "--data-dir", join(dir, "d1"));
      expect(r.code).toBe(1);
      expect(r.err).toContain(`Port ${blocker.port} is already in use`);
    } finally {
      blocker.stop(true);
    }
  }, 30_000);

  test("a second Layerline on the port of a running one is refused, not let share it", async () => {
    const first = await serve(["--port", "0", "--host", "127.0.0.1", "--data-dir", join(dir, "first")]);
    try {
      const port = /http:\/\/[^:]+:(\d+)/.exec(first.out)![1]!;
      const r = run("--port", port, "--host", "127.0.0.1", "--data-dir", join(dir, "second"));
      expect(r.code).toBe(1);
      expect(r.err).toContain(`Port ${port} is already in use`);
    } finally {
      first.proc.kill("SIGINT");
      await first.proc.exited;
    }
  }, 60_000);

  test("a second Layerline on the data folder of a running one is refused, naming it", async () => {
    const data = join(dir, "shared");
    const first = await serve(["--port", "0", "--host", "127.0.0.1", "--data-dir", data]);
    try {
      const r = run("--port", "0", "--host", "127.0.0.1", "--data-dir", data);
      expect(r.code).toBe(1);
      expect(r.err).toContain(`Layerline is already running with the data folder ${data} (process ${first.proc.pid}`);
    } finally {
      first.proc.kill("SIGINT");
      await first.proc.exited;
    }
    // Once it stopped, the folder is free again.
    const again = await serve(["--port", "0", "--host", "127.0.0.1", "--data-dir", data]);
    expect(again.out).toContain("is running");
    again.proc.kill("SIGINT");
    await again.proc.exited;
  }, 60_000);

  test("two Layerlines started at the same moment on one fresh data folder: exactly one runs, the other names it", async () => {
    for (let round = 0; round < 6; round++) {
      const data = join(dir, `race-${round}`);
      const args = ["--port", "0", "--host", "127.0.0.1", "--data-dir", data];
      const both = await Promise.all([serve(args), serve(args)]);
      const running = both.filter((h) => h.out.includes("is running"));
      try {
        expect(running.length).toBe(1);
        const refused = both.find((h) => h !== running[0])!;
        expect(await refused.proc.exited).toBe(1);
        const err = await new Response(refused.proc.stderr).text();
        expect(err).toContain(`Layerline is already running with the data folder ${data} (process ${running[0]!.proc.pid}, http://127.0.0.1:`);
      } finally {
        for (const h of both) h.proc.kill("SIGINT");
        await Promise.all(both.map((h) => h.proc.exited));
      }
    }
  }, 120_000);

  test("a Layerline killed with SIGKILL does not block the next start (its lock file stays, the lock does not)", async () => {
    const data = join(dir, "killed");
    const first = await serve(["--port", "0", "--host", "127.0.0.1", "--data-dir", data]);
    expect(first.out).toContain("is running");
    first.proc.kill("SIGKILL");
    await first.proc.exited;
    expect(existsSync(join(data, "layerline.lock"))).toBe(true);
    const again = await serve(["--port", "0", "--host", "127.0.0.1", "--data-dir", data]);
    try {
      expect(again.out).toContain("is running");
    } finally {
      again.proc.kill("SIGINT");
      await again.proc.exited;
    }
  }, 60_000);

  test("a missing serial device is reported, and the host keeps running with the reason shown", async () => {
    const { proc, out } = await serve(["--serial", "/dev/ttyNOPE0", "--port", "0", "--host", "127.0.0.1", "--data-dir", join(dir, "d2")]);
    try {
      expect(out).toContain("is running");
      const url = /(http:\/\/[^ ]+)/.exec(out)![1]!;
      const setup = await fetch(`${url}/api/v1/setup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "admin", password: "cli-test-pw" }) });
      const headers = { "x-api-key": (await setup.json()).apiKey };
      let printer: any;
      for (let i = 0; i < 50; i++) {
        printer = (await (await fetch(`${url}/api/v1/printers`, { headers })).json()).printers[0];
        if (printer.state === "error") break;
        await Bun.sleep(100);
      }
      expect(printer).toMatchObject({ port: "/dev/ttyNOPE0", state: "error" });
      expect(printer.problem.code).toBe("not_found");
      expect(printer.problem.message).toContain("/dev/ttyNOPE0");
    } finally {
      proc.kill();
      await proc.exited;
    }
    expect(await new Response(proc.stderr).text()).toContain("/dev/ttyNOPE0 does not exist");
  }, 30_000);
});

describe("`layerline update` with no host running holds the data folder", () => {
  /** A release server whose manifest answers (404) only when `answer` is called: the update waits on it, holding the folder. */
  function stalledRelease() {
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    let asked!: () => void;
    const wasAsked = new Promise<void>((resolve) => (asked = resolve));
    let requests = 0;
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: async () => {
        requests++;
        asked();
        await answered;
        return new Response("gone", { status: 404 });
      },
    });
    return { url: `http://127.0.0.1:${server.port}/{channel}/release.json`, wasAsked, answer, requests: () => requests, stop: () => server.stop(true) };
  }
  const update = (data: string, url: string) => {
    const proc = Bun.spawn(["bun", MAIN, "update", "--data-dir", data, "--url", url], { stdout: "pipe", stderr: "pipe", env: { ...process.env, HOME: dir } });
    return { proc, done: Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]).then(([code, out, err]) => ({ code, out, err })) };
  };

  test("a Layerline started while it works is refused, naming the update, and so is a second update; once it ends a host starts", async () => {
    const data = join(dir, "updating");
    const release = stalledRelease();
    const first = update(data, release.url);
    let host: Awaited<ReturnType<typeof serve>> | null = null;
    try {
      // It asks for the release with the folder held.
      await release.wasAsked;
      host = await serve(["--port", "0", "--host", "127.0.0.1", "--data-dir", data]);
      expect(host.out).not.toContain("is running");
      expect(await host.proc.exited).toBe(1);
      expect(await new Response(host.proc.stderr).text()).toContain(`Layerline in the data folder ${data} is being updated (layerline update, process ${first.proc.pid}). Start it again once the update has ended`);
      const second = await update(data, release.url).done;
      expect(second.code).toBe(1);
      expect(second.err).toContain(`error: Layerline in the data folder ${data} is being updated already (layerline update, process ${first.proc.pid}).`);
      expect(release.requests()).toBe(1);
    } finally {
      release.answer();
      // Not refused (the update did not hold the folder): not left running.
      host?.proc.kill("SIGINT");
      await host?.proc.exited;
    }
    // The release was not found: the update ends, and lets the folder go with nothing left behind.
    const ended = await first.done;
    expect(ended.code).toBe(1);
    expect(ended.err).toContain("error: ");
    // The folder was not there before the update: it leaves none behind (no lock file, no announcement).
    expect(existsSync(data)).toBe(false);
    const after = await serve(["--port", "0", "--host", "127.0.0.1", "--data-dir", data]);
    try {
      expect(after.out).toContain("is running");
    } finally {
      after.proc.kill("SIGINT");
      await after.proc.exited;
      release.stop();
    }
  }, 60_000);

  test("a process holding the folder that cannot be asked over the API (a host not announcing itself) is not updated under: refused, like a second host", async () => {
    const data = join(dir, "held");
    const lock = new URL("../src/host-lock.ts", import.meta.url).pathname;
    const holder = Bun.spawn(["bun", "-e", `const l = (await import(${JSON.stringify(lock)})).lockDataDir(${JSON.stringify(data)}); console.log(l ? "held" : "refused"); setInterval(() => {}, 1000);`], { stdout: "pipe", stderr: "inherit" });
    const release = stalledRelease();
    try {
      const reader = holder.stdout.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toContain("held");
      const r = await update(data, release.url).done;
      expect(r.code).toBe(1);
      expect(r.err).toContain(`error: Layerline is already running with the data folder ${data} (process ${holder.pid}) and does not say how to reach it, so it cannot be asked to update`);
      expect(r.err).toContain("sudo systemctl stop layerline");
      // It did not go on to fetch a release.
      expect(release.requests()).toBe(0);
    } finally {
      holder.kill("SIGKILL");
      await holder.exited;
      release.answer();
      release.stop();
    }
  }, 30_000);
});

describe("layerline users / apikey", () => {
  const data = join(dir, "accounts");
  const withStdin = (input: string, ...args: string[]) => {
    const r = Bun.spawnSync(["bun", MAIN, ...args, "--data-dir", data], { env: { ...process.env, HOME: dir }, stdin: new TextEncoder().encode(input) });
    return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
  };

  test("add an admin, create a scoped key, list and revoke it; mistakes are explained", async () => {
    const add = withStdin("a long cli password\n", "users", "add", "ops", "--admin");
    expect(add.err).toBe("");
    expect(add.out).toContain("Added ops (admins)");
    expect(withStdin("short\n", "users", "add", "weak").err).toContain("at least 8");
    const key = withStdin("", "apikey", "create", "--user", "ops", "--scope", "upload-only", "--name", "slicer");
    expect(key.code).toBe(0);
    expect(key.out.trim()).toMatch(/^[\w-]{43}$/);
    expect(key.err).toContain("upload-only");
    expect(withStdin("", "apikey", "create", "--user", "ops", "--scope", "teleport").err).toContain("teleport");
    expect(withStdin("", "apikey", "create", "--user", "nobody").err).toContain('no user "nobody"');
    const list = withStdin("", "apikey", "list");
    expect(list.out).toContain("slicer\tupload-only");
    const id = list.out.split("\t")[0]!;
    expect(withStdin("", "apikey", "revoke", id).out).toContain("Revoked");
    expect(withStdin("", "users", "list").out).toContain("ops\tadmins");

    // The key made on the shell works against a host on the same data folder.
    const second = withStdin("", "apikey", "create", "--user", "ops", "--scope", "read-only").out.trim();
    const { proc, out } = await serve(["--port", "0", "--host", "127.0.0.1", "--data-dir", data]);
    try {
      const url = /(http:\/\/[^ ]+)/.exec(out)![1]!;
      expect((await fetch(`${url}/api/v1/printers`, { headers: { "x-api-key": second } })).status).toBe(200);
      // Setup is done: the wizard is gone.
      expect((await fetch(`${url}/api/v1/setup`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } })).status).toBeGreaterThanOrEqual(400);
    } finally {
      proc.kill();
      await proc.exited;
    }
  }, 30_000);
});
