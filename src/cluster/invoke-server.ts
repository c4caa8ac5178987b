/**
 * The serving side of `<cluster>.invoke.<app>`: one queue-group subscription
 * per app that has a local pool here, opened when such a version is swapped
 * in and closed when the app goes or loses its local pool. Each request runs
 * on the version current when it arrives (a redeploy's old requests finish
 * on the old version) and gets exactly one reply. drain() is the first step
 * of a node's shutdown: unsubscribe (NATS sends new requests to the other
 * nodes), then let the requests already here finish and reply.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { AtaruError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AppRegistry, DeployedApp } from '../server/registry.js';
import { asAtaruError } from '../server/reply-frame.js';
import { localOf } from './handle.js';
import { errorReply, H, okReply } from './messages.js';
import { names, QUEUE_GROUP } from './names.js';

export interface InvokeServerDeps {
  nc: NatsConnection;
  cluster: string;
  node: string;
  registry: AppRegistry;
  /** The cluster version of the app's current local version. */
  versionOf(name: string): number;
  log: Logger;
}

export class InvokeServer {
  private readonly subs = new Map<string, Subscription>();
  private inflight = 0;
  private idle?: () => void;
  private draining = false;
  private readonly n: ReturnType<typeof names>;

  constructor(private readonly deps: InvokeServerDeps) {
    this.n = names(deps.cluster);
  }

  /** After every registry change: subscribe while the app has a local pool here. */
  sync(name: string, app: DeployedApp | undefined): void {
    const served = !!app && !!localOf(app.current.handle) && !this.draining;
    const sub = this.subs.get(name);
    if (served && !sub) {
      this.subs.set(name, this.deps.nc.subscribe(this.n.invoke(name), { queue: QUEUE_GROUP, callback: (err, msg) => (err ? this.deps.log.warn({ app: name, err: err.message }, 'invoke subscription error') : this.serve(name, msg)) }));
    } else if (!served && sub) {
      this.subs.delete(name);
      // Requests already delivered to this subscription still run and reply.
      void sub.drain().catch(() => undefined);
    }
  }

  /** Apps this node takes requests for through NATS. */
  served(): string[] {
    return [...this.subs.keys()];
  }

  private serve(name: string, msg: Msg): void {
    const requestId = msg.headers?.get(H.requestId) ?? '';
    const app = this.deps.registry.get(name);
    const v = app?.current;
    const local = v && localOf(v.handle);
    const served = { requestId, node: this.deps.node, version: this.deps.versionOf(name) };
    if (!v || !local) {
      // Raced with a removal: the caller may retry elsewhere (CLOSED: it did not run).
      const rep = errorReply(new AtaruError('CLOSED', `node ${this.deps.node} no longer runs app "${name}"`), served);
      msg.respond(rep.data, { headers: rep.headers });
      return;
    }
    this.inflight++;
    const input = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
    local.run(input).then(
      (r) => {
        v.metrics.ok(r, 'nats');
        const rep = okReply(r, served);
        msg.respond(rep.data, { headers: rep.headers });
      },
      (e: unknown) => {
        const err = asAtaruError(e);
        v.metrics.error(err.code, 'nats', err.location?.node);
        const rep = errorReply(err, served);
        msg.respond(rep.data, { headers: rep.headers });
      },
    ).catch((e: Error) => this.deps.log.warn({ app: name, request: requestId, err: e.message }, 'could not send an invoke reply'))
      .finally(() => {
        if (--this.inflight === 0) this.idle?.();
      });
  }

  /** Unsubscribes from everything, then waits for the requests in flight. */
  async drain(): Promise<void> {
    this.draining = true;
    const subs = [...this.subs.values()];
    this.subs.clear();
    await Promise.all(subs.map((s) => s.drain().catch(() => undefined)));
    if (this.inflight > 0) await new Promise<void>((r) => (this.idle = r));
  }
}
