/**
 * The flags every verb that talks to a server takes, in one place:
 * --server (a URL or host:port; ATARU_SERVER; default http://127.0.0.1:9990),
 * --token (ATARU_TOKEN) and --json.
 */
import { type Command, Option } from 'commander';
import { ApiClient } from '../client/api-client.js';
import { DEFAULT_HOST, DEFAULT_HTTP_PORT } from '../config.js';
import { withJson, type JsonFlag } from './output.js';

export interface CommonFlags extends JsonFlag {
  server: string;
  token?: string;
}

export function common(cmd: Command): Command {
  return withJson(
    cmd
      .addOption(new Option('--server <url>', 'server HTTP API: a URL or host:port').env('ATARU_SERVER').default(`http://${DEFAULT_HOST}:${DEFAULT_HTTP_PORT}`))
      .addOption(new Option('--token <token>', 'bearer token').env('ATARU_TOKEN')),
  );
}

export function client(f: CommonFlags): ApiClient {
  return new ApiClient(f.server, f.token);
}
