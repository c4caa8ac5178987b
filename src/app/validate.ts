/**
 * Checks every form shares, on the model: ranges, offsets inside the shared
 * region, strings, node ids and the edge list. Only what is certainly wrong
 * is a problem (see docs/app-definitions.md).
 */
import type { AppDefinition } from './model.js';
import { LIMITS } from './model.js';
import { checkEdges } from './dag.js';
import { type Problem, quote } from './problems.js';

export interface IntRange {
  min: number;
  max: number;
  /** What the number is, for "expected <what> (min..max)". */
  what: string;
}

/** Fixed ranges of the numeric fields (msg_len and offsets depend on shm_size). */
export const RANGES = {
  conn_port: { min: 0, max: 65535, what: 'a port number' },
  result_port: { min: 0, max: 65535, what: 'a port number' },
  pktcnt: { min: 0, max: LIMITS.maxPktcnt, what: 'a request count' },
  num_nodes: { min: 1, max: LIMITS.maxNodes, what: 'a node count' },
  timeout_ms: { min: 1, max: LIMITS.maxTimeoutMs, what: 'a timeout in ms' },
  instances: { min: 0, max: LIMITS.maxInstances, what: 'an instance count (0: sized to the machine)' },
  min_instances: { min: 0, max: LIMITS.maxInstances, what: 'an instance count (0: as instances)' },
  max_instances: { min: 0, max: LIMITS.maxInstances, what: 'an instance count (0: as instances)' },
  idle_release_ms: { min: 1, max: LIMITS.maxTimeoutMs, what: 'a time in ms' },
  vcpus: { min: 1, max: LIMITS.maxVcpus, what: 'a vCPU count' },
  shm_size: { min: LIMITS.pageSize, max: LIMITS.maxShmSize, what: 'a region size in bytes' },
  queue_limit: { min: 0, max: LIMITS.maxQueueLimit, what: 'a queue length' },
} satisfies Record<string, IntRange>;

function msgLenRange(shmSize: number): IntRange {
  return { min: 1, max: shmSize, what: 'a request size in bytes, at most shm_size' };
}

function offsetRange(shmSize: number): IntRange {
  return { min: 0, max: shmSize - 1, what: 'an offset inside the shared region (below shm_size)' };
}

/** "expected a port number (0..65535), found -5", or undefined if in range. */
export function rangeMessage(value: number, r: IntRange): string | undefined {
  if (Number.isInteger(value) && value >= r.min && value <= r.max) return undefined;
  return `expected ${r.what} (${r.min}..${r.max}), found ${value}`;
}

// Control characters can't be written in a template and are never meant.
const CONTROL = /[\u0000-\u001f\u007f]/;

function stringMessage(s: string, required: boolean): string | undefined {
  if (required && s.length === 0) return 'expected a non-empty string';
  if (CONTROL.test(s)) return `expected no control characters, found ${quote(JSON.stringify(s).slice(1, -1))}`;
  return undefined;
}

export function validateDefinition(def: AppDefinition): Problem[] {
  const out: Problem[] = [];
  const add = (key: string, message: string | undefined, node?: number) => {
    if (message !== undefined) out.push({ key, message, ...(node !== undefined ? { node } : {}) });
  };

  add('name', stringMessage(def.name, true));
  const nameBytes = Buffer.byteLength(def.name);
  if (nameBytes >= LIMITS.nameBytes) add('name', `expected at most ${LIMITS.nameBytes - 1} bytes, found ${nameBytes}`);
  if (def.conn_type !== 'tcp' && def.conn_type !== 'raw') add('conn_type', `expected tcp or raw, found ${quote(def.conn_type)}`);
  for (const key of ['iface', 'out_iface'] as const) {
    if (def[key] !== undefined && def.conn_type !== 'raw') add(key, `only a raw app (conn_type raw) names an interface, found ${quote(def[key]!)}`);
  }
  add('server_ip', stringMessage(def.server_ip, false));
  add('result_ip', stringMessage(def.result_ip, false));
  for (const key of [
    'conn_port',
    'result_port',
    'pktcnt',
    'timeout_ms',
    'instances',
    'min_instances',
    'max_instances',
    'idle_release_ms',
    'vcpus',
    'queue_limit',
  ] as const) {
    add(key, rangeMessage(def[key], RANGES[key]));
  }
  if (def.min_instances > 0 && def.max_instances > 0 && def.min_instances > def.max_instances) {
    add('max_instances', `expected at least min_instances (${def.min_instances}), found ${def.max_instances}`);
  }
  const shmMessage = rangeMessage(def.shm_size, RANGES.shm_size);
  add('shm_size', shmMessage);
  if (!shmMessage && def.shm_size % LIMITS.pageSize !== 0) {
    add('shm_size', `expected a multiple of ${LIMITS.pageSize} (whole pages), found ${def.shm_size}`);
  }
  // Without a valid region size, msg_len and offsets can't be judged.
  const shm = shmMessage ? undefined : def.shm_size;
  if (shm !== undefined) add('msg_len', rangeMessage(def.msg_len, msgLenRange(shm)));
  if (def.reply !== 'frames' && def.reply !== 'none') add('reply', `expected frames or none, found ${quote(def.reply)}`);
  if (def.state !== 'reset' && def.state !== 'keep') add('state', `expected reset or keep, found ${quote(def.state)}`);

  if (def.shared) {
    add('shared.name', stringMessage(def.shared.name, true));
    add('shared.path', stringMessage(def.shared.path, false));
  }

  const n = def.nodes.length;
  const countMessage = rangeMessage(n, RANGES.num_nodes);
  if (countMessage) add('num_nodes', countMessage);
  const ids = new Map<string, number>();
  def.nodes.forEach((node, k) => {
    const nameMessage = stringMessage(node.function.name, true);
    add('name', nameMessage, k);
    add('path', stringMessage(node.function.path, false), k);
    // Ids default to the function name: with no name, the id is no news.
    if (!nameMessage) {
      add('id', stringMessage(node.id, true), k);
      const first = ids.get(node.id);
      if (first !== undefined) add('id', `duplicate node id ${quote(node.id)} (also node ${first})`, k);
      else ids.set(node.id, k);
    }
    if (shm !== undefined) {
      add('inp_off', rangeMessage(node.inp_off, offsetRange(shm)), k);
      add('out_off', rangeMessage(node.out_off, offsetRange(shm)), k);
    }
    if (node.timeout_ms !== undefined) add('timeout_ms', rangeMessage(node.timeout_ms, RANGES.timeout_ms), k);
  });
  if (!countMessage) out.push(...checkEdges(def.edges, n));
  return out;
}
