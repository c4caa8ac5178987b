/**
 * What the original's client did with a template, written here from the
 * rules of docs/app-definitions.md ("The template form", "The binary form",
 * "The DAG") and independent of src/app: read the `key : value` lines, fill
 * the 54,008-byte struct, and send it. The same reading also gives the JSON
 * form (nodes and edges decoded from `dag`) for the HTTP API, so all three
 * forms the corpus deploys come from one independent reading of the file.
 */
import { posix } from 'node:path';

export const STRUCT_BYTES = 54_008;

export interface ExecEntry {
  path: string;
  name: string;
  inp_off: number;
  out_off: number;
}

export interface OriginalDefinition {
  name: string;
  num_nodes: number;
  conn_type: string;
  conn_port: number;
  msg_len: number;
  server_ip: string;
  result_ip: string;
  result_port: number;
  pktcnt: number;
  dag: number[];
  /** exec[0..num_nodes]; exec[0] may be empty (no shared image). */
  exec: ExecEntry[];
}

const NUMBER_KEYS = new Set(['num_nodes', 'conn_port', 'msg_len', 'result_port', 'pktcnt']);
const STRING_KEYS = new Set(['name', 'conn_type', 'server_ip', 'result_ip']);

/**
 * The original reader: the key runs to the first `:`, tab or space; any run
 * of those separates it from the value; `//` where a key starts is a comment;
 * `dag` values are split on any run of `,` `;` space or tab.
 */
export function readTemplate(text: string): OriginalDefinition {
  const d: OriginalDefinition = { name: '', num_nodes: 0, conn_type: 'tcp', conn_port: 0, msg_len: 0, server_ip: '', result_ip: '', result_port: 0, pktcnt: 0, dag: [], exec: [] };
  const exec = (i: number): ExecEntry => (d.exec[i] ??= { path: '', name: '', inp_off: 0, out_off: 0 });
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^[ \t]+/, '');
    if (line === '' || line.startsWith('//')) continue;
    const m = /^([^:\t ]+)[:\t ]+(.*)$/.exec(line);
    if (!m) throw new Error(`original reader: no value in ${JSON.stringify(raw)}`);
    const [, key, rest] = m as unknown as [string, string, string];
    const token = rest.split(/[ \t]/)[0]!;
    const e = /^exec\[(\d+)\]\.(path|name|inp_off|out_off)$/.exec(key);
    if (e) {
      const entry = exec(Number(e[1]));
      if (e[2] === 'path' || e[2] === 'name') entry[e[2]] = token;
      else entry[e[2] as 'inp_off' | 'out_off'] = Number(token);
    } else if (key === 'dag') d.dag = rest.trim().split(/[,; \t]+/).map(Number);
    else if (NUMBER_KEYS.has(key)) (d as unknown as Record<string, number>)[key] = Number(token);
    else if (STRING_KEYS.has(key)) (d as unknown as Record<string, string>)[key] = token;
    else throw new Error(`original reader: unknown key ${key}`);
  }
  for (let i = 0; i <= d.num_nodes; i++) exec(i);
  return d;
}

/** The struct as the original client sent it: zeroed, then each field at its offset. */
export function toStruct(d: OriginalDefinition): Buffer {
  const b = Buffer.alloc(STRUCT_BYTES);
  const str = (s: string, at: number, size: number) => {
    if (Buffer.byteLength(s) >= size) throw new Error(`${JSON.stringify(s)} does not fit char[${size}]`);
    b.write(s, at, 'utf8');
  };
  str(d.name, 0, 128);
  b.writeInt32LE(d.num_nodes, 128);
  str(d.conn_type, 132, 32);
  b.writeInt32LE(d.conn_port, 164);
  b.writeInt32LE(d.msg_len, 168);
  str(d.server_ip, 172, 32);
  str(d.result_ip, 204, 32);
  b.writeInt32LE(d.result_port, 236);
  b.writeInt32LE(d.pktcnt, 240);
  if (d.dag.length > 256) throw new Error(`dag has ${d.dag.length} values; the struct holds 256`);
  d.dag.forEach((v, i) => b.writeUInt16LE(v, 244 + 2 * i));
  d.exec.forEach((e, i) => {
    const base = 760 + 208 * i;
    str(e.path, base, 128);
    str(e.name, base + 128, 64);
    b.writeBigUInt64LE(BigInt(e.inp_off), base + 192);
    b.writeBigUInt64LE(BigInt(e.out_off), base + 200);
  });
  return b;
}

/** Edges parent -> child from the compressed array (docs/app-definitions.md, "The DAG"). */
export function decodeDag(dag: number[], n: number): [number, number][] {
  const edges: [number, number][] = [];
  for (let p = 0; p < n; p++) {
    const end = p + 1 < n ? dag[n + p + 1]! : dag[2 * n]!;
    for (let i = dag[n + p]!; i < end; i++) edges.push([p, dag[2 * n + 1 + i]!]);
  }
  return edges;
}

/** The JSON form of the same definition (Ataru's HTTP API), nodes named n0, n1, ... */
export function toJson(d: OriginalDefinition): Record<string, unknown> {
  const fn = (e: ExecEntry) => ({ path: e.path, name: e.name });
  const nodes = d.exec.slice(1, d.num_nodes + 1).map((e, k) => ({ id: `n${k}`, function: fn(e), inp_off: e.inp_off, out_off: e.out_off }));
  return {
    name: d.name,
    conn_type: d.conn_type,
    conn_port: d.conn_port,
    msg_len: d.msg_len,
    server_ip: d.server_ip,
    result_ip: d.result_ip,
    result_port: d.result_port,
    pktcnt: d.pktcnt,
    ...(d.exec[0]!.name ? { shared: fn(d.exec[0]!) } : {}),
    nodes,
    edges: decodeDag(d.dag, d.num_nodes).map(([from, to]) => ({ from, to })),
  };
}

/**
 * The key of a function in an HTTP upload (docs/server.md): folder/file as
 * the definition writes them, as a normalized path.
 */
export function uploadKey(e: ExecEntry): string {
  return posix.join(e.path || '.', e.name);
}
