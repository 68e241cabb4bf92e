/**
 * When the watchdog restarts a printer's thread (a plugin's code never returned): whether the
 * new thread takes over the serial link as it is (the tty stays open: no DTR reset) and whether
 * the print goes on as the same job — from the first file line the stopped thread had not
 * written whole (src/protocol/engine.ts `adopt`) — or ends as interrupted, with why in words; and
 * the link's state as the stopped thread left it, rebuilt from what it wrote (`sentLines`). Pure:
 * what the stopped thread left (handoff.ts), the last status and checkpoint in, the decision out.
 *
 * What makes it safe: a line the stopped thread wrote whole is in the printer (the kernel's tty
 * buffer or the firmware's) and is only sent again when the printer asks for it. The firmware
 * takes numbered lines only in order and asks again for one it did not take, so the numbering
 * goes on where the stopped thread left it (never started afresh, which would make such a line
 * unrecoverable): the new thread has the text of every line that thread wrote and the printer
 * could still ask for (the last bytes written to the tty, kept in the handoff: exactly what was
 * sent, polls, typed commands and what plugins made of file lines included, which the file alone
 * would not tell), with the lines that still owe an answer, which of them a resend request had
 * refused, and a resend under way. Replies the stopped thread had read but not handled are gone
 * with it (a thread stuck in a receive hook dropped the rest of what it was reading; Bun's file
 * stream reads ahead of what its reader takes): a resend request that went missing is asked
 * again by the firmware at the next line it reads out of order, and silence where answers are
 * owed is resolved without guessing — the new thread sends a numbered probe, which the printer
 * either acknowledges (so every earlier line was taken) or answers with a resend request (served
 * from those lines); a firmware that does not number lines but answers every line in order
 * (Klipper) gets a probe whose answer reads unlike a plain ok, which says the same. Where this
 * cannot hold, the print ends, saying why: a firmware that drops a damaged line without a word
 * (RepRapFirmware) cannot be asked (silence there ends it), and lines no longer kept cannot be
 * sent again.
 */
import { commandCode } from "../protocol/engine.ts";
import { unframe } from "../protocol/framing.ts";
import type { Handoff } from "./handoff.ts";
import type { JobState } from "./status.ts";

export interface TakeoverInput {
  transport: "serial" | "virtual";
  /** The link was up and the firmware identified (not connecting, closed or failed). */
  linkUp: boolean;
  job: { id: string; state: JobState; source: "host" | "sd"; resumed: boolean } | null;
  handoff: Handoff;
  /** The job's latest stored checkpoint: where its acknowledged lines ended, and its layer's start. */
  checkpoint: { jobId: string; offset: number; layer: { offset: number } | null } | undefined;
}

export type JobTakeover = { go: "host" | "sd" } | { go: "end"; why: string };

export interface Takeover {
  /** The new thread takes up the tty's descriptor and the link without a handshake. */
  keepLink: boolean;
  /** What becomes of the running job (null: none ran). */
  job: JobTakeover | null;
}

export function takeover(input: TakeoverInput): Takeover {
  const { job, handoff } = input;
  const running = job !== null && job.state !== "done" && job.state !== "cancelled" && job.state !== "failed";
  const end = (why: string, keepLink: boolean): Takeover => ({ keepLink, job: running ? { go: "end", why } : null });
  if (input.transport === "virtual") return end("the built-in virtual printer runs on that thread, so its state (heaters, position, the lines it had) went with it", false);
  if (!input.linkUp || handoff.fd < 0) return end("its serial link was not up", false);
  // Part of a line may be in the tty's buffer: whatever is written next would be glued to it.
  if (handoff.writtenN < -1) return end("a line was only partly written to the printer when it stopped", false);
  if (!running) return { keepLink: true, job: null };
  if (job.source === "sd") return job.state === "printing" ? { keepLink: true, job: { go: "sd" } } : end(`the SD print was ${job.state}`, true);
  return { keepLink: true, job: hostTakeover(input) };
}

function hostTakeover({ job, handoff, checkpoint }: TakeoverInput): JobTakeover {
  const why = (text: string): JobTakeover => ({ go: "end", why: text });
  if (!handoff.continuable) return why(`the print was not streaming its file then (it was ${job!.state})`);
  if (handoff.offset < 0) return why("no line of the file had been sent yet");
  const missing = sentLines(handoff).missing;
  if (missing > 0) return why(`the text of ${missing} line(s) it had sent without an answer was no longer kept, so they could not be sent again if the printer asked`);
  if (!checkpoint || checkpoint.jobId !== job!.id) return why("no checkpoint of the print had been stored yet");
  if (checkpoint.offset > handoff.offset) return why("its checkpoint is past the last line it had sent");
  if (!checkpoint.layer && job!.resumed) return why("it was resumed part-way and has not reached a layer since");
  return { go: "host" };
}

/** A numbered line as the stopped thread wrote it (`text`: framed, `N12 G1 X1*85`). */
export interface SentLine {
  n: number;
  text: string;
}

/** The link's state as the stopped thread left it, rebuilt from the lines it wrote. */
export interface SentLines {
  /** The last line number written (the next new line takes the one after it), and the last acknowledged. */
  lastWritten: number;
  lastAcked: number;
  /**
   * The lines still owed an answer, in the order written; `rejected`: a resend request had refused
   * that copy (its answer means nothing). A line not kept has number -1 and no text (see `missing`).
   */
  inFlight: (SentLine & { rejected: boolean })[];
  /** Lines the printer had asked for again and that were not sent yet: [from, to); null: none. */
  resend: { from: number; to: number } | null;
  /** How many of the lines in flight are copies sent again at the printer's request. */
  again: number;
  /** The text of every line from the earliest kept on to `lastWritten`, in order (for resend requests). */
  history: SentLine[];
  /** Lines owed an answer, or still to send again, whose text was no longer kept (the record holds the last bytes written, as many as may be owed: handoff.ts `keep`). */
  missing: number;
  /** The firmware sends busy keep-alives (silence is real sooner). */
  busy: boolean;
}

interface Written extends SentLine {
  /** It sets the line number (M110): the numbering starts there. */
  sets: boolean;
}

/**
 * Rebuilds the stopped thread's link from the bytes it wrote: its numbered lines in order, of
 * which the last `numbered - answered` are owed an answer (one answer per line, taken in order).
 * A line whose number is not above the one written before it starts a resend (the engine sends
 * new lines only after the lines asked for again, and numbers them on); a copy written before
 * such a resend with a number at or after where it starts was refused by the firmware.
 */
export function sentLines(handoff: Handoff): SentLines {
  const lines = writtenLines(handoff.sent, handoff.sentWhole);
  const owed = Math.max(0, (handoff.numbered - handoff.answered) | 0);
  // Going back: the least line number a resend started from after each line, since the numbering last started.
  const rejected = new Array<boolean>(lines.length).fill(false);
  let resendFrom = Infinity;
  let lastResend = -1;
  let numberingFrom = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    if (line.sets) {
      resendFrom = Infinity;
      numberingFrom = Math.max(numberingFrom, i);
      continue;
    }
    if (line.n >= resendFrom) rejected[i] = true;
    const before = lines[i - 1];
    if (before && line.n <= before.n) {
      resendFrom = Math.min(resendFrom, line.n);
      if (lastResend < 0 && i > numberingFrom) lastResend = i;
    }
  }
  const kept = Math.min(owed, lines.length);
  const inFlight: SentLines["inFlight"] = [];
  for (let i = 0; i < owed - kept; i++) inFlight.push({ n: -1, text: "", rejected: false });
  for (let i = lines.length - kept; i < lines.length; i++) inFlight.push({ n: lines[i]!.n, text: lines[i]!.text, rejected: rejected[i]! });
  // A resend under way: the lines asked for again were sent in order, up to where it stopped or on
  // to the last line sent before (new lines follow only after them).
  let resend: SentLines["resend"] = null;
  let again = 0;
  if (lastResend >= 0) {
    let highest = -Infinity;
    for (let i = numberingFrom; i < lastResend; i++) highest = Math.max(highest, lines[i]!.n);
    let end = lastResend;
    while (end + 1 < lines.length && lines[end + 1]!.n === lines[end]!.n + 1 && lines[end + 1]!.n <= highest) end++;
    if (lines[end]!.n < highest) resend = { from: lines[end]!.n + 1, to: highest + 1 };
    again = Math.max(0, end + 1 - Math.max(lastResend, lines.length - kept));
  }
  // The text of each number since the numbering last started (a later copy is the same line).
  const text = new Map<number, string>();
  for (let i = numberingFrom; i < lines.length; i++) text.set(lines[i]!.n, lines[i]!.text);
  const history: SentLine[] = [];
  for (let n = handoff.writtenN; text.has(n); n--) history.push({ n, text: text.get(n)! });
  history.reverse();
  // Lines still to send again whose text is gone count as missing too.
  const unkept = resend ? Math.max(0, Math.min(resend.to, history[0]?.n ?? resend.to) - resend.from) : 0;
  return { lastWritten: handoff.writtenN, lastAcked: handoff.ackedN, inFlight, resend, again, history, missing: owed - kept + unkept, busy: handoff.busy };
}

/** The numbered lines in bytes written to the tty; the first is dropped unless `whole` (the ring may have cut it). */
function writtenLines(bytes: Uint8Array, whole: boolean): Written[] {
  const text = new TextDecoder("latin1").decode(bytes).split("\n");
  text.pop(); // what follows the last newline: nothing, or a line not written whole
  const out: Written[] = [];
  for (let i = whole ? 0 : 1; i < text.length; i++) {
    const line = text[i]!;
    if (line.charCodeAt(0) !== 78 /* N */) continue; // unnumbered: no answer is counted for it
    const u = unframe(line);
    if (u.lineNumber === undefined || !u.checksumOk) continue;
    out.push({ n: u.lineNumber, text: line, sets: commandCode(u.command) === "M110" });
  }
  return out;
}

/** Newlines in `bytes`. */
export function newlines(bytes: Uint8Array): number {
  let n = 0;
  for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) n++;
  return n;
}

/**
 * The line number of the line starting at byte `at`, from a checkpoint's (its acknowledged
 * offset `offset` ends line `line`) and the file's bytes between the two (`between`: from the
 * earlier to the later offset).
 */
export function lineNumberAt(at: number, checkpoint: { offset: number; line: number }, between: Uint8Array): number {
  const first = checkpoint.line + 1; // the line starting at the checkpoint's offset
  return at >= checkpoint.offset ? first + newlines(between) : first - newlines(between);
}

/** The start of what is said of a restarted thread: "The printer's thread stopped answering — the plugin x (its send hook) never returned — …". */
export function stoppedThread(culprit: string): string {
  return `The printer's thread stopped answering — ${culprit} never returned — and was restarted without it`;
}

/** What the terminal, the notice and the job's record say of a print that went on (`seconds` after it stopped). */
export function wentOnNote(culprit: string, seconds: number): string {
  return `${stoppedThread(culprit)}${culprit.startsWith("the plugin") ? " (the plugin is disabled)" : ""}; the print went on after ${seconds.toFixed(1)} s, from where it was.`;
}
