/*
 * elf.c — validation of x86-64 ELF images and bounds-checked access to their
 * dynamic tables (elf_image.h). Nothing here trusts a field of the file:
 * every offset and size is checked against the file before it is read, and
 * every read copies into an aligned local (the file buffer may be unaligned).
 */
#include "elf_image.h"
#include "loader.h"
#include "../common/ataru_abi.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE ATARU_PAGE_SIZE

static int fail(char *err, size_t errlen, const char *label, const char *fmt, ...) {
  if (err && errlen) {
    int n = snprintf(err, errlen, "%s: ", label);
    if (n < 0) n = 0;
    if ((size_t)n < errlen) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
      va_end(ap);
    }
  }
  return -1;
}

#define FAIL(...) fail(err, errlen, label, __VA_ARGS__)
#define HX(v) ((unsigned long long)(v))

/* [off, off+len) inside a buffer of size bytes, without overflow. */
static int in_file(size_t size, uint64_t off, uint64_t len) {
  return off <= size && len <= size - off;
}

static uint64_t page_down(uint64_t v) { return v & ~(PAGE - 1); }
static uint64_t page_up(uint64_t v) { return (v + PAGE - 1) & ~(PAGE - 1); }

static const char *machine_name(unsigned m) {
  switch (m) {
  case EM_386: return "i386";
  case EM_MIPS: return "MIPS";
  case EM_PPC: return "PowerPC";
  case EM_PPC64: return "PowerPC64";
  case EM_ARM: return "ARM";
  case EM_AARCH64: return "AArch64";
  case EM_RISCV: return "RISC-V";
  case EM_S390: return "S/390";
  case EM_SPARCV9: return "SPARC V9";
  default: return "unknown";
  }
}

static const char *kind_name(enum ataru_elf_kind kind) {
  switch (kind) {
  case ATARU_ELF_RUNTIME: return "the runtime";
  case ATARU_ELF_SHARED: return "a shared image";
  case ATARU_ELF_FUNCTION: return "a function";
  default: return "a library";
  }
}

const char *elf_reloc_name(uint32_t type) {
  switch (type) {
  case R_X86_64_NONE: return "R_X86_64_NONE";
  case R_X86_64_64: return "R_X86_64_64";
  case R_X86_64_PC32: return "R_X86_64_PC32";
  case R_X86_64_GOT32: return "R_X86_64_GOT32";
  case R_X86_64_PLT32: return "R_X86_64_PLT32";
  case R_X86_64_COPY: return "R_X86_64_COPY";
  case R_X86_64_GLOB_DAT: return "R_X86_64_GLOB_DAT";
  case R_X86_64_JUMP_SLOT: return "R_X86_64_JUMP_SLOT";
  case R_X86_64_RELATIVE: return "R_X86_64_RELATIVE";
  case R_X86_64_GOTPCREL: return "R_X86_64_GOTPCREL";
  case R_X86_64_32: return "R_X86_64_32";
  case R_X86_64_32S: return "R_X86_64_32S";
  case R_X86_64_16: return "R_X86_64_16";
  case R_X86_64_PC16: return "R_X86_64_PC16";
  case R_X86_64_8: return "R_X86_64_8";
  case R_X86_64_PC8: return "R_X86_64_PC8";
  case R_X86_64_DTPMOD64: return "R_X86_64_DTPMOD64";
  case R_X86_64_DTPOFF64: return "R_X86_64_DTPOFF64";
  case R_X86_64_TPOFF64: return "R_X86_64_TPOFF64";
  case R_X86_64_PC64: return "R_X86_64_PC64";
  case R_X86_64_IRELATIVE: return "R_X86_64_IRELATIVE";
  case R_X86_64_RELATIVE64: return "R_X86_64_RELATIVE64";
  default: return "unknown";
  }
}

/* Bytes a supported relocation writes; 0 for unsupported types. */
static unsigned reloc_width(uint32_t type) {
  switch (type) {
  case R_X86_64_NONE: return 1; /* writes nothing; width only for checks */
  case R_X86_64_64:
  case R_X86_64_GLOB_DAT:
  case R_X86_64_JUMP_SLOT:
  case R_X86_64_RELATIVE:
  case R_X86_64_COPY: return 8;
  case R_X86_64_PC32:
  case R_X86_64_32:
  case R_X86_64_32S: return 4;
  default: return 0;
  }
}

int elf_in_segment(const struct elf_image *im, uint64_t vaddr, uint64_t len, uint32_t flags) {
  for (int i = 0; i < im->nph; i++) {
    const Elf64_Phdr *p = &im->ph[i];
    if (p->p_type != PT_LOAD || (p->p_flags & flags) != flags) continue;
    if (vaddr >= p->p_vaddr && len <= p->p_memsz && vaddr - p->p_vaddr <= p->p_memsz - len)
      return 1;
  }
  return 0;
}

/* File offset of [vaddr, vaddr+len) when it lies in the file-backed part of
 * one PT_LOAD; UINT64_MAX otherwise. */
static uint64_t file_offset(const struct elf_image *im, uint64_t vaddr, uint64_t len) {
  for (int i = 0; i < im->nph; i++) {
    const Elf64_Phdr *p = &im->ph[i];
    if (p->p_type != PT_LOAD) continue;
    if (vaddr >= p->p_vaddr && len <= p->p_filesz && vaddr - p->p_vaddr <= p->p_filesz - len)
      return p->p_offset + (vaddr - p->p_vaddr);
  }
  return UINT64_MAX;
}

static const char *str_at(const uint8_t *data, uint64_t tab, uint64_t size, uint64_t off) {
  if (off >= size) return NULL;
  const char *s = (const char *)data + tab + off;
  return memchr(s, 0, size - off) ? s : NULL;
}

const char *elf_dynstr(const struct elf_image *im, uint64_t off) {
  return str_at(im->data, im->dynstr_off, im->dynstr_size, off);
}

Elf64_Sym elf_dynsym(const struct elf_image *im, uint64_t idx) {
  Elf64_Sym s;
  memcpy(&s, im->data + im->dynsym_off + idx * sizeof s, sizeof s);
  return s;
}

Elf64_Rela elf_rela(const struct elf_image *im, int jmprel, uint64_t i) {
  Elf64_Rela r;
  memcpy(&r, im->data + (jmprel ? im->jmprel_off : im->rela_off) + i * sizeof r, sizeof r);
  return r;
}

static int exported(const Elf64_Sym *s) {
  unsigned bind = ELF64_ST_BIND(s->st_info), vis = ELF64_ST_VISIBILITY(s->st_other);
  return s->st_shndx != SHN_UNDEF && (bind == STB_GLOBAL || bind == STB_WEAK) &&
         (vis == STV_DEFAULT || vis == STV_PROTECTED);
}

/* FNV-1a: any string hash does; this one is short and has no tables. */
static uint32_t name_hash(const char *n) {
  uint32_t h = 2166136261u;
  for (; *n; n++) h = (h ^ (uint8_t)*n) * 16777619u;
  return h;
}

/* The export index: an open-addressing table of dynsym indexes (+1; 0 is
 * empty), at most half full, filled in symbol order so that a lookup meets
 * the first definition of a name first, as the linear scan did. Linking is
 * then linear in the relocations instead of relocations × symbols. */
int elf_index_exports(struct elf_image *im) {
  uint64_t want = 2 * (im->dynsym_count ? im->dynsym_count : 1), n = 16;
  while (n < want) n *= 2;
  uint32_t *slot = calloc(n, sizeof *slot);
  if (!slot) return -1;
  for (uint64_t i = 1; i < im->dynsym_count; i++) {
    Elf64_Sym s = elf_dynsym(im, i);
    const char *name = exported(&s) ? elf_dynstr(im, s.st_name) : NULL;
    if (!name) continue;
    uint64_t k = name_hash(name) & (n - 1);
    while (slot[k]) k = (k + 1) & (n - 1);
    slot[k] = (uint32_t)i + 1;
  }
  im->export_slot = slot;
  im->export_slots = n;
  return 0;
}

void elf_free_index(struct elf_image *im) {
  free(im->export_slot);
  im->export_slot = NULL;
  im->export_slots = 0;
}

uint64_t elf_name_compares;

int elf_find_export(const struct elf_image *im, const char *name, Elf64_Sym *out) {
  if (im->export_slot) {
    uint64_t n = im->export_slots;
    for (uint64_t k = name_hash(name) & (n - 1); im->export_slot[k]; k = (k + 1) & (n - 1)) {
      Elf64_Sym s = elf_dynsym(im, im->export_slot[k] - 1);
      const char *got = elf_dynstr(im, s.st_name);
      __atomic_add_fetch(&elf_name_compares, 1, __ATOMIC_RELAXED);
      if (got && strcmp(got, name) == 0) {
        *out = s;
        return 1;
      }
    }
    return 0;
  }
  for (uint64_t i = 1; i < im->dynsym_count; i++) {
    Elf64_Sym s = elf_dynsym(im, i);
    const char *n = exported(&s) ? elf_dynstr(im, s.st_name) : NULL;
    if (n) __atomic_add_fetch(&elf_name_compares, 1, __ATOMIC_RELAXED);
    if (n && strcmp(n, name) == 0) {
      *out = s;
      return 1;
    }
  }
  return 0;
}

int elf_find_symbol(const struct elf_image *im, const char *name, Elf64_Sym *out) {
  for (uint64_t i = 1; i < im->symtab_count; i++) {
    Elf64_Sym s;
    memcpy(&s, im->data + im->symtab_off + i * sizeof s, sizeof s);
    if (s.st_shndx == SHN_UNDEF) continue;
    const char *n = str_at(im->data, im->strtab_off, im->strtab_size, s.st_name);
    if (n && strcmp(n, name) == 0) {
      *out = s;
      return 1;
    }
  }
  return elf_find_export(im, name, out);
}

/* ---- validation, one concern per function ---------------------------- */

static int check_header(struct elf_image *im, const char *label, char *err, size_t errlen) {
  const uint8_t *d = im->data;
  if (im->size < sizeof(Elf64_Ehdr))
    return FAIL("file is %zu bytes, shorter than an ELF header (64 bytes)", im->size);
  if (memcmp(d, ELFMAG, SELFMAG) != 0) return FAIL("not an ELF file (bad magic)");
  if (d[EI_CLASS] == ELFCLASS32) return FAIL("32-bit ELF (ELFCLASS32) is not supported");
  if (d[EI_CLASS] != ELFCLASS64) return FAIL("bad ELF class %u, expected ELFCLASS64 (2)", d[EI_CLASS]);
  if (d[EI_DATA] == ELFDATA2MSB)
    return FAIL("big-endian ELF (ELFDATA2MSB) is not supported, expected little-endian");
  if (d[EI_DATA] != ELFDATA2LSB) return FAIL("bad ELF data encoding %u, expected little-endian (1)", d[EI_DATA]);
  if (d[EI_VERSION] != EV_CURRENT) return FAIL("ELF identification version %u, expected 1", d[EI_VERSION]);
  memcpy(&im->eh, d, sizeof im->eh);
  const Elf64_Ehdr *e = &im->eh;
  if (e->e_version != EV_CURRENT) return FAIL("ELF version %u, expected 1", e->e_version);
  if (e->e_machine != EM_X86_64)
    return FAIL("machine %u (%s), expected x86-64 (62)", e->e_machine, machine_name(e->e_machine));
  unsigned want = im->kind == ATARU_ELF_RUNTIME ? ET_EXEC : ET_DYN;
  if (e->e_type != want)
    return FAIL("ELF type %u, expected %s (%u) for %s%s", e->e_type, want == ET_EXEC ? "ET_EXEC" : "ET_DYN",
                want, kind_name(im->kind),
                want == ET_DYN ? " (build with sdk/ataru.mk: position-independent)" : "");
  if (e->e_ehsize != sizeof(Elf64_Ehdr)) return FAIL("ELF header size %u, expected 64", e->e_ehsize);
  return 0;
}

static int check_tables(struct elf_image *im, const char *label, char *err, size_t errlen) {
  const Elf64_Ehdr *e = &im->eh;
  if (e->e_phnum == 0) return FAIL("no program headers");
  if (e->e_phentsize != sizeof(Elf64_Phdr))
    return FAIL("program header entry size %u, expected 56", e->e_phentsize);
  if (e->e_phnum > ELF_MAX_PHDRS) return FAIL("%u program headers, at most %d allowed", e->e_phnum, ELF_MAX_PHDRS);
  if (!in_file(im->size, e->e_phoff, (uint64_t)e->e_phnum * sizeof(Elf64_Phdr)))
    return FAIL("program header table (offset 0x%llx, %u entries) extends past the end of the file (%zu bytes)",
                HX(e->e_phoff), e->e_phnum, im->size);
  im->nph = e->e_phnum;
  memcpy(im->ph, im->data + e->e_phoff, (size_t)im->nph * sizeof(Elf64_Phdr));

  if (e->e_shnum > ELF_MAX_SECTIONS)
    return FAIL("section count %u exceeds %d", e->e_shnum, ELF_MAX_SECTIONS);
  if (e->e_shnum == 0) return 0;
  if (e->e_shentsize != sizeof(Elf64_Shdr))
    return FAIL("section header entry size %u, expected 64", e->e_shentsize);
  if (!in_file(im->size, e->e_shoff, (uint64_t)e->e_shnum * sizeof(Elf64_Shdr)))
    return FAIL("section header table (offset 0x%llx, %u entries) extends past the end of the file (%zu bytes)",
                HX(e->e_shoff), e->e_shnum, im->size);
  if (e->e_shstrndx >= e->e_shnum)
    return FAIL("section name table index %u out of range (%u sections)", e->e_shstrndx, e->e_shnum);
  for (unsigned i = 0; i < e->e_shnum; i++) {
    Elf64_Shdr s;
    memcpy(&s, im->data + e->e_shoff + i * sizeof s, sizeof s);
    if (s.sh_type == SHT_NULL || s.sh_type == SHT_NOBITS) continue;
    if (!in_file(im->size, s.sh_offset, s.sh_size))
      return FAIL("section %u (offset 0x%llx, size 0x%llx) extends past the end of the file (%zu bytes)", i,
                  HX(s.sh_offset), HX(s.sh_size), im->size);
    if (s.sh_type != SHT_SYMTAB) continue;
    /* .symtab: only the runtime's entry symbols are looked up in it. */
    if (s.sh_entsize != sizeof(Elf64_Sym) || s.sh_link >= e->e_shnum)
      return FAIL("section %u: malformed symbol table (entsize %llu, link %u)", i, HX(s.sh_entsize), s.sh_link);
    Elf64_Shdr str;
    memcpy(&str, im->data + e->e_shoff + s.sh_link * sizeof str, sizeof str);
    if (str.sh_type != SHT_STRTAB || !in_file(im->size, str.sh_offset, str.sh_size))
      return FAIL("section %u: the string table of the symbol table is malformed", i);
    im->symtab_off = s.sh_offset;
    im->symtab_count = s.sh_size / sizeof(Elf64_Sym);
    im->strtab_off = str.sh_offset;
    im->strtab_size = str.sh_size;
  }
  return 0;
}

static int check_segments(struct elf_image *im, const char *label, char *err, size_t errlen) {
  int have_load = 0, have_code = 0, ndyn = 0;
  uint64_t prev_end = 0;
  int prev = -1;
  for (int i = 0; i < im->nph; i++) {
    const Elf64_Phdr *p = &im->ph[i];
    switch (p->p_type) {
    case PT_INTERP:
      return FAIL("has an interpreter (PT_INTERP); functions run without one (link with -Wl,--no-dynamic-linker)");
    case PT_TLS:
      return FAIL("uses thread-local storage (PT_TLS), which is not supported");
    case PT_DYNAMIC:
      if (++ndyn > 1) return FAIL("more than one PT_DYNAMIC");
      break;
    case PT_GNU_RELRO:
      if (p->p_vaddr + p->p_memsz < p->p_vaddr) return FAIL("PT_GNU_RELRO range overflows");
      im->relro_lo = p->p_vaddr;
      im->relro_hi = p->p_vaddr + p->p_memsz;
      break;
    }
    if (p->p_type != PT_LOAD) continue;
    if (p->p_filesz > p->p_memsz)
      return FAIL("segment %d filesz 0x%llx exceeds memsz 0x%llx", i, HX(p->p_filesz), HX(p->p_memsz));
    if (!in_file(im->size, p->p_offset, p->p_filesz))
      return FAIL("segment %d file range 0x%llx+0x%llx extends past the end of the file (%zu bytes)", i,
                  HX(p->p_offset), HX(p->p_filesz), im->size);
    if (p->p_memsz > ELF_IMAGE_LIMIT)
      return FAIL("segment %d memsz 0x%llx exceeds limit 0x%llx", i, HX(p->p_memsz), HX(ELF_IMAGE_LIMIT));
    if (p->p_align & (p->p_align - 1))
      return FAIL("segment %d p_align 0x%llx is not a power of two", i, HX(p->p_align));
    if (p->p_align > ATARU_IMAGE_ALIGN)
      return FAIL("segment %d p_align 0x%llx exceeds 0x%llx, the image slot alignment", i, HX(p->p_align),
                  HX(ATARU_IMAGE_ALIGN));
    if ((p->p_flags & PF_W) && (p->p_flags & PF_X))
      return FAIL("segment %d is writable and executable (W^X)", i);
    if (p->p_vaddr > ELF_IMAGE_LIMIT * 2 && im->kind != ATARU_ELF_RUNTIME)
      return FAIL("segment %d vaddr 0x%llx is too high for a position-independent image", i, HX(p->p_vaddr));
    if (p->p_memsz == 0) continue;
    uint64_t end = p->p_vaddr + p->p_memsz;
    if (end < p->p_vaddr) return FAIL("segment %d address range overflows", i);
    if (prev >= 0 && p->p_vaddr < prev_end)
      return FAIL("segments %d and %d overlap or are out of order (0x%llx..0x%llx and 0x%llx..0x%llx)", prev, i,
                  HX(im->ph[prev].p_vaddr), HX(prev_end), HX(p->p_vaddr), HX(end));
    if (im->kind == ATARU_ELF_RUNTIME &&
        (p->p_vaddr < ATARU_RUNTIME_BASE || end > ATARU_RUNTIME_BASE + ATARU_RUNTIME_MAX))
      return FAIL("segment %d (0x%llx..0x%llx) is outside the runtime area 0x%llx..0x%llx", i, HX(p->p_vaddr),
                  HX(end), HX(ATARU_RUNTIME_BASE), HX(ATARU_RUNTIME_BASE + ATARU_RUNTIME_MAX));
    if (!have_load) im->lo = page_down(p->p_vaddr);
    im->hi = page_up(end);
    have_load = 1;
    have_code |= (p->p_flags & PF_X) != 0;
    prev = i;
    prev_end = end;
  }
  if (!have_load) return FAIL("no loadable segment (PT_LOAD)");
  if (im->hi - im->lo > ELF_IMAGE_LIMIT)
    return FAIL("image spans 0x%llx bytes, over the limit 0x%llx", HX(im->hi - im->lo), HX(ELF_IMAGE_LIMIT));
  if ((im->kind == ATARU_ELF_FUNCTION || im->kind == ATARU_ELF_RUNTIME) && !have_code)
    return FAIL("no executable segment");
  if ((im->kind == ATARU_ELF_FUNCTION || im->kind == ATARU_ELF_RUNTIME) && !elf_in_segment(im, im->eh.e_entry, 1, PF_X))
    return FAIL("entry point 0x%llx is not inside an executable segment", HX(im->eh.e_entry));
  return 0;
}

/* Reads PT_DYNAMIC and records the tables it points to. */
static int read_dynamic(struct elf_image *im, const char *label, char *err, size_t errlen) {
  const Elf64_Phdr *dyn = NULL;
  for (int i = 0; i < im->nph; i++)
    if (im->ph[i].p_type == PT_DYNAMIC) dyn = &im->ph[i];
  im->soname = -1;
  if (!dyn) return 0;
  if (dyn->p_filesz % sizeof(Elf64_Dyn) || !in_file(im->size, dyn->p_offset, dyn->p_filesz) ||
      file_offset(im, dyn->p_vaddr, dyn->p_filesz) != dyn->p_offset)
    return FAIL("dynamic section (offset 0x%llx, size 0x%llx) is not inside a loaded segment of the file",
                HX(dyn->p_offset), HX(dyn->p_filesz));
  uint64_t strtab = 0, strsz = 0, symtab = 0, syment = sizeof(Elf64_Sym), hash = 0;
  uint64_t rela = 0, relasz = 0, relaent = sizeof(Elf64_Rela), jmprel = 0, pltrelsz = 0;
  int have_strtab = 0, have_symtab = 0, have_hash = 0, have_rela = 0, have_jmprel = 0, terminated = 0;
  uint64_t n = dyn->p_filesz / sizeof(Elf64_Dyn);
  for (uint64_t i = 0; i < n && !terminated; i++) {
    Elf64_Dyn d;
    memcpy(&d, im->data + dyn->p_offset + i * sizeof d, sizeof d);
    uint64_t v = d.d_un.d_val;
    switch (d.d_tag) {
    case DT_NULL: terminated = 1; break;
    case DT_NEEDED:
      if (im->nneeded == ELF_MAX_NEEDED) return FAIL("more than %d DT_NEEDED libraries", ELF_MAX_NEEDED);
      im->needed[im->nneeded++] = v;
      break;
    case DT_SONAME: im->soname = (int64_t)v; break;
    case DT_STRTAB: strtab = v, have_strtab = 1; break;
    case DT_STRSZ: strsz = v; break;
    case DT_SYMTAB: symtab = v, have_symtab = 1; break;
    case DT_SYMENT: syment = v; break;
    case DT_HASH: hash = v, have_hash = 1; break;
    case DT_RELA: rela = v, have_rela = 1; break;
    case DT_RELASZ: relasz = v; break;
    case DT_RELAENT: relaent = v; break;
    case DT_JMPREL: jmprel = v, have_jmprel = 1; break;
    case DT_PLTRELSZ: pltrelsz = v; break;
    case DT_PLTREL:
      if (v != DT_RELA) return FAIL("DT_PLTREL is %llu, only RELA (7) is supported", HX(v));
      break;
    case DT_REL:
    case DT_RELSZ: return FAIL("REL relocations (DT_REL) are not supported, only RELA");
    case DT_RELR:
    case DT_RELRSZ: return FAIL("packed relative relocations (DT_RELR) are not supported");
    case DT_TEXTREL: return FAIL("text relocations (DT_TEXTREL) are not supported: compile with -fPIC/-fPIE");
    case DT_FLAGS:
      if (v & DF_TEXTREL) return FAIL("text relocations (DF_TEXTREL) are not supported: compile with -fPIC/-fPIE");
      if (v & DF_STATIC_TLS) return FAIL("uses thread-local storage (DF_STATIC_TLS), which is not supported");
      break;
    case DT_INIT:
    case DT_FINI:
      return FAIL("has %s code, which Ataru never runs", d.d_tag == DT_INIT ? "initialization (DT_INIT)"
                                                                          : "finalization (DT_FINI)");
    case DT_INIT_ARRAYSZ:
    case DT_PREINIT_ARRAYSZ:
      if (v) return FAIL("has constructors (DT_INIT_ARRAY), which Ataru never runs");
      break;
    }
  }
  if (!terminated) return FAIL("dynamic section has no DT_NULL terminator");

  if (have_strtab) {
    uint64_t off = file_offset(im, strtab, strsz);
    if (off == UINT64_MAX || strsz == 0)
      return FAIL("string table DT_STRTAB 0x%llx (DT_STRSZ 0x%llx) is not inside the file-backed part of a "
                  "loaded segment", HX(strtab), HX(strsz));
    im->dynstr_off = off;
    im->dynstr_size = strsz;
  } else if (im->nneeded || have_symtab) {
    return FAIL("dynamic section has no string table (DT_STRTAB)");
  }
  for (int i = 0; i < im->nneeded; i++) {
    const char *name = elf_dynstr(im, im->needed[i]);
    if (!name) return FAIL("DT_NEEDED %d: name offset 0x%llx is outside the string table", i, HX(im->needed[i]));
    if (!*name || strchr(name, '/') || strstr(name, ".."))
      return FAIL("DT_NEEDED \"%s\" must be a plain file name (no '/' or '..')", name);
  }
  if (im->soname >= 0 && !elf_dynstr(im, (uint64_t)im->soname))
    return FAIL("DT_SONAME offset 0x%llx is outside the string table", HX(im->soname));

  if (have_symtab) {
    if (syment != sizeof(Elf64_Sym)) return FAIL("DT_SYMENT %llu, expected 24", HX(syment));
    uint64_t count = 0;
    if (have_hash) {
      uint64_t off = file_offset(im, hash, 8);
      if (off == UINT64_MAX) return FAIL("hash table DT_HASH 0x%llx is not inside the file", HX(hash));
      uint32_t nchain;
      memcpy(&nchain, im->data + off + 4, 4);
      count = nchain;
    } else {
      /* No DT_HASH: size the table from its section header, if any. */
      for (unsigned i = 0; i < im->eh.e_shnum; i++) {
        Elf64_Shdr s;
        memcpy(&s, im->data + im->eh.e_shoff + i * sizeof s, sizeof s);
        if (s.sh_type == SHT_DYNSYM) count = s.sh_size / sizeof(Elf64_Sym);
      }
      if (!count) return FAIL("cannot size the dynamic symbol table: no DT_HASH (link with --hash-style=both)");
    }
    if (count > (ELF_IMAGE_LIMIT / sizeof(Elf64_Sym)))
      return FAIL("dynamic symbol table of %llu entries is too large", HX(count));
    uint64_t off = file_offset(im, symtab, count * sizeof(Elf64_Sym));
    if (off == UINT64_MAX)
      return FAIL("symbol table DT_SYMTAB 0x%llx (%llu entries) is not inside the file-backed part of a loaded "
                  "segment", HX(symtab), HX(count));
    im->dynsym_off = off;
    im->dynsym_count = count;
  }

  if (relaent != sizeof(Elf64_Rela)) return FAIL("DT_RELAENT %llu, expected 24", HX(relaent));
  if (relasz % sizeof(Elf64_Rela) || pltrelsz % sizeof(Elf64_Rela))
    return FAIL("relocation table size (DT_RELASZ 0x%llx, DT_PLTRELSZ 0x%llx) is not a multiple of 24",
                HX(relasz), HX(pltrelsz));
  if (have_rela && relasz) {
    uint64_t off = file_offset(im, rela, relasz);
    if (off == UINT64_MAX)
      return FAIL("relocation table DT_RELA 0x%llx (0x%llx bytes) is not inside the file-backed part of a loaded "
                  "segment", HX(rela), HX(relasz));
    im->rela_off = off;
    im->rela_count = relasz / sizeof(Elf64_Rela);
  }
  if (have_jmprel && pltrelsz) {
    uint64_t off = file_offset(im, jmprel, pltrelsz);
    if (off == UINT64_MAX)
      return FAIL("relocation table DT_JMPREL 0x%llx (0x%llx bytes) is not inside the file-backed part of a "
                  "loaded segment", HX(jmprel), HX(pltrelsz));
    im->jmprel_off = off;
    im->jmprel_count = pltrelsz / sizeof(Elf64_Rela);
  }
  return 0;
}

static int check_symbols(struct elf_image *im, const char *label, char *err, size_t errlen) {
  for (uint64_t i = 1; i < im->dynsym_count; i++) {
    Elf64_Sym s = elf_dynsym(im, i);
    const char *name = elf_dynstr(im, s.st_name);
    if (!name) return FAIL("dynamic symbol %llu: name offset 0x%x is outside the string table", HX(i), s.st_name);
    unsigned type = ELF64_ST_TYPE(s.st_info);
    if (type == STT_TLS) return FAIL("symbol %s is thread-local, which is not supported", name);
    if (type == STT_GNU_IFUNC) return FAIL("symbol %s is an indirect function (IFUNC), which is not supported", name);
    if (s.st_shndx == SHN_UNDEF || s.st_shndx == SHN_ABS || s.st_shndx >= SHN_LORESERVE) continue;
    if (s.st_value < im->lo || s.st_value > im->hi || s.st_size > im->hi - s.st_value)
      return FAIL("symbol %s (0x%llx, %llu bytes) is outside the image", name, HX(s.st_value), HX(s.st_size));
  }
  return 0;
}

static int check_relocs(struct elf_image *im, int jmprel, const char *label, char *err, size_t errlen) {
  uint64_t count = jmprel ? im->jmprel_count : im->rela_count;
  const char *table = jmprel ? "DT_JMPREL" : "DT_RELA";
  for (uint64_t i = 0; i < count; i++) {
    Elf64_Rela r = elf_rela(im, jmprel, i);
    uint32_t type = ELF64_R_TYPE(r.r_info);
    uint64_t sym = ELF64_R_SYM(r.r_info);
    unsigned width = reloc_width(type);
    if (!width)
      return FAIL("%s relocation %llu at offset 0x%llx: unsupported type %u (%s)", table, HX(i), HX(r.r_offset),
                  type, elf_reloc_name(type));
    if (type == R_X86_64_NONE) continue;
    if (sym >= im->dynsym_count && (sym != 0 || type != R_X86_64_RELATIVE))
      return FAIL("%s relocation %llu (%s at 0x%llx): symbol index %llu out of range (%llu symbols)", table,
                  HX(i), elf_reloc_name(type), HX(r.r_offset), HX(sym), HX(im->dynsym_count));
    if (sym == 0 && type != R_X86_64_RELATIVE)
      return FAIL("%s relocation %llu (%s at 0x%llx) has no symbol", table, HX(i), elf_reloc_name(type),
                  HX(r.r_offset));
    uint64_t len = width;
    if (type == R_X86_64_COPY) len = elf_dynsym(im, sym).st_size;
    if (!elf_in_segment(im, r.r_offset, len, PF_W))
      return FAIL("%s relocation %llu (%s) at 0x%llx is not inside a writable segment", table, HX(i),
                  elf_reloc_name(type), HX(r.r_offset));
  }
  return 0;
}

int elf_parse(struct elf_image *im, const uint8_t *data, size_t size, enum ataru_elf_kind kind,
              const char *label, char *err, size_t errlen) {
  memset(im, 0, sizeof *im);
  im->data = data;
  im->size = size;
  im->kind = kind;
  if (check_header(im, label, err, errlen) || check_tables(im, label, err, errlen) ||
      check_segments(im, label, err, errlen) || read_dynamic(im, label, err, errlen) ||
      check_symbols(im, label, err, errlen) || check_relocs(im, 0, label, err, errlen) ||
      check_relocs(im, 1, label, err, errlen))
    return -1;
  return 0;
}

int ataru_elf_validate(const uint8_t *data, size_t len, enum ataru_elf_kind kind, char *err, size_t errlen) {
  static const char *const labels[] = {"runtime", "shared image", "function", "library"};
  if ((unsigned)kind > ATARU_ELF_LIBRARY)
    return fail(err, errlen, "ELF", "unknown image kind %u", (unsigned)kind);
  struct elf_image im;
  return elf_parse(&im, data, len, kind, labels[kind], err, errlen);
}

int ataru_elf_needed(const uint8_t *data, size_t len, enum ataru_elf_kind kind,
                     void (*each)(const char *name, void *ctx), void *ctx, char *err, size_t errlen) {
  static const char *const labels[] = {"runtime", "shared image", "function", "library"};
  if ((unsigned)kind > ATARU_ELF_LIBRARY)
    return fail(err, errlen, "ELF", "unknown image kind %u", (unsigned)kind);
  struct elf_image im;
  if (elf_parse(&im, data, len, kind, labels[kind], err, errlen)) return -1;
  for (int i = 0; i < im.nneeded; i++) each(elf_dynstr(&im, im.needed[i]), ctx);
  return 0;
}
