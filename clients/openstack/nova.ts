/**
 * Nova: the server (addresses) and its console output (cloud-init's host key block).
 */
import { MixmeshError, silentLogger, type Logger } from '../../common/index.js';
import { callService, type HttpDeps } from './http.js';
import type { KeystoneSession } from './keystone.js';
import type { NovaServer } from './types.js';

export const NOVA_SERVICE_TYPE = 'compute';

/** The address to reach a server at: a floating one if any, else the first fixed IPv4 one. */
export function serverAddress(server: Pick<NovaServer, 'addresses'>): string | undefined {
  const all = Object.keys(server.addresses ?? {}).sort().flatMap((net) => server.addresses[net] ?? []);
  const v4 = all.filter((a) => a.version === 4 || a.version === undefined);
  return (v4.find((a) => a['OS-EXT-IPS:type'] === 'floating') ?? v4.find((a) => a['OS-EXT-IPS:type'] !== 'floating'))?.addr;
}

export class NovaClient {
  private readonly deps: HttpDeps;

  constructor(session: KeystoneSession, options: { logger?: Logger; timeoutMs?: number } = {}) {
    this.deps = { session, logger: (options.logger ?? silentLogger).child({ component: 'nova' }), timeoutMs: options.timeoutMs ?? 30_000 };
  }

  async getServer(serverId: string): Promise<NovaServer> {
    const r = await callService(this.deps, { service: NOVA_SERVICE_TYPE, method: 'GET', path: `/servers/${encodeURIComponent(serverId)}`, errorCode: 'NOVA_REQUEST_FAILED', what: `get server ${serverId}` });
    const server = (r.json as { server?: NovaServer } | undefined)?.server;
    if (!server) throw new MixmeshError('NOVA_REQUEST_FAILED', `get server ${serverId}: the answer has no "server"`);
    return server;
  }

  /** The whole console log (`os-getConsoleOutput` with length -1). */
  async getConsoleOutput(serverId: string): Promise<string> {
    const r = await callService(this.deps, {
      service: NOVA_SERVICE_TYPE, method: 'POST', path: `/servers/${encodeURIComponent(serverId)}/action`,
      body: { 'os-getConsoleOutput': { length: -1 } }, okStatuses: [200], errorCode: 'NOVA_REQUEST_FAILED', what: `console output of server ${serverId}`,
    });
    const output = (r.json as { output?: unknown } | undefined)?.output;
    if (typeof output !== 'string') throw new MixmeshError('NOVA_REQUEST_FAILED', `console output of server ${serverId}: the answer has no "output"`);
    return output;
  }
}
