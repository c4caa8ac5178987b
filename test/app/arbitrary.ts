/**
 * fast-check generators of valid AppDefinitions, for the round-trip and
 * fuzz tests. `binaryCompatible` keeps to what the wire form holds.
 */
import fc from 'fast-check';
import type { AppDefinition, Edge, FunctionRef } from '../../src/app/model.js';
import { DEFAULTS, LIMITS } from '../../src/app/model.js';
import { defaultNodeIds } from '../../src/app/ids.js';

const tokenChars = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCXYZ0123456789_.-+'.split(''));
/** One template token (no blanks, not starting with ':' or '//'). */
export const token = (maxLength: number) => fc.string({ unit: tokenChars, minLength: 1, maxLength });

const folder = fc.oneof(
  fc.constant(''),
  fc.array(token(12), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/') + '/'),
  fc.array(token(12), { minLength: 1, maxLength: 4 }).map((parts) => '/' + parts.join('/') + '/'),
);
const functionRef: fc.Arbitrary<FunctionRef> = fc.record({ path: folder, name: token(40) }, { noNullPrototype: true });

/** A DAG on n nodes: edges from lower to higher rank under a random node order. */
function dag(n: number, maxEdges: number): fc.Arbitrary<Edge[]> {
  const pairs = fc.uniqueArray(
    fc.tuple(fc.nat(n - 1), fc.nat(n - 1)).filter(([a, b]) => a < b),
    { maxLength: Math.min(maxEdges, (n * (n - 1)) / 2), selector: ([a, b]) => `${a},${b}` },
  );
  const order = fc.shuffledSubarray(Array.from({ length: n }, (_, k) => k), { minLength: n, maxLength: n });
  return fc.tuple(pairs, order).map(([ps, perm]) =>
    ps
      .map(([a, b]) => ({ from: perm[a], to: perm[b] }))
      .map((e, i) => ({ e, i }))
      .sort((x, y) => x.e.from - y.e.from || x.i - y.i)
      .map(({ e }) => e),
  );
}

export function validDefinition(options: { binaryCompatible: boolean; maxNodes?: number }): fc.Arbitrary<AppDefinition> {
  const maxNodes = options.maxNodes ?? (options.binaryCompatible ? 24 : 40);
  const shm = options.binaryCompatible
    ? fc.constant(DEFAULTS.shm_size)
    : fc.integer({ min: 1, max: LIMITS.maxShmSize / LIMITS.pageSize }).map((pages) => pages * LIMITS.pageSize);
  return fc
    .record({ n: fc.integer({ min: 1, max: maxNodes }), shm }, { noNullPrototype: true })
    .chain(({ n, shm }) => {
      const maxEdges = options.binaryCompatible ? LIMITS.dagArrayLength - (2 * n + 1) : 3 * n;
      const offset = fc.integer({ min: 0, max: shm - 1 });
      const ext = <T>(def: T, arb: fc.Arbitrary<T>) => (options.binaryCompatible ? fc.constant(def) : arb);
      return fc.record({
        name: token(60),
        conn_type: fc.constantFrom('tcp' as const, 'raw' as const),
        conn_port: fc.integer({ min: 0, max: 65535 }),
        msg_len: fc.integer({ min: 1, max: shm }),
        server_ip: fc.oneof(fc.constant(''), fc.ipV4()),
        result_ip: fc.oneof(fc.constant(''), fc.ipV4()),
        result_port: fc.integer({ min: 0, max: 65535 }),
        pktcnt: fc.integer({ min: 0, max: LIMITS.maxPktcnt }),
        shared: fc.option(functionRef, { nil: undefined }),
        functions: fc.array(functionRef, { minLength: n, maxLength: n }),
        offsets: fc.array(fc.tuple(offset, offset), { minLength: n, maxLength: n }),
        timeouts: ext(
          Array<number | undefined>(n).fill(undefined),
          fc.array(fc.option(fc.integer({ min: 1, max: LIMITS.maxTimeoutMs }), { nil: undefined }), { minLength: n, maxLength: n }),
        ),
        ids: ext(undefined, fc.option(fc.uniqueArray(token(16), { minLength: n, maxLength: n }), { nil: undefined })),
        edges: dag(n, maxEdges),
        timeout_ms: ext(DEFAULTS.timeout_ms, fc.integer({ min: 1, max: LIMITS.maxTimeoutMs })),
        instances: ext(DEFAULTS.instances, fc.integer({ min: 0, max: LIMITS.maxInstances })),
        // min <= max (validate.ts): max drawn as min plus a span
        min_instances: ext(DEFAULTS.min_instances, fc.integer({ min: 0, max: 16 })),
        max_instances: ext(DEFAULTS.max_instances, fc.constant(0)),
        idle_release_ms: ext(DEFAULTS.idle_release_ms, fc.integer({ min: 1, max: LIMITS.maxTimeoutMs })),
        vcpus: ext(DEFAULTS.vcpus, fc.integer({ min: 1, max: LIMITS.maxVcpus })),
        reply: ext(DEFAULTS.reply, fc.constantFrom('frames' as const, 'none' as const)),
        state: ext(DEFAULTS.state, fc.constantFrom('reset' as const, 'keep' as const)),
        shm_size: fc.constant(shm),
        queue_limit: ext(DEFAULTS.queue_limit, fc.integer({ min: 0, max: LIMITS.maxQueueLimit })),
      }, { noNullPrototype: true });
    })
    .map(({ functions, offsets, timeouts, ids, shared, ...rest }) => {
      const names = ids ?? defaultNodeIds(functions);
      const def: AppDefinition = {
        ...rest,
        ...(shared ? { shared } : {}),
        nodes: functions.map((f, k) => ({
          id: names[k],
          function: f,
          inp_off: offsets[k][0],
          out_off: offsets[k][1],
          ...(timeouts[k] !== undefined ? { timeout_ms: timeouts[k] } : {}),
        })),
      };
      return def;
    });
}
