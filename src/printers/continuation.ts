/**
 * When the watchdog restarts a printer's thread (a plugin's code never returned): whether the
 * new thread takes over the serial link as it is (the tty stays open: no DTR reset) and whether
 * the print goes on as the same job — from the first file line the stopped thread had not
 * written whole, after the answers to the lines it had written are taken (src/protocol/engine.ts
 * `adopt`) — or ends as interrupted, with why in words. Pure: what the stopped thread left
 * (handoff.ts), the last status and checkpoint in, the decision out.
 *
 * What makes it safe: a line the stopped thread wrote whole is in the printer (the kernel's tty
 * buffer or the firmware's) and is never sent again; the firmware takes numbered lines only in
 * order, so the ok of the last one written (ADVANCED_OK names it) says all were taken, and with
 * plain oks one per line owed is counted. Replies the stopped thread had read but not handled are
 * gone with it (Bun's file stream reads ahead of what its reader takes), so a reply that went
 * missing shows as silence or as a resend request for an owed line: both end the takeover rather
 * than guess. A thread stuck in a receive hook had dropped the rest of what it was reading: no
 * takeover then.
 */
import type { Handoff } from "./handoff.ts";
import type { JobState } from "./status.ts";

export interface TakeoverInput {
  transport: "serial" | "virtual";
  /** The link was up and the firmware identified (not connecting, closed or failed). */
  linkUp: boolean;
  job: { id: string; state: JobState; source: "host" | "sd"; resumed: boolean } | null;
  /** What of the plugin's ran when it stuck ("send hook", "receive hook", "code at load", …). */
  hung: string;
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

function hostTakeover({ job, hung, handoff, checkpoint }: TakeoverInput): JobTakeover {
  const why = (text: string): JobTakeover => ({ go: "end", why: text });
  if (!handoff.continuable) return why(`the print was not streaming its file then (it was ${job!.state})`);
  // The rest of the reply being read, and the replies after it in the same read, went with the thread.
  if (hung === "receive hook") return why("it stopped while taking a reply from the printer, so what the printer had answered is not known");
  if (handoff.resending) return why("lines the printer had asked for again were being sent, and a new thread does not have them");
  if (handoff.offset < 0) return why("no line of the file had been sent yet");
  if (!checkpoint || checkpoint.jobId !== job!.id) return why("no checkpoint of the print had been stored yet");
  if (checkpoint.offset > handoff.offset) return why("its checkpoint is past the last line it had sent");
  if (!checkpoint.layer && job!.resumed) return why("it was resumed part-way and has not reached a layer since");
  return { go: "host" };
}

/** Line numbers the stopped thread wrote and had no answer to yet (from > to: none). */
export function unansweredLines(handoff: Handoff): { from: number; to: number } {
  return { from: Math.max(0, handoff.ackedN + 1), to: handoff.writtenN };
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
