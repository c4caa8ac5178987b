/**
 * The JSON form: named nodes and an edge list by name or index.
 *
 *   { "name": "edges", "msg_len": 65536,
 *     "nodes": [ { "id": "gx", "function": "fns/sobel" }, ... ],
 *     "edges": [ { "from": "gx", "to": "mag" } ] }
 *
 * One zod schema checks, types and documents it (appDefinitionJsonSchema is
 * served in the HTTP API's OpenAPI document); checks that span fields run on
 * the model (validate.ts) and are reported with JSON paths.
 */
import { z } from 'zod';
import { AtaruError } from '../errors.js';
import type { AppDefinition, Edge, FunctionRef } from './model.js';
import { DEFAULTS, LIMITS } from './model.js';
import { defaultNodeIds } from './ids.js';
import { MAX_REPORTED, type Problem, quote, toError } from './problems.js';
import { didYouMean } from './suggest.js';
import { jsonPath } from './json-path.js';
import { findJsonSyntaxError } from './json-syntax.js';
import { RANGES, validateDefinition, type IntRange } from './validate.js';

/** A whole number; JSON's -0 reads as 0, so every form holds the same value. */
const whole = () => z.number().int().overwrite((v) => v + 0);
const int = (r: IntRange) => whole().min(r.min).max(r.max);

const functionObject = z.strictObject({
  path: z.string().default('').describe("Folder: absolute, or relative to the definition's folder"),
  name: z.string().min(1).describe('File name inside the folder'),
});

const functionRef = z
  .union([z.string().min(1), functionObject], {
    error: 'expected a function: a file path string or {"path": folder, "name": file}',
  })
  .describe('Function binary: "folder/file" or {path, name}');

const nodeRef = z
  .union([z.string().min(1), whole().min(0)], { error: 'expected a node id (string) or index (number)' })
  .describe('Node id or index');

const nodeSchema = z.strictObject({
  id: z.string().min(1).optional().describe('Node name, unique; defaults to the function name'),
  function: functionRef,
  inp_off: whole().min(0).default(0).describe('Input offset in the shared region'),
  out_off: whole().min(0).default(0).describe('Output offset in the shared region'),
  timeout_ms: int(RANGES.timeout_ms).optional().describe('Per-node deadline, ms'),
});

/** Linux interface names: IFNAMSIZ - 1 characters, no "/", ":" or white space. */
const IFACE_NAME = /^[^/:\s]{1,15}$/;

const appDefinitionSchema = z
  .strictObject({
    name: z.string().min(1).describe('App name'),
    conn_type: z.enum(['tcp', 'raw']).default(DEFAULTS.conn_type),
    conn_port: int(RANGES.conn_port).default(DEFAULTS.conn_port).describe('Data port; 0: any free port'),
    msg_len: whole().min(1).describe('Bytes per request on the data port, at most shm_size'),
    server_ip: z.string().default(DEFAULTS.server_ip),
    result_ip: z.string().default(DEFAULTS.result_ip),
    result_port: int(RANGES.result_port).default(DEFAULTS.result_port),
    pktcnt: int(RANGES.pktcnt).default(DEFAULTS.pktcnt).describe('Requests per connection before the statistics line; 0: unlimited'),
    shared: functionRef.optional().describe("Shared code image (the original's exec[0]): \"folder/file\" or {path, name}"),
    nodes: z.array(nodeSchema).min(1).max(LIMITS.maxNodes).describe('DAG nodes, in order (node k is exec[k+1])'),
    edges: z
      .array(z.strictObject({ from: nodeRef, to: nodeRef }))
      .max(LIMITS.maxEdges)
      .default([])
      .describe('Edges parent -> child'),
    timeout_ms: int(RANGES.timeout_ms).default(DEFAULTS.timeout_ms).describe('Request deadline, ms'),
    instances: int(RANGES.instances).default(DEFAULTS.instances).describe('VMs in the pool; 0: sized to the machine'),
    min_instances: int(RANGES.min_instances).default(DEFAULTS.min_instances).describe('Fewest VMs kept; 0: as instances'),
    max_instances: int(RANGES.max_instances)
      .default(DEFAULTS.max_instances)
      .describe('Most VMs the pool grows to while requests queue; 0: as instances'),
    idle_release_ms: int(RANGES.idle_release_ms)
      .default(DEFAULTS.idle_release_ms)
      .describe('An idle VM beyond min_instances is released after this long, ms'),
    vcpus: int(RANGES.vcpus).default(DEFAULTS.vcpus),
    reply: z.enum(['frames', 'none']).default(DEFAULTS.reply).describe('Per-request reply frames on the data port'),
    state: z.enum(['reset', 'keep']).default(DEFAULTS.state).describe('reset: clean memory per request; keep: as the original'),
    shm_size: int(RANGES.shm_size).default(DEFAULTS.shm_size).describe('Shared region size, bytes (whole pages)'),
    queue_limit: int(RANGES.queue_limit).default(DEFAULTS.queue_limit).describe('Queued requests before BUSY'),
    iface: z.string().regex(IFACE_NAME, 'a network interface name (1..15 characters, no "/" or space)').optional().describe('conn_type raw: the interface frames come in on (one the server allows)'),
    out_iface: z.string().regex(IFACE_NAME, 'a network interface name (1..15 characters, no "/" or space)').optional().describe('conn_type raw: the interface outputs go out on; default iface'),
  })
  .describe('Ataru application definition');

/**
 * JSON Schema of the JSON form (input side: fields with defaults are
 * optional). Draft-07 without "$schema", so it embeds in an OpenAPI document
 * and compiles with Fastify's default Ajv as it is.
 */
export const appDefinitionJsonSchema: Record<string, unknown> = (() => {
  const { $schema: _, ...schema } = z.toJSONSchema(appDefinitionSchema, { io: 'input', target: 'draft-7' });
  return schema;
})();

type JsonInput = z.output<typeof appDefinitionSchema>;

function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  const text = JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function knownKeys(path: readonly PropertyKey[]): string[] {
  if (path.length === 0) return Object.keys(appDefinitionSchema.shape);
  const last = path[path.length - 1];
  if (path[0] === 'nodes' && path.length === 2) return Object.keys(nodeSchema.shape);
  if (path[0] === 'edges') return ['from', 'to'];
  if (last === 'function' || last === 'shared') return ['path', 'name'];
  return [];
}

type AtPath = { message: string; jsonPath: string };

const TYPE_NAMES: Record<string, string> = {
  int: 'a whole number',
  number: 'a number',
  string: 'a string',
  object: 'an object',
  array: 'an array',
};

/** zod issues as "expected X, found Y" messages at JSON paths. */
function fromZod(issues: z.core.$ZodIssue[]): AtPath[] {
  const out: AtPath[] = [];
  for (const issue of issues) {
    const at = jsonPath(issue.path);
    const input = (issue as { input?: unknown }).input;
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const [i, key] of issue.keys.entries()) {
          // Only keys that can still be reported are described; the rest are
          // one line, so a hundred thousand unknown keys cost little.
          if (out.length >= MAX_REPORTED) {
            out.push({ jsonPath: jsonPath(issue.path), message: `${issue.keys.length - i} more unknown keys` });
            break;
          }
          out.push({ jsonPath: jsonPath([...issue.path, key]), message: `unknown key ${quote(key)}${didYouMean(key, knownKeys(issue.path))}` });
        }
        break;
      case 'invalid_type':
        out.push({ jsonPath: at, message: `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}, found ${shown(input)}` });
        break;
      case 'too_small':
      case 'too_big': {
        if (issue.origin === 'string' && issue.code === 'too_small') {
          out.push({ jsonPath: at, message: `expected a non-empty string, found ${shown(input)}` });
          break;
        }
        const limit = Number(issue.code === 'too_small' ? issue.minimum : issue.maximum);
        const bound = `${issue.code === 'too_small' ? 'at least' : 'at most'} ${limit}`;
        const unit = issue.origin === 'array' ? (limit === 1 ? ' entry' : ' entries') : '';
        const found = Array.isArray(input) ? `${input.length}` : shown(input);
        out.push({ jsonPath: at, message: `expected ${bound}${unit}, found ${found}` });
        break;
      }
      case 'invalid_value':
        out.push({ jsonPath: at, message: `expected ${issue.values.map((v) => String(v)).join(' or ')}, found ${shown(input)}` });
        break;
      default:
        out.push({ jsonPath: at, message: `${issue.message}, found ${shown(input)}` });
    }
  }
  return out;
}

/** "folder/file" → {path: "folder/", name: "file"}; a bare name is in the definition's folder. */
function splitFunction(ref: string | { path: string; name: string }): FunctionRef {
  if (typeof ref !== 'string') return { path: ref.path, name: ref.name };
  const slash = ref.lastIndexOf('/');
  return slash < 0 ? { path: '', name: ref } : { path: ref.slice(0, slash + 1), name: ref.slice(slash + 1) };
}

function throwAt(located: AtPath[], file?: string): never {
  const where = file !== undefined ? { file } : {};
  throw toError(located.map(({ message, jsonPath }) => ({ message, location: { ...where, jsonPath } })));
}

/** Line and column of a character position, for JSON syntax errors. */
function lineColumn(text: string, position: number): { line: number; column: number } {
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  return { line, column: position - before.lastIndexOf('\n') };
}

export function readJson(text: string, file?: string): AppDefinition {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const syntax = findJsonSyntaxError(text);
    throw new AtaruError('BAD_DEFINITION', `invalid JSON: ${syntax?.message ?? (err as Error).message}`, {
      ...(file !== undefined ? { file } : {}),
      ...(syntax ? lineColumn(text, syntax.position) : {}),
    });
  }
  return readJsonValue(raw, file);
}

/** A definition from an already parsed JSON value (e.g. an HTTP request body). */
export function readJsonValue(raw: unknown, file?: string): AppDefinition {
  const parsed = appDefinitionSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throwAt(fromZod(parsed.error.issues), file);
  return fromInput(parsed.data, file);
}

function fromInput(input: JsonInput, file?: string): AppDefinition {
  const functions = input.nodes.map((node) => splitFunction(node.function));
  const defaults = defaultNodeIds(functions);
  const ids = input.nodes.map((node, k) => node.id ?? defaults[k]);
  const indexOf = new Map<string, number>();
  const refProblems: AtPath[] = [];
  ids.forEach((id, k) => {
    const first = indexOf.get(id);
    if (first === undefined) indexOf.set(id, k);
    else refProblems.push({ jsonPath: `$.nodes[${k}].id`, message: `duplicate node id ${quote(id)} (also node ${first})` });
  });

  const resolve = (ref: string | number, path: string): number => {
    if (typeof ref === 'number') {
      if (ref < ids.length) return ref;
      refProblems.push({ jsonPath: path, message: `expected a node index 0..${ids.length - 1}, found ${ref}` });
      return -1;
    }
    const k = indexOf.get(ref);
    if (k !== undefined) return k;
    refProblems.push({ jsonPath: path, message: `unknown node ${quote(ref)}${didYouMean(ref, ids)}` });
    return -1;
  };
  const given: Edge[] = input.edges.map((e, i) => ({
    from: resolve(e.from, `$.edges[${i}].from`),
    to: resolve(e.to, `$.edges[${i}].to`),
  }));
  if (refProblems.length) throwAt(refProblems, file);

  // Edges grouped by parent (the order every form shares); remember where each came from.
  const order = given.map((_, i) => i).sort((a, b) => given[a].from - given[b].from || a - b);
  const def: AppDefinition = {
    name: input.name,
    conn_type: input.conn_type,
    conn_port: input.conn_port,
    msg_len: input.msg_len,
    server_ip: input.server_ip,
    result_ip: input.result_ip,
    result_port: input.result_port,
    pktcnt: input.pktcnt,
    ...(input.shared ? { shared: splitFunction(input.shared) } : {}),
    nodes: input.nodes.map((node, k) => ({
      id: ids[k],
      function: functions[k],
      inp_off: node.inp_off,
      out_off: node.out_off,
      ...(node.timeout_ms !== undefined ? { timeout_ms: node.timeout_ms } : {}),
    })),
    edges: order.map((i) => given[i]),
    timeout_ms: input.timeout_ms,
    instances: input.instances,
    min_instances: input.min_instances,
    max_instances: input.max_instances,
    idle_release_ms: input.idle_release_ms,
    vcpus: input.vcpus,
    reply: input.reply,
    state: input.state,
    shm_size: input.shm_size,
    queue_limit: input.queue_limit,
    ...(input.iface !== undefined ? { iface: input.iface } : {}),
    ...(input.out_iface !== undefined ? { out_iface: input.out_iface } : {}),
  };
  const problems = validateDefinition(def);
  if (!problems.length) return def;
  throwAt(problems.map((p) => ({ message: p.message, jsonPath: problemPath(p, order) })), file);
}

function problemPath(p: Problem, order: number[]): string {
  if (p.edge !== undefined) return p.edge >= 0 ? `$.edges[${order[p.edge]}]` : '$.edges';
  if (p.node !== undefined) {
    const key = p.key === 'path' || p.key === 'name' ? 'function' : p.key;
    return `$.nodes[${p.node}]${key ? `.${key}` : ''}`;
  }
  if (p.key === 'num_nodes') return '$.nodes';
  return p.key ? `$.${p.key}` : '$';
}

/** The normalized JSON form: every field explicit, edges by node id. */
function toJsonObject(def: AppDefinition): Record<string, unknown> {
  return {
    name: def.name,
    conn_type: def.conn_type,
    conn_port: def.conn_port,
    msg_len: def.msg_len,
    server_ip: def.server_ip,
    result_ip: def.result_ip,
    result_port: def.result_port,
    pktcnt: def.pktcnt,
    ...(def.shared ? { shared: { path: def.shared.path, name: def.shared.name } } : {}),
    nodes: def.nodes.map((node) => ({
      id: node.id,
      function: { path: node.function.path, name: node.function.name },
      inp_off: node.inp_off,
      out_off: node.out_off,
      ...(node.timeout_ms !== undefined ? { timeout_ms: node.timeout_ms } : {}),
    })),
    edges: def.edges.map((e) => ({ from: def.nodes[e.from].id, to: def.nodes[e.to].id })),
    timeout_ms: def.timeout_ms,
    instances: def.instances,
    min_instances: def.min_instances,
    max_instances: def.max_instances,
    idle_release_ms: def.idle_release_ms,
    vcpus: def.vcpus,
    reply: def.reply,
    state: def.state,
    shm_size: def.shm_size,
    queue_limit: def.queue_limit,
    ...(def.iface !== undefined ? { iface: def.iface } : {}),
    ...(def.out_iface !== undefined ? { out_iface: def.out_iface } : {}),
  };
}

export function writeJson(def: AppDefinition): string {
  return JSON.stringify(toJsonObject(def), null, 2) + '\n';
}
