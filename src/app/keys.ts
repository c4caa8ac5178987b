/**
 * The template keys: the original's and Ataru's extensions. Shared by the
 * template reader (unknown-key suggestions) and writer (key order).
 */

/** Top-level keys of the original, in the order its templates list them. */
export const ORIGINAL_KEYS = [
  'name',
  'num_nodes',
  'conn_type',
  'conn_port',
  'msg_len',
  'server_ip',
  'result_ip',
  'result_port',
  'pktcnt',
  'dag',
] as const;

/** Ataru's top-level extension keys (fields of AppDefinition with DEFAULTS). */
export const EXTENSION_KEYS = [
  'timeout_ms',
  'instances',
  'min_instances',
  'max_instances',
  'idle_release_ms',
  'vcpus', 'reply', 'state', 'shm_size', 'queue_limit'] as const;

export const REQUIRED_KEYS = ['name', 'num_nodes', 'msg_len', 'dag'] as const;

/** exec[i].<field>: the original's four, then Ataru's per-node extensions. */
export const EXEC_FIELDS = ['path', 'name', 'inp_off', 'out_off', 'timeout_ms', 'id'] as const;
export type ExecField = (typeof EXEC_FIELDS)[number];

export const TOP_LEVEL_KEYS: readonly string[] = [...ORIGINAL_KEYS, ...EXTENSION_KEYS];

export function execKey(i: number, field: string): string {
  return `exec[${i}].${field}`;
}
