/**
 * Reads from a 64-bit little-endian ELF executable the newest GNU C library version it needs (its
 * `.gnu.version_r` entries such as GLIBC_2.17), so `bun run release` states a real requirement
 * instead of a guessed one. Only the headers are read, not the whole 100 MB file.
 */

const SHT_GNU_VERNEED = 0x6ffffffe;

/** "2.17" for a binary whose newest GLIBC_x.y symbol version is 2.17; null when it needs none. */
export async function requiredGlibc(path: string): Promise<string | null> {
  const file = Bun.file(path);
  const read = async (offset: number, length: number) => new DataView(await file.slice(offset, offset + length).arrayBuffer());
  const header = await read(0, 64);
  if (header.byteLength < 64 || header.getUint32(0) !== 0x7f454c46) throw new Error(`${path} is not an ELF executable`);
  if (header.getUint8(4) !== 2 || header.getUint8(5) !== 1) throw new Error(`${path} is not a 64-bit little-endian ELF executable`);
  const shoff = Number(header.getBigUint64(0x28, true));
  const shentsize = header.getUint16(0x3a, true);
  const shnum = header.getUint16(0x3c, true);
  const sections = await read(shoff, shentsize * shnum);
  const section = (i: number) => {
    const at = i * shentsize;
    return {
      type: sections.getUint32(at + 4, true),
      offset: Number(sections.getBigUint64(at + 0x18, true)),
      size: Number(sections.getBigUint64(at + 0x20, true)),
      link: sections.getUint32(at + 0x28, true),
      info: sections.getUint32(at + 0x2c, true),
    };
  };
  let newest: string | null = null;
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (s.type !== SHT_GNU_VERNEED) continue;
    const strtab = section(s.link);
    const names = new Uint8Array(await file.slice(strtab.offset, strtab.offset + strtab.size).arrayBuffer());
    const name = (at: number) => new TextDecoder().decode(names.subarray(at, names.indexOf(0, at)));
    const needs = await read(s.offset, s.size);
    let need = 0;
    for (let n = 0; n < s.info; n++) {
      const count = needs.getUint16(need + 2, true);
      let aux = need + needs.getUint32(need + 8, true);
      for (let a = 0; a < count; a++) {
        const m = /^GLIBC_(\d+(?:\.\d+)+)$/.exec(name(needs.getUint32(aux + 8, true)));
        if (m && (newest === null || Bun.semver.order(pad(m[1]!), pad(newest)) > 0)) newest = m[1]!;
        aux += needs.getUint32(aux + 12, true);
      }
      need += needs.getUint32(need + 12, true);
    }
  }
  return newest;
}

/** "2.17" → "2.17.0", so semver ordering applies. */
function pad(version: string): string {
  const parts = version.split(".");
  while (parts.length < 3) parts.push("0");
  return parts.slice(0, 3).join(".");
}
