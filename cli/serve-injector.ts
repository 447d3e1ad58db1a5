/**
 * `mixmesh serve-injector` (a stand-alone VM Sidecar Injector): reads the configuration once,
 * starts the API on MIXMESH_INJECTOR_LISTEN, runs until SIGTERM/SIGINT, then stops cleanly.
 * The lead wires it into cli/main.ts; `mixmesh serve` calls startInjector() itself.
 */
import { createLogger } from '../common/logger.js';
import { readInjectorConfig, startInjector } from '../vm-sidecar-injector/index.js';

export async function runServeInjector(opts: { listen?: string; kubeconfig?: string; artifacts?: string; injectorNotifications?: boolean; parallel?: string } = {}): Promise<number> {
  const log = createLogger({ name: 'mixmesh-injector', level: process.env.MIXMESH_LOG_LEVEL ?? 'info' });
  const config = readInjectorConfig(process.env, {
    listen: opts.listen, kubeconfig: opts.kubeconfig, artifacts: opts.artifacts, notifications: opts.injectorNotifications,
    maxParallel: opts.parallel === undefined ? undefined : Number(opts.parallel),
  });
  const running = await startInjector(config, { log });
  process.stderr.write(`mixmesh injector listening on ${running.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await running.close();
  return 0;
}
