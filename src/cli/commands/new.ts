/**
 * `ataru new <name> [--dir D]`: scaffolds a function that builds and runs as
 * generated — the C source, a Makefile on the SDK's ataru.mk, a one-node app
 * template and a test script.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { AtaruError } from '../../errors.js';
import { packageRoot } from '../../runtime/paths.js';

/** File names inside exec[i].name are char[64] in the wire form (with the .elf suffix). */
const NAME_RE = /^[A-Za-z][A-Za-z0-9_-]{0,58}$/;

/** What is written: file name → contents. */
function scaffoldFiles(name: string): Record<string, string> {
  const sdk = join(packageRoot, 'sdk');
  const bin = join(packageRoot, 'bin', 'ataru.js');
  return {
    [`${name}.c`]: `/*
 * ${name}: an Ataru function (see docs/writing-functions.md in Ataru).
 * Replies with the request, ASCII letters in upper case.
 */
#include <ataru.h>

long entry(const void *in, void *out, uint64_t node_id, uint64_t in_len, uint64_t out_cap) {
  (void)node_id;
  if (in_len > out_cap) return ATARU_ENOSPC; /* fails the request, naming this node */
  const unsigned char *src = in;
  unsigned char *dst = out;
  for (uint64_t i = 0; i < in_len; i++) {
    unsigned char c = src[i];
    dst[i] = c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
  }
  return (long)in_len; /* bytes written at out */
}
`,
    Makefile: `# Builds build/${name}.elf with Ataru's SDK (the compiler flags live there).
ATARU_SDK ?= ${sdk}
include $(ATARU_SDK)/ataru.mk

all: build/${name}.elf
clean:
\trm -rf build
.PHONY: all clean
`,
    [`${name}.tmpl`]: `// ${name}: a one-node app. Build with make; deploy with
//   ataru deploy ${name}.tmpl
// The request (up to msg_len bytes) is at offset 0, the reply at 4096.
name            : ${name}
num_nodes       : 1
msg_len         : 4096
dag             : 0,0,0
exec[1].path    : build/
exec[1].name    : ${name}.elf
exec[1].inp_off : 0
exec[1].out_off : 4096
`,
    'test.sh': `#!/bin/sh
# Builds ${name} and checks its answer in a VM (ataru run). Needs /dev/kvm.
set -e
cd "$(dirname "$0")"
make -s
out=$(printf 'hello, ataru' | \${ATARU:-node ${bin}} run build/${name}.elf --input -)
if [ "$out" = "HELLO, ATARU" ]; then echo "ok: $out"; else echo "unexpected reply: $out" >&2; exit 1; fi
`,
  };
}

export function scaffold(name: string, dir: string): string[] {
  if (!NAME_RE.test(name)) {
    throw new AtaruError('BAD_REQUEST', `function name "${name}": use a letter, then letters, digits, _ or - (at most 59)`);
  }
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new AtaruError('CONFLICT', `${dir} exists and is not empty`);
  }
  mkdirSync(dir, { recursive: true });
  const files = scaffoldFiles(name);
  for (const [file, text] of Object.entries(files)) {
    writeFileSync(join(dir, file), text, { mode: file.endsWith('.sh') ? 0o755 : 0o644 });
  }
  return Object.keys(files).map((f) => join(dir, f));
}

export function registerNew(program: Command): void {
  program
    .command('new <name>')
    .description('scaffold a function: C source, Makefile, one-node app template, test script')
    .option('--dir <folder>', 'folder to create (default: ./<name>)')
    .option('--json', 'print {dir, files}; errors as {code, message}')
    .action((name: string, flags: { dir?: string; json?: boolean }) => {
      const dir = resolve(flags.dir ?? name);
      const files = scaffold(name, dir);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ dir, files })}\n`);
        return;
      }
      process.stdout.write(
        `created ${dir}\n${files.map((f) => `  ${f}\n`).join('')}` +
          `next: cd ${dir} && make && ./test.sh\n`,
      );
    });
}
