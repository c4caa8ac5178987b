/**
 * A single function in its own VM: a one-node app with one instance. Input
 * goes to the first half of the shared region and output comes from the
 * second half, so a function may read all of its input while writing.
 */
import { basename, dirname, resolve } from 'node:path';
import { DEFAULTS, type AppDefinition } from '../app/model.js';
import { AtaruError } from '../errors.js';
import { App, loadApp } from './app.js';
import { native } from './native.js';
import type { LoadOptions } from './types.js';

export interface SandboxOptions {
  /** Deadline per call, ms (default: the app default). */
  timeoutMs?: number;
  /** Shared region size in bytes (default 2 MiB). */
  shmSize?: number;
  /** Function log lines. */
  onLog?: LoadOptions['onLog'];
}

export interface CallResult {
  output: Buffer;
  /** Always 'OK': failures reject with AtaruError. */
  status: 'OK';
  /** In-VM time, ns. */
  dagNs: number;
  /** Host time from hand-off to result, ns. */
  runNs: number;
}

export class Sandbox {
  private constructor(private readonly app: App) {}

  static async load(file: string, opts: SandboxOptions = {}): Promise<Sandbox> {
    const elfPath = resolve(file);
    const shmSize = opts.shmSize ?? DEFAULTS.shm_size;
    const page = native().constants.layout.PAGE_SIZE;
    const half = Math.floor(shmSize / 2 / page) * page;
    const name = basename(elfPath);
    const def: AppDefinition = {
      ...DEFAULTS,
      name,
      msg_len: half,
      timeout_ms: opts.timeoutMs ?? DEFAULTS.timeout_ms,
      shm_size: shmSize,
      instances: 1,
      nodes: [{ id: name, function: { path: dirname(elfPath), name }, inp_off: 0, out_off: half }],
      edges: [],
    };
    return new Sandbox(await loadApp(def, { resolve: () => elfPath, onLog: opts.onLog }));
  }

  /** Runs the function once. Rejects with AtaruError on any failure. */
  async call(input: Buffer, opts: { nodeId?: bigint } = {}): Promise<CallResult> {
    const half = this.app.definition.nodes[0].out_off;
    if (input.length > half) {
      throw new AtaruError('BAD_REQUEST', `input of ${input.length} bytes exceeds the sandbox's ${half}-byte input region`);
    }
    const r = await this.app.run(input, opts);
    return { output: r.output, status: 'OK', dagNs: r.dagNs, runNs: r.runNs };
  }

  /** The underlying one-node app (statistics, exit floor). */
  get handle(): App {
    return this.app;
  }

  close(): Promise<void> {
    return this.app.close();
  }
}
