/**
 * Problems found in a definition, before they get a location. The checks that
 * apply to every form (validate.ts, dag.ts) say *what* is wrong and *which*
 * field; each reader knows *where* that field is in its input (a template
 * line, a byte offset, a JSON path) and turns the list into one AtaruError.
 */
import { AtaruError, type ErrorLocation } from '../errors.js';

export interface Problem {
  message: string;
  /** Top-level key (e.g. 'msg_len'), or the node's key when `node` is set. */
  key?: string;
  /** DAG node index (exec[node+1]). */
  node?: number;
  /** Index into def.edges. */
  edge?: number;
  /** Index into the compressed dag array (template and binary forms). */
  dagIndex?: number;
}

/** A located problem: the field name shown to the user and where it is. */
export interface Located {
  /** Prefix of the message, e.g. 'exec[2].out_off'; omitted when the location already says it. */
  field?: string;
  location: ErrorLocation;
}

/** One AtaruError for all problems: the first is the error, the rest its details. */
export function toError(problems: Problem[], locate: (p: Problem) => Located): AtaruError {
  const errors = problems.map((p) => {
    const { field, location } = locate(p);
    const message = field ? `${field}: ${p.message}` : p.message;
    return new AtaruError('BAD_DEFINITION', message, { ...location, ...(field ? { field } : {}) });
  });
  const [first, ...rest] = errors;
  return new AtaruError('BAD_DEFINITION', first.message, first.location, rest);
}

/** Template-style field name of a problem (shared by the template and binary readers). */
export function templateField(p: Problem, numNodes: number): string | undefined {
  if (p.node !== undefined) return `exec[${p.node + 1}].${p.key ?? 'name'}`;
  if (p.key?.startsWith('shared.')) return `exec[0].${p.key.slice('shared.'.length)}`;
  const dagIndex = p.dagIndex ?? (p.edge !== undefined ? 2 * numNodes + 1 + p.edge : undefined);
  if (dagIndex !== undefined) return `dag[${dagIndex}]`;
  return p.key;
}
