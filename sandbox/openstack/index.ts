/**
 * The sandbox's OpenStack: Keystone (Debian's real keystone when installed, else an emulated v3),
 * Tacker (VNF LCM v2, packages, subscriptions, VIMs) and Nova, on one loopback listener, with VMs
 * from a VmProvider and an admin route for fault injection. See README.md.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import { MixmeshError, shellQuote, silentLogger, toYaml, type Logger } from '../../common/index.js';
import type { VmProvider } from '../vms/types.js';
import { TokenValidator } from './auth.js';
import { extractCsar, sampleCsar, writeZip } from './csar.js';
import { emptyFaults, parseFaultRequest, type Faults } from './faults.js';
import { HttpProblem, objectBody, sendProblem, problem } from './http-util.js';
import { EmulatedKeystone } from './keystone-emulator.js';
import { realKeystoneInstalled, startRealKeystone, type RealKeystone } from './keystone-real.js';
import { DEFAULT_LATENCIES, TackerLcm, type Latencies, type Vim } from './lcm.js';
import { glanceRouter, SANDBOX_IMAGE_ID, SANDBOX_IMAGE_NAME } from './glance.js';
import { novaKeypair, novaRouter, type SandboxKeypair } from './nova.js';
import { Notifier } from './notifier.js';
import { fetchTrusting } from '../../common/tls.js';
import { PackageStore } from './packages.js';

export { DEFAULT_LATENCIES, type Latencies } from './lcm.js';
export { readZip, writeZip, sampleCsar, type ZipEntry } from './csar.js';
export type { Faults } from './faults.js';

/** The seeded packages' VNFD ids (docs/sandbox.md). */
export const PLAIN_VNFD_ID = '6a4b5a1e-0000-4000-8000-000000000001';
export const PLUGIN_VNFD_ID = '6a4b5a1e-0000-4000-8000-000000000002';
export const PLAIN_PACKAGE_ID = '6a4b5a1e-0000-4000-8000-0000000000a1';
export const PLUGIN_PACKAGE_ID = '6a4b5a1e-0000-4000-8000-0000000000a2';
export const DEFAULT_VIM_ID = '6a4b5a1e-0000-4000-8000-0000000000f1';
/** Node image packages (seeded with `seedNodeImages`): their VDU boots the image of that name (sandbox/nodes) */
export const WORKER_VNFD_ID = '6a4b5a1e-0000-4000-8000-000000000003';
export const WORKER_NOCRIU_VNFD_ID = '6a4b5a1e-0000-4000-8000-000000000004';
export const CONTROL_PLANE_VNFD_ID = '6a4b5a1e-0000-4000-8000-000000000005';
export const WORKER_PACKAGE_ID = '6a4b5a1e-0000-4000-8000-0000000000a3';
export const WORKER_NOCRIU_PACKAGE_ID = '6a4b5a1e-0000-4000-8000-0000000000a4';
export const CONTROL_PLANE_PACKAGE_ID = '6a4b5a1e-0000-4000-8000-0000000000a5';
/** a control plane without a cluster: `kubeadm init` on it starts one at <vm>:6443 */
export const CONTROL_PLANE_BARE_VNFD_ID = '6a4b5a1e-0000-4000-8000-000000000006';
export const CONTROL_PLANE_BARE_PACKAGE_ID = '6a4b5a1e-0000-4000-8000-0000000000a6';
export const PLUGIN_SCRIPT_NAME = 'mixmesh_instantiate_end.py';

/** The Tacker plug-in script of vm-sidecar-injector, from a checkout or from dist/. */
export function defaultPluginScript(): string {
  const candidates = ['../../vm-sidecar-injector/tacker-plugin/', '../../../vm-sidecar-injector/tacker-plugin/'].map((p) => fileURLToPath(new URL(p + PLUGIN_SCRIPT_NAME, import.meta.url)));
  return candidates.find((c) => existsSync(c)) ?? (candidates[0] as string);
}

export interface StartOpenStackOptions {
  /** state lives under DIR/openstack (keystone db, packages) */
  dir: string;
  vmProvider: VmProvider;
  latencies?: Partial<Latencies>;
  /** real: Debian's keystone (fails when missing); emulated; auto (default): real when installed */
  keystone?: 'real' | 'emulated' | 'auto';
  /** also seed the node image packages (worker, worker without CRIU, control plane; sandbox/nodes) */
  seedNodeImages?: boolean;
  /** more packages to seed whose VDU boots the image named (e.g. the gateway's engine images, sandbox/engines) */
  seedImagePackages?: readonly { id: string; vnfdId: string; productName: string; image: string }[];
  /** the instantiate_end script of the seeded plug-in package (default: vm-sidecar-injector's) */
  pluginScript?: string;
  /** extra environment for mgmt driver scripts (added to this process's, like the conductor's) */
  mgmtDriverEnv?: Record<string, string>;
  mgmtDriverTimeoutMs?: number;
  /** list page size (0: no paging, Tacker's default) */
  pageSize?: number;
  /** emulated Keystone only: token lifetime (default 3600 s) */
  tokenLifetimeSec?: number;
  /** how long the subscription test GET may take (default 20 s) */
  subscriptionTestTimeoutMs?: number;
  /** a CA (PEM) https callbacks' certificates must chain to, as a Tacker configured with a CA bundle; default the system roots */
  callbackCaPem?: string;
  /** Nova keypairs to list (the public key every sandbox VM authorizes), OpenSSH `type base64 comment` */
  keypairs?: { name: string; publicKey: string }[];
  /** port to listen on (default: a free one) */
  port?: number;
  logger?: Logger;
}

export interface OpenStackCredentials {
  username: string;
  password: string;
  projectName: string;
  userDomainName: string;
  projectDomainName: string;
  regionName: string;
}

export interface OpenStackSandbox {
  keystoneKind: 'real' | 'emulated';
  authUrl: string;
  /** Tacker's catalog URL (root; /vnflcm/v2, /vnfpkgm/v1, /v1.0 below it) */
  tackerUrl: string;
  /** Nova's catalog URL (…/compute/v2.1) */
  novaUrl: string;
  /** Glance's catalog URL (…/image) */
  glanceUrl: string;
  /** the fault-injection route, `Authorization: Bearer <adminToken>` */
  adminUrl: string;
  adminToken: string;
  credentials: OpenStackCredentials;
  defaultVimId: string;
  cloudsYaml(): string;
  openrc(): string;
  /** wait until every notification in flight was delivered (tests) */
  drainNotifications(): Promise<void>;
  stop(): Promise<void>;
}

export async function startOpenStack(options: StartOpenStackOptions): Promise<OpenStackSandbox> {
  const log = (options.logger ?? silentLogger).child({ component: 'sandbox-openstack' });
  const latencies: Latencies = { ...DEFAULT_LATENCIES, ...options.latencies };
  const root = join(options.dir, 'openstack');
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const mode = options.keystone ?? 'auto';
  const useReal = mode === 'real' || (mode === 'auto' && realKeystoneInstalled());
  if (mode === 'real' && !realKeystoneInstalled()) {
    throw new MixmeshError('SANDBOX_MISSING_PACKAGES', 'keystone: real Keystone was asked for but is not installed (apt-get install --no-install-recommends keystone)');
  }
  const region = 'RegionOne';
  const credentials: OpenStackCredentials = {
    username: 'admin', password: randomBytes(18).toString('base64url'), projectName: 'admin', userDomainName: 'Default', projectDomainName: 'Default', regionName: region,
  };
  const adminToken = randomBytes(24).toString('base64url');

  let baseUrl = '';
  const app = express();
  app.disable('x-powered-by');
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(options.port ?? 0, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  const addr = server.address();
  baseUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const tackerUrl = baseUrl;
  const novaUrl = `${baseUrl}/compute/v2.1`;
  const glanceUrl = `${baseUrl}/image`;
  // what the OpenStack CLI resolves from the catalog: Tacker, Nova and Glance (server list names images)
  const catalog = [
    { type: 'nfv-orchestration', name: 'tacker', url: `${tackerUrl}/` },
    { type: 'compute', name: 'nova', url: novaUrl },
    { type: 'image', name: 'glance', url: glanceUrl },
  ];
  const adminUrl = `${baseUrl}/_sandbox`;

  let real: RealKeystone | undefined;
  let emulated: EmulatedKeystone | undefined;
  let authUrl: string;
  try {
    if (useReal) {
      real = await startRealKeystone(join(root, 'keystone'), credentials.password, region, catalog);
      authUrl = real.authUrl;
    } else {
      authUrl = `${baseUrl}/identity/v3`;
      emulated = new EmulatedKeystone({
        authUrl,
        region,
        tokenLifetimeSec: options.tokenLifetimeSec ?? 3600,
        user: { name: credentials.username, password: credentials.password, domain: 'Default', project: credentials.projectName, projectDomain: 'Default' },
        catalog: () => catalog,
      });
    }
  } catch (e) {
    await new Promise((r) => server.close(() => r(undefined)));
    await real?.stop();
    throw e;
  }

  const faults: Faults = emptyFaults();
  const validator = new TokenValidator(authUrl, credentials);
  const notifier = new Notifier({ testTimeoutMs: options.subscriptionTestTimeoutMs ?? 20_000, deliveryTimeoutMs: 20_000, ...(options.callbackCaPem ? { fetch: fetchTrusting(options.callbackCaPem) } : {}) });
  const packages = new PackageStore({ dir: join(root, 'packages'), baseUrl: () => baseUrl, processingMs: 200 });
  const vims: Vim[] = [{ id: DEFAULT_VIM_ID, name: 'sandbox-vim', authUrl, region, projectName: credentials.projectName }];
  const serverNames = new Map<string, string>();
  const keypairs: SandboxKeypair[] = (options.keypairs ?? []).map((k) => novaKeypair(k.name, k.publicKey));

  // the seeded packages: a plain one (listed first) and one wired to the mixmesh plug-in
  const pluginScript = options.pluginScript ?? defaultPluginScript();
  const seeds: Array<{ id: string; vnfdId: string; productName: string; scriptName?: string; image?: string }> = [
    { id: PLAIN_PACKAGE_ID, vnfdId: PLAIN_VNFD_ID, productName: 'mixmesh-plain-vm' },
    { id: PLUGIN_PACKAGE_ID, vnfdId: PLUGIN_VNFD_ID, productName: 'mixmesh-plugin-vm', scriptName: PLUGIN_SCRIPT_NAME },
  ];
  if (options.seedNodeImages) {
    seeds.push(
      { id: WORKER_PACKAGE_ID, vnfdId: WORKER_VNFD_ID, productName: 'mixmesh-sandbox-worker', image: 'mixmesh-sandbox-worker' },
      { id: WORKER_NOCRIU_PACKAGE_ID, vnfdId: WORKER_NOCRIU_VNFD_ID, productName: 'mixmesh-sandbox-worker-nocriu', image: 'mixmesh-sandbox-worker-nocriu' },
      { id: CONTROL_PLANE_PACKAGE_ID, vnfdId: CONTROL_PLANE_VNFD_ID, productName: 'mixmesh-sandbox-control-plane', image: 'mixmesh-sandbox-control-plane' },
      { id: CONTROL_PLANE_BARE_PACKAGE_ID, vnfdId: CONTROL_PLANE_BARE_VNFD_ID, productName: 'mixmesh-sandbox-control-plane-bare', image: 'mixmesh-sandbox-control-plane-bare' },
    );
  }
  seeds.push(...(options.seedImagePackages ?? []));
  for (const seed of seeds) {
    const csarDir = join(root, 'packages', seed.id);
    const scriptBody = seed.scriptName && existsSync(pluginScript) ? readFileSync(pluginScript, 'utf8') : seed.scriptName ? '# the plug-in script runs from its configured path\n' : undefined;
    const entries = sampleCsar({ vnfdId: seed.vnfdId, productName: seed.productName, scriptName: seed.scriptName, scriptBody, ...(seed.image ? { image: seed.image } : {}) });
    const vnfd = extractCsar(entries, csarDir);
    packages.add({
      id: seed.id, onboardingState: 'ONBOARDED', operationalState: 'ENABLED', usageState: 'NOT_IN_USE', vnfd, csarDir, content: writeZip(entries),
      instantiateEndOverride: seed.scriptName ? pluginScript : undefined,
    });
  }

  const lcm = new TackerLcm({
    baseUrl: () => baseUrl, vmProvider: options.vmProvider, packages, notifier, faults, latencies, vims, serverNames,
    pageSize: options.pageSize ?? 0,
    mgmt: { env: { ...process.env, ...options.mgmtDriverEnv }, python: 'python3', timeoutMs: options.mgmtDriverTimeoutMs ?? 1_800_000 },
  });

  // ---- routes ----
  // what clients send (never the token itself), for tests and benchmarks: GET /_sandbox/requests
  const requestLog: { method: string; path: string; query: string; version: string | null; xAuthToken: boolean; contentType: string | null; at: string }[] = [];
  app.use((req: Request, _res: Response, next: NextFunction) => {
    if (!req.path.startsWith('/_sandbox') && !req.path.startsWith('/identity')) {
      const q = req.originalUrl.indexOf('?');
      requestLog.push({
        method: req.method, path: req.path, query: q >= 0 ? req.originalUrl.slice(q + 1) : '', version: req.get('version') ?? null,
        xAuthToken: req.get('x-auth-token') !== undefined, contentType: req.get('content-type') ?? null, at: new Date().toISOString(),
      });
      if (requestLog.length > 10_000) requestLog.shift();
    }
    next();
  });
  if (emulated) app.use('/identity', emulated.router());

  const admin = express.Router();
  admin.use(express.json({ limit: '64kb' }));
  admin.use((req: Request, _res: Response, next: NextFunction) => {
    if (req.get('authorization') !== `Bearer ${adminToken}`) throw new HttpProblem(401, 'the sandbox admin route needs Authorization: Bearer <adminToken>');
    next();
  });
  const faultView = (): unknown => ({ ...structuredClone(faults), notifications: { ...notifier.faults } });
  admin.get('/faults', (_req, res) => {
    res.json(faultView());
  });
  admin.post('/faults', (req, res) => {
    const f = parseFaultRequest(objectBody(req, 'faults'));
    if (f.fail) faults.fail.push({ operation: f.fail.operation, remaining: f.fail.count, stage: f.fail.stage, error: f.fail.error });
    if (f.delay) faults.delayMs[f.delay.operation] = f.delay.ms;
    if (f.notifications) {
      for (const k of ['drop', 'duplicate', 'reorder'] as const) if (f.notifications[k] !== undefined) notifier.faults[k] = f.notifications[k] as number;
    }
    let expired = 0;
    if (f.expireTokens) {
      expired = validator.expire(f.expireTokens.all ? undefined : f.expireTokens.tokens);
      emulated?.revoke(f.expireTokens.all ? undefined : f.expireTokens.tokens);
    }
    if (f.slowSshd) faults.slowSshdMs = f.slowSshd.ms;
    res.json({ ...(faultView() as object), ...(f.expireTokens ? { expiredTokens: expired } : {}) });
  });
  admin.delete('/faults', (_req, res) => {
    Object.assign(faults, emptyFaults());
    notifier.faults = { drop: 0, duplicate: 0, reorder: 0 };
    res.status(204).end();
  });
  admin.get('/notifications', (_req, res) => {
    res.json(notifier.deliveries);
  });
  admin.get('/requests', (_req, res) => {
    res.json(requestLog);
  });
  admin.delete('/requests', (_req, res) => {
    requestLog.length = 0;
    res.status(204).end();
  });
  // how often Keystone was asked to validate a token (the cache keeps this low)
  admin.get('/stats', (_req, res) => {
    res.json({ keystoneTokenValidations: validator.keystoneCalls });
  });
  app.use('/_sandbox', admin);

  app.get('/', (_req, res) => {
    res.json({ versions: [{ id: 'v1.0', status: 'CURRENT', links: [{ rel: 'self', href: `${tackerUrl}/v1.0` }] }] });
  });
  app.use(express.raw({ type: () => true, limit: '64mb' }));
  const auth = validator.middleware();
  app.use(['/vnflcm', '/vnfpkgm', '/v1.0', '/compute', '/image'], auth);
  app.get('/vnflcm/api_versions', (_req, res) => {
    res.json({ uriPrefix: '/vnflcm', apiVersions: [{ version: '2.0.0', isDeprecated: false }] });
  });
  app.use('/vnflcm/v2', lcm.router());
  // the CLI without --os-tacker-api-version 2 talks v1: say what to do instead of a bare 404
  app.use('/vnflcm/v1', () => {
    throw new HttpProblem(404, 'this sandbox serves VNF LCM v2 only: use openstack --os-tacker-api-version 2 vnflcm …');
  });
  app.use('/vnfpkgm/v1', packages.router());
  const vimView = (v: Vim): unknown => ({
    id: v.id, name: v.name, type: 'openstack', description: 'the mixmesh sandbox cloud', tenant_id: 'admin', auth_url: v.authUrl, is_default: true, status: 'REACHABLE',
    placement_attr: { regions: [v.region] }, vim_project: { name: v.projectName, project_domain_name: 'Default' },
    auth_cred: { username: credentials.username, user_domain_name: 'Default', auth_url: v.authUrl },
  });
  app.get('/v1.0/vims', (_req, res) => {
    res.json({ vims: vims.map(vimView) });
  });
  app.get('/v1.0/vims/:id', (req, res) => {
    const v = vims.find((x) => x.id === req.params.id);
    if (!v) res.status(404).json({ TackerError: { type: 'NotFoundError', message: `VIM ${req.params.id} could not be found`, detail: '' } });
    else res.json({ vim: vimView(v) });
  });
  app.use('/compute/v2.1', (req: Request, _res: Response, next: NextFunction) => {
    const raw = req.body as Buffer | undefined;
    req.body = Buffer.isBuffer(raw) && raw.length ? (JSON.parse(raw.toString('utf8')) as unknown) : undefined;
    next();
  }, novaRouter({ vmProvider: options.vmProvider, serverNames, projectId: 'sandbox', baseUrl: () => baseUrl, keypairs: () => keypairs }));
  app.use('/image', glanceRouter({ images: () => [{ id: SANDBOX_IMAGE_ID, name: SANDBOX_IMAGE_NAME }], baseUrl: () => baseUrl }));
  app.use((_req: Request, _res: Response) => {
    throw new HttpProblem(404, 'The resource could not be found.');
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof HttpProblem) return sendProblem(res, err.problem);
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) return sendProblem(res, problem(status, err instanceof Error ? err.message : 'bad request'));
    log.error({ err }, 'internal error');
    sendProblem(res, problem(500, 'internal error; see the sandbox log'));
  });

  const openrcText = (): string =>
    [
      `export OS_AUTH_URL=${shellQuote(authUrl)}`,
      'export OS_IDENTITY_API_VERSION=3',
      `export OS_USERNAME=${shellQuote(credentials.username)}`,
      `export OS_PASSWORD=${shellQuote(credentials.password)}`,
      `export OS_PROJECT_NAME=${shellQuote(credentials.projectName)}`,
      `export OS_USER_DOMAIN_NAME=${shellQuote(credentials.userDomainName)}`,
      `export OS_PROJECT_DOMAIN_NAME=${shellQuote(credentials.projectDomainName)}`,
      `export OS_REGION_NAME=${shellQuote(region)}`,
      'export OS_INTERFACE=public',
      '',
    ].join('\n');

  log.info({ keystone: useReal ? 'real' : 'emulated', authUrl, tackerUrl }, 'openstack emulator started');
  let stopped = false;
  return {
    keystoneKind: useReal ? 'real' : 'emulated',
    authUrl,
    tackerUrl,
    novaUrl,
    glanceUrl,
    adminUrl,
    adminToken,
    credentials,
    defaultVimId: DEFAULT_VIM_ID,
    cloudsYaml: () =>
      toYaml({
        clouds: {
          sandbox: {
            auth: {
              auth_url: authUrl, username: credentials.username, password: credentials.password, project_name: credentials.projectName,
              user_domain_name: credentials.userDomainName, project_domain_name: credentials.projectDomainName,
            },
            region_name: region, interface: 'public', identity_api_version: 3,
          },
        },
      }),
    openrc: openrcText,
    drainNotifications: () => notifier.drain(),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await lcm.stop();
      notifier.stop();
      const vms = new Set<string>();
      for (const o of lcm.ops.values()) for (const vm of o.created) if (vm) vms.add(vm.serverId);
      for (const i of lcm.instances.values()) for (const vm of i.vms) vms.add(vm.serverId);
      for (const id of vms) await options.vmProvider.remove(id).catch(() => undefined);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await real?.stop();
    },
  };
}
