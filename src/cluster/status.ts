/**
 * Which node serves which app version: every node answers requests on
 * `<cluster>.status` with its own view (no queue group, so all answer), and
 * GET /cluster on any node gathers the answers for a short while. Live, so
 * a dead node simply drops out of the table.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { names } from './names.js';

export interface NodeStatus {
  node: string;
  /** The node's HTTP API, when it has one. */
  http?: string;
  apps: { name: string; version: number; instances: number; local: boolean }[];
}

export interface ClusterView {
  cluster: string;
  nodes: NodeStatus[];
  apps: { name: string; version: number; deployer: string; created: string; updated: string; nodes: { node: string; version: number; instances: number; local: boolean }[] }[];
}

export function answerStatus(nc: NatsConnection, cluster: string, self: () => NodeStatus): Subscription {
  return nc.subscribe(names(cluster).status, { callback: (err, msg) => {
      if (!err) msg.respond(JSON.stringify(self()));
    },
  });
}

/** Asks every node; waits up to maxWaitMs (the answers arrive within a round trip). */
export async function gatherStatus(nc: NatsConnection, cluster: string, maxWaitMs = 500): Promise<NodeStatus[]> {
  const out: NodeStatus[] = [];
  try {
    for await (const m of await nc.requestMany(names(cluster).status, '', { strategy: 'timer', maxWait: maxWaitMs })) {
      try {
        out.push(m.json<NodeStatus>());
      } catch {
        // not a node's answer
      }
    }
  } catch {
    // no responders: no node
  }
  return out.sort((a, b) => a.node.localeCompare(b.node));
}
