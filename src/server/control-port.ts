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
import { createServer, type Socket } from 'node:net';
import { isLoopbackAddress, type ServerConfig } from '../config.js';
import { AtaruError } from '../errors.js';
import type { Logger } from '../log.js';
import { BINARY_SIZE } from '../app/index.js';
import { startsBinary, parseForServer } from './definition.js';
import { readFromRoots, storeFunctions } from './functions.js';
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
  // Beyond this many clients at once, a new one is closed at accept.
  server.maxConnections = deps.config.limits.maxControlConnections;
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
 * peers). One rule with the listen-host check (src/config.ts).
 */
export function isLoopbackPeer(address: string | undefined): boolean {
  return address !== undefined && isLoopbackAddress(address);
}

/**
 * Collects a control message in arrival order without copying it per chunk:
 * the form is decided once from the first 128 bytes, and the chunks are
 * joined once, when the message is complete.
 */
class MessageBuffer {
  private readonly chunks: Buffer[] = [];
  size = 0;
  /** undefined until 128 bytes (or the end) have arrived. */
  private binary?: boolean;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** Whether the message is the binary struct; undefined while too little has arrived to tell. */
  isBinary(atEnd = false): boolean | undefined {
    if (this.binary === undefined && (this.size >= 128 || atEnd)) {
      this.binary = startsBinary(Buffer.concat(this.chunks, Math.min(this.size, 128)));
    }
    return this.binary;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}

/** Serves one control connection (exported for tests). */
export function handleControlConnection(socket: Socket, deps: ControlPortDeps): void {
  const { config, log } = deps;
  const peer = `${socket.remoteAddress}:${socket.remotePort}`;
  const message = new MessageBuffer();
  let done = false;

  // One deadline from connect: the whole definition must arrive by then. Once
  // a reply is sent, the same time again for the peer to take it and close.
  let deadline: NodeJS.Timeout | undefined = setTimeout(() => {
    deadline = undefined;
    if (!done) {
      fail(
        new AtaruError(
          'BAD_REQUEST',
          `timed out after ${config.controlTimeoutMs} ms with ${message.size} bytes: a binary definition is ${BINARY_SIZE} bytes; a text one ends when the client half-closes`,
        ),
      );
    } else socket.destroy();
  }, config.controlTimeoutMs).unref();
  socket.once('close', () => clearTimeout(deadline));
  const replyAndClose = (bytes: Buffer | string) => {
    clearTimeout(deadline);
    if (socket.destroyed) return; // the client left while its deploy ran
    socket.end(bytes);
    deadline = setTimeout(() => socket.destroy(), config.controlTimeoutMs).unref();
  };

  const sendError = (err: unknown) => {
    const e = asAtaruError(err);
    log.warn({ peer, code: e.code, err: e.describe() }, 'control: definition rejected');
    replyAndClose(`error: ${e.describe().replace(/\n/g, '; ')}\n`);
  };
  const fail = (err: unknown) => {
    if (done) return;
    done = true;
    sendError(err);
    // Nothing reads the rest: drain it so the peer's half-close ends the socket.
    socket.resume();
  };

  socket.on('error', (e) => log.debug({ peer, err: e.message }, 'control connection error'));
  if (!config.allowRemoteDeploy && !isLoopbackPeer(socket.remoteAddress)) {
    fail(new AtaruError('FORBIDDEN', `deploys from ${socket.remoteAddress} are refused: start the server with --allow-remote-deploy`));
    return;
  }

  const deploy = (bytes: Buffer) => {
    done = true;
    socket.pause();
    // Loading the app takes what it takes; the deadline is the client's.
    clearTimeout(deadline);
    void (async () => {
      const def = parseForServer(bytes, `control port (${peer})`);
      const files = await readFromRoots(def, config.functionRoots, config.limits.maxFunctionBytes);
      const app = await deps.registry.deploy(def, storeFunctions(files, deps.store), { by: `control port ${peer}` });
      const reply = Buffer.alloc(2);
      reply.writeUInt16BE(app.dataPort.port);
      replyAndClose(reply);
      log.info({ peer, app: def.name, port: app.dataPort.port }, 'control: deployed');
    })().catch(sendError);
  };

  socket.on('data', (chunk: Buffer) => {
    if (done) return;
    message.push(chunk);
    const size = message.size;
    if (size > config.limits.maxDefinitionBytes) {
      fail(new AtaruError('TOO_LARGE', `definition larger than ${config.limits.maxDefinitionBytes} bytes`));
      return;
    }
    if (size < BINARY_SIZE || !message.isBinary()) return; // text: wait for the half-close
    if (size > BINARY_SIZE) {
      fail(new AtaruError('BAD_DEFINITION', `binary definition must be exactly ${BINARY_SIZE} bytes, got ${size}`, { offset: BINARY_SIZE }));
      return;
    }
    deploy(message.bytes());
  });

  socket.on('end', () => {
    if (done) return;
    const size = message.size;
    if (size === 0) fail(new AtaruError('BAD_REQUEST', 'empty control message: send a binary, template or JSON definition'));
    else if (message.isBinary(true)) {
      fail(new AtaruError('BAD_DEFINITION', `truncated binary definition: got ${size} of ${BINARY_SIZE} bytes`, { offset: size }));
    } else deploy(message.bytes());
  });
}
