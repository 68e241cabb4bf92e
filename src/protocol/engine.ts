/**
 * The protocol engine (design principle 1): a deterministic state machine with no I/O, no timers
 * and no clock of its own. The shell feeds it received lines and the time, asks it for lines to
 * write and for events, and calls `tick` at `nextDeadline()`. Transcripts replay through it.
 *
 * Accounting rule that makes resends and windowing exact: firmware answers every line it reads
 * with exactly one `ok` (executed or rejected). So `inFlight` is a FIFO of what we sent; each ok
 * pops the oldest entry. A resend request marks entries from the requested line on as rejected
 * (their oks will come but mean nothing) and re-queues the history from that line (§1.7). When
 * the ok names its line (ADVANCED_OK `ok N12 P.. B..`, Repetier `ok 12`) the FIFO re-aligns on
 * it: entries before it lost their ok on the wire, and an ok for a line no longer in flight is a
 * late duplicate and is ignored.
 *
 * Windowing (§2.5 strategy 2): with ADVANCED_OK the firmware tells its free command slots `B`;
 * the command queue holds `max(B) + 1` lines, so up to that many (and never more than the
 * configured window, nor more unread bytes than its receive buffer) are kept in flight. Without
 * ADVANCED_OK, one line is in flight (ping-pong).
 */
import { mergeLimits, type MachineLimitsPatch } from "../analysis/limits.ts";
import { clean, frame, unframe } from "./framing.ts";
import type { FirmwareInfo } from "./firmware-info.ts";
import { LimitsReportReader } from "./machine-limits.ts";
import type { Position } from "./position.ts";
import type { ErrorPolicy, Quirks } from "./quirks.ts";
import type { QuirksLibrary } from "./quirks-library.ts";
import { classify, classifySd, compileGrammar, type ErrorClass, type Grammar, type Received } from "./responses.ts";
import { parseFileListLine, type SdFile, type SdMessage } from "./sd.ts";
import type { TemperatureReport } from "./temperature.ts";

/** The link's condition as the user sees it. */
export type LinkState = "closed" | "handshake" | "operational" | "error";

/** A problem in words (design principle 6): a stable code, a sentence and a hint for the fix. */
export interface LinkProblem {
  code: string;
  message: string;
  hint: string;
}

export type EngineEvent =
  | { type: "state"; state: LinkState; problem?: LinkProblem }
  | { type: "sent"; line: string }
  | { type: "received"; line: string }
  | { type: "acked"; tag: number }
  /** A job line may be lost: the firmware does not track line numbers and went silent (Klipper, RRF). */
  | { type: "lost"; tag: number; command: string }
  | { type: "temperature"; report: TemperatureReport }
  | { type: "target"; heater: string; target: number }
  | { type: "position"; position: Position }
  | { type: "firmware"; name: string; profile: string; overlays: string[]; info: FirmwareInfo; capabilities: Record<string, boolean> }
  /** The profile in force changed (an overlay's evidence appeared, or the family was recognised). */
  | { type: "profile"; profile: string; overlays: string[] }
  | { type: "busy"; reason: string }
  /** `echo` is true when the firmware only mirrors a command we sent (M25 → `//action:pause`). */
  | { type: "action"; name: string; params: string; echo: boolean }
  | { type: "firmwareError"; errorClass: ErrorClass; text: string; policy: ErrorPolicy }
  /** A command was not sent: framed, it is longer than the firmware reads whole (`commands.maxLineLength`). */
  | { type: "refused"; tag: number; command: string; length: number; limit: number }
  | { type: "sd"; message: SdMessage }
  /** The firmware reported its machine limits (all it has reported since the link opened). */
  | { type: "limits"; limits: MachineLimitsPatch }
  | { type: "reset" }
  /**
   * The firmware has stopped but still talks (Klipper's shutdown, Marlin's M999 state): `reason`
   * in its words, or our emergency stop. Sent again when a firmware line explains a bare state line.
   */
  | { type: "halted"; reason: string; emergency: boolean }
  /** It runs again (a `recovered` line, or the ok of a restart command). */
  | { type: "recovered"; text: string }
  | { type: "notice"; level: "info" | "warning"; message: string }
  /**
   * A link taken over from a stopped thread (`adopt`): every line that thread wrote was answered
   * and taken (`adopted`), or whether it was cannot be known (`adoptFailed`, why in words).
   */
  | { type: "adopted"; answered: number }
  | { type: "adoptFailed"; reason: string }
  /** Answers to the stopped thread's lines did not come: line `n` (a probe) goes out to learn where the printer is. */
  | { type: "probe"; n: number; unanswered: number };

/**
 * A link another engine had up (a printer thread stopped from outside), as its thread left it
 * (src/printers/continuation.ts `sentLines`): the firmware's profile and capabilities, the lines
 * it wrote whose answers it had not taken (in order; `rejected`: a resend request had refused
 * that copy; number -1: a line whose text was not kept), a resend under way, and the text of the
 * lines it wrote, for the printer's requests to send one again.
 */
export interface AdoptedLink {
  profile: string;
  overlays: string[];
  capabilities: Record<string, boolean>;
  firmwareName: string;
  lastWritten: number;
  lastAcked: number;
  inFlight: readonly { n: number; text: string; rejected: boolean }[];
  resend: { from: number; to: number } | null;
  history: readonly { n: number; text: string }[];
  /** The firmware sent busy keep-alives on that link. */
  busy: boolean;
}

export interface EngineOptions {
  /** The starting profile; replaced when the firmware identifies itself and `library` knows it. */
  quirks: Quirks;
  library?: QuirksLibrary;
  /** Maximum lines in flight. 1 is ping-pong (§2.5 strategy 1); more needs ADVANCED_OK. */
  window?: number;
}

/** Counters for the link statistics shown to the user. */
export interface LinkCounters {
  /** Every line written, resends and emergency lines included. */
  linesSent: number;
  linesResent: number;
  resendRequests: number;
  timeouts: number;
  /** Lines acknowledged (rejected copies excluded). */
  acks: number;
  /** Oks that never arrived, found out from a later `ok N..`. */
  lostOks: number;
  /** Oks for lines no longer in flight (arrived after a timeout gave up on them); ignored. */
  lateOks: number;
  /** Lines the send window allows in flight right now. */
  window: number;
  /** Free planner blocks and command slots from the last ADVANCED_OK, or -1 when unknown. */
  plannerFree: number;
  bufferFree: number;
}

interface Sent {
  n: number;
  tag: number;
  command: string;
  rejected: boolean;
  /** A line the stopped thread wrote, or a copy of one sent again, on an adopted link (see `adopt`). */
  old: boolean;
  /** Silence allowed while this line is the oldest in flight, beyond the communication timeout; undefined = normal. */
  limitMs: number | undefined;
  sentAt: number;
  bytes: number;
}

interface Pending {
  command: string;
  tag: number;
  /** `commandCode(command)`, worked out once per line. */
  code: string;
}

interface Poller {
  command: () => string;
  intervalMs: () => number;
  wanted: () => boolean;
  nextAt: number;
}

const NO_TAG = -1;
/** Lines that may get numbers ahead of a queued one (emergency and out-of-band commands) when its length is judged. */
const LINE_NUMBER_MARGIN = 16;
/** How long to let answers to repeated hellos drain before the first real command. */
const SETTLE_MS = 300;
/** After M115's ok, how long to wait for its report when it has not come yet (Repetier acks first). */
const IDENTIFY_INFO_MS = 1500;
/** The Cap list is over after this much quiet (or at the first other line, §3.3). */
const IDENTIFY_CAPS_MS = 300;
/** An unclassified error waits this long for a `Resend` that would make it a resend notice. */
const ERROR_SETTLE_MS = 250;
/** A firmware echo of our own pause/resume arrives within this long. */
const ECHO_WINDOW_MS = 3000;
const LATENCY_SAMPLES = 1024;
/** Marlin's answer to a `T<n>` it has no hotend for (`echo:T1 Invalid extruder`); not `M104 Invalid extruder 1`, which changes no tool. */
const INVALID_TOOL = /^(?:echo:)?\s*(?:T\d+\s+)?Invalid extruder/i;
/** Marlin's report of the tool it selected (multi-hotend builds). */
const ACTIVE_EXTRUDER = /Active Extruder:\s*(\d+)/i;
/** The resend ratio is judged only after this many lines (a few early resends are no pattern). */
const RESEND_RATIO_MIN_LINES = 200;
/**
 * Silence allowed while the answers to an adopted link's last lines are awaited before the printer
 * is asked where it is (a probe): they were in the tty's buffer before the new thread started, and
 * a long command announces itself (busy, heating) or may be silent for its own limit.
 */
const ADOPT_QUIET_MS = 3000;
/** Bytes written besides the window's lines while lines are owed (emergency commands, probes): see `owedSpan`. */
const OWED_SPAN_MARGIN = 1024;

/** Counters of a link that has sent nothing yet. */
export function newLinkCounters(): LinkCounters {
  return { linesSent: 0, linesResent: 0, resendRequests: 0, timeouts: 0, acks: 0, lostOks: 0, lateOks: 0, window: 1, plannerFree: -1, bufferFree: -1 };
}

export class ProtocolEngine {
  state: LinkState = "closed";
  readonly stats: LinkCounters = newLinkCounters();
  /** The last ack latencies (ms from writing a line to its ok), a ring; see `latencyCount`. */
  readonly ackLatencies = new Float64Array(LATENCY_SAMPLES);
  latencyCount = 0;
  capabilities: Record<string, boolean> = {};
  firmwareInfo: FirmwareInfo = {};
  /** The machine limits the firmware reported (M503, or its boot banner), null before any. */
  limits: MachineLimitsPatch | null = null;
  /**
   * The tool the firmware has selected: what `T:` in its reports names. Set by a `T<n>` sent, taken
   * back when the firmware refuses it (`echo:T1 Invalid extruder`) or has fewer hotends (EXTRUDER_COUNT),
   * and by its own `Active Extruder: n`, so a report is never filed under a tool the printer lacks.
   */
  currentTool = 0;
  /** The tool before the last `T<n>` sent, restored when the firmware refuses that one. */
  private toolBefore = 0;

  private quirks: Quirks;
  private grammar: Grammar;
  private readonly library: QuirksLibrary | undefined;
  private maxWindow: number;
  private family: string;
  private overlays: string[] = [];

  private nextN = 1;
  private readonly historyText: string[];
  private readonly historyTag: number[];
  private readonly historyCommand: string[];
  /** Whether the line in each history slot has been acknowledged (a repeat of it carries no tag). */
  private readonly historyAcked: Uint8Array;
  private readonly inFlight: Sent[] = [];
  private inFlightBytes = 0;
  private queue: Pending[] = [];
  private queueHead = 0;
  /** Line numbers still to retransmit after a resend request: [resendFrom, resendTo). */
  private resendFrom = 0;
  private resendTo = 0;
  private resendOkDeadline: number | undefined;
  private savedOkDeadline: number | undefined;
  private lastResendN = -1;
  private consecutiveResends = 0;
  /** Lines in flight marked rejected by a resend request (their oks mean nothing). */
  private rejectedInFlight = 0;
  /** Line number of the last line acknowledged (-1 before any). */
  lastAckedN = -1;
  /** Numbered lines put in flight, and answers taken for them (or given up): the last lines written between are owed (see handoff.ts). */
  numberedSent = 0;
  numberedDone = 0;
  /** The longest line written, newline included (see `owedSpan`). */
  private longestSent = 0;
  /** The lowest line number the history holds (an adopted link holds only what the stopped thread left). */
  private historyFloor = 0;
  /** Tags of the last two tagged lines transmitted (new lines only), latest first (see `wholeTag`). */
  private sentTag = NO_TAG;
  private sentTagBefore = NO_TAG;
  /**
   * An adopted link whose earlier lines' answers are still awaited (see `adopt`): how many it
   * took over, the first probe not answered yet, the probes sent, and the probe used (`answer`:
   * how its answer is told from a plain ok, where it can be), and when the plain oks that came
   * while it was open and were not its answer arrived (see `holdLate`).
   */
  private adopting: { owed: number; probe: number | undefined; probes: number; with: Grammar["probes"][number] | undefined; held: number[] } | undefined;
  private advancedOk = false;
  private maxBufferFree = 0;
  private readonly bufferFreeSeen = new Uint32Array(64);

  private out: string[] = [];
  private events: EngineEvent[] = [];

  private openedAt = 0;
  private helloAt = 0;
  /** Any line at all: the printer is alive. */
  private lastReceivedAt = 0;
  /**
   * A line about the command stream (an ack, a resend request, a busy keep-alive, `wait`): only
   * these hold off the ack timeout, so auto-reports cannot hide a lost ok or a lost line.
   */
  private lastProgressAt = 0;
  private consecutiveTimeouts = 0;
  private silentSince = 0;
  private busySeen = false;
  private identifying = false;
  /**
   * After M115's ok: waiting for its report (firmware that acks on receipt prints it after the
   * ok), then for the end of the Cap lines. Identification finishes at this deadline at the latest.
   */
  private identifyDeadline: number | undefined;
  private identifyPhase: "ack" | "info" | "caps" = "ack";
  /** Hellos sent since the link opened; each may still be answered. */
  private hellosSent = 0;
  /** After several hellos, oks still on their way are absorbed until this time. */
  private settleUntil: number | undefined;
  /** For firmware that acks on receipt: a long-running command may still run until then. */
  private longRunningUntil = 0;
  private sdWriting = false;
  private sdPolling = false;
  /** Halted but talking (see the `halted` event); the reason so far came from a bare state line. */
  private halted = false;
  private haltedByStateLine = false;
  private autoreport = { temperature: false, position: false, sdStatus: false };
  /** A move was acknowledged since the position was last asked for (the M114 fallback). */
  private positionStale = false;
  private readonly pollers: Poller[];
  private inFileList = false;
  private listFiles: SdFile[] = [];
  private listDirs: string[] = [];
  private pendingError: { text: string; at: number; join: boolean } | undefined;
  private expectEcho: { name: string; until: number } | undefined;
  private readonly warned = new Set<string>();
  /** Command words already reported as left out on this link (`commands.skip`). */
  private readonly skipped = new Set<string>();
  private limitsReader = new LimitsReportReader();
  private lastLine = "";
  /** The M115 reply, checked again for safety warnings once the family's profile applies. */
  private firmwareLine = "";

  constructor(options: EngineOptions) {
    this.quirks = options.quirks;
    this.family = options.quirks.id;
    this.grammar = compileGrammar(options.quirks);
    this.library = options.library;
    this.maxWindow = Math.max(1, Math.floor(options.window ?? 1));
    const size = this.quirks.resend.historySize;
    this.historyText = new Array<string>(size);
    this.historyTag = new Array<number>(size).fill(NO_TAG);
    this.historyCommand = new Array<string>(size);
    this.historyAcked = new Uint8Array(size);
    this.pollers = [
      {
        command: () => "M105",
        intervalMs: () => this.quirks.timeouts.temperaturePollMs,
        // Not while a blocking command runs: the firmware is not reading, and it reports on its own.
        wanted: () => !this.autoreport.temperature && !this.longRunningInFlight(),
        nextAt: 0,
      },
      {
        command: () => this.quirks.sd.statusCommand,
        intervalMs: () => this.quirks.timeouts.sdStatusPollMs,
        wanted: () => this.sdPolling && !this.autoreport.sdStatus,
        nextAt: 0,
      },
      {
        command: () => "M114",
        intervalMs: () => this.quirks.timeouts.positionPollMs,
        // Once the head has moved and stopped: the printer is idle, so the answer is where it is.
        wanted: () => this.positionStale && this.quirks.timeouts.positionPollMs > 0 && !this.autoreport.position && this.outstanding() === 0,
        nextAt: 0,
      },
    ];
  }

  /** The profile in force (changes when the firmware is identified or an overlay applies). */
  get profile(): Quirks {
    return this.quirks;
  }

  /** Starts the handshake on a freshly opened link (§3.3). */
  open(now: number): void {
    this.resetLink(now);
    this.openedAt = now;
    this.setState("handshake");
    this.sendHello(now);
  }

  /**
   * Takes over a link another engine had up, without a handshake (the firmware still runs and
   * knows its line number), in the state that engine left it: its lines owed an answer in flight,
   * a resend under way, the text of its lines for resend requests, the numbering going on from
   * its last line (never afresh: a line the printer refused could not be asked for again). The
   * answers to those lines are taken first — nothing new goes out meanwhile but lines the printer
   * asks for again. Answers the stopped thread had read but not handled are lost: when answers
   * owed do not come (silence past the usual limits, or the printer says it is idle), a numbered
   * probe goes out, which the printer acknowledges (every line before it was taken) or answers
   * with a resend request (served from those lines). Once nothing of the stopped thread's is owed
   * (`adopted`), lines flow. A firmware that does not number lines is asked only where it answers
   * every line, in order, and the probe's answer reads unlike a plain ok (quirks `takeover`,
   * Klipper); elsewhere (RepRapFirmware drops a damaged line without a word) it cannot be, nor
   * can a line sent again that was not kept: that ends the take-over (`adoptFailed`, why in words).
   */
  adopt(link: AdoptedLink, now: number): void {
    this.resetLink(now);
    this.family = link.profile;
    this.overlays = [...link.overlays];
    // As the stopped thread had it, without a notice (nothing changed for the user).
    if (this.library) {
      this.quirks = this.library.with(this.family, this.overlays);
      this.grammar = compileGrammar(this.quirks);
    }
    this.capabilities = { ...link.capabilities };
    this.firmwareInfo = link.firmwareName ? { FIRMWARE_NAME: link.firmwareName } : {};
    for (const key of ["temperature", "position", "sdStatus"] as const) {
      const a = this.quirks.autoreport[key];
      // Turned on by the first connection, and the firmware keeps it on.
      this.autoreport[key] = a.capability !== "" && this.capabilities[a.capability] === true;
    }
    this.busySeen = link.busy;
    this.setState("operational");
    const size = this.historyText.length;
    this.historyFloor = link.lastWritten + 1;
    for (const { n, text } of link.history) {
      if (n < 0 || n > link.lastWritten || n <= link.lastWritten - size) continue;
      const slot = n % size;
      this.historyText[slot] = text;
      this.historyTag[slot] = NO_TAG;
      this.historyCommand[slot] = unframe(text).command;
      this.historyAcked[slot] = 0;
      this.historyFloor = Math.min(this.historyFloor, n);
    }
    for (const e of link.inFlight) {
      const command = e.n < 0 ? "" : unframe(e.text).command;
      this.pushInFlight(e.n, NO_TAG, command, e.text.length + 1, now, commandCode(command));
      const entry = this.inFlight[this.inFlight.length - 1]!;
      entry.old = true;
      if (e.rejected) {
        entry.rejected = true;
        this.rejectedInFlight++;
      }
    }
    this.nextN = Math.max(link.lastWritten + 1, 0);
    this.lastAckedN = link.lastAcked;
    this.adopting = { owed: this.inFlight.length, probe: undefined, probes: 0, with: undefined, held: [] };
    for (const p of this.pollers) p.nextAt = now;
    if (link.resend) {
      if (link.resend.from < this.historyFloor || link.resend.to > this.nextN) {
        return this.adoptFailed(`lines ${link.resend.from} to ${link.resend.to - 1}, which the printer had asked for again, were no longer kept to send`, now);
      }
      this.resendFrom = link.resend.from;
      this.resendTo = link.resend.to;
    }
    this.pump(now);
    this.checkAdopted(now);
  }

  /** Whether an adopted link still waits for the answers to its earlier lines. */
  get isAdopting(): boolean {
    return this.adopting !== undefined;
  }

  /** Nothing of the stopped thread's is owed any more (no probe open, no resend of its lines pending): lines flow. */
  private checkAdopted(now: number): void {
    const a = this.adopting;
    if (!a || a.probe !== undefined || this.resendFrom < this.resendTo) return;
    for (const e of this.inFlight) if (e.old) return;
    this.adopting = undefined;
    this.events.push({ type: "adopted", answered: a.owed });
    this.pump(now);
  }

  private adoptFailed(reason: string, now: number): void {
    // Held answers were counted when they came; clearInFlight counts their lines again.
    if (this.adopting) this.numberedDone -= this.adopting.held.length;
    this.adopting = undefined;
    this.clearInFlight();
    this.resendFrom = this.resendTo = 0;
    this.resendOkDeadline = undefined;
    this.events.push({ type: "adoptFailed", reason });
    // The link stays: numbered afresh, so what is sent next (the after-failure script) is taken.
    this.nextN = 0;
    this.transmitNew(this.quirks.handshake.hello, NO_TAG, now);
    this.pump(now);
  }

  /**
   * Answers owed on an adopted link did not come: a line the printer answers only after every line
   * before it, so its answer says where the printer is. A firmware that numbers lines takes a
   * numbered line only after every one before it (and asks for one it missed). One that does not
   * can be asked only where it answers every line it reads, in order, and the probe's answer
   * reads unlike the plain ok of any line still owed (quirks `takeover`): then that answer says
   * every line before it was taken, and each plain ok before it answers a line owed.
   */
  private probe(now: number): void {
    const a = this.adopting!;
    if (a.with === undefined) {
      const chosen = this.chooseProbe();
      if (typeof chosen === "string") return this.adoptFailed(chosen, now);
      a.with = chosen;
    }
    if (a.probes >= this.quirks.timeouts.maxConsecutive) {
      return this.adoptFailed(`the printer answered neither the lines the stopped thread had sent nor ${a.probes} probe(s) after them`, now);
    }
    a.probes++;
    this.lastProgressAt = now;
    const n = this.nextN;
    this.events.push({ type: "probe", n, unanswered: this.inFlight.length });
    this.transmitNew(a.with.command, NO_TAG, now, a.with.code);
    a.probe ??= n;
  }

  /**
   * The first probe whose answer reads unlike a plain ok (quirks `takeover.probes`) and whose
   * command is not among the lines owed. Answers lost with the stopped thread are the first owed,
   * so those still to come answer the lines left in flight: none of them may read as the probe's.
   */
  private probeToldApart(): Grammar["probes"][number] | undefined {
    const codes = new Set<string>();
    for (const e of this.inFlight) if (e.old) codes.add(commandCode(e.command));
    return this.grammar.probes.find((p) => p.answer !== undefined && !codes.has(p.code));
  }

  /** The probe for this firmware (quirks `takeover.probes`), or why none can ask it, in words. */
  private chooseProbe(): Grammar["probes"][number] | string {
    const told = this.probeToldApart();
    if (told) return told;
    const probes = this.grammar.probes;
    const head = this.inFlight[0];
    const owed = head ? `${this.inFlight.length} line(s) the stopped thread had sent (line ${head.n} on)` : "the lines the stopped thread had sent";
    // Numbered, any answer tells (its number, a resend request, or the first plain ok after it).
    if (this.quirks.lineNumbers.tracked) return probes[0] ? { ...probes[0], answer: undefined } : `no answer came to ${owed}, and this firmware has no probe to ask where it is`;
    const answered = probes.filter((p) => p.answer !== undefined);
    if (answered.length === 0) return `no answer came to ${owed}, and this firmware does not number lines and ${this.quirks.takeover.unaskable}`;
    return `no answer came to ${owed}, and this firmware does not number lines; a line owed is itself ${answered.map((p) => p.code).join(" or ")}, whose answer could not be told from the probe's`;
  }

  /**
   * An ok while a probe is open: the probe's answer says every line written before the probe was
   * answered (those answers went with the stopped thread). It names the probe; or it names no
   * line and reads as the probe's answer does (quirks `takeover.probes`), or, where no answer is
   * told apart, is any plain ok — on numbered firmware also when nothing owed is left before the
   * probe. False for the answer to an earlier line, which is taken as usual.
   */
  private probeAnswered(lineNumber: number | undefined, now: number): boolean {
    const a = this.adopting!;
    const at = this.openProbe();
    if (at < 0) return false;
    const tracked = this.quirks.lineNumbers.tracked;
    if (tracked && lineNumber !== undefined) {
      if (lineNumber !== a.probe) return false;
    } else if (a.with?.answer && !a.with.answer.test(this.lastLine) && !(tracked && at === a.held.length)) return false;
    this.settleBeforeProbe(at, now);
    this.popAck(now, false);
    a.probe = undefined;
    this.checkAdopted(now);
    this.pump(now);
    return true;
  }

  /** A resend request while a probe is open: the printer reached the probe, so the lines before it were answered. */
  private probeRefused(now: number): void {
    const at = this.openProbe();
    this.adopting!.probe = undefined;
    if (at >= 0) this.settleBeforeProbe(at, now);
  }

  /**
   * A plain ok while a probe is open that is not the probe's answer: the answer of a line owed
   * before the probe — but which one is known only once the probe is answered (answers lost with
   * the stopped thread are the first owed, so the oks that came answer the last lines before the
   * probe: `settleBeforeProbe`). Taken as the first line's now, it would credit each later answer
   * one line early. Its line counts as answered at once (a thread replacing this one is owed one
   * answer less). With every line before the probe answered, it answers none (`lateOks`). True
   * when taken so; false when no probe is open.
   */
  private holdLate(now: number): boolean {
    const a = this.adopting!;
    const at = this.openProbe();
    if (at < 0) return false;
    if (a.held.length < at) {
      a.held.push(now);
      this.numberedDone++;
    } else this.stats.lateOks++;
    return true;
  }

  /**
   * The printer reached the open probe, `at` lines after the first owed: those lines were all
   * answered. The first of them whose oks never came lost them with the stopped thread (no ack
   * latency is known for them); the oks held while the probe was open answer the rest, each at
   * the time it came.
   */
  private settleBeforeProbe(at: number, now: number): void {
    const held = this.adopting!.held.splice(0);
    // Counted when they came; popAck counts their lines below.
    this.numberedDone -= held.length;
    const lost = at - held.length;
    this.stats.lostOks += lost;
    for (let i = 0; i < lost; i++) this.popAck(now, false, true);
    for (const t of held) this.popAck(t, false);
  }

  /** Where the open probe is in flight (-1: it is not, any more; then none is open). */
  private openProbe(): number {
    const a = this.adopting!;
    const at = this.inFlight.findIndex((e) => e.n === a.probe && !e.old);
    if (at < 0) a.probe = undefined;
    return at;
  }

  /**
   * The tag of the last tagged line whose lines are all written once the outbox is (a line the
   * queue or the plugins' stages turned into several counts once all of them went out).
   * `pipelineTag`: the tag of the first line still held in the plugins' stages, or NO_TAG.
   */
  wholeTag(pipelineTag: number): number {
    const queued = this.queueHead < this.queue.length ? this.queue[this.queueHead]!.tag : NO_TAG;
    return this.sentTag !== NO_TAG && (queued === this.sentTag || pipelineTag === this.sentTag) ? this.sentTagBefore : this.sentTag;
  }

  /** The lines up to `tag` were sent (by the engine this one took the link over from). */
  sentUpTo(tag: number): void {
    this.sentTag = tag;
    this.sentTagBefore = NO_TAG;
  }

  /** A new job begins: the tags of the lines before it say nothing of where it is (see `wholeTag`). */
  forgetTags(): void {
    this.sentTag = this.sentTagBefore = NO_TAG;
  }

  /** How this firmware's lines read (its quirks compiled), for reading recorded lines the same way. */
  get lineGrammar(): Grammar {
    return this.grammar;
  }

  /** The link was closed by us or went away; forget everything in flight. */
  close(): void {
    this.clearInFlight();
    this.clearQueue();
    this.resendFrom = this.resendTo = 0;
    this.setState("closed");
  }

  /**
   * Queues a command for the firmware. Comments and whitespace are stripped; an empty result is
   * dropped. `tag` comes back in an `acked` event once the firmware has acknowledged the line.
   * Returns false (with a notice) when the command is refused.
   */
  enqueue(command: string, now: number, tag = NO_TAG): boolean {
    let cmd = toAscii(clean(command));
    const realtime = this.grammar.realtime;
    if (realtime) cmd = cmd.replace(realtime, " ").trim();
    if (cmd === "") return false;
    const code = commandCode(cmd);
    if (code === "M112") {
      this.emergencyStop(now);
      return true;
    }
    const q = this.quirks;
    const g = this.grammar;
    if (g.neverSend.length && g.neverSend.some((r) => r.test(cmd))) {
      this.notice("warning", `"${cmd}" was not sent: this firmware misbehaves on it (see its quirks file).`);
      return false;
    }
    if (g.blocked.has(code) && !q.commands.blockedUnlessCapabilities.every((c) => this.capabilities[c] === true)) {
      this.notice("warning", `${code} was not sent: it blocks the serial line until someone presses the printer's button.`);
      return false;
    }
    if (this.skips(cmd)) {
      if (!this.skipped.has(code)) {
        this.skipped.add(code);
        this.notice("info", `${code} is not sent: this firmware does not know it, and leaving it out is safe (commands.skip in its quirks file).`);
      }
      return false;
    }
    const over = this.tooLong(cmd);
    if (over) {
      this.events.push({ type: "refused", tag, command: cmd, ...over });
      this.notice("warning", `A line of ${over.length} characters was not sent ("${cmd.length > 40 ? `${cmd.slice(0, 40)}…` : cmd}"): this firmware reads at most ${over.limit} per line, line number and checksum included.`);
      return false;
    }
    if (this.state !== "operational" && this.state !== "handshake") {
      this.notice("warning", `"${cmd}" was not sent: the printer is not connected.`);
      return false;
    }
    if (g.unacked.length && g.unacked.some((r) => r.test(cmd))) {
      // A console line (Smoothie): never acknowledged, so it must not take a slot in the FIFO.
      this.write(cmd);
      return true;
    }
    if (this.state === "operational" && this.isOutOfBand(code)) {
      // The emergency parser acts on it at once; it still gets its ok, so it takes a FIFO slot.
      this.transmitNew(cmd, tag, now, code);
      return true;
    }
    this.queue.push({ command: cmd, tag, code });
    this.pump(now);
    return true;
  }

  /**
   * M112 (§7): written at once, bare and numbered, bypassing every queue, then every heater off
   * for firmware that still listens (as OctoPrint does, transcript klipper-859); the link is
   * then dead.
   */
  emergencyStop(now: number): void {
    if (this.state === "closed") return;
    const keep = this.quirks.emergency.linkAfterStop === "keep" && this.state === "operational";
    if (this.sdWriting) {
      // Writing to SD, the firmware would store the M112 in the file (Marlin's emergency parser
      // is off then): leave write mode first. The partial file is closed as it is.
      this.write(this.quirks.sd.endWriteCommand);
      this.sdWriting = false;
    }
    this.write("M112");
    if (keep) {
      // The firmware acts on the bare line as it reads it and still answers it (Klipper), so it
      // takes a slot like any line; a numbered copy would only be answered again.
      this.pushInFlight(-1, NO_TAG, "M112", 5, now);
    } else {
      this.transmitNew("M112", NO_TAG, now);
    }
    const tools = Math.max(1, Number.parseInt(this.firmwareInfo.EXTRUDER_COUNT ?? "1", 10) || 1);
    for (let t = 0; t < tools; t++) this.transmitNew(`M104 T${t} S0`, NO_TAG, now);
    this.transmitNew("M140 S0", NO_TAG, now);
    this.clearQueue();
    this.resendFrom = this.resendTo = 0;
    if (keep) {
      this.halt("Emergency stop: M112 was sent.", false, true);
      return;
    }
    this.fail({
      code: "emergency_stop",
      message: "Emergency stop: M112 was sent and the printer has halted.",
      hint: "Check the printer, then reset or power-cycle it and connect again.",
    });
  }

  /** Whether the firmware is halted but still talking (see the `halted` event). */
  get isHalted(): boolean {
    return this.halted;
  }

  /** Whether the firmware does not know `command` and it is left out rather than sent (quirks `commands.skip`). */
  skips(command: string): boolean {
    return this.grammar.skip?.test(command) === true;
  }

  /**
   * How long `command` would be framed with line number `lineNumber` (by default about the one it
   * would get now) when that is longer than the firmware reads whole (`commands.maxLineLength`);
   * undefined when it fits. `length` stands in for the command's when only its start is known
   * (then the checksum is counted as 3 digits).
   */
  tooLong(command: string, lineNumber?: number, length = command.length): { length: number; limit: number } | undefined {
    const limit = this.quirks.commands.maxLineLength;
    // `N<n> ` and `*<checksum>` add at most 16 characters: the usual line needs no framing here.
    if (limit === 0 || length + 16 <= limit) return undefined;
    const n = lineNumber ?? this.nextN + (this.queue.length - this.queueHead) + LINE_NUMBER_MARGIN;
    const framed = length === command.length ? frame(n, command).length : framedAtMost(length, n);
    return framed > limit ? { length: framed, limit } : undefined;
  }

  /**
   * The most bytes of what was written that the lines the printer may still ask for can span
   * (a thread taking the link over needs their text, src/printers/handoff.ts): the lines still
   * owed an answer, and those still to be sent again. The send window never puts more than the
   * firmware's receive buffer in flight beyond the line it runs (`fitsRx`), and the printer asks
   * only for lines it has not taken, which are in flight; a resend under way sends copies of lines
   * that were in flight together, after them: twice that, with the longest line written. The
   * margin is for what goes out besides (emergency commands, probes), a few short lines.
   */
  get owedSpan(): number {
    return 2 * (this.longestSent + this.quirks.ack.rxBufferBytes) + OWED_SPAN_MARGIN;
  }

  /** The line number the next new line gets. */
  get nextLineNumber(): number {
    return this.nextN;
  }

  /** Changes the most lines in flight (1 = ping-pong); applies from the next line sent. */
  setWindow(window: number, now: number): void {
    this.maxWindow = Math.max(1, Math.floor(window));
    this.pump(now);
  }

  /** Polls the SD status (M27) while an SD print runs, unless the firmware auto-reports it. */
  setSdPolling(on: boolean, now: number): void {
    this.sdPolling = on;
    this.pollers[1]!.nextAt = now;
  }

  /** How many more lines could be taken right now without queueing behind others. */
  capacity(): number {
    if (this.state !== "operational" || this.identifying || this.adopting) return 0;
    const pending = this.queue.length - this.queueHead + (this.resendTo - this.resendFrom);
    return Math.max(0, this.windowLimit() - this.inFlight.length - pending);
  }

  /** Lines in flight plus lines queued: zero when the firmware has everything we meant to send. */
  outstanding(): number {
    return this.inFlight.length + this.queue.length - this.queueHead + (this.resendTo - this.resendFrom);
  }

  /** Whether the link is up and the firmware identified (M115 and its Cap lines are through). */
  get identified(): boolean {
    return this.state === "operational" && !this.identifying && this.settleUntil === undefined;
  }

  /** Feeds one received line (without its line ending). */
  receive(raw: string, now: number): void {
    const line = raw.indexOf("\0") >= 0 ? raw.replaceAll("\0", "").trim() : raw.trim();
    this.lastReceivedAt = now;
    this.events.push({ type: "received", line });
    if (this.state === "closed" || this.state === "error") return;
    const reply = this.unglue(line);
    if (reply === undefined) return this.process(line, now);
    this.process(reply, now);
    this.process("ok", now);
  }

  /** The reply part of a line the firmware ran into its `ok` (quirks `ack.gluedOk`), or undefined. */
  private unglue(line: string): string | undefined {
    const glued = this.grammar.gluedOk;
    if (glued.length === 0 || line.length <= 2 || !line.endsWith("ok")) return undefined;
    for (const r of glued) {
      const groups = r.exec(line)?.groups;
      if (groups?.reply === undefined) continue;
      if (groups.arg !== undefined) {
        const head = this.inFlight[0]?.command;
        const space = head?.indexOf(" ") ?? -1;
        if (space < 0 || head!.slice(space + 1).trim().toLowerCase() !== groups.arg.trim().toLowerCase()) continue;
      }
      return groups.reply;
    }
    return undefined;
  }

  /** One received line, classified and acted on. */
  private process(line: string, now: number): void {
    this.lastLine = line;
    if (this.halted && this.grammar.recovered.some((r) => r.test(line))) this.recover(line);
    let msg = classify(line, this.grammar, this.currentTool);
    if (this.mayBeEvidence(msg)) {
      if (this.applyEvidence(line)) msg = classify(line, this.grammar, this.currentTool);
      this.checkSafety(line);
    }
    const pending = this.pendingError;
    if (pending) {
      this.pendingError = undefined;
      if (pending.join) {
        // The second half of a split error (Marlin 1.0 `Error:0` + `: Extruder switched off…`).
        const text = `${pending.text} ${line}`;
        this.onError(classifyErrorText(text, this.grammar), text, now);
        return;
      }
      // An unknown error right before a resend request was about the damaged line (§1.6).
      if (msg.kind !== "resend") this.applyErrorPolicy("error", pending.text, now);
    }
    // The M115 report after its ok (Repetier): the report and Cap lines are taken first, and the
    // first other line ends it, handled once the firmware's profile applies.
    const reporting = this.identifying && this.identifyPhase !== "ack";
    const report = msg.kind === "firmware" || msg.kind === "capability";
    if (reporting && !report) this.trackIdentification(msg, now);
    this.handle(msg, now);
    if (reporting && report) this.trackIdentification(msg, now);
  }

  /** Advances timers: handshake retries, resend-ok detection, communication timeouts, polling. */
  tick(now: number): void {
    if (this.state === "handshake") {
      if (now - this.openedAt >= this.quirks.handshake.timeoutMs) {
        this.fail({
          code: "no_response",
          message: `The printer did not answer within ${Math.round(this.quirks.handshake.timeoutMs / 1000)} s of connecting.`,
          hint: "Check that it is powered on and that the baud rate is right (most printers use 115200 or 250000).",
        });
      } else if (now - this.helloAt >= this.quirks.handshake.retryMs) {
        this.sendHello(now);
      }
      return;
    }
    if (this.state !== "operational") return;
    if (this.settleUntil !== undefined) {
      if (now < this.settleUntil) return;
      this.settleUntil = undefined;
      this.lastReceivedAt = this.lastProgressAt = now;
      this.identify(now);
    }
    if (this.identifyDeadline !== undefined && now >= this.identifyDeadline) this.finishIdentification(now);
    if (this.pendingError && now >= this.pendingError.at + ERROR_SETTLE_MS) {
      const p = this.pendingError;
      this.pendingError = undefined;
      this.applyErrorPolicy(p.join ? classifyErrorText(p.text, this.grammar) : "error", p.text, now);
      if (this.state !== "operational") return;
    }
    if (this.resendOkDeadline !== undefined && now >= this.resendOkDeadline) {
      // The firmware sent no ok after its resend request (some Marlin 2.0.x builds): simulate it.
      this.resendOkDeadline = undefined;
      this.popAck(now);
    }
    if (this.savedOkDeadline !== undefined && now >= this.savedOkDeadline) {
      // `Done saving file.` without an ok (several Marlin versions): simulate it.
      this.savedOkDeadline = undefined;
      this.popAck(now);
    }
    if (this.inFlight.length > 0) {
      // As nextDeadline() adds them: its deadline, reached exactly, is due (no rounding apart).
      if (now >= this.lastProgressAt + this.silenceLimit(now)) this.onTimeout(now);
    } else if (now - this.lastReceivedAt >= this.communicationLimit() && !this.sdWriting) {
      // Nothing in flight and nothing heard: probe, so real silence becomes a timeout.
      this.lastReceivedAt = now;
      this.enqueueSystem("M105", now);
    }
    if (this.state !== "operational") return;
    this.poll(now);
    this.pump(now);
  }

  /** When `tick` next has something to do; undefined when nothing is timed. */
  nextDeadline(): number | undefined {
    if (this.state === "handshake") {
      return Math.min(this.openedAt + this.quirks.handshake.timeoutMs, this.helloAt + this.quirks.handshake.retryMs);
    }
    if (this.state !== "operational") return undefined;
    if (this.settleUntil !== undefined) return this.settleUntil;
    let at = Infinity;
    if (this.inFlight.length > 0) at = this.lastProgressAt + this.silenceLimit(this.lastProgressAt);
    else if (!this.sdWriting) at = this.lastReceivedAt + this.communicationLimit();
    if (this.resendOkDeadline !== undefined) at = Math.min(at, this.resendOkDeadline);
    if (this.savedOkDeadline !== undefined) at = Math.min(at, this.savedOkDeadline);
    if (this.pendingError) at = Math.min(at, this.pendingError.at + ERROR_SETTLE_MS);
    if (this.identifyDeadline !== undefined) at = Math.min(at, this.identifyDeadline);
    if (!this.identifying && !this.sdWriting) {
      for (const p of this.pollers) if (p.wanted()) at = Math.min(at, p.nextAt);
    }
    return at === Infinity ? undefined : at;
  }

  /** Lines to write, in order, without line endings; empties the outbox. */
  takeOutgoing(): readonly string[] {
    const out = this.out;
    if (out.length === 0) return NOTHING; // called a few times per line: no array when there is nothing
    this.out = [];
    return out;
  }

  /** Events since the last call; empties the list. */
  takeEvents(): readonly EngineEvent[] {
    const events = this.events;
    if (events.length === 0) return NOTHING;
    this.events = [];
    return events;
  }

  /** Drops queued (not yet sent) commands, e.g. when a job is cancelled. Lines in flight stay. */
  clearQueue(): void {
    this.queue = [];
    this.queueHead = 0;
  }

  // ---- received lines -------------------------------------------------------------------------

  private handle(msg: Received, now: number): void {
    switch (msg.kind) {
      case "ok":
      case "resend":
      case "skip":
      case "busy":
      case "wait":
      case "start":
        this.lastProgressAt = now;
        this.consecutiveTimeouts = 0;
        break;
    }
    switch (msg.kind) {
      case "ok":
        if (msg.report?.kind === "start") {
          this.onOk(msg, now);
          this.onStart(now);
          return;
        }
        if (msg.report) this.handle(msg.report, now);
        this.onOk(msg, now);
        return;
      case "resend":
        this.onResend(msg.lineNumber, now);
        return;
      case "skip":
        // Repetier already had this line (§1.7.5); the ok that follows acknowledges our copy.
        return;
      case "start":
        this.onStart(now);
        return;
      case "wait":
        this.onWait(now);
        return;
      case "busy":
        if (!this.busySeen) {
          this.busySeen = true;
          if (this.quirks.busy.intervalCommand) this.enqueueSystem(this.quirks.busy.intervalCommand, now);
        }
        this.events.push({ type: "busy", reason: msg.reason });
        return;
      case "action": {
        const echo = this.expectEcho !== undefined && this.expectEcho.name === msg.name && now <= this.expectEcho.until;
        if (echo) this.expectEcho = undefined;
        this.events.push({ type: "action", name: msg.name, params: msg.params, echo });
        return;
      }
      case "error":
        this.onError(msg.errorClass, msg.text, now);
        return;
      case "capability":
        this.capabilities[msg.name] = msg.enabled;
        return;
      case "firmware":
        this.firmwareInfo = msg.info;
        this.firmwareLine = this.lastLine;
        if (!this.identifying) this.detectFamily(); // an M115 the user sent, or one from before we connected
        return;
      case "position":
        this.events.push({ type: "position", position: msg.position });
        return;
      case "temperature":
        if (this.inFlight.length > 0 && this.grammar.heatWait.some((r) => r.test(this.lastLine))) {
          // A heating command reporting as it waits: running, not silent (§2.6).
          this.lastProgressAt = now;
          this.consecutiveTimeouts = 0;
        }
        this.events.push({ type: "temperature", report: msg.report });
        return;
      case "target":
        this.events.push({ type: "target", heater: msg.heater, target: msg.target });
        return;
      case "sd":
        this.onSd(msg.message, now);
        return;
      case "text":
        if (this.inFileList) this.onListLine(msg.text);
        else {
          this.limitsReader.line(msg.text);
          this.onToolReply(msg.text);
        }
        return;
    }
  }

  private onOk(msg: Extract<Received, { kind: "ok" }>, now: number): void {
    if (this.state === "handshake") {
      // Any ok answers the hello. If several hellos went out (a retry, or a `start` banner from a
      // board that had in fact read the first one), more oks may follow: let them arrive while
      // nothing else is in flight, so none is mistaken for the ack of a real command.
      this.clearInFlight();
      this.setState("operational");
      this.identifying = true;
      if (this.hellosSent > 1) this.settleUntil = now + SETTLE_MS;
      else this.identify(now);
      return;
    }
    if (this.settleUntil !== undefined) return;
    if (this.inFileList) this.endFileList(); // a listing cut short (reset, lost line)
    this.resendOkDeadline = undefined;
    this.savedOkDeadline = undefined;
    if (msg.bufferFree !== undefined) {
      this.advancedOk = true;
      this.stats.bufferFree = msg.bufferFree;
      this.stats.plannerFree = msg.plannerFree ?? -1;
      // The queue size is the largest B seen twice: one damaged digit must not widen the window.
      const b = Math.min(msg.bufferFree, 63);
      if (++this.bufferFreeSeen[b]! >= 2 && b > this.maxBufferFree) this.maxBufferFree = b;
    }
    if (this.adopting) {
      if (msg.lineNumber !== undefined && this.quirks.lineNumbers.tracked && msg.lineNumber >= this.nextN) {
        return this.adoptFailed(`the printer acknowledged line ${msg.lineNumber}, after the last one sent (${this.nextN - 1}): its line count is not the host's`, now);
      }
      if (this.adopting.probe !== undefined) {
        if (this.probeAnswered(msg.lineNumber, now)) return;
        // A plain ok that is not the probe's: a line's before it, which one is known once the probe is answered.
        if ((msg.lineNumber === undefined || !this.quirks.lineNumbers.tracked) && this.holdLate(now)) return;
      }
    }
    if (msg.lineNumber !== undefined && this.quirks.lineNumbers.tracked && !this.realign(msg.lineNumber, now)) {
      this.pump(now);
      return;
    }
    this.popAck(now);
  }

  /**
   * An ok that names its line: entries before it lost their oks on the wire (pop them), and an ok
   * for a line no longer in flight is late and ignored. Returns false when the ok is to be ignored.
   * Oks for rejected copies carry no reliable number (Marlin 2.0 prints a stale one), so they
   * pop in order.
   */
  private realign(n: number, now: number): boolean {
    const head = this.inFlight[0];
    if (!head || head.rejected) return true;
    let at = -1;
    for (let i = 0; i < this.inFlight.length; i++) {
      const e = this.inFlight[i]!;
      if (e.n === n && !e.rejected) {
        at = i;
        break;
      }
    }
    if (at > 0) {
      for (let i = 0; i < at; i++) {
        this.stats.lostOks++;
        // Its ok never came: when the line finished is not known, so no latency is recorded.
        this.popAck(now, false, true);
      }
      return true;
    }
    if (at < 0 && n < head.n) {
      this.stats.lateOks++;
      return false;
    }
    return true;
  }

  /** The firmware's word on a tool change (Marlin's wording): the tool it refused or the one it has. */
  private onToolReply(text: string): void {
    if (!text.includes("xtruder")) return; // most lines: one scan, no regex
    const active = ACTIVE_EXTRUDER.exec(text);
    if (active) this.currentTool = Number(active[1]);
    else if (INVALID_TOOL.test(text)) this.currentTool = this.toolBefore;
  }

  /** The oldest line in flight answered at `now`; `lost`: its ok never came (found out later), so no latency is known. */
  private popAck(now: number, pump = true, lost = false): void {
    const entry = this.inFlight.shift();
    if (entry) {
      this.inFlightBytes -= entry.bytes;
      if (entry.n >= 0) this.numberedDone++;
      if (entry.rejected) this.rejectedInFlight--;
      else {
        if (entry.n >= 0) {
          this.historyAcked[entry.n % this.historyAcked.length] = 1;
          this.lastAckedN = entry.n;
        }
        this.stats.acks++;
        if (!lost) this.ackLatencies[this.latencyCount++ % LATENCY_SAMPLES] = now - entry.sentAt;
        if (entry.tag !== NO_TAG) this.events.push({ type: "acked", tag: entry.tag });
        else if (!this.positionStale && movesHead(entry.command)) this.positionStale = true;
        if (entry.limitMs !== undefined && this.quirks.ack.timing === "onReceipt") {
          // Acked on receipt: the command runs from now on, and the buffer behind it may stall.
          this.longRunningUntil = Math.max(this.longRunningUntil, now + (entry.limitMs || Infinity));
        }
        if (this.identifying && this.identifyPhase === "ack" && entry.command === "M115") this.onIdentifyAck(now);
        // Without a line that says so, the ok of a restart command is the sign the firmware runs again.
        if (this.halted && this.grammar.recovered.length === 0 && this.quirks.errors.restartCommands.includes(commandCode(entry.command))) {
          this.recover(entry.command);
        }
        this.takeLimits();
      }
    }
    if (pump) {
      if (this.adopting) this.checkAdopted(now);
      this.pump(now);
    }
  }

  private onResend(k: number, now: number): void {
    if (this.state !== "operational" || this.settleUntil !== undefined) return;
    this.stats.resendRequests++;
    if (this.adopting?.probe !== undefined) this.probeRefused(now);
    const okFollows = this.quirks.ack.okAfterResend;
    const echo = this.inFlight.some((e) => e.rejected && e.n >= k);
    if (echo) {
      // A line that was in flight when the firmware flushed its buffer asks for k again (§1.7 step 2).
      if (okFollows === "never") this.popAck(now);
      return;
    }
    this.consecutiveResends = k === this.lastResendN ? this.consecutiveResends + 1 : 1;
    this.lastResendN = k;
    if (this.consecutiveResends > this.quirks.resend.maxConsecutive) {
      const ahead = k >= this.nextN; // its counter is ahead of ours: it refuses every line
      this.fail({
        code: "resend_loop",
        message: ahead
          ? `The printer asked ${this.consecutiveResends} times in a row for line ${k}, which the host has not sent yet: its line counter is ahead of the host's, so it rejects every line.`
          : `The printer asked for line ${k} ${this.consecutiveResends} times in a row; the link is stuck.`,
        hint: ahead
          ? "Reconnect the printer to number the lines afresh. Something set the printer's line number behind the host's back (another program on the port?)."
          : "The line may be damaged on every try: check the USB cable and its shielding, or try a lower baud rate.",
      });
      return;
    }
    if (k >= this.nextN) {
      // The printer saw our last line twice (e.g. after a timeout): nothing to repeat. Asked
      // again and again, its counter is ahead of ours: the count above ends that.
      if (okFollows === "never") this.popAck(now);
      return;
    }
    const size = this.historyText.length;
    if (k < this.nextN - size || k < this.historyFloor || k < 0) {
      // A damaged reply (`Resend: 3277` → `Resend: 327?`) asks for nonsense once; a real request
      // comes again with the next line the firmware reads.
      if (this.consecutiveResends === 1) {
        this.notice("warning", `Ignored a request to resend line ${k}, which was never in reach (a damaged reply?).`);
        if (okFollows === "never") this.popAck(now);
        return;
      }
      if (this.adopting) return this.adoptFailed(`the printer asked for line ${k} again, which the stopped thread had sent before the lines it left`, now);
      this.fail({
        code: "resend_out_of_history",
        message: `The printer asked for line ${k}, which is older than the ${size} lines kept for resending.`,
        hint: "The print cannot continue safely. Restart it; if this repeats, check the cable and baud rate.",
      });
      return;
    }
    for (const e of this.inFlight) {
      if (e.n >= k && !e.rejected) {
        e.rejected = true;
        this.rejectedInFlight++;
      }
    }
    this.resendFrom = k;
    this.resendTo = this.nextN;
    if (okFollows === "never") this.popAck(now);
    else if (okFollows === "detect") this.resendOkDeadline = now + this.quirks.ack.resendOkMs;
  }

  private onWait(now: number): void {
    switch (this.quirks.wait.meaning) {
      case "idle":
        // Repetier/Marlin NO_TIMEOUTS: "idle and waiting", i.e. an ok went missing (§2.3); while
        // connecting, the hello's ok (§3.3 step 2).
        if (this.state === "handshake") return this.onOk({ kind: "ok" }, now);
        // Idle while answers are owed: they were lost with the stopped thread; ask where the printer is.
        if (this.adopting) {
          if (this.inFlight.length > 0 && this.adopting.probe === undefined) this.probe(now);
          return;
        }
        if (this.state === "operational" && this.inFlight.length > 0 && this.settleUntil === undefined) this.popAck(now);
        return;
      case "busy":
        // CBD firmware: the opposite, "don't send" (§2.3); it proves the printer is alive.
        this.events.push({ type: "busy", reason: "wait" });
        return;
      case "ignore":
        return;
    }
  }

  private onStart(now: number): void {
    if (this.state === "handshake") {
      // The board has just booted (DTR reset): greet it now rather than after the retry delay.
      this.sendHello(now);
      return;
    }
    // Operational and the printer rebooted behind our back (§3.1): whatever was queued is void.
    this.events.push({ type: "reset" });
    this.notice("warning", "The printer restarted unexpectedly; reconnecting the link.");
    this.resetLink(now);
    this.openedAt = now;
    this.setState("handshake");
    this.sendHello(now);
  }

  private onError(errorClass: ErrorClass, text: string, now: number): void {
    if (this.grammar.joinNext.some((r) => r.test(text))) {
      this.pendingError = { text, at: now, join: true };
      return;
    }
    if (errorClass === "error") {
      // Wait one line: if a resend request follows, this error was about the damaged line.
      this.pendingError = { text, at: now, join: false };
      return;
    }
    this.applyErrorPolicy(errorClass, text, now);
  }

  private applyErrorPolicy(errorClass: ErrorClass, text: string, now: number): void {
    const p = this.quirks.errors.policy;
    const policy: ErrorPolicy =
      errorClass === "fatal" ? p.fatal : errorClass === "halted" ? p.halted : errorClass === "error" ? p.other : "ignore";
    this.events.push({ type: "firmwareError", errorClass, text, policy });
    switch (errorClass) {
      case "fakeOk":
        this.popAck(now);
        return;
      case "sd": {
        const sd = classifySd(text.replace(/^(Error:|!!)\s*/, ""), this.grammar);
        if (sd) this.onSd(sd, now);
        return;
      }
      case "resendFollows":
      case "ignore":
        return;
    }
    if (policy !== "disconnect") {
      if ((errorClass === "fatal" || errorClass === "halted") && policy !== "ignore") {
        this.halt(text, this.grammar.stateLines.some((r) => r.test(text)), false);
      }
      return;
    }
    if (errorClass === "fatal") {
      this.fail({
        code: "firmware_fatal",
        message: `The printer stopped with an error: "${text}".`,
        hint: "Read the printer's display, fix the cause (e.g. a loose thermistor or heater), then power-cycle it and connect again.",
      });
    } else if (errorClass === "halted") {
      this.fail({
        code: "firmware_halted",
        message: `The printer halted: "${text}".`,
        hint: "Fix the cause, then send M999 or reset the printer and connect again.",
      });
    } else {
      this.fail({
        code: "firmware_error",
        message: `The printer reported an error: "${text}".`,
        hint: "Check the printer; if this error is harmless for your printer, add it to errors.ignore in a quirks file in <data-dir>/firmware-quirks/.",
      });
    }
  }

  /** The firmware stopped but talks on; the first reason stands unless it was a bare state line. */
  private halt(reason: string, stateLine: boolean, emergency: boolean): void {
    if (this.halted && !(this.haltedByStateLine && !stateLine)) return;
    this.halted = true;
    this.haltedByStateLine = stateLine;
    this.events.push({ type: "halted", reason, emergency });
  }

  private recover(text: string): void {
    if (!this.halted) return;
    this.halted = false;
    this.haltedByStateLine = false;
    this.events.push({ type: "recovered", text });
  }

  private onSd(message: SdMessage, now: number): void {
    switch (message.type) {
      case "listBegin":
        this.inFileList = true;
        this.listFiles = [];
        this.listDirs = [];
        return;
      case "listEnd":
        this.endFileList();
        return;
      case "saved": {
        const how = this.quirks.sd.okAfterEndWrite;
        if (how === "never") this.popAck(now);
        else if (how === "detect") this.savedOkDeadline = now + this.quirks.ack.resendOkMs;
        break;
      }
    }
    this.events.push({ type: "sd", message });
  }

  private onListLine(text: string): void {
    const entry = parseFileListLine(text);
    switch (entry.kind) {
      case "file": {
        const dir = this.listDirs.at(-1) ?? "";
        const name = dir && !entry.file.name.startsWith("/") ? `${dir}${entry.file.name}` : entry.file.name;
        this.listFiles.push({ ...entry.file, name: this.quirks.sd.lowercaseNames ? name.toLowerCase() : name });
        return;
      }
      case "dirEnter":
        this.listDirs.push(entry.path.endsWith("/") ? entry.path : `${entry.path}/`);
        return;
      case "dirExit":
        this.listDirs.pop();
        return;
      case "none":
        return;
    }
  }

  private endFileList(): void {
    this.inFileList = false;
    this.events.push({ type: "sd", message: { type: "list", files: this.listFiles } });
    this.listFiles = [];
  }

  // ---- identification and profiles ----------------------------------------------------------------

  /** Lines that can identify a firmware or an overlay: never the usual acks, reports and busy lines. */
  private mayBeEvidence(msg: Received): boolean {
    if (!this.library) return false;
    switch (msg.kind) {
      case "text":
      case "firmware":
      case "capability":
      case "error":
        return true;
      case "ok":
        return msg.report !== undefined && (msg.report.kind === "text" || msg.report.kind === "firmware");
      default:
        return false;
    }
  }

  /** Applies what a line gives away; true when the profile changed. */
  private applyEvidence(line: string): boolean {
    const e = this.library!.detectByLine(line);
    if (!e) return false;
    if (e.overlay) {
      if (this.overlays.includes(e.id)) return false;
      this.overlays = [...this.overlays, e.id];
    } else {
      // A family from a banner only counts until the firmware names itself.
      if (e.id === this.family || this.firmwareInfo.FIRMWARE_NAME) return false;
      this.family = e.id;
    }
    this.recompose();
    return true;
  }

  private recompose(): void {
    if (!this.library) return;
    const before = this.quirks;
    this.quirks = this.library.with(this.family, this.overlays);
    if (this.quirks === before) return;
    this.grammar = compileGrammar(this.quirks);
    this.events.push({ type: "profile", profile: this.quirks.id, overlays: this.quirks.overlays });
    this.notice("info", `Firmware quirks in force: ${[this.quirks.id, ...this.quirks.overlays].join(" + ")}.`);
  }

  private checkSafety(line: string): void {
    for (const w of this.grammar.safety) {
      if (!this.warned.has(w.message) && w.re.test(line)) {
        this.warned.add(w.message);
        this.notice("warning", w.message);
      }
    }
  }

  private identify(now: number): void {
    this.identifying = true;
    this.identifyPhase = "ack";
    this.identifyDeadline = undefined;
    this.enqueueSystem("M115", now);
  }

  private onIdentifyAck(now: number): void {
    if (this.firmwareInfo.FIRMWARE_NAME || this.firmwareInfo.NAME) {
      this.finishIdentification(now);
    } else {
      this.identifyPhase = "info";
      this.identifyDeadline = now + IDENTIFY_INFO_MS;
    }
  }

  /** Follows the M115 report when it comes after the ok; finishes at the first line after the Cap list. */
  private trackIdentification(msg: Received, now: number): void {
    if (this.identifyPhase === "info") {
      if (msg.kind === "firmware") {
        this.identifyPhase = "caps";
        this.identifyDeadline = now + IDENTIFY_CAPS_MS;
      }
    } else if (this.identifyPhase === "caps") {
      if (msg.kind === "capability") this.identifyDeadline = now + IDENTIFY_CAPS_MS;
      else this.finishIdentification(now);
    }
  }

  /** The firmware's name as its M115 reply gives it (Malyan: NAME + VER). */
  private firmwareName(): string {
    const info = this.firmwareInfo;
    return info.FIRMWARE_NAME ?? (info.NAME ? `${info.NAME}${info.VER ? ` ${info.VER}` : ""}` : "");
  }

  private detectFamily(): void {
    const name = this.firmwareName();
    const detected = name && this.library ? this.library.detectByName(name) : undefined;
    if (detected && detected !== this.family) {
      this.family = detected;
      this.recompose();
      this.checkSafety(this.firmwareLine);
    }
  }

  private finishIdentification(now: number): void {
    this.identifying = false;
    this.identifyDeadline = undefined;
    const info = this.firmwareInfo;
    const name = this.firmwareName();
    this.detectFamily();
    this.events.push({
      type: "firmware",
      name: name || "unknown firmware",
      profile: this.quirks.id,
      overlays: this.quirks.overlays,
      info,
      capabilities: { ...this.capabilities },
    });
    for (const key of ["temperature", "position", "sdStatus"] as const) {
      const a = this.quirks.autoreport[key];
      const on = a.capability !== "" && this.capabilities[a.capability] === true;
      this.autoreport[key] = on;
      if (on && a.command) this.enqueueSystem(a.command, now);
    }
    const act = this.quirks.actions;
    if (act.promptCapability && this.capabilities[act.promptCapability] && act.promptAnnounce) this.enqueueSystem(act.promptAnnounce, now);
    const sd = this.quirks.sd;
    if (this.capabilities.SDCARD !== false || sd.alwaysAvailable) {
      if (sd.initCommand) this.enqueueSystem(sd.initCommand, now);
      this.enqueueSystem(this.sdListCommand(), now);
    }
    for (const p of this.pollers) p.nextAt = now;
    this.poll(now);
    this.pump(now);
  }

  /**
   * Asks the firmware for its machine limits (the profile's `machineLimits.query`, Marlin's
   * M503); the report arrives as a `limits` event. False when this firmware has no such report.
   * The shell asks once the firmware is identified, and when the user asks.
   */
  queryLimits(now: number): boolean {
    const query = this.quirks.machineLimits.query;
    for (const command of query) if (!this.hasPending(command)) this.enqueueSystem(command, now);
    return query.length > 0;
  }

  /** A limits report is complete at the ok that follows it (the firmware prints it while running the command). */
  private takeLimits(): void {
    const report = this.limitsReader.take();
    if (!report) return;
    this.limits = mergeLimits(this.limits ?? {}, report);
    this.events.push({ type: "limits", limits: this.limits });
  }

  /** The listing command for this firmware: with long names when it reports the capability. */
  sdListCommand(): string {
    const sd = this.quirks.sd;
    return sd.extendedCapability && this.capabilities[sd.extendedCapability] ? sd.extendedListCommand : sd.listCommand;
  }

  /** The command that answers a host prompt with button `choice` (0-based). */
  promptAnswer(choice: number): string {
    return this.quirks.actions.promptAnswer.replace("{choice}", String(choice));
  }

  // ---- sending -----------------------------------------------------------------------------------

  /** Lines the window allows in flight now: 1 until ADVANCED_OK shows the firmware's queue size. */
  private windowLimit(): number {
    const limit = this.maxWindow > 1 && this.advancedOk ? Math.max(1, Math.min(this.maxWindow, this.maxBufferFree + 1)) : 1;
    this.stats.window = limit;
    return limit;
  }

  /** Whether `bytes` more fit the firmware's receive buffer (the oldest line is being processed). */
  private fitsRx(bytes: number): boolean {
    const head = this.inFlight[0];
    if (!head) return true;
    return this.inFlightBytes - head.bytes + bytes <= this.quirks.ack.rxBufferBytes;
  }

  private pump(now: number): void {
    if (this.state !== "operational" || this.settleUntil !== undefined) return;
    const limit = this.windowLimit();
    while (this.inFlight.length < limit) {
      if (this.resendOkDeadline !== undefined) return; // wait for the resend's ok before repeating
      if (this.resendFrom < this.resendTo) {
        const n = this.resendFrom;
        const slot = n % this.historyText.length;
        const text = this.historyText[slot]!;
        if (!this.fitsRx(text.length + 1)) return;
        this.resendFrom++;
        this.write(text);
        const command = this.historyCommand[slot]!;
        // A line already acknowledged (the request was spurious or an ok was misread) goes out
        // again, but its tag was reported once and is not reported twice.
        this.pushInFlight(n, this.historyAcked[slot] ? NO_TAG : this.historyTag[slot]!, command, text.length + 1, now);
        if (this.adopting) this.inFlight[this.inFlight.length - 1]!.old = true;
        this.stats.linesResent++;
        this.checkResendRatio();
        continue;
      }
      // An adopted link sends nothing new until the stopped thread's lines are answered.
      if (this.adopting || this.queueHead >= this.queue.length) break;
      const next = this.queue[this.queueHead]!;
      if (!this.fitsRx(framedAtMost(next.command.length, this.nextN) + 1)) return; // + the newline
      this.queueHead++;
      if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.queueHead);
        this.queueHead = 0;
      }
      this.transmitNew(next.command, next.tag, now, next.code);
    }
  }

  /** Once per link: more than a tenth of the lines sent again is a noisy cable, not bad luck (§1.7.6). */
  private checkResendRatio(): void {
    const { linesSent, linesResent } = this.stats;
    if (linesSent < RESEND_RATIO_MIN_LINES || linesResent * 10 <= linesSent || this.warned.has("resend ratio")) return;
    this.warned.add("resend ratio");
    this.notice(
      "warning",
      `${Math.round((linesResent / linesSent) * 100)} % of the lines sent had to be sent again: the serial link is noisy. Check the USB cable (short, shielded, away from motor and heater wires) and its plugs, or try a lower baud rate.`,
    );
  }

  private transmitNew(command: string, tag: number, now: number, code = commandCode(command)): void {
    const c0 = command.charCodeAt(0);
    const effect = c0 === 77 /* M */ ? this.grammar.sendEffects.get(code) : undefined;
    if (effect?.setsLineNumber) {
      // The host numbers the lines (§1.3): an M110 from a file, a script or the terminal says
      // where the numbering goes on, so it is framed with that number (`N<k> M110 N<k>`, the
      // portable form; the parameter left out where the firmware refuses it). Framed with the
      // host's next number instead, the printer's counter and the host's would part and every
      // later line be refused.
      this.nextN = lineNumberOfM110(command);
      if (!this.grammar.m110Parameter) command = "M110";
    }
    const n = this.nextN++;
    if (tag !== NO_TAG && tag !== this.sentTag) {
      this.sentTagBefore = this.sentTag;
      this.sentTag = tag;
    }
    const text = frame(n, command);
    const slot = n % this.historyText.length;
    this.historyText[slot] = text;
    this.historyTag[slot] = tag;
    this.historyCommand[slot] = command;
    this.historyAcked[slot] = 0;
    this.pushInFlight(n, tag, command, text.length + 1, now, code);
    if (c0 === 84 /* T */) {
      const tool = Number(command.slice(1));
      // A tool past the hotends the firmware reported is refused (or, with a shared nozzle, selects
      // only filament): its reports stay those of the tool it had.
      const count = Number.parseInt(this.firmwareInfo.EXTRUDER_COUNT ?? "", 10);
      if (Number.isInteger(tool) && !(count > 0 && tool >= count)) {
        this.toolBefore = this.currentTool;
        this.currentTool = tool;
      }
    } else if (effect !== undefined) {
      if (effect.sdWriting !== undefined) this.sdWriting = effect.sdWriting;
      if (effect.echo) this.expectEcho = { name: effect.echo, until: now + ECHO_WINDOW_MS };
    }
    this.write(text);
  }

  private pushInFlight(n: number, tag: number, command: string, bytes: number, now: number, code = commandCode(command)): void {
    this.inFlight.push({ n, tag, command, rejected: false, old: false, limitMs: this.longRunningLimit(command, code), sentAt: now, bytes });
    this.inFlightBytes += bytes;
    if (n >= 0) this.numberedSent++;
  }

  private clearInFlight(): void {
    for (const e of this.inFlight) if (e.n >= 0) this.numberedDone++;
    this.inFlight.length = 0;
    this.inFlightBytes = 0;
    this.rejectedInFlight = 0;
  }

  private sendHello(now: number): void {
    // Replace, not add: a hello eaten by a booting board must not leave an ok owed forever.
    this.clearInFlight();
    this.helloAt = now;
    const { hello, retryHello } = this.quirks.handshake;
    // Every third: the first two are the usual pair (a retry, or the greeting after `start`).
    const alternate = this.hellosSent++ % 3 === 2 && retryHello !== "";
    this.nextN = 0;
    this.transmitNew(alternate ? retryHello : hello, NO_TAG, now);
  }

  private write(text: string): void {
    if (text.length >= this.longestSent) this.longestSent = text.length + 1;
    this.out.push(text);
    this.stats.linesSent++;
    this.events.push({ type: "sent", line: text });
  }

  private enqueueSystem(command: string, now: number): void {
    this.queue.push({ command, tag: NO_TAG, code: commandCode(command) });
    this.pump(now);
  }

  private isOutOfBand(code: string): boolean {
    const e = this.quirks.emergency;
    if (!e.commands.includes(code) || !e.capability || this.capabilities[e.capability] !== true) return false;
    return !(this.sdWriting && e.disabledDuringSdWrite);
  }

  private hasPending(command: string): boolean {
    for (let i = this.queueHead; i < this.queue.length; i++) if (this.queue[i]!.command === command) return true;
    return this.inFlight.some((e) => e.command === command);
  }

  private poll(now: number): void {
    if (this.identifying || this.sdWriting || this.settleUntil !== undefined) return;
    for (const p of this.pollers) {
      if (now < p.nextAt || !p.wanted()) continue;
      p.nextAt = now + p.intervalMs();
      const command = p.command();
      if (command === "M114") this.positionStale = false;
      if (!this.hasPending(command)) this.enqueueSystem(command, now);
    }
  }

  // ---- timeouts ------------------------------------------------------------------------------------

  private communicationLimit(): number {
    return this.busySeen ? this.quirks.timeouts.communicationBusyMs : this.quirks.timeouts.communicationMs;
  }

  /**
   * The silence allowed while lines are in flight. A long-running command may be silent for its
   * own limit unless the firmware has shown it sends busy keep-alives (then silence is real).
   */
  private silenceLimit(now: number): number {
    // An adopted link asks where the printer is sooner: a probe is answered, never guessed from.
    const base = this.adopting ? ADOPT_QUIET_MS : this.communicationLimit();
    // A probe told apart by its answer may go out while a long command owed still runs (firmware
    // without busy lines): the firmware answers it after that command, and a late plain ok is
    // still taken for the line owed. A probe answered by any plain ok waits for those limits, so
    // no late ok is taken for its answer.
    if (this.adopting && this.adopting.probe === undefined && this.probeToldApart()) return base;
    let limit = base;
    for (const e of this.inFlight) {
      if (e.limitMs === undefined) continue;
      const own = e.limitMs === 0 ? Infinity : e.limitMs;
      limit = Math.max(limit, this.busySeen && !isDwell(commandCode(e.command)) ? base : own);
    }
    if (now < this.longRunningUntil && !this.busySeen) limit = Math.max(limit, this.longRunningUntil - now + base);
    return limit;
  }

  /** The extra silence a command may cause, or undefined for ordinary commands. */
  private longRunningLimit(command: string, code: string): number | undefined {
    if (!this.grammar.longRunning.has(code)) return undefined;
    if (isDwell(code)) return this.communicationLimit() + dwellMs(command);
    return this.quirks.timeouts.longRunningMs[code] ?? this.quirks.timeouts.longRunningDefaultMs;
  }

  private onTimeout(now: number): void {
    if (this.adopting) return this.probe(now);
    this.stats.timeouts++;
    if (this.consecutiveTimeouts++ === 0) this.silentSince = this.lastProgressAt;
    const head = this.inFlight[0]!;
    if (this.consecutiveTimeouts > this.quirks.timeouts.maxConsecutive) {
      const seconds = Math.round((now - this.silentSince) / 1000);
      const alive = now - this.lastReceivedAt < this.communicationLimit();
      this.fail(
        alive
          ? {
              code: "no_ack",
              message: `The printer still reports but stopped acknowledging commands: no ok for ${seconds} s while waiting for "${head.command}" (line ${head.n}).`,
              hint: "The firmware is running but not reading commands (stuck in a menu, a dialog or a wait on its display?). Check the printer's screen, then reconnect.",
            }
          : {
              code: "timeout",
              message: `The printer stopped answering: nothing received for ${seconds} s while waiting for "${head.command}" (line ${head.n}).`,
              hint: "Check that the printer is on and the USB cable is connected, then connect again. If it restarted, the print cannot resume.",
            },
      );
      return;
    }
    if (!this.quirks.lineNumbers.tracked && head.tag !== NO_TAG && !head.rejected) {
      // This firmware drops damaged lines without a word, so the line may be gone (§1.5 RRF).
      this.events.push({ type: "lost", tag: head.tag, command: head.command });
    }
    this.notice("warning", `No answer to "${head.command}" in ${Math.round(this.silenceLimit(now) / 1000)} s; assuming a lost ok.`);
    // Treat the oldest line as acknowledged and move on, during a resend too (not OctoPrint's
    // ladder, §1.7 step 7, which sends the repeat again): Marlin 2.1 drops a copy of the line it
    // ran last without a word, so if only the ok was lost a repeat would meet silence until the
    // link gave up, while a line that really was lost is asked for again as soon as the next
    // one arrives out of sequence. Outside a resend, provoke a reply, so a dead link keeps
    // counting timeouts.
    this.lastProgressAt = now;
    const resending = this.resendFrom < this.resendTo || head.rejected;
    this.popAck(now);
    if (!resending && !this.sdWriting && !this.hasPending("M105")) this.enqueueSystem("M105", now);
  }

  private longRunningInFlight(): boolean {
    return this.inFlight.some((e) => e.limitMs !== undefined);
  }

  // ---- state -----------------------------------------------------------------------------------------

  private resetLink(now: number): void {
    this.adopting = undefined;
    this.historyFloor = 0;
    this.lastAckedN = -1;
    this.sentTag = this.sentTagBefore = NO_TAG;
    this.clearInFlight();
    this.clearQueue();
    this.resendFrom = this.resendTo = 0;
    this.resendOkDeadline = undefined;
    this.savedOkDeadline = undefined;
    this.consecutiveResends = 0;
    this.lastResendN = -1;
    this.consecutiveTimeouts = 0;
    this.lastReceivedAt = this.lastProgressAt = now;
    this.busySeen = false;
    this.identifying = false;
    this.identifyDeadline = undefined;
    this.hellosSent = 0;
    this.settleUntil = undefined;
    this.longRunningUntil = 0;
    this.sdWriting = false;
    this.sdPolling = false;
    this.autoreport = { temperature: false, position: false, sdStatus: false };
    this.positionStale = false;
    this.advancedOk = false;
    this.maxBufferFree = 0;
    this.bufferFreeSeen.fill(0);
    this.inFileList = false;
    this.pendingError = undefined;
    this.expectEcho = undefined;
    this.skipped.clear();
    this.halted = false;
    this.haltedByStateLine = false;
    this.capabilities = {};
    this.firmwareInfo = {};
    this.limits = null;
    this.limitsReader = new LimitsReportReader();
  }

  private fail(problem: LinkProblem): void {
    this.adopting = undefined;
    this.clearInFlight();
    this.clearQueue();
    this.resendFrom = this.resendTo = 0;
    this.resendOkDeadline = undefined;
    this.savedOkDeadline = undefined;
    this.setState("error", problem);
  }

  private setState(state: LinkState, problem?: LinkProblem): void {
    this.state = state;
    this.events.push(problem ? { type: "state", state, problem } : { type: "state", state });
  }

  private notice(level: "info" | "warning", message: string): void {
    this.events.push({ type: "notice", level, message });
  }
}

/** What takeOutgoing() and takeEvents() return when there is nothing: no new array per call. */
const NOTHING: readonly never[] = Object.freeze([]);

/**
 * The most characters a command of `length` takes framed as line `n`: `N<n> `, the command and
 * `*<checksum>` (at most 3 digits). Counts the line number's digits without making its text (per line).
 */
function framedAtMost(length: number, n: number): number {
  let digits = 1;
  for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  return length + digits + 6;
}

/** The line number an M110 sets (its `N` parameter; 0 without one, as in OctoPrint). */
function lineNumberOfM110(command: string): number {
  const m = /\bN(-?\d+)/i.exec(command.slice(4));
  return m ? Math.max(-1, Number(m[1])) : 0;
}

/** The command word of a line: `G1 X1` → `G1`, `M109 S200` → `M109`, `T1` → `T1`. */
export function commandCode(command: string): string {
  const space = command.indexOf(" ");
  return (space < 0 ? command : command.slice(0, space)).toUpperCase();
}

function classifyErrorText(text: string, grammar: Grammar): ErrorClass {
  const msg = classify(text.startsWith("Error:") ? text : `Error:${text}`, grammar, 0);
  return msg.kind === "error" ? msg.errorClass : "error";
}

/** Commands that move the head or set where it is: the position to show changes. */
const HEAD_MOVES = new Set(["G0", "G1", "G2", "G3", "G28", "G29", "G92"]);

function movesHead(command: string): boolean {
  return command.charCodeAt(0) === 71 /* G */ && HEAD_MOVES.has(commandCode(command));
}

/** Whether a command word (see {@link commandCode}) is a dwell. */
function isDwell(code: string): boolean {
  return code === "G4";
}

/** G4 P<ms> or S<s> (S wins when both are given, as in Marlin). */
function dwellMs(command: string): number {
  const s = /\bS(\d+(?:\.\d+)?)/i.exec(command);
  if (s) return Number(s[1]) * 1000;
  const p = /\bP(\d+(?:\.\d+)?)/i.exec(command);
  return p ? Number(p[1]) : 0;
}

/**
 * Firmware reads bytes, and checksums are over bytes: accented letters lose their accents
 * (`M117 Café` shows "Cafe" on the printer's screen), anything else outside ASCII becomes `?`. A
 * control character becomes a space: some act on their own (Smoothie halts on Ctrl-X).
 */
function toAscii(command: string): string {
  for (let i = 0; i < command.length; i++) {
    const c = command.charCodeAt(i);
    if (c < 32 || c > 126) {
      return command
        .replace(/[\x00-\x1f]/g, " ")
        .normalize("NFKD")
        .replace(/[\u0300-\u036f]/g, "")
        .replace(/[^\x20-\x7e]/gu, "?")
        .trim();
    }
  }
  return command;
}
