/**
 * clients/openstack: Keystone (OS_* or clouds.yaml, renewal), Tacker LCM v2 + packages +
 * subscriptions + VIMs, Nova. The one OpenStack client every mixmesh flow uses.
 */
import { silentLogger, type Logger } from '../../common/index.js';
import type { OpenStackConfig } from './config.js';
import { KeystoneSession } from './keystone.js';
import { NovaClient } from './nova.js';
import { TackerClient } from './tacker.js';

export * from './config.js';
export * from './keystone.js';
export * from './tacker.js';
export * from './nova.js';
export * from './types.js';
export { problemDetail } from './http.js';

export interface OpenStackClient {
  keystone: KeystoneSession;
  tacker: TackerClient;
  nova: NovaClient;
}

export interface OpenStackClientOptions {
  logger?: Logger;
  /** per-request timeout (default 30 s) */
  timeoutMs?: number;
  /** renew the Keystone token this long before expires_at */
  renewBeforeMs?: number;
}

export function createOpenStackClient(config: OpenStackConfig, options: OpenStackClientOptions = {}): OpenStackClient {
  const logger = options.logger ?? silentLogger;
  const keystone = new KeystoneSession(config, { logger, timeoutMs: options.timeoutMs, renewBeforeMs: options.renewBeforeMs });
  return {
    keystone,
    tacker: new TackerClient(keystone, { logger, timeoutMs: options.timeoutMs }),
    nova: new NovaClient(keystone, { logger, timeoutMs: options.timeoutMs }),
  };
}
