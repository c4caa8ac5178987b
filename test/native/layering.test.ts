/**
 * The native core's files form layers: no two files call each other,
 * directly or around a loop (docs/architecture.md). Read from the object
 * files' symbol tables, so it checks what the compiler saw, not comments.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const native = fileURLToPath(new URL('../../native/', import.meta.url));

/** file -> the other files whose functions or data it uses. Compiled into
 * a directory of its own (other tests build native/ at the same time). */
function callGraph(): Map<string, Set<string>> {
  const dir = mkdtempSync(join(tmpdir(), 'ataru-layering-'));
  try {
    for (const c of readdirSync(native).filter((f) => f.endsWith('.c'))) {
      const flags = ['-std=gnu11', '-O0', '-pthread', `-I${join(native, '..', 'common')}`, `-I${native}`];
      execFileSync('cc', [...flags, '-c', join(native, c), '-o', join(dir, c.replace(/\.c$/, '.o'))]);
    }
    return graphOf(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function graphOf(dir: string): Map<string, Set<string>> {
  const objects = readdirSync(dir).filter((f) => f.endsWith('.o'));
  const definedIn = new Map<string, string>();
  const uses = new Map<string, string[]>();
  for (const o of objects) {
    const file = o.slice(0, -2);
    const lines = execFileSync('nm', [join(dir, o)], { encoding: 'utf8' }).split('\n');
    const undefined_: string[] = [];
    for (const line of lines) {
      const parts = line.trim().split(/\s+/);
      if (parts.length === 3 && 'TDBR'.includes(parts[1])) definedIn.set(parts[2], file);
      else if (parts.length === 2 && parts[0] === 'U') undefined_.push(parts[1]);
    }
    uses.set(file, undefined_);
  }
  const graph = new Map<string, Set<string>>();
  for (const [file, symbols] of uses) {
    const to = new Set<string>();
    for (const s of symbols) {
      const owner = definedIn.get(s);
      if (owner && owner !== file) to.add(owner);
    }
    graph.set(file, to);
  }
  return graph;
}

/** A cycle as a list of files, or undefined. */
function findCycle(graph: Map<string, Set<string>>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): string[] | undefined => {
    state.set(n, 'open');
    path.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') return [...path.slice(path.indexOf(m)), m];
      if (!state.has(m)) {
        const c = visit(m);
        if (c) return c;
      }
    }
    path.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of graph.keys()) {
    if (state.has(n)) continue;
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}

test('no two files of native/ call each other, directly or around a loop', () => {
  const graph = callGraph();
  assert.ok(graph.size >= 15, `expected the core's object files, found ${[...graph.keys()].join(', ')}`);
  // The graph is real: the request path does call the run loop and workers.
  assert.ok(graph.get('request')?.has('run') && graph.get('request')?.has('workers'));
  const cycle = findCycle(graph);
  assert.equal(cycle, undefined, `native/ call cycle: ${cycle?.join(' -> ')}`);
});

test('the cycle finder finds a loop when there is one', () => {
  const g = new Map([
    ['a', new Set(['b'])],
    ['b', new Set(['c'])],
    ['c', new Set(['a'])],
  ]);
  assert.deepEqual(findCycle(g), ['a', 'b', 'c', 'a']);
  assert.equal(findCycle(new Map([['a', new Set(['b'])], ['b', new Set<string>()]])), undefined);
});
