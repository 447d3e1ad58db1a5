/**
 * Nova `/v2.1` as far as mixmesh and the CLI use it: servers (addresses with OS-EXT-IPS:type) and
 * the os-getConsoleOutput action (cloud-init's host key block). Errors in Nova's own shape.
 */
import express, { type Request, type Response, type Router } from 'express';
import type { SandboxVm, VmProvider } from '../vms/types.js';
import { SANDBOX_NET } from './lcm.js';

function novaError(res: Response, status: number, kind: string, message: string): void {
  res.status(status).json({ [kind]: { code: status, message } });
}

function macFor(address: string): string {
  const last = Number(address.split('.')[3] ?? 0);
  return `fa:16:3e:0a:00:${last.toString(16).padStart(2, '0')}`;
}

export function novaRouter(deps: { vmProvider: VmProvider; serverNames: Map<string, string>; projectId: string; baseUrl: () => string }): Router {
  const r = express.Router();
  const find = (id: string): SandboxVm | undefined => deps.vmProvider.list().find((v) => v.serverId === id);
  const view = (vm: SandboxVm): Record<string, unknown> => ({
    id: vm.serverId,
    name: deps.serverNames.get(vm.serverId) ?? vm.serverId,
    status: 'ACTIVE',
    tenant_id: deps.projectId,
    addresses: { [SANDBOX_NET]: [{ version: 4, addr: vm.address, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': macFor(vm.address) }] },
    'OS-EXT-STS:vm_state': 'active',
    'OS-EXT-STS:power_state': 1,
    flavor: { original_name: 'sandbox.small', vcpus: 1, ram: 64, disk: 0 },
    image: vm.image ? { id: vm.image, links: [] } : '',
    metadata: {},
    links: [{ rel: 'self', href: `${deps.baseUrl()}/compute/v2.1/servers/${vm.serverId}` }],
  });
  r.get('/', (_req, res) => {
    res.json({ version: { id: 'v2.1', status: 'CURRENT', version: '2.79', min_version: '2.1', links: [{ rel: 'self', href: `${deps.baseUrl()}/compute/v2.1/` }] } });
  });
  r.get('/servers', (_req, res) => {
    res.json({ servers: deps.vmProvider.list().map((vm) => ({ id: vm.serverId, name: deps.serverNames.get(vm.serverId) ?? vm.serverId, links: [] })) });
  });
  r.get('/servers/detail', (_req, res) => {
    res.json({ servers: deps.vmProvider.list().map(view) });
  });
  r.get('/servers/:id', (req: Request, res: Response) => {
    const vm = find(req.params.id as string);
    if (!vm) return novaError(res, 404, 'itemNotFound', `Instance ${req.params.id as string} could not be found.`);
    res.json({ server: view(vm) });
  });
  r.post('/servers/:id/action', (req: Request, res: Response) => {
    const vm = find(req.params.id as string);
    if (!vm) return novaError(res, 404, 'itemNotFound', `Instance ${req.params.id as string} could not be found.`);
    const body = req.body as Record<string, unknown> | undefined;
    const action = body && typeof body === 'object' ? body['os-getConsoleOutput'] : undefined;
    if (!action || typeof action !== 'object') return novaError(res, 400, 'badRequest', 'Only the os-getConsoleOutput action is supported by the sandbox.');
    const length = (action as { length?: unknown }).length;
    if (length !== undefined && length !== null && (typeof length !== 'number' || !Number.isInteger(length) || length < -1)) {
      return novaError(res, 400, 'badRequest', "Invalid input for field/attribute length. Value: must be an integer >= -1");
    }
    let output = vm.consoleOutput();
    if (typeof length === 'number' && length >= 0) {
      const lines = output.split('\n');
      output = lines.slice(Math.max(0, lines.length - length)).join('\n');
    }
    res.json({ output });
  });
  r.use((_req: Request, res: Response) => novaError(res, 404, 'itemNotFound', 'The resource could not be found.'));
  return r;
}
