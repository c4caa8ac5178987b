/**
 * `ataru invoke --nats URL APP`: one request straight through NATS, no HTTP
 * server in between. The app's entry in the shared registry says whether it
 * may be retried (state) and how long its input is (pictures).
 */
import type { NatsConfig } from '../config.js';
import { ClusterClient } from './client.js';
import { connectNats } from './connect.js';

export async function invokeThroughNats(
  nats: Pick<NatsConfig, 'servers' | 'credentials'>,
  cluster: string,
  app: string,
  input: (msgLen: number) => Promise<Buffer>,
  timeoutMs: number,
): Promise<{ output: Buffer; msgLen: number }> {
  const nc = await connectNats(nats, { name: 'ataru invoke', reconnectForever: false });
  try {
    const client = new ClusterClient(nc, cluster);
    const entry = await client.lookup(app);
    const r = await client.invoke(app, await input(entry.definition.msg_len), { stateless: entry.definition.state !== 'keep', timeoutMs });
    return { output: r.output, msgLen: entry.definition.msg_len };
  } finally {
    await nc.close();
  }
}
