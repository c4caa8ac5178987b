/**
 * Calling an app through the cluster: one NATS request to
 * `<cluster>.invoke.<app>`, answered by whichever node of the queue group
 * NATS picks (dead nodes' subscriptions are gone, so it skips them).
 *
 * Exactly one reply per call: a request whose node gives no reply within
 * the deadline, or that finds no responders, is retried once — another
 * member of the queue group takes it — when the app is stateless (state:
 * reset, the default: the first attempt left nothing behind); an app with
 * `state: keep` is never retried (its first attempt may have run and changed
 * the state) and the caller gets a clear error instead. A late reply to a
 * timed-out attempt goes to an inbox nobody reads any more, so no caller
 * sees two answers. Used by forwarding nodes, `ataru invoke --nats`, tests
 * and the benchmark.
 */
import { errors, nuid, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { AtaruError } from '../errors.js';
import { appToken, names } from './names.js';
import { decodeEntry, type RegistryEntry } from './registry-entry.js';
import { parseReply, requestHeaders, type Reply } from './messages.js';

export interface InvokeOptions {
  /** false for `state: keep` apps: never retried. */
  stateless: boolean;
  /** Per attempt. */
  timeoutMs: number;
  requestId?: string;
}

export interface InvokeCounters {
  retries: number;
  failures: number;
}

export class ClusterClient {
  readonly counters: InvokeCounters = { retries: 0, failures: 0 };
  private readonly n: ReturnType<typeof names>;

  constructor(
    private readonly nc: NatsConnection,
    readonly cluster: string,
  ) {
    this.n = names(cluster);
  }

  /** The app's entry in the shared registry (definition, version, ...); NOT_FOUND when there is none. */
  async lookup(app: string): Promise<RegistryEntry> {
    let e;
    try {
      const kv = await new Kvm(this.nc).open(this.n.bucket);
      e = await kv.get(appToken(app));
    } catch (err) {
      throw new AtaruError('CLOSED', `cluster ${this.cluster}: cannot read the registry bucket ${this.n.bucket}: ${(err as Error).message}`);
    }
    if (!e || e.operation !== 'PUT') throw new AtaruError('NOT_FOUND', `no app named "${app}" in cluster ${this.cluster}`);
    return decodeEntry(e.string(), e.key);
  }

  async invoke(app: string, input: Buffer, opts: InvokeOptions): Promise<Reply> {
    const id = opts.requestId ?? nuid.next();
    const subject = this.n.invoke(app);
    const where = `cluster ${this.cluster}, app "${app}"`;
    let first: 'timeout' | 'none' | undefined;
    for (let attempt = 1; attempt <= 2; attempt++) {
      let msg;
      try {
        msg = await this.nc.request(subject, input, { timeout: opts.timeoutMs, headers: requestHeaders(id, opts.timeoutMs, attempt) });
      } catch (e) {
        const kind = noResponders(e) ? 'none' : e instanceof errors.TimeoutError ? 'timeout' : undefined;
        if (!kind) {
          this.counters.failures++;
          throw new AtaruError('CLOSED', `${where}: cannot send the request through NATS: ${(e as Error).message}`);
        }
        if (attempt === 1 && opts.stateless) {
          first = kind;
          this.counters.retries++;
          continue;
        }
        this.counters.failures++;
        throw failure(where, kind, first, opts);
      }
      try {
        return parseReply(msg.data, msg.headers, where);
      } catch (e) {
        // CLOSED from a node: it did not run the request (the app or the node was closing).
        if (attempt === 1 && opts.stateless && e instanceof AtaruError && e.code === 'CLOSED') {
          this.counters.retries++;
          continue;
        }
        throw e;
      }
    }
    throw new AtaruError('INTERNAL', `${where}: unreachable`);
  }
}

function noResponders(e: unknown): boolean {
  if (e instanceof errors.NoRespondersError) return true;
  return e instanceof errors.RequestError && e.isNoResponders();
}

function failure(where: string, kind: 'timeout' | 'none', first: 'timeout' | 'none' | undefined, opts: InvokeOptions): AtaruError {
  const what = kind === 'none' ? 'no node serves it (NATS: no responders)' : `no node replied within ${opts.timeoutMs} ms`;
  if (!opts.stateless) {
    return new AtaruError(
      kind === 'none' ? 'CLOSED' : 'TIMEOUT',
      `${where}: ${what}; not retried because the app keeps state between requests (state: keep), so the request may have run on a node that then failed`,
    );
  }
  const before = first === 'none' ? 'no responders' : first === 'timeout' ? 'no reply in time' : 'the node was closing';
  return new AtaruError(kind === 'none' ? 'CLOSED' : 'TIMEOUT', `${where}: ${what}, also on the retry (first attempt: ${before})`);
}
