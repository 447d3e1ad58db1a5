/**
 * An in-memory injector for controller unit tests: injections move Pending → Succeeded after a
 * tick, or Failed for addresses a test marks. The e2e tests use the real injector over HTTP.
 */
import { randomUUID } from 'node:crypto';
import type { Injection, InjectionRequest, InjectorPort } from '../ports.js';

export class MemoryInjector implements InjectorPort {
  readonly injections = new Map<string, Injection & { request: InjectionRequest }>();
  readonly failVnfs = new Set<string>();
  /** forget everything, like an injector restart */
  forgetting = false;

  async create(request: InjectionRequest): Promise<{ id: string }> {
    const id = randomUUID();
    const inj = { id, state: 'Pending' as Injection['state'], request, ...(request.vnfInstanceId ? { vnfInstanceId: request.vnfInstanceId } : {}) };
    this.injections.set(id, inj);
    setTimeout(() => {
      if (request.vnfInstanceId && this.failVnfs.has(request.vnfInstanceId)) Object.assign(inj, { state: 'Failed', code: 'SSH_CONNECT_FAILED', error: 'sshd did not answer' });
      else Object.assign(inj, { state: 'Succeeded', hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample', tokenExpiresAt: new Date(Date.now() + 3600_000).toISOString() });
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
