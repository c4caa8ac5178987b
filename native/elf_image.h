/*
 * elf_image.h — a validated view of an x86-64 ELF file in memory (internal
 * to the loader: native/elf.c parses, native/loader.c loads and links).
 *
 * elf_parse() checks everything that can be checked without other images
 * (see loader.h); after it succeeds, every accessor below is bounds-checked
 * against the file and cannot read outside it.
 */
#ifndef ATARU_ELF_IMAGE_H
#define ATARU_ELF_IMAGE_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

#include "loader.h" /* enum ataru_elf_kind */

#define ELF_MAX_PHDRS    64
#define ELF_MAX_SECTIONS 64     /* the original's limits.txt allowed 32 */
#define ELF_MAX_NEEDED   16
#define ELF_IMAGE_LIMIT  0x10000000ull  /* 256 MiB per segment and per image */

struct elf_image {
  const uint8_t *data;
  size_t size;
  enum ataru_elf_kind kind;
  Elf64_Ehdr eh;
  Elf64_Phdr ph[ELF_MAX_PHDRS];
  int nph;
  uint64_t lo, hi;               /* page-rounded range of the PT_LOADs (vaddr) */
  uint64_t relro_lo, relro_hi;   /* PT_GNU_RELRO, empty when lo == hi          */
  /* dynamic section (file offsets; zero counts when absent) */
  uint64_t dynstr_off, dynstr_size;
  uint64_t dynsym_off, dynsym_count;
  uint64_t rela_off, rela_count;
  uint64_t jmprel_off, jmprel_count;
  uint64_t needed[ELF_MAX_NEEDED]; /* dynstr offsets of DT_NEEDED names */
  int nneeded;
  int64_t soname;                  /* dynstr offset of DT_SONAME, or -1   */
  /* static symbol table (.symtab), for the runtime's entry points */
  uint64_t symtab_off, symtab_count, strtab_off, strtab_size;
  /* export index (elf_index_exports), NULL until built */
  uint32_t *export_slot;
  uint64_t export_slots;
};

/* Validates data[0..size) as an image of the given kind. label starts every
 * message ("<label>: segment 2 memsz 0x... exceeds limit 0x..."). */
int elf_parse(struct elf_image *im, const uint8_t *data, size_t size, enum ataru_elf_kind kind,
              const char *label, char *err, size_t errlen);

/* A NUL-terminated string of the dynamic string table, or NULL. */
const char *elf_dynstr(const struct elf_image *im, uint64_t off);
/* Dynamic symbol idx (< dynsym_count). */
Elf64_Sym elf_dynsym(const struct elf_image *im, uint64_t idx);
/* Relocation i of the DT_RELA table (jmprel = 0) or DT_JMPREL (jmprel = 1). */
Elf64_Rela elf_rela(const struct elf_image *im, int jmprel, uint64_t i);
/* An exported definition of name in the dynamic symbol table (global or
 * weak, defined, default or protected visibility). 1 if found. */
int elf_find_export(const struct elf_image *im, const char *name, Elf64_Sym *out);
/* Builds the hash index elf_find_export uses from then on (the loader does,
 * for every image it links against); -1 when out of memory. */
int elf_index_exports(struct elf_image *im);
/* Names compared by elf_find_export in this process (the link-scale test
 * reads it through native/test/elf_check to show linking is linear). */
extern uint64_t elf_name_compares;
void elf_free_index(struct elf_image *im);
/* A defined symbol of name in .symtab, or else in the dynamic table. */
int elf_find_symbol(const struct elf_image *im, const char *name, Elf64_Sym *out);
/* 1 if [vaddr, vaddr+len) lies in one PT_LOAD with all of the given p_flags. */
int elf_in_segment(const struct elf_image *im, uint64_t vaddr, uint64_t len, uint32_t flags);
/* Name of a relocation type, e.g. "R_X86_64_COPY", or "unknown". */
const char *elf_reloc_name(uint32_t type);

#endif
