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

/** A problem with its place in the input. */
export interface Located {
  message: string;
  /** Prefix of the message, e.g. 'exec[2].out_off'; omitted when the location already says it. */
  field?: string;
  location: ErrorLocation;
}

/** Problems reported per input; garbage input could otherwise make megabytes of them. */
export const MAX_REPORTED = 50;

/**
 * One AtaruError for all problems: the first is the error, the rest its
 * details. `unlisted`: further problems a reader only counted.
 */
export function toError(located: Located[], unlisted = 0): AtaruError {
  const errors = located.slice(0, MAX_REPORTED).map(({ message, field, location }) => {
    const text = field ? `${field}: ${message}` : message;
    return new AtaruError('BAD_DEFINITION', text, { ...location, ...(field ? { field } : {}) });
  });
  const more = Math.max(0, located.length - MAX_REPORTED) + unlisted;
  if (more > 0) {
    errors.push(new AtaruError('BAD_DEFINITION', `... and ${more} more problems`));
  }
  const [first, ...rest] = errors;
  return new AtaruError('BAD_DEFINITION', first.message, first.location, rest);
}

/** Problems of a definition built in code (no input to point into): located by field only. */
export function fieldError(problems: Problem[], numNodes: number): AtaruError {
  return toError(problems.map((p) => ({ message: p.message, field: templateField(p, numNodes), location: {} })));
}

/** Template-style field name of a problem (shared by the template and binary readers). */
export function templateField(p: Problem, numNodes: number): string | undefined {
  if (p.node !== undefined) return `exec[${p.node + 1}].${p.key ?? 'name'}`;
  if (p.key?.startsWith('shared.')) return `exec[0].${p.key.slice('shared.'.length)}`;
  const dagIndex = p.dagIndex ?? (p.edge !== undefined ? 2 * numNodes + 1 + p.edge : undefined);
  if (dagIndex !== undefined) return `dag[${dagIndex}]`;
  return p.key;
}

/** A piece of the input quoted in a message, cut short if long. */
export function quote(s: string): string {
  return `'${s.length > 60 ? `${s.slice(0, 57)}...` : s}'`;
}
