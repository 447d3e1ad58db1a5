/**
 * The engine agent: the host side of the sandbox's engine images. A VM with an engine image has
 * stand-in commands (`dockerd`, `docker`, `mesos-master`, `mesos-agent`, `marathon`) that keep the
 * real command lines and hand them to this agent over loopback HTTP, authenticated by a token only
 * that VM holds; the agent attaches a real or emulated engine to the VM's own address:
 * - `dockerd` → a real Docker Engine for the VM on `<vm>:2375` (sandbox/swarm);
 * - `docker ARGS…` → the real docker CLI with `-H tcp://<vm>:2375 ARGS…`, its output and exit code;
 * - `mesos-master`, `mesos-agent`, `marathon` → the Mesos/Marathon emulator (sandbox/marathon).
 * Faults: `failNext(daemon, address?)` makes the next start of that daemon fail, as a broken
 * package would.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger, type Logger } from '../../common/logger.js';

export interface AgentVm {
  serverId: string;
  address: string;
  hostname: string;
  /** where the agent keeps this VM's engine state on the host */
  dir: string;
  /** the VM's root filesystem seen from the host (for task processes) */
  rootfs: () => string;
}

export interface DaemonHandler {
  /** start (idempotent) the daemon for the VM with the stand-in's arguments */
  start(vm: AgentVm, args: string[]): Promise<void>;
  /** stop what start made for this VM (VM removed, or the stand-in asked) */
  stop(vm: AgentVm): Promise<void>;
}

export interface EngineAgent {
  url: string;
  /** a token for a new VM: what its stand-ins send */
  attach(vm: AgentVm): string;
  /** stop every daemon of the VM and forget it */
  detach(serverId: string): Promise<void>;
  register(daemon: string, handler: DaemonHandler): void;
  failNext(daemon: string, address?: string): void;
  /** which daemons run for a VM */
  running(serverId: string): string[];
  stop(): Promise<void>;
}

export const DOCKER_CLI = ['/usr/bin/docker', '/usr/local/bin/docker'].find((p) => existsSync(p)) ?? 'docker';

function readBody(req: IncomingMessage, limit = 1 << 20): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** the stand-ins send their argv as base64 words separated by white space */
export function decodeArgs(body: string): string[] {
  return body.split(/\s+/).filter(Boolean).map((w) => Buffer.from(w, 'base64').toString('utf8'));
}

/** the answer a stand-in prints: exit code line, base64 stdout line, base64 stderr line */
export function encodeResult(code: number, stdout: string, stderr: string): string {
  return `${code}\n${Buffer.from(stdout).toString('base64') || '-'}\n${Buffer.from(stderr).toString('base64') || '-'}\n`;
}

export async function startEngineAgent(o: { log?: Logger } = {}): Promise<EngineAgent> {
  const log = (o.log ?? silentLogger).child({ part: 'sandbox/engines' });
  const vms = new Map<string, AgentVm & { token: string; daemons: Set<string> }>();
  const byToken = new Map<string, string>();
  const handlers = new Map<string, DaemonHandler>();
  const faults: { daemon: string; address?: string | undefined }[] = [];

  const server: Server = createServer((req, res) => {
    void (async () => {
      const m = /^\/vm\/([A-Za-z0-9_-]{20,})\/(exec|start|stop)\/([a-z-]+)$/.exec(req.url ?? '');
      const serverId = m ? byToken.get(m[1]!) : undefined;
      const vm = serverId ? vms.get(serverId) : undefined;
      if (req.method !== 'POST' || !m || !vm) {
        res.writeHead(m && !vm ? 401 : 404).end();
        return;
      }
      const [, , action, name] = m as unknown as [string, string, string, string];
      const args = decodeArgs(await readBody(req));
      const answer = (code: number, stdout: string, stderr: string): void => {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end(encodeResult(code, stdout, stderr));
      };
      if (action === 'exec' && name === 'docker') {
        execFile(DOCKER_CLI, ['-H', `tcp://${vm.address}:2375`, ...args], { timeout: 120_000, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
          const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
          answer(code, stdout, stderr);
        });
        return;
      }
      const handler = handlers.get(name);
      if (!handler) {
        answer(127, '', `${name}: not in this image\n`);
        return;
      }
      if (action === 'start') {
        const fault = faults.findIndex((f) => f.daemon === name && (f.address === undefined || f.address === vm.address));
        if (fault >= 0) {
          faults.splice(fault, 1);
          answer(1, '', `${name}: failed to start: injected fault (sandbox)\n`);
          return;
        }
        try {
          await handler.start(vm, args);
          vm.daemons.add(name);
          answer(0, '', '');
        } catch (e) {
          log.warn({ err: e, daemon: name, address: vm.address }, 'daemon start failed');
          answer(1, '', `${name}: ${(e as Error).message}\n`);
        }
        return;
      }
      if (action === 'stop') {
        await handler.stop(vm).catch((e: unknown) => log.warn({ err: e, daemon: name }, 'daemon stop failed'));
        vm.daemons.delete(name);
        answer(0, '', '');
        return;
      }
      res.writeHead(404).end();
    })().catch((e: unknown) => {
      log.error({ err: e }, 'agent request failed');
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function detach(serverId: string): Promise<void> {
    const vm = vms.get(serverId);
    if (!vm) return;
    vms.delete(serverId);
    byToken.delete(vm.token);
    // reverse start order: agents before masters, engines last
    for (const name of [...vm.daemons].reverse()) {
      await handlers.get(name)?.stop(vm).catch((e: unknown) => log.warn({ err: e, daemon: name, serverId }, 'daemon stop failed'));
    }
  }

  return {
    url,
    attach(vm) {
      const token = randomBytes(24).toString('base64url');
      vms.set(vm.serverId, { ...vm, token, daemons: new Set() });
      byToken.set(token, vm.serverId);
      return token;
    },
    detach,
    register(daemon, handler) { handlers.set(daemon, handler); },
    failNext(daemon, address) { faults.push({ daemon, address }); },
    running(serverId) { return [...(vms.get(serverId)?.daemons ?? [])]; },
    async stop() {
      await Promise.all([...vms.keys()].map((id) => detach(id)));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
