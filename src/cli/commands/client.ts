/**
 * Client verbs, all over the HTTP API (--server, default
 * http://127.0.0.1:9990; --token or ATARU_TOKEN): deploy, ls, inspect, rm,
 * invoke, send (straight to the app's data port), stats. Shared flags: ../server-flags.ts. Human output by
 * default, --json for scripts; errors exit non-zero (main.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import { Option, type Command } from 'commander';
import { functionLabel } from '../../app/describe.js';
import { AtaruError } from '../../errors.js';
import type { Summary } from '../../runtime/types.js';
import { deployBodyFromFile, type AppDetail } from '../../client/api-client.js';
import { percentile, runLoad } from '../../client/load.js';
import { okStatus } from '../../server/reply-frame.js';
import { collect, readStdin } from '../args.js';
import { print } from '../output.js';
import { client, common, type CommonFlags } from '../server-flags.js';
import { natsUrls } from './serve.js';

/** image.ts's GRAY_SIDE²: the apps that take a picture. Not imported from
 * there: image.ts (pngjs, jpeg-js) loads only when a picture is involved. */
const IMAGE_MSG_LEN = 128 * 128;

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new AtaruError('BAD_REQUEST', `expected a positive integer, got "${v}"`);
  return n;
}

function isImage(file: string): boolean {
  return ['.png', '.jpg', '.jpeg'].includes(extname(file).toLowerCase());
}

/** The request bytes from a file; a picture becomes 128×128 gray when the app takes 16,384 bytes. */
async function readInput(file: string | undefined, msgLen: number): Promise<Buffer> {
  if (file === undefined) return readStdin();
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new AtaruError('NOT_FOUND', `cannot read input: ${(e as Error).message}`, { file });
  }
  if (isImage(file) && msgLen === IMAGE_MSG_LEN) {
    const { toGray128 } = await import('../../image.js');
    return toGray128(bytes);
  }
  return bytes;
}

/** Not text a terminal shows as it is: invalid UTF-8, or control bytes other than tab and newlines. */
export function isBinary(b: Buffer): boolean {
  for (const c of b) if (c < 0x20 && c !== 9 && c !== 10 && c !== 13) return true;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return false;
  } catch {
    return true;
  }
}

function fmtSummary(s: Summary): string {
  return s.count ? `n=${s.count} min ${s.min.toFixed(1)} mean ${s.mean.toFixed(1)} max ${s.max.toFixed(1)} std ${s.std.toFixed(1)} µs` : 'n=0';
}

function describeApp(a: AppDetail): string {
  const d = a.definition;
  const lines = [
    `${a.name}  port ${a.port}  msg_len ${a.msg_len}  reply ${a.reply}  pktcnt ${a.pktcnt}  created ${a.created}`,
    `instances ${a.instances.total} (busy ${a.instances.busy}, queued ${a.instances.queued})  connections ${a.connections}  requests ${a.requests}`,
    'nodes:',
    ...d.nodes.map((n, i) => `  ${i}  ${n.id}  ${functionLabel(n.function)}  in@${n.inp_off} out@${n.out_off}`),
    `edges: ${a.edges.map((e) => `${e.from_id}(${e.from})→${e.to_id}(${e.to})`).join(', ') || '(none)'}`,
  ];
  return lines.join('\n');
}

export function registerClientCommands(program: Command): void {
  common(program.command('deploy <file>').description('deploy a definition (template, JSON or binary) with its function binaries')).action(
    async (file: string, f: CommonFlags) => {
      const r = await client(f).deploy(deployBodyFromFile(file));
      const where = r.raw
        ? `raw app: frames for port ${r.port} on ${r.raw.iface}${r.raw.outIface !== r.raw.iface ? `, out on ${r.raw.outIface}` : ''}`
        : `data port ${r.port}`;
      print(f, r, `${r.replaced ? 'replaced' : 'deployed'} ${r.name}: ${where}`);
    },
  );

  common(program.command('ls').description('list deployed apps').option('--cluster', 'the whole cluster: which node serves which app version')).action(async (f: CommonFlags & { cluster?: boolean }) => {
    if (f.cluster) {
      const v = await client(f).cluster();
      const rows = v.apps.flatMap((a) =>
        a.nodes.length
          ? a.nodes.map((n) => `${a.name.padEnd(24)} ${String(a.version).padStart(7)}  ${n.node.padEnd(28)} ${String(n.version).padStart(7)}  ${(n.local ? String(n.instances) : 'forwards').padStart(9)}  ${a.deployer}`)
          : [`${a.name.padEnd(24)} ${String(a.version).padStart(7)}  ${'(no node)'.padEnd(28)} ${''.padStart(7)}  ${''.padStart(9)}  ${a.deployer}`],
      );
      const head = `${'APP'.padEnd(24)} VERSION  ${'NODE'.padEnd(28)} SERVING  INSTANCES  DEPLOYED BY`;
      print(f, v, [`cluster ${v.cluster}: ${v.nodes.length} node(s): ${v.nodes.map((n) => n.node).join(', ')}`, ...(rows.length ? [head, ...rows] : ['no apps deployed'])].join('\n'));
      return;
    }
    const apps = await client(f).list();
    const rows = apps.map((a) => `${a.name.padEnd(24)} ${String(a.port).padStart(5)}  ${String(a.msg_len).padStart(8)}  ${String(a.nodes).padStart(5)}  ${a.reply.padEnd(6)}  ${a.requests}`);
    print(f, apps, apps.length ? [`${'NAME'.padEnd(24)}  PORT   MSG_LEN  NODES  REPLY   REQUESTS`, ...rows].join('\n') : 'no apps deployed');
  });

  common(program.command('inspect <app>').description('show an app: definition, DAG, instances')).action(async (name: string, f: CommonFlags) => {
    const a = await client(f).get(name);
    print(f, a, describeApp(a));
  });

  common(program.command('rm <apps...>').description('remove apps (in-flight requests finish)')).action(async (names: string[], f: CommonFlags) => {
    const api = client(f);
    // Each app on its own: one missing name does not keep the others.
    const removed: string[] = [];
    const failed: AtaruError[] = [];
    for (const name of names) {
      try {
        await api.remove(name);
        removed.push(name);
        if (!f.json) process.stdout.write(`removed ${name}\n`);
      } catch (e) {
        failed.push(e instanceof AtaruError ? e : new AtaruError('INTERNAL', String(e)));
      }
    }
    if (failed.length) throw new AtaruError(failed[0]!.code, failed.map((e) => e.message).join('; '), undefined, []);
    if (f.json) print(f, { removed }, '');
  });

  common(
    program
      .command('stats <app>')
      .description("an app's statistics (µs): p50/p99 over its latest requests, per-node and whole-DAG summaries")
      .option('-w, --watch [seconds]', 'print again every so many seconds (default 2) until Ctrl-C'),
  ).action(async (name: string, f: CommonFlags & { watch?: boolean | string }) => {
    const api = client(f);
    const once = async () => {
      const a = await api.get(name);
      const s = a.stats;
      const l = a.latency;
      const pct = l && l.requests ? `p50 ${l.p50Us!.toFixed(1)} µs, p99 ${l.p99Us!.toFixed(1)} µs over the latest ${l.requests} requests` : 'p50/p99: no successful requests yet';
      const human = [
        `${s.name}: ${s.requests} requests, errors ${JSON.stringify(s.errors)}, cold start ${s.coldStartUs.toFixed(0)} µs`,
        `latency ${pct}`,
        `dag   ${fmtSummary(s.dag)}`,
        `run   ${fmtSummary(s.run)}`,
        ...s.nodes.map((n, i) => `node ${i} ${fmtSummary(n)}`),
        `instances ${s.instances.total} (busy ${s.instances.busy}, queued ${s.instances.queued}` +
          (s.instances.max > s.instances.min
            ? `; pool ${s.instances.min}..${s.instances.max}, grown ${s.instances.grown}, released ${s.instances.released})`
            : ')'),
        ...(s.template
          ? [
              `template ${(s.template.dataBytes / 1024).toFixed(0)} KiB of ${(s.template.guestBytes / 1024).toFixed(0)} KiB shared, ` +
                (s.template.fromStore ? 'from the store (init not run)' : `${s.template.inits} init hook(s), ${s.template.initUs.toFixed(0)} µs`),
            ]
          : []),
        ...(a.raw
          ? [
              `raw   ${a.raw.iface} -> ${a.raw.outIface}, port ${a.raw.port}: received ${a.raw.received}, transmitted ${a.raw.transmitted}, filtered ${a.raw.filtered}, dropped ${a.raw.dropped} ${JSON.stringify(a.raw.errors)}, statistics lines ${a.raw.windows}`,
            ]
          : []),
      ].join('\n');
      return { json: { ...s, latency: l, ...(a.raw ? { raw: a.raw } : {}) }, human };
    };
    if (f.watch === undefined) {
      const r = await once();
      print(f, r.json, r.human);
      return;
    }
    const seconds = f.watch === true ? 2 : Number(f.watch);
    if (!(seconds > 0)) throw new AtaruError('BAD_REQUEST', `--watch: expected seconds > 0, got "${String(f.watch)}"`);
    let stop = false;
    let wake: () => void = () => {};
    const onSig = () => {
      stop = true;
      wake();
    };
    process.once('SIGINT', onSig);
    try {
      while (!stop) {
        const r = await once();
        if (f.json) process.stdout.write(`${JSON.stringify(r.json)}\n`); // one line per sample (NDJSON)
        else process.stdout.write(`${process.stdout.isTTY ? '\x1b[2J\x1b[H' : '\n'}${new Date().toISOString()}\n${r.human}\n`);
        await new Promise<void>((res) => {
          wake = res;
          setTimeout(res, seconds * 1000);
        });
      }
    } finally {
      process.off('SIGINT', onSig);
    }
  });

  common(
    program
      .command('invoke <app>')
      .description('run the app once over HTTP: input from --file or stdin, output to stdout or --out')
      .option('--file <file>', 'input file (.png/.jpg are converted for 16,384-byte apps)')
      .option('--out <file>', 'output file (.png: the output as a 128×128 gray picture)')
      .addOption(new Option('--nats <url>', 'call the app straight through NATS instead of HTTP (repeatable)').env('ATARU_NATS').argParser(collect))
      .option('--nats-creds <file>', 'NATS credentials file (.creds)')
      .option('--cluster <name>', 'cluster name (with --nats)', 'ataru')
      .option('--timeout <ms>', 'with --nats: how long to wait for a node (per attempt)', positiveInt, 10_000),
  ).action(async (name: string, f: CommonFlags & { file?: string; out?: string; nats?: string[]; natsCreds?: string; cluster: string; timeout: number }) => {
    if (f.file === undefined && process.stdin.isTTY) {
      throw new AtaruError('BAD_REQUEST', `invoke ${name}: no input: give --file FILE or pipe it in (ataru invoke ${name} < in.bin); stdin is a terminal`);
    }
    const needsInfo = (f.file && isImage(f.file)) || (f.out && extname(f.out).toLowerCase() === '.png');
    let output: Buffer;
    let msgLen = 0;
    const servers = natsUrls(f.nats);
    if (servers) {
      const { invokeThroughNats } = await import('../../cluster/invoke-cli.js');
      ({ output, msgLen } = await invokeThroughNats({ servers, credentials: f.natsCreds }, f.cluster, name, (len) => readInput(f.file, needsInfo ? len : 0), f.timeout));
    } else {
      const api = client(f);
      msgLen = needsInfo ? (await api.get(name)).msg_len : 0;
      output = await api.invoke(name, await readInput(f.file, msgLen));
    }
    if (!f.out) {
      if (f.json) {
        print(f, { bytes: output.length, base64: output.toString('base64') }, '');
        return;
      }
      if (process.stdout.isTTY && isBinary(output)) {
        throw new AtaruError('BAD_REQUEST', `invoke ${name}: the ${output.length}-byte output is binary and stdout is a terminal: give --out FILE, or pipe it (| xxd)`);
      }
      process.stdout.write(output);
      return;
    }
    const asPicture = extname(f.out).toLowerCase() === '.png' && msgLen === IMAGE_MSG_LEN;
    if (asPicture) {
      const { grayToPng, GRAY_SIDE } = await import('../../image.js');
      writeFileSync(f.out, grayToPng(output, GRAY_SIDE, GRAY_SIDE));
    } else writeFileSync(f.out, output);
    if (f.json) print(f, { out: f.out, bytes: output.length }, '');
    else process.stderr.write(`wrote the ${output.length}-byte output to ${f.out}${asPicture ? ' as a PNG picture' : ''}\n`);
  });

  common(
    program
      .command('send <app>')
      .description("stream requests to the app's data port (reply: frames) and report latency and throughput")
      .requiredOption('--file <file>', 'request bytes (exactly msg_len; .png/.jpg converted for 16,384-byte apps)')
      .option('--count <n>', 'requests', positiveInt, 1000)
      .option('--concurrency <n>', 'connections', positiveInt, 1)
      .option('--window <n>', 'requests in flight per connection', positiveInt, 1),
  ).action(async (name: string, f: CommonFlags & { file: string; count: number; concurrency: number; window: number }) => {
    const api = client(f);
    const app = await api.get(name);
    if (app.reply !== 'frames') {
      throw new AtaruError('BAD_REQUEST', `app "${name}" has reply: ${app.reply}; send measures replies and needs reply: frames`);
    }
    const input = await readInput(f.file, app.msg_len);
    if (input.length !== app.msg_len) {
      throw new AtaruError('BAD_REQUEST', `request is ${input.length} bytes but app "${name}" takes exactly msg_len = ${app.msg_len}`, { file: f.file });
    }
    const { SingleBar, Presets } = (await import('cli-progress')).default;
    const bar = f.json ? undefined : new SingleBar({ stream: process.stderr, hideCursor: true }, Presets.shades_classic);
    bar?.start(f.count, 0);
    let done = 0;
    const r = await runLoad({
      host: new URL(api.baseUrl).hostname,
      port: app.port,
      input,
      count: f.count,
      concurrency: f.concurrency,
      window: f.window,
      onReply: () => {
        if (++done % 256 === 0) bar?.update(done);
      },
    });
    bar?.update(done);
    bar?.stop();
    const errors = [...r.statuses].filter(([s]) => s !== okStatus()).reduce((n, [, c]) => n + c, 0);
    const result = {
      requests: r.count,
      errors,
      seconds: r.elapsedNs / 1e9,
      throughput: r.count / (r.elapsedNs / 1e9),
      p50Us: percentile(r.latencyNs, 50) / 1000,
      p99Us: percentile(r.latencyNs, 99) / 1000,
    };
    print(
      f,
      result,
      `${result.requests} requests (${errors} errors) in ${result.seconds.toFixed(2)} s: ${result.throughput.toFixed(0)} req/s, p50 ${result.p50Us.toFixed(1)} µs, p99 ${result.p99Us.toFixed(1)} µs`,
    );
    if (errors) process.exitCode = 1;
  });
}
