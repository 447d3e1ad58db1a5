/**
 * `mixmesh serve`: the orchestrator API and controller against the configured cluster and
 * OpenStack, with the injector in-process on its own listener (`--no-injector`: a remote one at
 * MIXMESH_INJECTOR_URL). Runs until SIGTERM/SIGINT; exit 0 on a clean stop.
 */
import { createLogger } from '../common/logger.js';
import { loadConfig, startStack, type ConfigFlags } from '../orchestrator/index.js';
import { gatewayExtension, loadGatewayConfig } from '../gateway/index.js';

export async function runServe(opts: Record<string, unknown>): Promise<number> {
  const flags: ConfigFlags = {};
  for (const key of ['config', 'kubeconfig', 'listen', 'tokensFile', 'injectorListen', 'injectorUrl', 'callbackUrl', 'callbackAuth', 'systemNamespace', 'tlsCertFile', 'tlsKeyFile', 'tlsSecret', 'webhookListen', 'webhookUrl'] as const) {
    if (typeof opts[key] === 'string') flags[key] = opts[key];
  }
  if (opts.injector === false) flags.injector = false;
  // configuration once, validated, frozen: the only place serve reads the environment
  const config = loadConfig({ flags, env: process.env, cwd: process.cwd() });
  const log = createLogger({ name: 'mixmesh', level: process.env.MIXMESH_LOG_LEVEL ?? 'info' });
  // the common gateway (/v1/gateway) rides on the same API; its providers come from its own file
  const gatewayConfig = loadGatewayConfig(typeof opts.gatewayConfig === 'string' ? opts.gatewayConfig : process.env.MIXMESH_GATEWAY_CONFIG || undefined, process.env);
  const stack = await startStack({ config, log, extensions: [gatewayExtension(gatewayConfig)] });
  process.stderr.write(`mixmesh serve: API on ${stack.url}${stack.injectorUrl ? `, injector on ${stack.injectorUrl}` : ''}${stack.openstack ? '' : ' (no OpenStack configured: VM descriptors get 422 OPENSTACK_NOT_CONFIGURED)'}\n`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info({ signal }, 'stopping');
  await stack.stop();
  return 0;
}
