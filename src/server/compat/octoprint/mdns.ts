/**
 * The few parts of DNS (RFC 1035) that multicast DNS service discovery (RFC 6762/6763) needs:
 * reading questions and writing PTR, SRV, TXT and A answers. Pure: bytes in, bytes out.
 */

export const TYPE = { A: 1, PTR: 12, TXT: 16, SRV: 33, ANY: 255 } as const;
const CLASS_IN = 1;
/** In an answer: replace cached records (RFC 6762 §10.2). In a question: unicast reply wanted. */
export const TOP_BIT = 0x8000;

export interface Question {
  name: string;
  type: number;
  unicast: boolean;
}

export interface Query {
  id: number;
  isResponse: boolean;
  questions: Question[];
}

export type Record =
  | { name: string; type: "PTR"; ttl: number; target: string }
  | { name: string; type: "SRV"; ttl: number; port: number; target: string }
  | { name: string; type: "TXT"; ttl: number; entries: string[] }
  | { name: string; type: "A"; ttl: number; address: string };

/** Reads a (possibly compressed) name at `offset`; returns it and where the name ended. */
function readName(buf: Uint8Array, offset: number, depth = 0): { name: string; end: number } {
  const labels: string[] = [];
  let pos = offset;
  let end = -1;
  for (let guard = 0; guard < 128; guard++) {
    if (pos >= buf.length) throw new Error("name runs past the packet");
    const len = buf[pos]!;
    if (len === 0) {
      if (end < 0) end = pos + 1;
      return { name: labels.join("."), end };
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length || depth > 16) throw new Error("bad compression pointer");
      const ptr = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (end < 0) end = pos + 2;
      const rest = readName(buf, ptr, depth + 1);
      if (rest.name) labels.push(rest.name);
      return { name: labels.join("."), end };
    }
    if (pos + 1 + len > buf.length) throw new Error("label runs past the packet");
    labels.push(new TextDecoder().decode(buf.subarray(pos + 1, pos + 1 + len)));
    pos += 1 + len;
  }
  throw new Error("name too long");
}

/** Parses a DNS message's header and questions; null if it is not a well-formed message. */
export function parseQuery(buf: Uint8Array): Query | null {
  try {
    if (buf.length < 12) return null;
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const id = view.getUint16(0);
    const flags = view.getUint16(2);
    const qdcount = view.getUint16(4);
    const questions: Question[] = [];
    let pos = 12;
    for (let i = 0; i < qdcount && i < 64; i++) {
      const { name, end } = readName(buf, pos);
      if (end + 4 > buf.length) return null;
      const type = view.getUint16(end);
      const cls = view.getUint16(end + 2);
      questions.push({ name: name.toLowerCase(), type, unicast: (cls & TOP_BIT) !== 0 });
      pos = end + 4;
    }
    return { id, isResponse: (flags & 0x8000) !== 0, questions };
  } catch {
    return null;
  }
}

function encodeName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split(".").filter(Boolean)) {
    const bytes = new TextEncoder().encode(label).subarray(0, 63);
    out.push(bytes.length, ...bytes);
  }
  out.push(0);
  return out;
}

const u16 = (n: number) => [(n >> 8) & 0xff, n & 0xff];
const u32 = (n: number) => [(n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];

function encodeRecord(r: Record, flush: boolean): number[] {
  let type: number;
  let data: number[];
  switch (r.type) {
    case "PTR":
      type = TYPE.PTR;
      data = encodeName(r.target);
      break;
    case "SRV":
      type = TYPE.SRV;
      data = [...u16(0), ...u16(0), ...u16(r.port), ...encodeName(r.target)];
      break;
    case "TXT":
      type = TYPE.TXT;
      data = r.entries.flatMap((e) => {
        const bytes = new TextEncoder().encode(e).subarray(0, 255);
        return [bytes.length, ...bytes];
      });
      if (data.length === 0) data = [0];
      break;
    case "A":
      type = TYPE.A;
      data = r.address.split(".").map(Number);
      break;
  }
  return [...encodeName(r.name), ...u16(type), ...u16(CLASS_IN | (flush ? TOP_BIT : 0)), ...u32(r.ttl), ...u16(data.length), ...data];
}

/**
 * A response with `answers` and `additionals`. Shared records (PTR) never set the cache-flush
 * bit; unique ones (SRV, TXT, A) do, except in legacy unicast replies (RFC 6762 §6.7).
 */
export function encodeResponse(id: number, answers: Record[], additionals: Record[] = [], legacy = false, questions: Question[] = []): Uint8Array {
  const flush = (r: Record) => !legacy && r.type !== "PTR";
  const bytes = [
    ...u16(id),
    ...u16(0x8400),
    ...u16(questions.length),
    ...u16(answers.length),
    ...u16(0),
    ...u16(additionals.length),
    ...questions.flatMap((q) => [...encodeName(q.name), ...u16(q.type), ...u16(CLASS_IN)]),
    ...answers.flatMap((r) => encodeRecord(r, flush(r))),
    ...additionals.flatMap((r) => encodeRecord(r, flush(r))),
  ];
  return new Uint8Array(bytes);
}

/** Reads the answer and additional records of a response (for tests and diagnostics). */
export function parseRecords(buf: Uint8Array): { name: string; type: number; ttl: number; data: Uint8Array; rdataOffset: number }[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const qd = view.getUint16(4);
  const count = view.getUint16(6) + view.getUint16(8) + view.getUint16(10);
  let pos = 12;
  for (let i = 0; i < qd; i++) pos = readName(buf, pos).end + 4;
  const out = [];
  for (let i = 0; i < count; i++) {
    const { name, end } = readName(buf, pos);
    const type = view.getUint16(end);
    const ttl = view.getUint32(end + 4);
    const len = view.getUint16(end + 8);
    out.push({ name, type, ttl, data: buf.subarray(end + 10, end + 10 + len), rdataOffset: end + 10 });
    pos = end + 10 + len;
  }
  return out;
}

/** A name inside a record's data (PTR/SRV targets may be compressed). */
export function nameAt(buf: Uint8Array, offset: number): string {
  return readName(buf, offset).name;
}
