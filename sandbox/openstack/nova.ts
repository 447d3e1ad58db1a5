/**
 * Nova `/v2.1` as far as mixmesh and the CLI use it: servers (list, detail, show; addresses with
 * OS-EXT-IPS:type), the os-getConsoleOutput action (cloud-init's host key block), flavors and
 * keypairs (read-only: the one flavor and the key every sandbox VM authorizes), so
 * `openstack server list/show`, `flavor list` and `keypair list` work. Errors in Nova's own shape.
 */
import { createHash } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import type { SandboxVm, VmProvider } from '../vms/types.js';
import { SANDBOX_IMAGE_ID } from './glance.js';
import { SANDBOX_NET } from './lcm.js';

export interface SandboxKeypair {
  name: string;
  publicKey: string;
  fingerprint: string;
  type: string;
}

/** a keypair as Nova shows it: the fingerprint is the MD5 of the key blob, colon-separated (Nova's format) */
export function novaKeypair(name: string, publicKey: string): SandboxKeypair {
  const [type = 'ssh-ed25519', blob = ''] = publicKey.trim().split(/\s+/);
  const md5 = createHash('md5').update(Buffer.from(blob, 'base64')).digest('hex');
  return { name, publicKey: publicKey.trim(), fingerprint: md5.match(/../g)!.join(':'), type: type.startsWith('ssh-') || type.startsWith('ecdsa') ? 'ssh' : 'x509' };
}

/** the one flavor every sandbox VM has (a busybox root in a directory, ~10 MB of sshd) */
export const SANDBOX_FLAVOR = { id: 'sandbox.small', name: 'sandbox.small', vcpus: 1, ram: 64, disk: 0 } as const;

function novaError(res: Response, status: number, kind: string, message: string): void {
  res.status(status).json({ [kind]: { code: status, message } });
}

/** the compute microversion a request asked for (X-OpenStack-Nova-API-Version or OpenStack-API-Version), minor part */
function microversion(req: Request): number {
  const header = req.get('openstack-api-version')?.replace(/^compute\s+/i, '') ?? req.get('x-openstack-nova-api-version') ?? '2.1';
  if (header === 'latest') return 79;
  const m = /^2\.(\d+)$/.exec(header.trim());
  return m ? Number(m[1]) : 1;
}

function macFor(address: string): string {
  const last = Number(address.split('.')[3] ?? 0);
  return `fa:16:3e:0a:00:${last.toString(16).padStart(2, '0')}`;
}

export function novaRouter(deps: { vmProvider: VmProvider; serverNames: Map<string, string>; projectId: string; baseUrl: () => string; keypairs?: () => SandboxKeypair[] }): Router {
  const r = express.Router();
  const find = (id: string): SandboxVm | undefined => deps.vmProvider.list().find((v) => v.serverId === id);
  const view = (vm: SandboxVm, req: Request): Record<string, unknown> => ({
    id: vm.serverId,
    name: deps.serverNames.get(vm.serverId) ?? vm.serverId,
    status: 'ACTIVE',
    tenant_id: deps.projectId,
    addresses: { [SANDBOX_NET]: [{ version: 4, addr: vm.address, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': macFor(vm.address) }] },
    'OS-EXT-STS:vm_state': 'active',
    'OS-EXT-STS:power_state': 1,
    // a node image VM (sandbox/nodes) names its image; every other VM boots the one sandbox image
    image: { id: vm.image ?? SANDBOX_IMAGE_ID, links: [{ rel: 'bookmark', href: `${deps.baseUrl()}/compute/images/${vm.image ?? SANDBOX_IMAGE_ID}` }] },
    // before microversion 2.47 a server names its flavor by id; from 2.47 on it embeds it
    flavor: microversion(req) >= 47
      ? { original_name: SANDBOX_FLAVOR.name, vcpus: SANDBOX_FLAVOR.vcpus, ram: SANDBOX_FLAVOR.ram, disk: SANDBOX_FLAVOR.disk, ephemeral: 0, swap: 0, extra_specs: {} }
      : { id: SANDBOX_FLAVOR.id, links: [{ rel: 'bookmark', href: `${deps.baseUrl()}/compute/flavors/${SANDBOX_FLAVOR.id}` }] },
    key_name: deps.keypairs?.()[0]?.name ?? null,
    metadata: {},
    created: '2026-01-01T00:00:00Z',
    updated: '2026-01-01T00:00:00Z',
    hostId: '',
    user_id: 'admin',
    accessIPv4: '',
    accessIPv6: '',
    'OS-EXT-STS:task_state': null,
    'OS-EXT-AZ:availability_zone': 'nova',
    'OS-DCF:diskConfig': 'MANUAL',
    security_groups: [{ name: 'default' }],
    'os-extended-volumes:volumes_attached': [],
    progress: 0,
    config_drive: '',
    links: [{ rel: 'self', href: `${deps.baseUrl()}/compute/v2.1/servers/${vm.serverId}` }],
  });
  const flavorView = (): Record<string, unknown> => ({
    ...SANDBOX_FLAVOR, 'OS-FLV-EXT-DATA:ephemeral': 0, 'OS-FLV-DISABLED:disabled': false, swap: '', rxtx_factor: 1.0, 'os-flavor-access:is_public': true,
    links: [{ rel: 'self', href: `${deps.baseUrl()}/compute/v2.1/flavors/${SANDBOX_FLAVOR.id}` }],
  });
  const byName = (req: Request): SandboxVm[] => {
    const name = typeof req.query.name === 'string' ? req.query.name : undefined;
    const vms = deps.vmProvider.list();
    if (name === undefined) return vms;
    // Nova's name filter is a regular expression; the CLI sends ^name$ for an exact lookup
    let re: RegExp;
    try { re = new RegExp(name); } catch { return []; }
    return vms.filter((vm) => re.test(deps.serverNames.get(vm.serverId) ?? vm.serverId));
  };
  r.get('/', (_req, res) => {
    res.json({ version: { id: 'v2.1', status: 'CURRENT', version: '2.79', min_version: '2.1', links: [{ rel: 'self', href: `${deps.baseUrl()}/compute/v2.1/` }] } });
  });
  r.get('/servers', (req, res) => {
    res.json({ servers: byName(req).map((vm) => ({ id: vm.serverId, name: deps.serverNames.get(vm.serverId) ?? vm.serverId, links: [] })) });
  });
  r.get('/servers/detail', (req, res) => {
    res.json({ servers: byName(req).map((vm) => view(vm, req)) });
  });
  r.get(['/flavors', '/flavors/detail'], (req, res) => {
    const full = req.path.endsWith('/detail');
    res.json({ flavors: [full ? flavorView() : { id: SANDBOX_FLAVOR.id, name: SANDBOX_FLAVOR.name, links: flavorView().links }] });
  });
  r.get('/flavors/:id', (req: Request, res: Response) => {
    if (req.params.id !== SANDBOX_FLAVOR.id) return novaError(res, 404, 'itemNotFound', `Flavor ${req.params.id as string} could not be found.`);
    res.json({ flavor: flavorView() });
  });
  r.get('/flavors/:id/os-extra_specs', (req: Request, res: Response) => {
    if (req.params.id !== SANDBOX_FLAVOR.id) return novaError(res, 404, 'itemNotFound', `Flavor ${req.params.id as string} could not be found.`);
    res.json({ extra_specs: {} });
  });
  const keypairView = (k: SandboxKeypair): Record<string, unknown> => ({ name: k.name, public_key: k.publicKey, fingerprint: k.fingerprint, type: k.type });
  r.get('/os-keypairs', (_req, res) => {
    res.json({ keypairs: (deps.keypairs?.() ?? []).map((k) => ({ keypair: keypairView(k) })) });
  });
  r.get('/os-keypairs/:name', (req: Request, res: Response) => {
    const k = (deps.keypairs?.() ?? []).find((x) => x.name === req.params.name);
    if (!k) return novaError(res, 404, 'itemNotFound', `Keypair ${req.params.name as string} not found for user admin`);
    res.json({ keypair: { ...keypairView(k), user_id: 'admin', created_at: '2026-01-01T00:00:00.000000', deleted: false, deleted_at: null, id: 1, updated_at: null } });
  });
  r.get('/servers/:id', (req: Request, res: Response) => {
    const vm = find(req.params.id as string);
    if (!vm) return novaError(res, 404, 'itemNotFound', `Instance ${req.params.id as string} could not be found.`);
    res.json({ server: view(vm, req) });
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
