/**
 * The defined function symbols of an ELF64 little-endian file (.symtab, else
 * .dynsym), for `ataru build` to insist that a function defines `entry` —
 * the linker only warns when the entry symbol is missing. Bounds-checked:
 * a malformed file gives an empty list, the loader says the rest.
 */
const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const STT_FUNC = 2;

export function definedFunctions(buf: Buffer): string[] {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) return [];
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  if (shentsize < 64 || shoff + shnum * shentsize > buf.length) return [];
  const section = (i: number) => {
    const o = shoff + i * shentsize;
    return { type: buf.readUInt32LE(o + 4), offset: Number(buf.readBigUInt64LE(o + 0x18)), size: Number(buf.readBigUInt64LE(o + 0x20)), link: buf.readUInt32LE(o + 0x28), entsize: Number(buf.readBigUInt64LE(o + 0x38)) };
  };
  const all = Array.from({ length: shnum }, (_, i) => section(i));
  const table = all.find((s) => s.type === SHT_SYMTAB) ?? all.find((s) => s.type === SHT_DYNSYM);
  if (!table || table.entsize < 24 || table.offset + table.size > buf.length || table.link >= shnum) return [];
  const strtab = all[table.link]!;
  if (strtab.offset + strtab.size > buf.length) return [];
  const names: string[] = [];
  for (let o = table.offset; o + 24 <= table.offset + table.size; o += table.entsize) {
    const info = buf[o + 4]!;
    const shndx = buf.readUInt16LE(o + 6);
    if ((info & 0xf) !== STT_FUNC || shndx === 0) continue;
    const start = strtab.offset + buf.readUInt32LE(o);
    const end = buf.indexOf(0, start);
    if (start >= strtab.offset + strtab.size || end < 0) continue;
    names.push(buf.toString('latin1', start, end));
  }
  return names;
}
