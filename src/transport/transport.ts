/**
 * A byte pipe to a printer. The protocol engine never sees a transport; the printer controller
 * moves bytes between the two. Implementations: `serial.ts` (a tty through our termios binding)
 * and `../virtual/transport.ts` (the built-in virtual printer, in-process).
 */
export interface Transport {
  /** What the user sees as the connection, e.g. "/dev/ttyUSB0 @ 250000" or "virtual". */
  readonly description: string;
  /** Opens the link; rejects with a {@link TransportError} that says what went wrong. */
  open(handlers: TransportHandlers): Promise<void>;
  /** Queues bytes for the wire. Order is preserved; resolves once handed to the OS. */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes the link; `handlers.closed` is not called for a close we asked for. */
  close(): Promise<void>;
  /**
   * Where the link can: waits up to `timeoutMs` for bytes, blocking the thread, and hands them to
   * `handlers.data` before returning true; false when none came in time. Lets a printer's thread
   * take an answer that comes back within microseconds without a turn of its event loop.
   */
  receiveNow?(timeoutMs: number): boolean;
}

export interface TransportHandlers {
  /** Bytes as they arrive, in arbitrary chunks. */
  data(chunk: Uint8Array): void;
  /** The link went away on its own (cable pulled, device reset, pty closed). */
  closed(error: TransportError): void;
}

/** Stable codes so the UI can give a hint for each. */
export type TransportErrorCode =
  | "not_found" // the device path does not exist
  | "permission" // no read/write permission on the device
  | "busy" // another program holds the port
  | "bad_baud" // the driver refused the baud rate
  | "io" // read/write failed, e.g. device unplugged
  | "closed"; // the other end closed

export class TransportError extends Error {
  constructor(
    readonly code: TransportErrorCode,
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = "TransportError";
  }
}
