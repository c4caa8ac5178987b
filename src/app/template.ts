/**
 * The original's template syntax, read and written exactly:
 *
 *   name            : sobel_function
 *   dag             : 0,1,1,2,0,2,3,4,4,1,2,3,3
 *   exec[1].path    : /home/prakhar/data/code/sobel/
 *
 * A key runs up to the first ':', tab or space; any run of those separates it
 * from the value(s). '//' where a key would start comments the line. Strings
 * are one token; `dag` values are separated by ',' ';' space or tab. Keys not
 * known here are errors, with a suggestion.
 */
import type { AppDefinition, ConnType, FunctionRef, NodeDef, ReplyMode, StateMode } from './model.js';
import { DEFAULTS, LIMITS } from './model.js';
import { decodeDagArray, encodeDagArray } from './dag.js';
import { defaultNodeIds } from './ids.js';
import { EXEC_FIELDS, EXTENSION_KEYS, ORIGINAL_KEYS, REQUIRED_KEYS, TOP_LEVEL_KEYS, execKey, type ExecField } from './keys.js';
import { MAX_REPORTED, type Problem, fieldError, quote, templateField, toError } from './problems.js';
import { didYouMean } from './suggest.js';
import { RANGES, rangeMessage, validateDefinition } from './validate.js';

interface Entry {
  line: number;
  /** The value text after the separator run, trailing blanks removed. */
  rest: string;
}

/** A template problem: located by `line` and `field` when known, else by the model field. */
type LineProblem = Problem & { line?: number; field?: string };

// The s flag: a lone CR inside a line is part of the value (and is reported there), not a regex miss.
const KEY_AND_REST = /^([^:\t ]*)[:\t ]*(.*)$/s;
const EXEC_KEY = /^exec\[(\d+)\]\.(.*)$/;
const DAG_SEPARATORS = /[,; \t]+/;
const MAX_DAG_VALUES = 2 * LIMITS.maxNodes + 1 + LIMITS.maxEdges;

/**
 * The text without its trailing spaces and tabs. A loop, not /[ \t]+$/: that
 * regex retries from every blank of a long run that is followed by other
 * text, which is quadratic (a 160 KB line of spaces blocked the server 13 s).
 */
function trimBlanksEnd(s: string): string {
  let end = s.length;
  while (end > 0 && (s.charCodeAt(end - 1) === 0x20 || s.charCodeAt(end - 1) === 0x09)) end--;
  return end === s.length ? s : s.slice(0, end);
}

function unknownKeyCandidates(key: string): string[] {
  const index = /\d+/.exec(key)?.[0] ?? '1';
  return [...TOP_LEVEL_KEYS, ...EXEC_FIELDS.map((f) => `exec[${index}].${f}`)];
}

const firstLine = (fields: Map<ExecField, Entry>) => Math.min(...[...fields.values()].map((e) => e.line));

export function readTemplate(text: string, file?: string): AppDefinition {
  const problems: LineProblem[] = [];
  const top = new Map<string, Entry>();
  const execs = new Map<number, Map<ExecField, Entry>>();
  const lineOfKey = new Map<string, number>();

  // Line problems past what can be reported are only counted: a megabyte of
  // garbage lines must not become half a million objects to sort.
  let unlisted = 0;
  const lineProblem = (p: LineProblem) => {
    if (problems.length < MAX_REPORTED) problems.push(p);
    else unlisted++;
  };
  // Suggestions only for problems that can still be among those reported.
  const suggest = (key: string, candidates: string[]) => (problems.length < MAX_REPORTED ? didYouMean(key, candidates) : '');

  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const content = raw.replace(/\r$/, '').replace(/^[ \t]+/, '');
    if (content === '' || content.startsWith('//')) return;
    const [, key, restRaw] = KEY_AND_REST.exec(content)!;
    const rest = trimBlanksEnd(restRaw);
    if (key === '') {
      lineProblem({ line, message: `expected a key, found ${quote(content)}` });
      return;
    }
    const entry = { line, rest };
    const execMatch = EXEC_KEY.exec(key);
    let canonical: string;
    if (TOP_LEVEL_KEYS.includes(key)) {
      canonical = key;
      if (!top.has(key)) top.set(key, entry);
    } else if (execMatch) {
      const index = Number(execMatch[1]);
      const field = execMatch[2] as ExecField;
      if (index >= LIMITS.execEntries) {
        lineProblem({ line, message: `${quote(key)}: expected an exec index 0..${LIMITS.execEntries - 1}, found ${execMatch[1]}` });
        return;
      }
      if (!EXEC_FIELDS.includes(field)) {
        const candidates = EXEC_FIELDS.map((f) => execKey(index, f));
        lineProblem({ line, message: `unknown key ${quote(key)}${suggest(key, candidates)}` });
        return;
      }
      canonical = execKey(index, field);
      const fields = execs.get(index) ?? new Map<ExecField, Entry>();
      execs.set(index, fields);
      if (!fields.has(field)) fields.set(field, entry);
    } else {
      // The candidates only while a suggestion can still be reported: garbage
      // lines by the hundred thousand must not each build a list.
      const hint = problems.length < MAX_REPORTED ? suggest(key, unknownKeyCandidates(key)) : '';
      lineProblem({ line, message: `unknown key ${quote(key)}${hint}` });
      return;
    }
    const first = lineOfKey.get(canonical);
    if (first !== undefined) lineProblem({ line, message: `duplicate key ${quote(key)} (first set on line ${first})` });
    else lineOfKey.set(canonical, line);
  });

  // Fields whose text is bad: their model values are placeholders, not checked again.
  const badFields = new Set<string>();
  const bad = (field: string, message: string, line?: number) => {
    badFields.add(field);
    problems.push({ field, message, line: line ?? lineOfKey.get(field) });
  };

  const token = (field: string, entry: Entry | undefined): string | undefined => {
    if (!entry) return undefined;
    const tokens = entry.rest === '' ? [] : entry.rest.split(/[ \t]+/);
    if (tokens.length === 1) return tokens[0];
    bad(field, tokens.length === 0 ? 'expected a value, found nothing' : `expected one value, found ${tokens.length}: ${quote(entry.rest)}`, entry.line);
    return undefined;
  };
  const number = (field: string, entry: Entry | undefined): number | undefined => {
    const t = token(field, entry);
    if (t === undefined) return undefined;
    if (/^-?\d+$/.test(t)) return Number(t) || 0; // "-0" is 0
    bad(field, `expected a whole number, found ${quote(t)}`, entry!.line);
    return undefined;
  };

  for (const key of REQUIRED_KEYS) {
    if (!top.has(key)) bad(key, `missing required key (expected a line '${key} : ...')`);
  }

  const topString = (key: string, fallback: string) => token(key, top.get(key)) ?? fallback;
  const topNumber = (key: string, fallback: number) => number(key, top.get(key)) ?? fallback;

  let n: number | undefined = number('num_nodes', top.get('num_nodes'));
  if (n !== undefined) {
    const message = rangeMessage(n, RANGES.num_nodes);
    if (message) {
      bad('num_nodes', message);
      n = undefined;
    }
  }

  // exec entries: exec[0] is the shared image, exec[1..n] the nodes.
  const functions: FunctionRef[] = [];
  const nodes: Omit<NodeDef, 'id'>[] = [];
  const explicitIds: (string | undefined)[] = [];
  for (const [index, fields] of [...execs].sort((a, b) => a[0] - b[0])) {
    // An entry past num_nodes whose every key is a zero offset is what the
    // struct holds there anyway (its bytes are all 0), so it says nothing.
    const zeroOffsetsOnly = () => [...fields].every(([f, e]) => (f === 'inp_off' || f === 'out_off') && number(execKey(index, f), e) === 0);
    if (n !== undefined && index > n && !zeroOffsetsOnly()) {
      bad(`exec[${index}]`, `beyond num_nodes ${n}: the nodes are exec[1..${n}]`, firstLine(fields));
    }
  }
  let shared: FunctionRef | undefined;
  const exec0 = execs.get(0);
  if (exec0) {
    for (const field of ['timeout_ms', 'id'] as const) {
      const e = exec0.get(field);
      if (e) bad(execKey(0, field), `exec[0] is the shared code image, not a DAG node: it has no ${field}`, e.line);
    }
    for (const field of ['inp_off', 'out_off'] as const) {
      const v = number(execKey(0, field), exec0.get(field));
      if (v !== undefined && v !== 0) {
        bad(execKey(0, field), `exec[0] is the shared code image, not a DAG node: its offsets are unused and must be 0, found ${v}`);
      }
    }
    const name = token(execKey(0, 'name'), exec0.get('name'));
    // Only (zero) offsets: no shared image, as a struct with an empty exec[0]
    // name reads (the seed's layout with exec[0].path and .name taken out).
    const offsetsOnly = [...exec0.keys()].every((f) => f === 'inp_off' || f === 'out_off');
    if (!offsetsOnly) {
      if (!exec0.has('name')) bad(execKey(0, 'name'), 'missing (exec[0] has other keys, so it needs a name)', firstLine(exec0));
      shared = { path: token(execKey(0, 'path'), exec0.get('path')) ?? '', name: name ?? '' };
    }
  }
  for (let i = 1; n !== undefined && i <= n; i++) {
    const fields = execs.get(i);
    if (!fields) {
      bad(`exec[${i}]`, `missing: node ${i - 1} needs exec[${i}].name (with exec[${i}].path, inp_off, out_off)`);
    } else if (!fields.has('name')) {
      bad(execKey(i, 'name'), 'missing required key', firstLine(fields));
    }
    const get = (f: ExecField) => fields?.get(f);
    const fn = { path: token(execKey(i, 'path'), get('path')) ?? '', name: token(execKey(i, 'name'), get('name')) ?? '' };
    functions.push(fn);
    const timeout = number(execKey(i, 'timeout_ms'), get('timeout_ms'));
    nodes.push({
      function: fn,
      inp_off: number(execKey(i, 'inp_off'), get('inp_off')) ?? 0,
      out_off: number(execKey(i, 'out_off'), get('out_off')) ?? 0,
      ...(timeout !== undefined ? { timeout_ms: timeout } : {}),
    });
    explicitIds.push(token(execKey(i, 'id'), get('id')));
  }

  // dag: the compressed array, decoded once num_nodes is known.
  let edges: AppDefinition['edges'] = [];
  const dagEntry = top.get('dag');
  if (dagEntry) {
    const tokens = dagEntry.rest.split(DAG_SEPARATORS).filter((t) => t !== '');
    const values: number[] = [];
    // Too many values is the one problem worth naming; judging each would
    // only list garbage.
    if (tokens.length > MAX_DAG_VALUES) bad('dag', `expected at most ${MAX_DAG_VALUES} values, found ${tokens.length}`);
    else {
      tokens.forEach((t, j) => {
        if (/^\d+$/.test(t) && Number(t) <= 0xffff) values.push(Number(t));
        else bad(`dag[${j}]`, `expected a number 0..65535, found ${quote(t)}`, dagEntry.line);
      });
    }
    if (tokens.length <= MAX_DAG_VALUES && values.length === tokens.length && n !== undefined) {
      const decoded = decodeDagArray(values, n);
      for (const p of decoded.problems) {
        const field = templateField(p, n)!;
        bad(field, p.message, dagEntry.line);
      }
      // Zeros after the child list are what the struct holds there (the
      // original's client sent the same bytes with or without them), so they
      // are accepted here as in the binary form; any other value is not.
      const stray = values.findIndex((v, j) => j >= decoded.used && v !== 0);
      if (!decoded.problems.length && stray >= 0) {
        bad(
          `dag[${stray}]`,
          `expected ${decoded.used} values (${n} nodes, ${decoded.edges.length} edges), found ${values.length - decoded.used} more after the child list; only 0s may follow it`,
          dagEntry.line,
        );
      }
      edges = decoded.edges;
    }
  }

  const defaults = defaultNodeIds(functions);
  const def: AppDefinition = {
    name: topString('name', ''),
    conn_type: topString('conn_type', DEFAULTS.conn_type) as ConnType,
    conn_port: topNumber('conn_port', DEFAULTS.conn_port),
    msg_len: topNumber('msg_len', 1),
    server_ip: topString('server_ip', DEFAULTS.server_ip),
    result_ip: topString('result_ip', DEFAULTS.result_ip),
    result_port: topNumber('result_port', DEFAULTS.result_port),
    pktcnt: topNumber('pktcnt', DEFAULTS.pktcnt),
    ...(shared ? { shared } : {}),
    nodes: nodes.map((node, k) => ({ id: explicitIds[k] ?? defaults[k], ...node })),
    edges,
    timeout_ms: topNumber('timeout_ms', DEFAULTS.timeout_ms),
    instances: topNumber('instances', DEFAULTS.instances),
    min_instances: topNumber('min_instances', DEFAULTS.min_instances),
    max_instances: topNumber('max_instances', DEFAULTS.max_instances),
    idle_release_ms: topNumber('idle_release_ms', DEFAULTS.idle_release_ms),
    vcpus: topNumber('vcpus', DEFAULTS.vcpus),
    reply: topString('reply', DEFAULTS.reply) as ReplyMode,
    state: topString('state', DEFAULTS.state) as StateMode,
    shm_size: topNumber('shm_size', DEFAULTS.shm_size),
    queue_limit: topNumber('queue_limit', DEFAULTS.queue_limit),
  };

  const numNodes = n ?? 0;
  for (const p of validateDefinition(def)) {
    const field = templateField(p, numNodes);
    const entry = field && /^exec\[\d+\]/.exec(field)?.[0];
    if ((field !== undefined && badFields.has(field)) || (entry && badFields.has(entry))) continue;
    problems.push(p);
  }
  if (!problems.length) return def;

  const dagLine = lineOfKey.get('dag');
  const lineOf = (field: string | undefined): number | undefined => {
    if (field === undefined) return undefined;
    if (lineOfKey.has(field)) return lineOfKey.get(field);
    if (field.startsWith('dag')) return dagLine;
    const exec = /^exec\[(\d+)\]/.exec(field);
    const fields = exec ? execs.get(Number(exec[1])) : undefined;
    return fields ? firstLine(fields) : undefined;
  };
  const where = file !== undefined ? { file } : {};
  const located = problems.map((p) => {
    const field = p.field ?? templateField(p, numNodes);
    const line = p.line ?? lineOf(field);
    return { message: p.message, field, location: { ...where, ...(line !== undefined ? { line } : {}) } };
  });
  located.sort((a, b) => (a.location.line ?? Infinity) - (b.location.line ?? Infinity));
  throw toError(located, unlisted);
}

// ---- writer ----

const KEY_WIDTH = 16; // the seed's alignment: "exec[0].inp_off : 0"

/** A string the template can hold: one token, no blanks, not starting with ':' (a separator). */
function templateToken(s: string): boolean {
  return s !== '' && !/[\s\u0000-\u001f\u007f]/.test(s) && !s.startsWith(':');
}

/** The template text of a valid definition; throws if a string can't be one token. */
export function writeTemplate(def: AppDefinition): string {
  const lines: string[] = [];
  const problems: Problem[] = [];
  const n = def.nodes.length;
  const put = (key: string, value: string | number, problem: Omit<Problem, 'message'>, optional = false) => {
    const v = String(value);
    if (optional && v === '') return;
    if (!templateToken(v)) {
      problems.push({
        ...problem,
        message: `the template form cannot hold ${JSON.stringify(v)} (a value is one token: not empty, no blanks, not starting with ':')`,
      });
    }
    lines.push(`${key.padEnd(KEY_WIDTH)}: ${v}`);
  };

  const values: Record<(typeof ORIGINAL_KEYS)[number], string | number> = {
    name: def.name,
    num_nodes: n,
    conn_type: def.conn_type,
    conn_port: def.conn_port,
    msg_len: def.msg_len,
    server_ip: def.server_ip,
    result_ip: def.result_ip,
    result_port: def.result_port,
    pktcnt: def.pktcnt,
    dag: encodeDagArray(def.edges, n).join(','),
  };
  for (const key of ORIGINAL_KEYS) put(key, values[key], { key }, key === 'server_ip' || key === 'result_ip');
  for (const key of EXTENSION_KEYS) {
    if (def[key] !== DEFAULTS[key]) put(key, def[key], { key });
  }
  if (def.shared) {
    put(execKey(0, 'path'), def.shared.path, { key: 'shared.path' }, true);
    put(execKey(0, 'name'), def.shared.name, { key: 'shared.name' });
    put(execKey(0, 'inp_off'), 0, {});
    put(execKey(0, 'out_off'), 0, {});
  }
  const defaults = defaultNodeIds(def.nodes.map((node) => node.function));
  def.nodes.forEach((node, k) => {
    const i = k + 1;
    put(execKey(i, 'path'), node.function.path, { node: k, key: 'path' }, true);
    put(execKey(i, 'name'), node.function.name, { node: k, key: 'name' });
    put(execKey(i, 'inp_off'), node.inp_off, { node: k, key: 'inp_off' });
    put(execKey(i, 'out_off'), node.out_off, { node: k, key: 'out_off' });
    if (node.timeout_ms !== undefined) put(execKey(i, 'timeout_ms'), node.timeout_ms, { node: k, key: 'timeout_ms' });
    if (node.id !== defaults[k]) put(execKey(i, 'id'), node.id, { node: k, key: 'id' });
  });
  if (problems.length) throw fieldError(problems, n);
  return lines.join('\n') + '\n';
}
