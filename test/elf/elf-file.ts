/**
 * A small reader/editor of x86-64 ELF files for the loader tests: finds the
 * header fields, program headers, dynamic entries, relocations and strings
 * of a fixture so that a test can corrupt exactly one of them.
 */
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;
export const DT_NEEDED = 1;
export const DT_STRTAB = 5;
export const DT_STRSZ = 10;
export const DT_RELA = 7;
export const DT_RELASZ = 8;
export const DT_JMPREL = 23;
export const DT_HASH = 4;
export const DT_SYMTAB = 6;
export const DT_PLTRELSZ = 2;

export interface Phdr {
  index: number;
  at: number; // file offset of this header
  type: number;
  flags: number;
  offset: bigint;
  vaddr: bigint;
  filesz: bigint;
  memsz: bigint;
}

export interface Rela {
  at: number; // file offset of this entry
  offset: bigint;
  type: number;
  sym: number;
}

export class ElfFile {
  constructor(readonly buf: Buffer) {}

  static copy(buf: Buffer): ElfFile {
    return new ElfFile(Buffer.from(buf));
  }

  get entry(): bigint {
    return this.buf.readBigUInt64LE(24);
  }
  set entry(v: bigint) {
    this.buf.writeBigUInt64LE(v, 24);
  }
  get phoff(): number {
    return Number(this.buf.readBigUInt64LE(32));
  }
  get phnum(): number {
    return this.buf.readUInt16LE(56);
  }

  phdrs(): Phdr[] {
    const out: Phdr[] = [];
    for (let i = 0; i < this.phnum; i++) {
      const at = this.phoff + i * 56;
      out.push({
        index: i,
        at,
        type: this.buf.readUInt32LE(at),
        flags: this.buf.readUInt32LE(at + 4),
        offset: this.buf.readBigUInt64LE(at + 8),
        vaddr: this.buf.readBigUInt64LE(at + 16),
        filesz: this.buf.readBigUInt64LE(at + 32),
        memsz: this.buf.readBigUInt64LE(at + 40),
      });
    }
    return out;
  }

  loads(): Phdr[] {
    return this.phdrs().filter((p) => p.type === PT_LOAD);
  }

  setPhdr(p: Phdr, field: 'flags' | 'offset' | 'vaddr' | 'filesz' | 'memsz', v: bigint | number): void {
    const off = { flags: 4, offset: 8, vaddr: 16, filesz: 32, memsz: 40 }[field];
    if (field === 'flags') this.buf.writeUInt32LE(Number(v), p.at + off);
    else this.buf.writeBigUInt64LE(BigInt(v), p.at + off);
  }

  /** File offset of a virtual address inside a PT_LOAD's file-backed part. */
  fileOffset(vaddr: bigint): number {
    for (const p of this.loads()) {
      if (vaddr >= p.vaddr && vaddr < p.vaddr + p.filesz) return Number(p.offset + (vaddr - p.vaddr));
    }
    throw new Error(`vaddr 0x${vaddr.toString(16)} is not file-backed`);
  }

  /** Dynamic entries with the file offset of each. */
  dynamic(): { tag: number; val: bigint; at: number }[] {
    const dyn = this.phdrs().find((p) => p.type === PT_DYNAMIC);
    if (!dyn) return [];
    const out = [];
    for (let at = Number(dyn.offset); at < Number(dyn.offset + dyn.filesz); at += 16) {
      const tag = Number(this.buf.readBigInt64LE(at));
      if (tag === 0) break;
      out.push({ tag, val: this.buf.readBigUInt64LE(at + 8), at });
    }
    return out;
  }

  dyn(tag: number): bigint | undefined {
    return this.dynamic().find((d) => d.tag === tag)?.val;
  }

  /** File offset of the NUL-terminated dynamic string `s`. */
  dynstrOffset(s: string): number {
    const base = this.fileOffset(this.dyn(DT_STRTAB)!);
    const size = Number(this.dyn(DT_STRSZ)!);
    const table = this.buf.subarray(base, base + size);
    const needle = Buffer.from(s + '\0');
    for (let i = table.indexOf(needle); i >= 0; i = table.indexOf(needle, i + 1)) {
      if (i === 0 || table[i - 1] === 0) return base + i;
    }
    throw new Error(`string ${s} not in the dynamic string table`);
  }

  /** Replaces a dynamic string by another of the same length. */
  renameDynstr(from: string, to: string): void {
    if (from.length !== to.length) throw new Error('same length only');
    this.buf.write(to, this.dynstrOffset(from), 'latin1');
  }

  /** The NUL-terminated string at offset off of the dynamic string table. */
  dynstr(off: number): string {
    const base = this.fileOffset(this.dyn(DT_STRTAB)!) + off;
    return this.buf.toString('latin1', base, this.buf.indexOf(0, base));
  }

  /** Dynamic symbols (count from DT_HASH's nchain). */
  symbols(): { name: string; value: bigint; size: bigint; defined: boolean }[] {
    const count = this.buf.readUInt32LE(this.fileOffset(this.dyn(DT_HASH)!) + 4);
    const base = this.fileOffset(this.dyn(DT_SYMTAB)!);
    const out = [];
    for (let i = 0; i < count; i++) {
      const at = base + i * 24;
      out.push({
        name: this.dynstr(this.buf.readUInt32LE(at)),
        defined: this.buf.readUInt16LE(at + 6) !== 0,
        value: this.buf.readBigUInt64LE(at + 8),
        size: this.buf.readBigUInt64LE(at + 16),
      });
    }
    return out;
  }

  relocations(): Rela[] {
    const out: Rela[] = [];
    for (const [tab, size] of [
      [DT_RELA, DT_RELASZ],
      [DT_JMPREL, DT_PLTRELSZ],
    ]) {
      const addr = this.dyn(tab);
      if (addr === undefined) continue;
      const base = this.fileOffset(addr);
      for (let at = base; at < base + Number(this.dyn(size) ?? 0n); at += 24) {
        const info = this.buf.readBigUInt64LE(at + 8);
        out.push({
          at,
          offset: this.buf.readBigUInt64LE(at),
          type: Number(info & 0xffffffffn),
          sym: Number(info >> 32n),
        });
      }
    }
    return out;
  }

  setRela(r: Rela, v: { offset?: bigint; type?: number; sym?: number }): void {
    if (v.offset !== undefined) this.buf.writeBigUInt64LE(v.offset, r.at);
    const type = v.type ?? r.type;
    const sym = v.sym ?? r.sym;
    this.buf.writeBigUInt64LE((BigInt(sym) << 32n) | BigInt(type), r.at + 8);
  }
}
