/**
 * Default node ids. The template and wire forms have no node names, so a
 * node's id defaults to its function's name, made unique by the node index
 * when several nodes run the same function (sobel, sobel → sobel_0, sobel_1).
 */
import type { FunctionRef } from './model.js';

export function defaultNodeIds(functions: readonly FunctionRef[]): string[] {
  const counts = new Map<string, number>();
  for (const f of functions) counts.set(f.name, (counts.get(f.name) ?? 0) + 1);
  const taken = new Set<string>();
  return functions.map((f, k) => {
    let id = counts.get(f.name) === 1 ? f.name : `${f.name}_${k}`;
    while (taken.has(id)) id += '_';
    taken.add(id);
    return id;
  });
}
