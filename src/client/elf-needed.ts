/**
 * The DT_NEEDED names of an x86-64 ELF file, so that `ataru deploy` can
 * upload a function's libraries beside it (the server finds libraries only
 * among an app's own uploads). A best-effort reader: anything malformed
 * gives [] and the server's loader reports the real problem.
 */
const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;

export function neededLibraries(buf: Buffer): string[] {
  try {
    if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) return [];
    const phoff = Number(buf.readBigUInt64LE(32));
    const phentsize = buf.readUInt16LE(54);
    const phnum = buf.readUInt16LE(56);
    const loads: { vaddr: number; offset: number; filesz: number }[] = [];
    let dyn: { offset: number; filesz: number } | undefined;
    for (let i = 0; i < phnum; i++) {
      const at = phoff + i * phentsize;
      const type = buf.readUInt32LE(at);
      const ph = { offset: Number(buf.readBigUInt64LE(at + 8)), vaddr: Number(buf.readBigUInt64LE(at + 16)), filesz: Number(buf.readBigUInt64LE(at + 32)) };
      if (type === PT_LOAD) loads.push(ph);
      else if (type === PT_DYNAMIC) dyn = ph;
    }
    if (!dyn) return [];
    const needed: number[] = [];
    let strtab: number | undefined;
    for (let at = dyn.offset; at + 16 <= dyn.offset + dyn.filesz; at += 16) {
      const tag = buf.readBigInt64LE(at);
      if (tag === DT_NULL) break;
      const val = Number(buf.readBigUInt64LE(at + 8));
      if (tag === DT_NEEDED) needed.push(val);
      else if (tag === DT_STRTAB) strtab = val;
    }
    const seg = strtab === undefined ? undefined : loads.find((l) => strtab! >= l.vaddr && strtab! < l.vaddr + l.filesz);
    if (!seg) return [];
    const base = strtab! - seg.vaddr + seg.offset;
    return needed.map((off) => {
      const end = buf.indexOf(0, base + off);
      if (end < 0) throw new RangeError('unterminated string');
      return buf.toString('latin1', base + off, end);
    });
  } catch {
    return [];
  }
}
