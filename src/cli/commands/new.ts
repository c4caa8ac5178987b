/**
 * `ataru new <name> [--dir D]`: scaffolds a function that builds and runs as
 * generated — the C source, a Makefile on the SDK's ataru.mk, a one-node app
 * template, a host test (no KVM), a VM test script, a README and .gitignore.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { AtaruError } from '../../errors.js';

/** File names inside exec[i].name are char[64] in the wire form (with the .elf suffix). */
const NAME_RE = /^[A-Za-z][A-Za-z0-9_-]{0,58}$/;

/** What is written: file name → contents. Nothing in it names this machine's
 * paths: the SDK is found through the installed `ataru` (make ATARU=... or
 * ATARU_SDK=... to choose another), so the folder can be committed and built
 * anywhere. */
function scaffoldFiles(name: string): Record<string, string> {
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
    Makefile: `# Builds build/${name}.elf with Ataru's SDK, which the installed ataru
# names (ataru build --print-sdk). Another ataru: make ATARU=/path/to/ataru;
# another SDK: make ATARU_SDK=/path/to/sdk.
ATARU ?= ataru
# Asked once (:=): a recursive ?= would run ataru at every use of the name.
ifndef ATARU_SDK
ATARU_SDK := $(shell $(ATARU) build --print-sdk 2>/dev/null)
endif
ifeq ($(ATARU_SDK),)
$(error cannot find Ataru's SDK: install ataru (npm install -g ataru), or pass ATARU=... or ATARU_SDK=...)
endif
include $(ATARU_SDK)/ataru.mk

HOST_CC ?= cc

all: build/${name}.elf

# The function's logic on this machine, without KVM (entry() called directly).
build/host_test: host_test.c ${name}.c
\t@mkdir -p build
\t$(HOST_CC) -std=gnu11 -O1 -Wall -I$(ATARU_SDK)/include -o $@ host_test.c ${name}.c

test: build/host_test build/${name}.elf
\t./build/host_test
\tATARU="$(ATARU)" ./test.sh

clean:
\trm -rf build
.PHONY: all test clean
`,
    'host_test.c': `/*
 * ${name}'s logic as a plain program on this machine: no KVM, no VM. Add a
 * case for each behaviour you rely on; \`make test\` runs this, then the VM
 * test (test.sh).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <ataru.h>

long entry(const void *in, void *out, uint64_t node_id, uint64_t in_len, uint64_t out_cap);

/* On the host, ataru_log prints to stderr. */
int ataru_log(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\\n', stderr);
  return n;
}

static int failures;

static void expect(const char *in, const char *want) {
  char out[256];
  long n = entry(in, out, 0, strlen(in), sizeof out);
  if (n != (long)strlen(want) || memcmp(out, want, (size_t)n) != 0) {
    fprintf(stderr, "FAIL: \\"%s\\" gave %ld bytes \\"%.*s\\", expected \\"%s\\"\\n", in, n, n > 0 ? (int)n : 0, out, want);
    failures++;
  }
}

int main(void) {
  expect("hello, ataru", "HELLO, ATARU");
  expect("", "");
  expect("MiXeD 123", "MIXED 123");
  char small[4];
  if (entry("too long", small, 0, 8, sizeof small) != ATARU_ENOSPC) {
    fprintf(stderr, "FAIL: a reply larger than out_cap must return ATARU_ENOSPC\\n");
    failures++;
  }
  if (failures) return 1;
  puts("ok: host test");
  return 0;
}
`,
    [`${name}.tmpl`]: `// ${name}: a one-node app. Build with make; run it with
//   ataru up ${name}.tmpl --watch      (or: ataru deploy ${name}.tmpl)
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
# Builds ${name} and checks its answer in a VM (ataru run). Needs /dev/kvm
# (ataru doctor says whether this machine has it).
set -e
cd "$(dirname "$0")"
make -s
out=$(printf 'hello, ataru' | \${ATARU:-ataru} run build/${name}.elf --input -)
if [ "$out" = "HELLO, ATARU" ]; then echo "ok: $out"; else echo "unexpected reply: $out" >&2; exit 1; fi
`,
    '.gitignore': 'build/\n',
    'README.md': `# ${name}

An Ataru function: it replies with
the request, ASCII letters in upper case.

| command | what it does |
|---|---|
| \`make\` | builds \`build/${name}.elf\` with the SDK of the installed \`ataru\` |
| \`make test\` | the host test (\`host_test.c\`, no KVM), then the VM test (\`test.sh\`, needs /dev/kvm) |
| \`ataru up ${name}.tmpl --watch\` | builds, deploys to a local server, prints how to call it, tails its logs, redeploys on every change |
| \`printf hi \\| ataru invoke ${name}\` | one request to the deployed app |
| \`ataru logs ${name} -f\` | its \`ataru_log\` lines and failed requests |

\`ataru doctor\` checks that this machine can run it.
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
          `next: cd ${dir} && make test   (then: ataru up ${name}.tmpl --watch)\n`,
      );
    });
}
