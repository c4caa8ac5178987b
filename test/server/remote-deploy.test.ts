/**
 * Control-port deploys from non-loopback peers are refused unless
 * allowRemoteDeploy. Tests may only use loopback, so the peer's address is
 * faked: a real loopback connection whose server-side socket reports another
 * remoteAddress (192.0.2.10, a documentation address nothing connects to).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { describe, test } from 'node:test';
import { encodeDefinition } from '../../src/app/index.js';
import { makeConfig } from '../../src/config.js';
import { log } from '../../src/log.js';
import { handleControlConnection, isLoopbackPeer } from '../../src/server/control-port.js';
import { Metrics } from '../../src/server/metrics.js';
import { AppRegistry } from '../../src/server/registry.js';
import { makeAllowList } from '../../src/server/result-target.js';
import { Store } from '../../src/server/store.js';
import { kvmOptions } from '../helpers/kvm.js';
import { tempDir } from '../helpers/tmp.js';
import { appDef, controlSend, fixturesDir } from './helpers.js';

test('isLoopbackPeer: IPv4 127/8, ::1 and IPv4-mapped 127/8 only', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::FFFF:127.9.8.7']) {
    assert.equal(isLoopbackPeer(a), true, a);
  }
  for (const a of [undefined, '', '10.0.0.1', '192.0.2.10', '128.0.0.1', '::', '::2', '2001:db8::1', '::ffff:10.0.0.1', '::ffff:192.0.2.10', 'localhost', '127.example.com']) {
    assert.equal(isLoopbackPeer(a), false, String(a));
  }
});

describe('a control connection from a non-loopback peer', kvmOptions(), () => {
  /** A loopback listener that serves each connection as if it came from 192.0.2.10. */
  async function withFakeRemotePeer(allowRemoteDeploy: boolean, fn: (port: number, registry: AppRegistry) => Promise<void>): Promise<void> {
    const dataDir = tempDir();
    const config = makeConfig({ host: '127.0.0.1', controlPort: null, httpPort: null, dataDir, functionRoots: [fixturesDir], allowRemoteDeploy });
    const store = new Store(dataDir);
    const registry: AppRegistry = new AppRegistry({
      config,
      store,
      log,
      metrics: new Metrics(() => registry.list().map((a) => a.current.handle.stats())),
      resultAllow: makeAllowList(config.resultAllow),
      reservedPorts: () => [],
    });
    const server: Server = createServer({ allowHalfOpen: true }, (s) => {
      Object.defineProperty(s, 'remoteAddress', { value: '192.0.2.10' });
      handleControlConnection(s, { config, registry, store, log });
    });
    await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, r));
    try {
      await fn((server.address() as { port: number }).port, registry);
    } finally {
      await new Promise((r) => server.close(r));
      await registry.close();
      store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }

  const definition = () => encodeDefinition(appDef('remote', ['add1'], []), 'json');

  test('is refused with the documented error line by default', async () => {
    await withFakeRemotePeer(false, async (port, registry) => {
      const r = await controlSend(port, definition(), true);
      assert.equal(r.raw.toString(), 'error: deploys from 192.0.2.10 are refused: start the server with --allow-remote-deploy\n');
      assert.equal(registry.get('remote'), undefined, 'nothing deployed');
    });
  });

  test('deploys with allowRemoteDeploy', async () => {
    await withFakeRemotePeer(true, async (port, registry) => {
      const r = await controlSend(port, definition(), true);
      assert.equal(r.error, undefined, r.error);
      assert.equal(r.port, registry.get('remote')?.dataPort.port, 'replied with the data port');
    });
  });
});
