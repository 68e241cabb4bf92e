/**
 * Linux tty configuration through libc and the kernel's termios2 ioctl, called with bun:ffi.
 *
 * Struct offsets and ioctl numbers are the generic Linux ABI, which x86_64 and aarch64 share
 * (asm-generic/termbits.h, asm-generic/ioctls.h); both are little-endian, so one layout serves both.
 */
import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { constants as osConstants } from "node:os";

/** A failed libc call on a tty, carrying the errno name (`EBUSY`, ...) like Node's fs errors do. */
export class TtyError extends Error {
  constructor(
    /** errno name such as "EINVAL"; "EUNKNOWN" if the number is not known to Node. */
    readonly code: string,
    readonly errno: number,
    readonly syscall: string,
    message: string,
  ) {
    super(message);
    this.name = "TtyError";
  }
}

/** Line settings applied by {@link configureTty}; everything but the rate defaults to raw 8N1. */
export interface TtySettings {
  baudRate: number;
  /** Drop DTR when the last holder closes the port. Off keeps AVR boards from resetting on close. */
  hupcl?: boolean;
  dataBits?: 5 | 6 | 7 | 8;
  stopBits?: 1 | 2;
  parity?: "none" | "even" | "odd" | "mark" | "space";
  /** Hardware (RTS/CTS) flow control. */
  rtscts?: boolean;
  /** Software flow control: honour XON/XOFF on output. */
  xon?: boolean;
  /** Software flow control: send XON/XOFF on input. */
  xoff?: boolean;
  /** Any byte restarts output stopped by XOFF. */
  xany?: boolean;
}

/** The handshake lines we drive. */
export interface ModemOutputs {
  dtr: boolean;
  rts: boolean;
}

/** All modem lines as the driver reports them. */
export interface ModemLines extends ModemOutputs {
  cts: boolean;
  dsr: boolean;
  dcd: boolean;
  ri: boolean;
}

// glibc `struct termios` (60 bytes): 4×u32 flags, c_line, c_cc[32], pad, c_ispeed, c_ospeed.
const TERMIOS_SIZE = 60;
// kernel `struct termios2` (44 bytes): 4×u32 flags, c_line, c_cc[19], c_ispeed, c_ospeed.
const TERMIOS2_SIZE = 44;
const IFLAG = 0;
const OFLAG = 4;
const CFLAG = 8;
const LFLAG = 12;
const CC = 17; // c_cc starts right after c_line in both structs
const T2_ISPEED = 36;
const T2_OSPEED = 40;
const VTIME = 5;
const VMIN = 6;

// c_iflag
const ISTRIP = 0o40;
const INLCR = 0o100;
const IGNCR = 0o200;
const ICRNL = 0o400;
const INPCK = 0o20;
const IXON = 0o2000;
const IXANY = 0o4000;
const IXOFF = 0o10000;
// c_oflag
const OPOST = 0o1;
// c_lflag
const ISIG = 0o1;
const ICANON = 0o2;
const ECHO = 0o10;
const IEXTEN = 0o100000;
// c_cflag
const CBAUD = 0o10017;
const CSIZE = 0o60;
const CSTOPB = 0o100;
const CREAD = 0o200;
const PARENB = 0o400;
const PARODD = 0o1000;
const HUPCL = 0o2000;
const CLOCAL = 0o4000;
const BOTHER = 0o10000;
const IBSHIFT = 16;
const CMSPAR = 0o10000000000;
const CRTSCTS = 0o20000000000;
const CS = { 5: 0o0, 6: 0o20, 7: 0o40, 8: 0o60 } as const;

// ioctl requests (generic encoding; TCGETS2 = _IOR('T', 0x2A, struct termios2) and so on).
const TCGETS2 = 0x802c542a;
const TCSETS2 = 0x402c542b;
const TIOCEXCL = 0x540c;
const TIOCNXCL = 0x540d;
const TIOCOUTQ = 0x5411;
const TIOCMGET = 0x5415;
const TIOCMSET = 0x5418;
const TIOCSBRK = 0x5427;
const TIOCCBRK = 0x5428;
const TIOCM_DTR = 0x002;
const TIOCM_RTS = 0x004;
const TIOCM_CTS = 0x020;
const TIOCM_CAR = 0x040;
const TIOCM_RNG = 0x080;
const TIOCM_DSR = 0x100;

const TCSANOW = 0;
const TCIOFLUSH = 2;
const LOCK_EX = 2;
const LOCK_NB = 4;

/** Rates with a classic Bxxx code, which every driver and glibc's cfset*speed understand. */
const STANDARD_RATES: ReadonlyMap<number, number> = new Map([
  [50, 0o1], [75, 0o2], [110, 0o3], [134, 0o4], [150, 0o5], [200, 0o6], [300, 0o7],
  [600, 0o10], [1200, 0o11], [1800, 0o12], [2400, 0o13], [4800, 0o14], [9600, 0o15],
  [19200, 0o16], [38400, 0o17], [57600, 0o10001], [115200, 0o10002], [230400, 0o10003],
  [460800, 0o10004], [500000, 0o10005], [576000, 0o10006], [921600, 0o10007],
  [1000000, 0o10010], [1152000, 0o10011], [1500000, 0o10012], [2000000, 0o10013],
  [2500000, 0o10014], [3000000, 0o10015], [3500000, 0o10016], [4000000, 0o10017],
]);

/** How far the rate the driver reports may be from the one asked for; UARTs tolerate ~3 %. */
const BAUD_TOLERANCE = 0.02;

const LIBC_SYMBOLS = {
  tcgetattr: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  tcsetattr: { args: [FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  cfmakeraw: { args: [FFIType.ptr], returns: FFIType.void },
  cfsetispeed: { args: [FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  cfsetospeed: { args: [FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  cfgetospeed: { args: [FFIType.ptr], returns: FFIType.u32 },
  tcflush: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  // ioctl is variadic; every request we use takes one pointer (or nothing, passed as null).
  ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  dup: { args: [FFIType.i32], returns: FFIType.i32 },
} as const;

type Libc = ReturnType<typeof dlopen<typeof LIBC_SYMBOLS>>["symbols"];
let libcSymbols: Libc | undefined;

// Opened on first use so that importing this module (e.g. for error types) never touches libc.
function libc(): Libc {
  libcSymbols ??= dlopen("libc.so.6", LIBC_SYMBOLS).symbols;
  return libcSymbols;
}

const errnoNames = new Map<number, string>(
  Object.entries(osConstants.errno).map(([name, value]) => [value, name]),
);

/** The errno name for a number, e.g. 16 → "EBUSY". */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? "EUNKNOWN";
}

function lastErrno(): number {
  const location = libc().__errno_location();
  return location === null ? 0 : read.i32(location, 0);
}

// Turns a -1 return into a TtyError; errno must be read before any other libc call.
function check(result: number, syscall: string, what: string): void {
  if (result !== -1) return;
  const errno = lastErrno();
  const code = errnoName(errno);
  throw new TtyError(code, errno, syscall, `${what} failed: ${code} (${describeErrno(code)})`);
}

function describeErrno(code: string): string {
  switch (code) {
    case "EINVAL": return "the driver rejected the setting";
    case "ENOTTY": return "not a terminal, or the driver does not support this";
    case "EIO": return "input/output error, the device may be gone";
    case "EBADF": return "the port is not open";
    case "EWOULDBLOCK":
    case "EAGAIN": return "resource temporarily unavailable";
    case "ENOSYS": return "not supported by this kernel or emulator";
    case "EBUSY": return "the device is busy";
    case "EPERM":
    case "EACCES": return "permission denied";
    case "ENODEV":
    case "ENXIO": return "no such device";
    default: return "system error";
  }
}

// Returns -1 with errno set on failure, for callers that handle specific errnos themselves.
function rawIoctl(fd: number, request: number, arg: Uint8Array | null): number {
  return libc().ioctl(fd, request, arg);
}

function ioctl(fd: number, request: number, arg: Uint8Array | null, what: string): void {
  check(rawIoctl(fd, request, arg), "ioctl", what);
}

/** The termios fields we care about, as the kernel holds them. */
interface KernelTermios {
  iflag: number;
  oflag: number;
  cflag: number;
  lflag: number;
  vmin: number;
  vtime: number;
  /** Output speed in baud. */
  ospeed: number;
}

const RATE_FOR_CODE: ReadonlyMap<number, number> = new Map([...STANDARD_RATES].map(([rate, code]) => [code, rate]));

// Reads through TCGETS2 (exact custom rates). Where that ioctl does not exist (qemu-user before
// 10.2, WSL1, strict seccomp filters) glibc's tcgetattr still works, with the rate from the Bxxx code.
function readSettings(fd: number): KernelTermios {
  const c = libc();
  const t2 = new Uint8Array(TERMIOS2_SIZE);
  const v2 = new DataView(t2.buffer);
  if (rawIoctl(fd, TCGETS2, t2) === 0) {
    return {
      iflag: v2.getUint32(IFLAG, true),
      oflag: v2.getUint32(OFLAG, true),
      cflag: v2.getUint32(CFLAG, true),
      lflag: v2.getUint32(LFLAG, true),
      vmin: t2[CC + VMIN],
      vtime: t2[CC + VTIME],
      ospeed: v2.getUint32(T2_OSPEED, true),
    };
  }
  const t = new Uint8Array(TERMIOS_SIZE);
  const v = new DataView(t.buffer);
  check(c.tcgetattr(fd, t), "tcgetattr", "Reading the terminal settings");
  // glibc ≤ 2.41 returns the Bxxx code, ≥ 2.42 the rate itself; the two ranges do not overlap in practice.
  const speed = c.cfgetospeed(t);
  return {
    iflag: v.getUint32(IFLAG, true),
    oflag: v.getUint32(OFLAG, true),
    cflag: v.getUint32(CFLAG, true),
    lflag: v.getUint32(LFLAG, true),
    vmin: t[CC + VMIN],
    vtime: t[CC + VTIME],
    ospeed: RATE_FOR_CODE.get(speed) ?? speed,
  };
}

function assertBaudRate(baudRate: number): void {
  // c_ispeed/c_ospeed are u32; anything else cannot even be expressed to the kernel.
  if (!Number.isSafeInteger(baudRate) || baudRate <= 0 || baudRate > 0xffffffff) {
    throw badBaud(baudRate, "is not a whole number between 1 and 4294967295");
  }
}

function badBaud(baudRate: number, detail: string): TtyError {
  return new TtyError("EINVAL", osConstants.errno.EINVAL, "tcsetattr", `Baud rate ${baudRate} ${detail}`);
}

/**
 * Puts the tty in raw mode (8N1, no flow control unless asked, no echo, no CR/LF mangling) at the
 * given rate. Standard rates go through glibc's cfset*speed; any other rate uses termios2 with
 * BOTHER. The rate is read back and a driver that silently picked another rate is an error.
 */
export function configureTty(fd: number, settings: TtySettings): void {
  const { baudRate } = settings;
  assertBaudRate(baudRate);
  const c = libc();
  const termios = new Uint8Array(TERMIOS_SIZE);
  const view = new DataView(termios.buffer);
  check(c.tcgetattr(fd, termios), "tcgetattr", "Reading the terminal settings");
  c.cfmakeraw(termios);

  let iflag = view.getUint32(IFLAG, true) & ~(IXON | IXOFF | IXANY | INPCK);
  if (settings.xon) iflag |= IXON;
  if (settings.xoff) iflag |= IXOFF;
  if (settings.xany) iflag |= IXANY;

  let cflag = view.getUint32(CFLAG, true);
  cflag &= ~(CSIZE | CSTOPB | PARENB | PARODD | CMSPAR | CRTSCTS | HUPCL);
  // CLOCAL: ignore DCD, so open() does not wait for carrier and a DCD drop does not hang up.
  cflag |= CREAD | CLOCAL | CS[settings.dataBits ?? 8];
  if (settings.stopBits === 2) cflag |= CSTOPB;
  switch (settings.parity ?? "none") {
    case "none": break;
    case "even": cflag |= PARENB; break;
    case "odd": cflag |= PARENB | PARODD; break;
    case "mark": cflag |= PARENB | PARODD | CMSPAR; break;
    case "space": cflag |= PARENB | CMSPAR; break;
  }
  if (settings.parity && settings.parity !== "none") iflag |= INPCK;
  if (settings.rtscts) cflag |= CRTSCTS;
  if (settings.hupcl) cflag |= HUPCL;
  view.setUint32(IFLAG, iflag >>> 0, true);
  view.setUint32(CFLAG, cflag >>> 0, true);
  // Return from read() as soon as one byte is there; the fd is non-blocking, so this only shapes poll.
  termios[CC + VMIN] = 1;
  termios[CC + VTIME] = 0;

  const setByLibc = setLibcSpeed(termios, baudRate);
  check(c.tcsetattr(fd, TCSANOW, termios), "tcsetattr", `Setting raw mode at ${baudRate} baud`);
  finishBaudRate(fd, baudRate, setByLibc);
}

// Puts a standard rate into a glibc termios; false for other rates or if glibc refuses the code.
function setLibcSpeed(termios: Uint8Array, baudRate: number): boolean {
  const code = STANDARD_RATES.get(baudRate);
  const c = libc();
  return code !== undefined && c.cfsetispeed(termios, code) === 0 && c.cfsetospeed(termios, code) === 0;
}

// Custom rates, and standard ones glibc did not get across (glibc ≥ 2.42 reads speed_t as a plain
// number), go through termios2; then the rate the driver really took is checked.
function finishBaudRate(fd: number, baudRate: number, setByLibc: boolean): void {
  if (!setByLibc || getBaudRate(fd) !== baudRate) setBaudRateTermios2(fd, baudRate);
  const actual = getBaudRate(fd);
  if (Math.abs(actual - baudRate) > baudRate * BAUD_TOLERANCE) {
    throw badBaud(baudRate, `is not supported by the driver (it runs at ${actual})`);
  }
}

function setBaudRateTermios2(fd: number, baudRate: number): void {
  const bytes = new Uint8Array(TERMIOS2_SIZE);
  const view = new DataView(bytes.buffer);
  if (rawIoctl(fd, TCGETS2, bytes) === -1) {
    const code = errnoName(lastErrno());
    if (code === "ENOSYS" || code === "ENOTTY" || code === "EINVAL") {
      throw badBaud(
        baudRate,
        `needs the Linux termios2 ioctl, which this system does not provide (${code}; ` +
          "emulators such as qemu-user before 10.2 and WSL1 lack it)",
      );
    }
    check(-1, "ioctl", "Reading the line settings (TCGETS2)");
  }
  let cflag = view.getUint32(CFLAG, true);
  // Input speed follows output speed when CIBAUD is zero, so clear both fields and set BOTHER.
  cflag &= ~(CBAUD | (CBAUD << IBSHIFT));
  cflag |= BOTHER;
  view.setUint32(CFLAG, cflag >>> 0, true);
  view.setUint32(T2_ISPEED, baudRate, true);
  view.setUint32(T2_OSPEED, baudRate, true);
  try {
    ioctl(fd, TCSETS2, bytes, `Setting ${baudRate} baud (TCSETS2)`);
  } catch (error) {
    if (error instanceof TtyError && error.code === "EINVAL") {
      throw badBaud(baudRate, "is not supported by the driver");
    }
    throw error;
  }
}

/** The output rate the kernel has for the tty, read through TCGETS2 (exact for custom rates). */
export function getBaudRate(fd: number): number {
  return readSettings(fd).ospeed;
}

/** Changes only the baud rate of an already configured tty. */
export function setBaudRate(fd: number, baudRate: number): void {
  assertBaudRate(baudRate);
  const c = libc();
  const termios = new Uint8Array(TERMIOS_SIZE);
  check(c.tcgetattr(fd, termios), "tcgetattr", "Reading the terminal settings");
  const setByLibc = setLibcSpeed(termios, baudRate);
  if (setByLibc) check(c.tcsetattr(fd, TCSANOW, termios), "tcsetattr", `Setting ${baudRate} baud`);
  finishBaudRate(fd, baudRate, setByLibc);
}

/** The line settings as the kernel holds them (TCGETS2), decoded; `raw` means no line editing or byte mangling. */
export function getLineSettings(fd: number): Required<TtySettings> & { raw: boolean } {
  const { iflag, oflag, cflag, lflag, vmin, vtime, ospeed } = readSettings(fd);
  const parity: TtySettings["parity"] = !(cflag & PARENB)
    ? "none"
    : cflag & CMSPAR
      ? cflag & PARODD ? "mark" : "space"
      : cflag & PARODD ? "odd" : "even";
  return {
    baudRate: ospeed,
    hupcl: (cflag & HUPCL) !== 0,
    dataBits: ([5, 6, 7, 8] as const)[(cflag & CSIZE) >> 4], // CS5..CS8 are 0, 0o20, 0o40, 0o60
    stopBits: cflag & CSTOPB ? 2 : 1,
    parity,
    rtscts: (cflag & CRTSCTS) !== 0,
    xon: (iflag & IXON) !== 0,
    xoff: (iflag & IXOFF) !== 0,
    xany: (iflag & IXANY) !== 0,
    raw:
      (lflag & (ICANON | ECHO | ISIG | IEXTEN)) === 0 &&
      (oflag & OPOST) === 0 &&
      (iflag & (ISTRIP | INLCR | IGNCR | ICRNL)) === 0 &&
      vmin === 1 &&
      vtime === 0,
  };
}

function modemBits(fd: number): number {
  const bits = new Uint8Array(4);
  ioctl(fd, TIOCMGET, bits, "Reading the modem lines (TIOCMGET)");
  return new DataView(bits.buffer).getInt32(0, true);
}

/** Reads DTR/RTS (ours) and CTS/DSR/DCD/RI (the device's). Ptys have no modem lines: ENOTTY. */
export function getModemLines(fd: number): ModemLines {
  const bits = modemBits(fd);
  return {
    dtr: (bits & TIOCM_DTR) !== 0,
    rts: (bits & TIOCM_RTS) !== 0,
    cts: (bits & TIOCM_CTS) !== 0,
    dsr: (bits & TIOCM_DSR) !== 0,
    dcd: (bits & TIOCM_CAR) !== 0,
    ri: (bits & TIOCM_RNG) !== 0,
  };
}

/** Drives DTR and RTS (dropping then raising DTR is how an Arduino-style board is reset). */
export function setModemLines(fd: number, lines: ModemOutputs): void {
  let bits = modemBits(fd) & ~(TIOCM_DTR | TIOCM_RTS);
  if (lines.dtr) bits |= TIOCM_DTR;
  if (lines.rts) bits |= TIOCM_RTS;
  const arg = new Uint8Array(4);
  new DataView(arg.buffer).setInt32(0, bits, true);
  ioctl(fd, TIOCMSET, arg, "Setting the modem lines (TIOCMSET)");
}

/** Starts or stops sending a break condition. */
export function setBreak(fd: number, on: boolean): void {
  ioctl(fd, on ? TIOCSBRK : TIOCCBRK, null, "Setting the break condition");
}

/**
 * Claims the port: an advisory flock (what serialport, pyserial and friends check) plus TIOCEXCL,
 * which makes the kernel refuse further opens with EBUSY (root is exempt from TIOCEXCL).
 * Throws a TtyError with code "EBUSY" when another process holds the flock.
 */
export function lockExclusive(fd: number): void {
  const c = libc();
  if (c.flock(fd, LOCK_EX | LOCK_NB) === -1) {
    const errno = lastErrno();
    const code = errnoName(errno);
    if (code === "EWOULDBLOCK" || code === "EAGAIN") {
      throw new TtyError("EBUSY", osConstants.errno.EBUSY, "flock", "Another process has the port locked");
    }
    throw new TtyError(code, errno, "flock", `Locking the port failed: ${code} (${describeErrno(code)})`);
  }
  ioctl(fd, TIOCEXCL, null, "Claiming exclusive access (TIOCEXCL)");
}

/** Gives up TIOCEXCL so a tty that someone else still holds open is not left exclusive. */
export function unlockExclusive(fd: number): void {
  ioctl(fd, TIOCNXCL, null, "Releasing exclusive access (TIOCNXCL)");
}

/** Discards bytes received but not read and written but not yet sent (tcflush TCIOFLUSH). */
export function flushTty(fd: number): void {
  check(libc().tcflush(fd, TCIOFLUSH), "tcflush", "Flushing the port");
}

/** Bytes written but not yet sent by the driver (TIOCOUTQ); lets drain wait without blocking. */
export function outputQueueLength(fd: number): number {
  const count = new Uint8Array(4);
  ioctl(fd, TIOCOUTQ, count, "Reading the output queue (TIOCOUTQ)");
  return new DataView(count.buffer).getInt32(0, true);
}

const POLLIN = 1;
// One pollfd (int fd; short events; short revents) per thread that waits; reused, never shared
// across calls in flight (a thread makes one call at a time).
const pollFd = new Int32Array(2);

/**
 * Waits up to `timeoutMs` for bytes on a non-blocking tty and reads what is there into `buffer`,
 * blocking the calling thread (no event loop, two system calls). Returns the count read; 0 when
 * nothing came in time, the other end hung up or the read would block (the event loop's reader
 * reports hang-ups and errors). For a printer Worker's hot path, where an `ok` comes back within
 * microseconds and waking the event loop for it would cost more than the line itself.
 */
export function readWithin(fd: number, buffer: Uint8Array, timeoutMs: number): number {
  const c = libc();
  pollFd[0] = fd;
  pollFd[1] = POLLIN;
  if (c.poll(ptr(pollFd), 1, timeoutMs) <= 0 || ((pollFd[1]! >>> 16) & POLLIN) === 0) return 0;
  const n = Number(c.read(fd, ptr(buffer), buffer.length));
  return n > 0 ? n : 0;
}

/**
 * A second descriptor of the same open tty (dup(2)): the open file, its settings, lock and
 * modem lines stay as long as one of them is open. Throws a TtyError (EBADF: `fd` is not open).
 */
export function duplicateFd(fd: number): number {
  const copy = libc().dup(fd);
  if (copy === -1) {
    const errno = lastErrno();
    const code = errnoName(errno);
    throw new TtyError(code, errno, "dup", `Keeping the port open failed: ${code} (${describeErrno(code)})`);
  }
  return copy;
}
