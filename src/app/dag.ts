/**
 * The DAG: the original's compressed adjacency array <-> an edge list.
 *
 * Array layout for n nodes (docs/original-system.md, "DAG encoding"):
 *   [0, n)        in-count of each node
 *   [n, 2n)       start offset of each node's children in the child list
 *   2n            end offset = number of edges
 *   [2n+1, ...)   child ids, grouped by parent
 *
 * Several parentless nodes are fine: the runtime starts every root (the
 * original only started node 0 and hung on any other root).
 */
import type { Edge } from './model.js';
import { LIMITS } from './model.js';
import type { Problem } from './problems.js';

export interface DecodedDag {
  edges: Edge[];
  problems: Problem[];
  /** Number of array entries the encoding uses (2n + 1 + edges). */
  used: number;
}

/** Decodes the array; on any structural problem the edge list is empty. */
export function decodeDagArray(arr: readonly number[], n: number): DecodedDag {
  const problems: Problem[] = [];
  const header = 2 * n + 1;
  if (arr.length < header) {
    problems.push({
      key: 'dag',
      message: `expected at least ${header} values for ${n} nodes (${n} in-counts, ${n} offsets, the end), found ${arr.length}`,
    });
    return { edges: [], problems, used: arr.length };
  }
  const end = arr[2 * n];
  const available = arr.length - header;
  if (arr[n] !== 0) {
    problems.push({ dagIndex: n, message: `node 0's children must start at offset 0, found ${arr[n]}` });
  }
  for (let k = 1; k <= n; k++) {
    const start = arr[n + k];
    const prev = arr[n + k - 1];
    if (start < prev) {
      const what = k === n ? 'the end offset' : `node ${k}'s start offset`;
      problems.push({
        dagIndex: n + k,
        message: `offsets must not decrease: ${what} is ${start}, below node ${k - 1}'s ${prev}`,
      });
    }
  }
  if (end > available) {
    problems.push({
      dagIndex: 2 * n,
      message: `the end offset ${end} is past the end of the child list: only ${available} value${available === 1 ? '' : 's'} follow${available === 1 ? 's' : ''} it`,
    });
  }
  if (problems.length) return { edges: [], problems, used: header + Math.min(end, available) };

  const edges: Edge[] = [];
  for (let k = 0; k < n; k++) {
    for (let i = arr[n + k]; i < arr[n + k + 1]; i++) {
      const to = arr[header + i];
      if (to >= n) {
        problems.push({ dagIndex: header + i, message: `child of node ${k} is ${to}, expected a node id 0..${n - 1}` });
      }
      edges.push({ from: k, to });
    }
  }
  if (problems.length) return { edges: [], problems, used: header + end };

  const inCounts = countParents(edges, n);
  for (let k = 0; k < n; k++) {
    if (arr[k] !== inCounts[k]) {
      problems.push({
        dagIndex: k,
        message: `in-count of node ${k} is ${arr[k]}, but ${inCounts[k]} edge${inCounts[k] === 1 ? '' : 's'} lead to it`,
      });
    }
  }
  return { edges: problems.length ? [] : edges, problems, used: header + end };
}

/** The compressed array for a valid edge list. */
export function encodeDagArray(edges: readonly Edge[], n: number): number[] {
  const sorted = normalizeEdges(edges);
  const arr = countParents(sorted, n);
  let offset = 0;
  for (let k = 0; k < n; k++) {
    arr.push(offset);
    while (offset < sorted.length && sorted[offset].from === k) offset++;
  }
  arr.push(sorted.length);
  for (const e of sorted) arr.push(e.to);
  return arr;
}

/** Edges grouped by parent, children in the order given: the array's order. */
function normalizeEdges(edges: readonly Edge[]): Edge[] {
  return edges
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.from - b.e.from || a.i - b.i)
    .map(({ e }) => ({ from: e.from, to: e.to }));
}

/** Range, self loops, duplicates, the edge limit and cycles. */
export function checkEdges(edges: readonly Edge[], n: number): Problem[] {
  const problems: Problem[] = [];
  if (edges.length > LIMITS.maxEdges) {
    problems.push({ key: 'edges', message: `expected at most ${LIMITS.maxEdges} edges, found ${edges.length}` });
  }
  const seen = new Map<string, number>();
  edges.forEach((e, i) => {
    for (const end of [e.from, e.to]) {
      if (!Number.isInteger(end) || end < 0 || end >= n) {
        problems.push({ edge: i, message: `edge ${e.from} -> ${e.to}: expected node ids 0..${n - 1}, found ${end}` });
        return;
      }
    }
    if (e.from === e.to) {
      problems.push({ edge: i, message: `self loop on node ${e.from}` });
      return;
    }
    const key = `${e.from}>${e.to}`;
    const first = seen.get(key);
    if (first !== undefined) problems.push({ edge: i, message: `duplicate edge ${e.from} -> ${e.to} (also edge ${first})` });
    else seen.set(key, i);
  });
  if (problems.length) return problems;
  const cycle = findCycle(edges, n);
  if (cycle) {
    // Point at the edge that closes the cycle (found last by the search).
    const last = cycle[cycle.length - 1];
    const edge = edges.findIndex((e) => e.from === last && e.to === cycle[0]);
    problems.push({ edge, message: `cycle through node ${cycle[0]}: ${[...cycle, cycle[0]].join(' -> ')}` });
  }
  return problems;
}

/** Nodes without parents, in order: the runtime starts each of them. */
export function roots(edges: readonly Edge[], n: number): number[] {
  const inCounts = countParents(edges, n);
  return inCounts.flatMap((c, k) => (c === 0 ? [k] : []));
}

/** Nodes without children. */
export function sinks(edges: readonly Edge[], n: number): number[] {
  const hasChild = new Set(edges.map((e) => e.from));
  return Array.from({ length: n }, (_, k) => k).filter((k) => !hasChild.has(k));
}

/** One cycle as its node list, or undefined if the graph is acyclic. */
export function findCycle(edges: readonly Edge[], n: number): number[] | undefined {
  const children: number[][] = Array.from({ length: n }, () => []);
  for (const e of edges) children[e.from].push(e.to);
  const state = new Uint8Array(n); // 0 new, 1 on the stack, 2 done
  const stack: number[] = [];
  // Iterative DFS: a 255-node chain must not depend on the JS stack depth.
  for (let start = 0; start < n; start++) {
    if (state[start]) continue;
    const iters: number[] = [0];
    stack.push(start);
    state[start] = 1;
    while (stack.length) {
      const node = stack[stack.length - 1];
      const i = iters[iters.length - 1]++;
      if (i < children[node].length) {
        const child = children[node][i];
        if (state[child] === 1) return stack.slice(stack.indexOf(child));
        if (state[child] === 0) {
          state[child] = 1;
          stack.push(child);
          iters.push(0);
        }
      } else {
        state[node] = 2;
        stack.pop();
        iters.pop();
      }
    }
  }
  return undefined;
}

function countParents(edges: readonly Edge[], n: number): number[] {
  const counts = new Array<number>(n).fill(0);
  for (const e of edges) counts[e.to]++;
  return counts;
}
