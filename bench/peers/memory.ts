/** Private memory of a process, from /proc (Private_Clean + Private_Dirty). */
import { readFileSync } from 'node:fs';

export function privateBytes(pid: number): number {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  let kb = 0;
  for (const m of text.matchAll(/^Private_(?:Clean|Dirty):\s+(\d+) kB/gm)) kb += Number(m[1]);
  return kb * 1024;
}

/** Waits until the process is stopped (state T), e.g. after raise(SIGSTOP). */
export async function waitStopped(pid: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'T' || state === 't') return;
    if (Date.now() > end) throw new Error(`process ${pid} did not stop (state ${state})`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
