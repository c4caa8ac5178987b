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

/** A multi-line summary: settings, nodes, roots, sinks and edges. */
export function summarizeDefinition(def: AppDefinition): string {
  const n = def.nodes.length;
  const lines = [
    `app ${def.name}: ${n} node${n === 1 ? '' : 's'}, ${def.edges.length} edge${def.edges.length === 1 ? '' : 's'}`,
    `  ${def.conn_type} port ${def.conn_port === 0 ? 'any' : def.conn_port}, msg_len ${def.msg_len}, pktcnt ${def.pktcnt}`,
    `  timeout ${def.timeout_ms} ms, instances ${def.instances === 0 ? 'auto' : def.instances}, vcpus ${def.vcpus}, reply ${def.reply}, state ${def.state}, shm ${def.shm_size}, queue ${def.queue_limit}`,
  ];
  if (def.shared) lines.push(`  shared: ${functionLabel(def.shared)}`);
  lines.push('nodes:');
  def.nodes.forEach((node, k) => {
    const timeout = node.timeout_ms !== undefined ? ` timeout ${node.timeout_ms} ms` : '';
    lines.push(`  ${k} ${node.id}: ${functionLabel(node.function)} in @${node.inp_off} out @${node.out_off}${timeout}`);
  });
  lines.push(`roots: ${roots(def.edges, n).join(' ')}`, `sinks: ${sinks(def.edges, n).join(' ')}`, 'edges:');
  lines.push(...describeDag(def));
  return lines.join('\n');
}
