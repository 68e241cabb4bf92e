/**
 * Reads the transcript formats of tests/fixtures/serial-logs and protocol.md §9 into a list of
 * lines sent and received: OctoPrint's terminal (`Send: …`/`Recv: …`, also with a time stamp
 * after the colon), OctoPrint's serial.log (`2018-04-10 12:01:18,828 - Recv: …`), the Marlin 2.1
 * capture (`[  2.440] >> …`/`<< …`, `#` notes), protocol.md (`>>> …`/`<<< …`, `# note` after the
 * line) and raw firmware output (every line received).
 */
export interface TranscriptLine {
  dir: "send" | "recv";
  line: string;
  /** Seconds, when the transcript carries times. */
  t?: number;
}

const OCTOPRINT = /^(Send|Recv):(?:(\d\d):(\d\d):(\d\d)\.(\d+):)?\s?(.*)$/;
const SERIAL_LOG = /^\d{4}-\d\d-\d\d (\d\d):(\d\d):(\d\d),(\d+) - (Send|Recv): ?(.*)$/;
const CAPTURE = /^\[\s*([\d.]+)\] (>>|<<) ?(.*)$/;
const PROTOCOL_MD = /^(>>>|<<<) ?(.*)$/;

export function parseTranscript(text: string, raw = false): TranscriptLine[] {
  const out: TranscriptLine[] = [];
  for (const l of text.split("\n")) {
    const line = l.replace(/\r$/, "");
    if (raw) {
      if (line !== "") out.push({ dir: "recv", line });
      continue;
    }
    let m = OCTOPRINT.exec(line);
    if (m) {
      const t = m[2] === undefined ? undefined : Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]) + Number(`0.${m[5]}`);
      out.push({ dir: m[1] === "Send" ? "send" : "recv", line: m[6]!, ...(t === undefined ? {} : { t }) });
      continue;
    }
    m = SERIAL_LOG.exec(line);
    if (m) {
      out.push({ dir: m[5] === "Send" ? "send" : "recv", line: m[6]!, t: Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4]) / 1000 });
      continue;
    }
    m = CAPTURE.exec(line);
    if (m) {
      out.push({ dir: m[2] === ">>" ? "send" : "recv", line: m[3]!, t: Number(m[1]) });
      continue;
    }
    m = PROTOCOL_MD.exec(line);
    if (m) {
      // protocol.md annotates lines with `  # …` or, after two spaces or more, `(…)`; the protocol
      // never has " #" or "  (" in these lines.
      const body = m[2]!.replace(/\s+#.*$|\s{2,}\(.*$/, "").replace(/\s+$/, "");
      out.push({ dir: m[1] === ">>>" ? "send" : "recv", line: body });
    }
  }
  return out;
}

/** The raw firmware output files (no Send/Recv prefixes). */
export const RAW_TRANSCRIPTS = new Set(["prusa-firmware-3417_prusa-fw_busy-processing-autoreport_raw.txt"]);
