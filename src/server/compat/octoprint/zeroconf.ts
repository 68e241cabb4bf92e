/**
 * Zeroconf advertising (`--zeroconf`): a small mDNS responder on 224.0.0.251:5353 that announces
 * every printer as an `_octoprint._tcp` service, so Cura and PrusaSlicer find it the way they find
 * OctoPrint. TXT carries `path` (the printer's URL prefix: `/` for the default printer,
 * `/printers/<id>/` for the others), `version` and `api`. It answers queries, announces on start
 * and when printers change, and says goodbye (TTL 0) on stop.
 */
import { createSocket, type Socket } from "node:dgram";
import { hostname, networkInterfaces } from "node:os";
import type { Bus } from "../../../events.ts";
import type { PrinterManager } from "../../../printers/manager.ts";
import { encodeResponse, parseQuery, TYPE, type Question, type Record } from "./mdns.ts";
import { OCTOPRINT_API } from "./rest.ts";

export const MDNS_ADDRESS = "224.0.0.251";
export const MDNS_PORT = 5353;
const SERVICE = "_octoprint._tcp.local";
const META = "_services._dns-sd._udp.local";

export interface ZeroconfOptions {
  printers: PrinterManager;
  bus: Bus;
  httpPort: number;
  version: string;
  /** Bind port (5353; tests use another to stay off the network). */
  port?: number;
  /** Join the multicast group and announce (off in tests: only unicast replies then). */
  multicast?: boolean;
  /** IPv4 addresses for the A record (default: this machine's non-internal ones). */
  addresses?: string[];
  log?: (line: string) => void;
}

/** DNS-safe host label: "pi 4" → "pi-4". */
const label = (s: string) => s.replace(/[^A-Za-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 63) || "layerline";

export class ZeroconfResponder {
  private socket: Socket | undefined;
  private readonly host: string;
  private readonly off: () => void;

  constructor(private readonly options: ZeroconfOptions) {
    this.host = `${label(hostname())}.local`;
    const changed = () => this.announce();
    options.bus.on("printers.changed", changed);
    this.off = () => options.bus.off("printers.changed", changed);
  }

  async start(): Promise<void> {
    const socket = createSocket({ type: "udp4", reuseAddr: true });
    this.socket = socket;
    socket.on("message", (msg, rinfo) => this.onMessage(msg, rinfo.address, rinfo.port));
    socket.on("error", (e) => this.options.log?.(`zeroconf: ${e.message}`));
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(this.options.port ?? MDNS_PORT, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    if (this.options.multicast !== false) {
      socket.setMulticastTTL(255);
      socket.setMulticastLoopback(true);
      for (const address of this.addresses()) {
        try {
          socket.addMembership(MDNS_ADDRESS, address);
        } catch (e) {
          this.options.log?.(`zeroconf: cannot join the mDNS group on ${address}: ${(e as Error).message}`);
        }
      }
      this.announce();
      setTimeout(() => this.announce(), 1000).unref?.();
    }
  }

  async stop(): Promise<void> {
    this.off();
    const socket = this.socket;
    if (!socket) return;
    if (this.options.multicast !== false) this.send(encodeResponse(0, this.records(0)), MDNS_ADDRESS, MDNS_PORT);
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    this.socket = undefined;
  }

  /** The service instances: one per printer. */
  private instances() {
    return this.options.printers.list().map((s) => ({
      name: `${s.record.name.replace(/\./g, " ").slice(0, 50)} (Layerline).${SERVICE}`,
      path: s.record.isDefault ? "/" : `/printers/${s.id}/`,
    }));
  }

  private addresses(): string[] {
    if (this.options.addresses) return this.options.addresses;
    return Object.values(networkInterfaces())
      .flat()
      .filter((i): i is NonNullable<typeof i> => !!i && i.family === "IPv4" && !i.internal)
      .map((i) => i.address);
  }

  /** Every record we own, with `ttl` (0 = goodbye). */
  private records(ttl?: number): Record[] {
    const t = (n: number) => ttl ?? n;
    return [
      { name: META, type: "PTR", ttl: t(4500), target: SERVICE },
      ...this.instances().flatMap((i): Record[] => [
        { name: SERVICE, type: "PTR", ttl: t(4500), target: i.name },
        { name: i.name, type: "SRV", ttl: t(120), port: this.options.httpPort, target: this.host },
        { name: i.name, type: "TXT", ttl: t(4500), entries: [`path=${i.path}`, `version=${this.options.version}`, `api=${OCTOPRINT_API}`, "vendor=Layerline", "model=Layerline"] },
      ]),
      ...this.addresses().map((address): Record => ({ name: this.host, type: "A", ttl: t(120), address })),
    ];
  }

  private announce(): void {
    if (!this.socket || this.options.multicast === false) return;
    this.send(encodeResponse(0, this.records()), MDNS_ADDRESS, MDNS_PORT);
  }

  /** Records answering one question. */
  private answer(q: Question): Record[] {
    const all = this.records();
    const matches = (r: Record) => r.name.toLowerCase() === q.name && (q.type === TYPE.ANY || TYPE[r.type] === q.type);
    return all.filter(matches);
  }

  private onMessage(msg: Buffer, address: string, port: number): void {
    const query = parseQuery(msg);
    if (!query || query.isResponse) return;
    const answers = query.questions.flatMap((q) => this.answer(q));
    if (answers.length === 0) return;
    const names = new Set(answers.map((a) => (a.type === "PTR" ? a.target.toLowerCase() : "")));
    // With a PTR answer come the instance's SRV/TXT and our address (RFC 6763 §12).
    const additionals = this.records().filter((r) => !answers.includes(r) && (names.has(r.name.toLowerCase()) || (r.type === "A" && answers.some((a) => a.type !== "A"))));
    const legacy = port !== MDNS_PORT; // a plain DNS resolver asking port 5353 directly (RFC 6762 §6.7)
    if (legacy || query.questions.some((q) => q.unicast) || this.options.multicast === false) {
      this.send(encodeResponse(legacy ? query.id : 0, answers, additionals, legacy, legacy ? query.questions : []), address, port);
    } else {
      this.send(encodeResponse(0, answers, additionals), MDNS_ADDRESS, MDNS_PORT);
    }
  }

  private send(packet: Uint8Array, address: string, port: number): void {
    try {
      this.socket?.send(packet, port, address);
    } catch (e) {
      this.options.log?.(`zeroconf: send failed: ${(e as Error).message}`);
    }
  }
}
