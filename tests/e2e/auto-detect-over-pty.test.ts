/**
 * `--serial auto` end to end (issue #3): a host whose printer's port is "auto" finds the virtual
 * printer on a pseudo-tty outside /dev (as Klipper's /tmp/printer is) through `--extra-ports`,
 * connects at the first rate that answers, and offers that terminal in OctoPrint's port list.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { dirname, join } from "node:path";
import { startPtyPrinter, type PtyPrinter } from "../helpers/pty-printer.ts";

let printer: PtyPrinter;

beforeAll(async () => {
  // "h*" matches the host's end of the pair and not the firmware's ("device").
  printer = await startPtyPrinter((pty) => ({ serial: "auto", extraPorts: [join(dirname(pty.host), "h*")] }));
}, 30_000);

afterAll(() => printer?.close());

test("a printer on port auto is found on a matching pseudo-tty, connected and identified", async () => {
  const { host, printer: id, pty } = printer;
  const status = (await (await host.api(`/api/v1/printers/${id}`)).json()) as any;
  expect(status.port).toBe("auto"); // the record keeps asking for auto
  expect(status.connection).toEqual({ port: pty.host, baud: 115200 }); // the first rate tried answered
  expect(status.firmware.profile).toBe("marlin2");
  const terminal = (await (await host.api(`/api/v1/printers/${id}/terminal`)).json()) as { lines: { text: string }[] };
  expect(terminal.lines.map((l) => l.text)).toContain(`Found a printer on ${pty.host} at 115200 baud`);
  const connection = (await (await host.api("/api/connection")).json()) as { options: { ports: string[] } };
  expect(connection.options.ports).toContain(pty.host);
  expect(connection.options.ports).not.toContain(pty.device);
});
