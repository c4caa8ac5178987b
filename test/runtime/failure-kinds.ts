/**
 * Every way a function can fail, with the shared fixture that does it, the
 * byte that makes fixtures/trap.c do it, and the error it must produce.
 */
import type { ErrorCode } from '../../src/errors.js';

export interface FailureKind {
  kind: string;
  fixture: string;
  trap: number;
  code: ErrorCode;
  /** The cause the message must name. */
  message: RegExp;
}

export const FAILURES: FailureKind[] = [
  { kind: 'null read', fixture: 'nullread', trap: 1, code: 'FAULT', message: /page fault reading 0x0 at rip/ },
  { kind: 'null write', fixture: 'nullwrite', trap: 2, code: 'FAULT', message: /page fault writing 0x0 at rip/ },
  { kind: 'wild write', fixture: 'wildwrite', trap: 3, code: 'FAULT', message: /page fault writing 0x7fff0000 at rip/ },
  { kind: 'write to code', fixture: 'writecode', trap: 4, code: 'FAULT', message: /write to code at 0x/ },
  { kind: 'stack overflow', fixture: 'stackoverflow', trap: 5, code: 'FAULT', message: /stack overflow/ },
  { kind: 'hlt', fixture: 'hlt', trap: 6, code: 'FAULT', message: /privileged instruction hlt at rip/ },
  { kind: 'cli', fixture: 'cli', trap: 7, code: 'FAULT', message: /privileged instruction cli at rip/ },
  { kind: 'wrmsr', fixture: 'wrmsr', trap: 8, code: 'FAULT', message: /privileged instruction wrmsr at rip/ },
  { kind: 'mov cr3', fixture: 'movcr3', trap: 9, code: 'FAULT', message: /privileged instruction mov to cr3 at rip/ },
  { kind: 'out to an unknown port', fixture: 'outport', trap: 10, code: 'FAULT', message: /I\/O to port 0x80 is not allowed/ },
  { kind: 'syscall', fixture: 'syscall', trap: 11, code: 'FAULT', message: /SYSCALL is not supported/ },
  { kind: 'ud2', fixture: 'ud2', trap: 12, code: 'FAULT', message: /invalid opcode at rip/ },
  { kind: 'error return', fixture: 'neg', trap: 13, code: 'FUNCTION_ERROR', message: /returned error -7$/ },
];

/** trap.c spins forever for this byte (timeouts). */
export const TRAP_SPIN = 14;
/** trap.c reads the u64 at the address in input bytes 8..15 for this byte. */
export const TRAP_READ_AT = 15;
/** trap.c jumps to the address in input bytes 8..15, on its own stack. */
export const TRAP_JUMP = 16;
/** ... with rsp at the runtime's stack top (forging the runtime's state). */
export const TRAP_JUMP_AS_RUNTIME = 17;
/** trap.c writes the mailbox so that no node seems to run, then spins. */
export const TRAP_FORGE_CLOCK = 18;
/** trap.c logs 20,000 lines in one request. */
export const TRAP_LOG_FLOOD = 19;
/** trap.c logs as many lines as input bytes 1..2 say (u16 little endian), then echoes. */
export const TRAP_LOG_N = 20;
