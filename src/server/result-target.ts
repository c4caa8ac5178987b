/**
 * result_ip/result_port: where the original also sent each statistics line.
 * Sending to arbitrary addresses would make the server a relay, so a target
 * must match --result-allow (default loopback only), checked at deploy.
 */
import { BlockList, connect, isIP } from 'node:net';
import type { AppDefinition } from '../app/model.js';
import { AtaruError } from '../errors.js';
import type { Logger } from '../log.js';

export function makeAllowList(entries: string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split('/');
    const type = isIP(addr ?? '');
    if (!type) throw new AtaruError('BAD_REQUEST', `--result-allow: not an IP address or CIDR: "${e}"`);
    const family = type === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr!, family);
    else {
      const prefix = Number(bits);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > (type === 6 ? 128 : 32)) {
        throw new AtaruError('BAD_REQUEST', `--result-allow: bad prefix length in "${e}"`);
      }
      list.addSubnet(addr!, prefix, family);
    }
  }
  return list;
}

/** The app's result target, or undefined when it has none; throws when refused. */
export function resultTarget(def: AppDefinition, allow: BlockList): { ip: string; port: number } | undefined {
  if (!def.result_ip || !def.result_port) return undefined;
  const type = isIP(def.result_ip);
  if (!type) throw new AtaruError('BAD_DEFINITION', `result_ip is not an IP address: "${def.result_ip}"`, { field: 'result_ip' });
  if (!allow.check(def.result_ip, type === 6 ? 'ipv6' : 'ipv4')) {
    throw new AtaruError(
      'FORBIDDEN',
      `result target ${def.result_ip}:${def.result_port} is not allowed (start the server with --result-allow ${def.result_ip})`,
      { field: 'result_ip' },
    );
  }
  return { ip: def.result_ip, port: def.result_port };
}

/** Best effort: the line is also written on the data connection. */
export function sendResultLine(target: { ip: string; port: number }, line: string, log: Logger): void {
  const sock = connect({ host: target.ip, port: target.port });
  sock.setTimeout(5000, () => sock.destroy(new Error('timed out')));
  sock.on('error', (e) => log.warn({ target, err: e.message }, 'could not send the statistics line to the result target'));
  sock.end(line);
}
