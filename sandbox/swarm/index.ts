/**
 * The swarm part of the engine image: the `dockerd` stand-in starts a real Docker Engine for its
 * VM (dockerd.ts); `docker` runs the real CLI against it (sandbox/engines/agent.ts).
 */
import { join } from 'node:path';
import type { Logger } from '../../common/logger.js';
import type { AgentVm, DaemonHandler } from '../engines/agent.js';
import { removeEngineDir, startDockerd, type RunningEngine } from './dockerd.js';

export { startDockerd, ENGINE_PORT, DOCKERD, type RunningEngine } from './dockerd.js';
export { LOCAL_IMAGES, busyboxImageTar } from './image.js';

/** the agent's `dockerd` handler: one real engine per VM */
export function dockerdHandler(o: { log?: Logger } = {}): DaemonHandler & { engines: Map<string, RunningEngine> } {
  const engines = new Map<string, RunningEngine>();
  const starting = new Map<string, Promise<RunningEngine>>();
  return {
    engines,
    async start(vm: AgentVm) {
      if (engines.has(vm.serverId)) return;
      let p = starting.get(vm.serverId);
      if (!p) {
        p = startDockerd({ dir: join(vm.dir, 'docker'), address: vm.address, hostname: vm.hostname, ...(o.log ? { log: o.log } : {}) });
        starting.set(vm.serverId, p);
      }
      try {
        engines.set(vm.serverId, await p);
      } finally {
        starting.delete(vm.serverId);
      }
    },
    async stop(vm: AgentVm) {
      const pending = starting.get(vm.serverId);
      if (pending) await pending.catch(() => undefined);
      const engine = engines.get(vm.serverId);
      engines.delete(vm.serverId);
      if (engine) await engine.stop();
      await removeEngineDir(join(vm.dir, 'docker'));
    },
  };
}
