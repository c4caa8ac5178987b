/** Human summaries of a definition (ataru check, logs, the HTTP API). */
import type { AppDefinition, FunctionRef } from './model.js';
import { roots, sinks } from './dag.js';

/** The edges, one per line: "0 -> 1". */
export function describeDag(def: AppDefinition): string[] {
  return def.edges.map((e) => `${e.from} -> ${e.to}`);
}

/** A function reference as people read it: "folder/file", or "file" when the folder is empty. */
export function functionLabel(ref: FunctionRef): string {
  return ref.path === '' ? ref.name : `${ref.path}${ref.path.endsWith('/') ? '' : '/'}${ref.name}`;
}

/** A size as people read it: bytes below 1 KiB, else KiB or MiB (one decimal when not whole). */
export function formatSize(bytes: number): string {
  const unit = (n: number, u: string) => `${Number.isInteger(n) ? n : n.toFixed(1)} ${u}`;
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return unit(bytes / 1024, 'KiB');
  return unit(bytes / (1024 * 1024), 'MiB');
}

/** Node indices with their ids: "0 (smooth) 3 (magnitude)". */
function named(def: AppDefinition, indices: number[]): string {
  return indices.map((k) => `${k} (${def.nodes[k]?.id ?? '?'})`).join(' ');
}

/** A multi-line summary: settings, nodes, roots, sinks and edges. */
export function summarizeDefinition(def: AppDefinition): string {
  const n = def.nodes.length;
  const lines = [
    `app ${def.name}: ${n} node${n === 1 ? '' : 's'}, ${def.edges.length} edge${def.edges.length === 1 ? '' : 's'}`,
    `  ${def.conn_type} port ${def.conn_port === 0 ? 'any' : def.conn_port}, msg_len ${formatSize(def.msg_len)}, pktcnt ${def.pktcnt}`,
    `  timeout ${def.timeout_ms} ms, instances ${describePool(def)}, vcpus ${def.vcpus}, reply ${def.reply}, state ${def.state}, shm ${formatSize(def.shm_size)}, queue ${def.queue_limit}`,
  ];
  if (def.shared) lines.push(`  shared: ${functionLabel(def.shared)}`);
  lines.push('nodes:');
  def.nodes.forEach((node, k) => {
    const timeout = node.timeout_ms !== undefined ? ` timeout ${node.timeout_ms} ms` : '';
    lines.push(`  ${k} ${node.id}: ${functionLabel(node.function)} in @${node.inp_off} out @${node.out_off}${timeout}`);
  });
  lines.push(`roots: ${named(def, roots(def.edges, n))}`, `sinks: ${named(def, sinks(def.edges, n))}`, 'edges:');
  lines.push(...describeDag(def));
  return lines.join('\n');
}

/** "auto", "4", or "1..8" when the pool follows load. */
function describePool(def: AppDefinition): string {
  const base = def.instances === 0 ? 'auto' : String(def.instances);
  if (!def.min_instances && !def.max_instances) return base;
  const min = def.min_instances || (def.instances === 0 ? 'auto' : def.instances);
  const max = def.max_instances || (def.instances === 0 ? 'auto' : def.instances);
  return `${min}..${max}`;
}
