/**
 * `layerline users …` and `layerline apikey …`: manage accounts from the shell on the host
 * itself (headless installs, a forgotten password). They work on the data folder's database
 * directly, also while the host is running (sqlite WAL).
 */
import { parseArgs } from "node:util";
import * as v from "valibot";
import { defaultDataDir, prepareDataDir } from "../config.ts";
import { openDatabase } from "../db/database.ts";
import { Accounts, AccountError } from "./accounts.ts";
import { GroupSchema, SCOPE_TEXT } from "./permissions.ts";

export const USERS_HELP = `Accounts (run on the host; --data-dir as for serve):
  layerline users add NAME [--admin | --group admins|users|readonly] [--password-stdin]
  layerline users list
  layerline users passwd NAME [--password-stdin]
  layerline users remove NAME
  layerline apikey create --user NAME [--scope SCOPE] [--name TEXT] [--printer ID] [--expires-days N]
  layerline apikey list [--user NAME]
  layerline apikey revoke ID
Scopes: ${Object.keys(SCOPE_TEXT).join(", ")}, or a comma-separated list of permissions.
Passwords are read from standard input (hidden when typed at a terminal).`;

async function readPassword(prompt: string): Promise<string> {
  const tty = process.stdin.isTTY;
  if (tty) {
    process.stderr.write(prompt);
    Bun.spawnSync(["stty", "-echo"], { stdin: "inherit" });
  }
  try {
    for await (const line of console) return line;
    return "";
  } finally {
    if (tty) {
      Bun.spawnSync(["stty", "echo"], { stdin: "inherit" });
      process.stderr.write("\n");
    }
  }
}

export async function accountsCli(command: "users" | "apikey", args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        "data-dir": { type: "string" },
        admin: { type: "boolean" },
        group: { type: "string" },
        "password-stdin": { type: "boolean" },
        user: { type: "string" },
        scope: { type: "string" },
        name: { type: "string" },
        printer: { type: "string" },
        "expires-days": { type: "string" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USERS_HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [action, target] = positionals;
  let db;
  try {
    db = openDatabase(prepareDataDir(values["data-dir"] ?? defaultDataDir()));
  } catch (e) {
    console.error((e as Error).message);
    return 1;
  }
  const accounts = new Accounts(db);
  const user = (name: string | undefined) => {
    const u = name ? accounts.users.byName(name) : undefined;
    if (!u) throw new AccountError("user_not_found", `There is no user "${name ?? ""}".`, "`layerline users list` shows them.");
    return u;
  };
  try {
    switch (`${command} ${action ?? ""}`) {
      case "users add": {
        if (!target) throw new AccountError("usage", "Name the user: layerline users add NAME", "");
        const group = v.parse(GroupSchema, values.admin ? "admins" : (values.group ?? "users"));
        const password = await readPassword(`Password for ${target}: `);
        const created = await accounts.addUser(target, password.trim(), group);
        console.log(`Added ${created.name} (${created.group}).`);
        return 0;
      }
      case "users list":
        for (const u of accounts.users.list()) console.log(`${u.name}\t${u.group}${u.active ? "" : "\t(inactive)"}`);
        return 0;
      case "users passwd": {
        const u = user(target);
        await accounts.setPassword(u, (await readPassword(`New password for ${u.name}: `)).trim());
        console.log(`Changed the password of ${u.name}; their sessions ended.`);
        return 0;
      }
      case "users remove": {
        const u = user(target);
        accounts.removeUser(u);
        console.log(`Removed ${u.name}.`);
        return 0;
      }
      case "apikey create": {
        const u = user(values.user);
        const days = values["expires-days"] ? Number(values["expires-days"]) : undefined;
        if (days !== undefined && !(days > 0)) throw new AccountError("usage", "--expires-days must be a positive number.", "");
        const { key, record } = accounts.createKey(u, {
          name: values.name ?? `cli ${new Date().toISOString().slice(0, 10)}`,
          scope: values.scope ?? "full",
          printerId: values.printer ?? null,
          expiresAt: days ? Date.now() + days * 86400_000 : null,
        });
        // The key alone on stdout, so scripts can capture it; the rest on stderr.
        console.error(`API key "${record.name}" for ${u.name}, scope ${record.scope}${record.printerId ? `, printer ${record.printerId}` : ""} (id ${record.id}). It is shown only now:`);
        console.log(key);
        return 0;
      }
      case "apikey list":
        for (const k of accounts.keys.list(values.user ? user(values.user).id : undefined)) {
          console.log(`${k.id}\t${accounts.users.get(k.userId)?.name}\t${k.name}\t${k.scope}\t…${k.hint}${k.expiresAt ? `\texpires ${new Date(k.expiresAt).toISOString()}` : ""}`);
        }
        return 0;
      case "apikey revoke":
        if (!target || !accounts.revokeKey(target)) throw new AccountError("key_not_found", `There is no API key "${target ?? ""}".`, "`layerline apikey list` shows them.");
        console.log("Revoked.");
        return 0;
      default:
        console.error(USERS_HELP);
        return 2;
    }
  } catch (e) {
    if (e instanceof AccountError || e instanceof v.ValiError) {
      console.error(`${e.message}${e instanceof AccountError && e.hint ? ` ${e.hint}` : ""}`);
      return 1;
    }
    throw e;
  } finally {
    db.close();
  }
}
