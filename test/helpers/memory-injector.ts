/**
 * An in-memory injector for controller unit tests: injections move Pending → Succeeded after a
 * tick, or Failed for addresses a test marks. The e2e tests use the real injector over HTTP.
 */
import { randomUUID } from 'node:crypto';
import type { Injection, InjectionRequest, InjectorPort } from '../../orchestrator/ports.js';

export class MemoryInjector implements InjectorPort {
  readonly injections = new Map<string, Injection & { request: InjectionRequest }>();
  readonly failVnfs = new Set<string>();
  /** forget everything, like an injector restart */
  forgetting = false;

  async create(request: InjectionRequest): Promise<{ id: string }> {
    const id = randomUUID();
    const now = new Date().toISOString();
    // the injector's own view (vm-sidecar-injector/api/wire.ts), as GET answers it
    const inj: Injection & { request: InjectionRequest } = {
      id, state: 'Pending', createdAt: now, updatedAt: now, request,
      ...(request.vnfInstanceId ? { vnfInstanceId: request.vnfInstanceId } : {}),
      vm: { address: request.vm.address, port: request.vm.port ?? 22, user: request.vm.user, hostKey: request.vm.hostKey ?? 'console', ...(request.vm.serverId ? { serverId: request.vm.serverId } : {}), credentials: request.vm.credentials },
      workload: request.workload,
      sidecar: { package: request.sidecar?.package ?? 'deb', istioVersion: request.sidecar?.istioVersion ?? '1.30.3' },
      steps: [],
    };
    this.injections.set(id, inj);
    setTimeout(() => {
      const updatedAt = new Date().toISOString();
      if (request.vnfInstanceId && this.failVnfs.has(request.vnfInstanceId)) Object.assign(inj, { state: 'Failed', updatedAt, code: 'SSH_CONNECT_FAILED', error: { code: 'SSH_CONNECT_FAILED', message: 'sshd did not answer' } } satisfies Partial<Injection>);
      else Object.assign(inj, { state: 'Succeeded', updatedAt, hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample', tokenExpiresAt: new Date(Date.now() + 3600_000).toISOString(), sidecar: { ...inj.sidecar, state: 'Running' } } satisfies Partial<Injection>);
    }, 2).unref();
    return { id };
  }

  async get(id: string): Promise<Injection | undefined> {
    if (this.forgetting) {
      this.forgetting = false;
      this.injections.delete(id);
    }
    const i = this.injections.get(id);
    if (!i) return undefined;
    const { request: _r, ...rest } = i;
    return structuredClone(rest);
  }

  async listByVnfInstance(vnfInstanceId: string): Promise<Injection[]> {
    return [...this.injections.values()].filter((i) => i.vnfInstanceId === vnfInstanceId).map(({ request: _r, ...rest }) => structuredClone(rest));
  }

  /** requests made, per VNF instance (exactly-once checks) */
  countFor(vnfInstanceId: string): number {
    return [...this.injections.values()].filter((i) => i.vnfInstanceId === vnfInstanceId).length;
  }
}
