/**
 * The control port (original protocol, default 9988). A client connects and
 * sends one definition:
 *  - the 54,008-byte binary struct: complete when 54,008 bytes have arrived
 *    (the original client never half-closes; it waits for the port);
 *  - a template or JSON text: complete when the client half-closes.
 * The server validates and deploys it, replies with the data port as 2 bytes
 * in network order and closes. A rejected definition gets one line
 * `error: <message>\n` instead, and nothing of it stays deployed.
 * A binary struct is told from text by a NUL in its first 128 bytes (see
 * definition.ts).
 */
import { createServer, isIPv4, type Socket } from 'node:net';
import type { ServerConfig } from '../config.js';
import { AtaruError } from '../errors.js';
import type { Logger } from '../log.js';
import { BINARY_SIZE } from '../app/index.js';
import { startsBinary, parseForServer } from './definition.js';
import { storeFromRoots } from './functions.js';
import type { AppRegistry } from './registry.js';
import { asAtaruError } from './reply-frame.js';
import type { Store } from './store.js';

export interface ControlPortDeps {
  config: ServerConfig;
  registry: AppRegistry;
  store: Store;
  log: Logger;
}

export interface ControlPort {
  readonly port: number;
  /** Stops accepting and drops control clients still sending. */
  close(): Promise<void>;
}

export function startControlPort(deps: ControlPortDeps, port: number): Promise<ControlPort> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    handleControlConnection(s, deps);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new AtaruError(
          'CONFLICT',
          e.code === 'EADDRINUSE'
            ? `cannot listen on the control port ${deps.config.host}:${port}: it is in use (EADDRINUSE) — another ataru serve? choose one with --control-port, or --no-control`
            : `cannot listen on the control port ${deps.config.host}:${port}: ${e.message}`,
        ),
      ),
    );
    server.listen({ host: deps.config.host, port, exclusive: true }, () =>
      resolve({
        port: (server.address() as { port: number }).port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const s of sockets) s.destroy();
          }),
      }),
    );
  });
}

/**
 * Whether a socket's remoteAddress is loopback: 127.0.0.0/8, ::1, or an IPv4
 * loopback address mapped into IPv6 (how a dual-stack listener reports IPv4
 * peers).
 */
export function isLoopbackPeer(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address;
  if (isIPv4(v4)) return v4.startsWith('127.');
  return address === '::1';
}

/** Serves one control connection (exported for tests). */
export function handleControlConnection(socket: Socket, deps: ControlPortDeps): void {
  const { config, log } = deps;
  const peer = `${socket.remoteAddress}:${socket.remotePort}`;
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;

  const sendError = (err: unknown) => {
    const e = asAtaruError(err);
    log.warn({ peer, code: e.code, err: e.describe() }, 'control: definition rejected');
    socket.end(`error: ${e.describe().replace(/\n/g, '; ')}\n`);
  };
  const fail = (err: unknown) => {
    if (done) return;
    done = true;
    sendError(err);
  };

  socket.on('error', (e) => log.debug({ peer, err: e.message }, 'control connection error'));
  if (!config.allowRemoteDeploy && !isLoopbackPeer(socket.remoteAddress)) {
    fail(new AtaruError('FORBIDDEN', `deploys from ${socket.remoteAddress} are refused: start the server with --allow-remote-deploy`));
    // Nothing else reads this socket: drain it so the peer's half-close ends
    // it (allowHalfOpen), and drop a peer that never sends one.
    socket.resume();
    socket.setTimeout(config.controlTimeoutMs, () => socket.destroy());
    return;
  }
  socket.setTimeout(config.controlTimeoutMs, () =>
    fail(
      new AtaruError(
        'BAD_REQUEST',
        `timed out after ${config.controlTimeoutMs} ms with ${size} bytes: a binary definition is ${BINARY_SIZE} bytes; a text one ends when the client half-closes`,
      ),
    ),
  );

  const deploy = (bytes: Buffer) => {
    done = true;
    socket.pause();
    socket.setTimeout(0);
    void (async () => {
      const def = parseForServer(bytes, `control port (${peer})`);
      const blobs = storeFromRoots(def, config.functionRoots, deps.store);
      const app = await deps.registry.deploy(def, blobs);
      const reply = Buffer.alloc(2);
      reply.writeUInt16BE(app.dataPort.port);
      socket.end(reply);
      log.info({ peer, app: def.name, port: app.dataPort.port }, 'control: deployed');
    })().catch(sendError);
  };

  socket.on('data', (chunk: Buffer) => {
    if (done) return;
    chunks.push(chunk);
    size += chunk.length;
    if (size > config.limits.maxDefinitionBytes) {
      fail(new AtaruError('BAD_REQUEST', `definition larger than ${config.limits.maxDefinitionBytes} bytes`));
      return;
    }
    if (size < BINARY_SIZE) return;
    const buf = Buffer.concat(chunks);
    if (!startsBinary(buf)) return; // text: wait for the half-close
    if (size > BINARY_SIZE) {
      fail(new AtaruError('BAD_DEFINITION', `binary definition must be exactly ${BINARY_SIZE} bytes, got ${size}`, { offset: BINARY_SIZE }));
      return;
    }
    deploy(buf);
  });

  socket.on('end', () => {
    if (done) return;
    const buf = Buffer.concat(chunks);
    if (size === 0) fail(new AtaruError('BAD_REQUEST', 'empty control message: send a binary, template or JSON definition'));
    else if (startsBinary(buf)) {
      fail(new AtaruError('BAD_DEFINITION', `truncated binary definition: got ${size} of ${BINARY_SIZE} bytes`, { offset: size }));
    } else deploy(buf);
  });
}
