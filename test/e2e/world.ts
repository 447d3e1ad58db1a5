/**
 * The e2e world: the sandbox (Kubernetes emulator, Keystone + Tacker + Nova, real OpenSSH VMs),
 * the stand-in sidecar packages, and an orchestrator with the injector in-process, started the
 * way `mixmesh serve` starts it. Small latencies keep the tests fast.
 */
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { spawn } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, type Logger } from '../../common/logger.js';
import { loadConfig, startStack, type Stack, type StackOptions } from '../../orchestrator/index.js';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { buildSidecarPackage } from '../../sandbox/sidecar-package/index.js';
import { fetchTrusting } from '../../common/tls.js';
import { createCa, issueServerCert } from '../../orchestrator/webhook/x509.js';

export const ISTIO_VERSION = '1.30.3';

export interface World {
  dir: string;
  sandbox: Sandbox;
  stack: Stack;
  tokens: { admin: string; viewer: string };
  env: Record<string, string>;
  /** start the orchestrator again (after a simulated crash) */
  restart(options?: Partial<StackOptions>): Promise<Stack>;
  /** one more orchestrator on the same sandbox, with other settings (stopped by stop()) */
  another(env: Record<string, string>, more?: Partial<StackOptions>): Promise<Stack>;
  /** `mixmesh serve` in a child process (so a test can SIGKILL it mid-deploy) */
  spawnServe(): Promise<{ url: string; kill(): Promise<void> }>;
  /** fetch that trusts the run's CA when TLS is on (plain fetch otherwise) */
  fetch: typeof fetch;
  api(method: string, path: string, options?: { body?: string; type?: string; token?: string | null; headers?: Record<string, string> }): Promise<{ status: number; json: Record<string, unknown>; text: string }>;
  /** wait until the operation ends; returns its final state */
  waitOperation(id: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  kubeRequests(): Promise<{ writes: number; entries: { verb: string; kind: string; dryRun: boolean; namespace?: string; count: number }[] }>;
  resetKubeRequests(): Promise<void>;
  faults(body: Record<string, unknown> | null): Promise<void>;
  stop(): Promise<void>;
}

const LATENCIES = { startingMs: 50, processingMs: 150, terminateMs: 50, sshdMs: 100, podReadyMs: 100 };

/**
 * `tls` (or MIXMESH_E2E_TLS=1 for the whole suite): the API, the Tacker callback and the injector
 * serve HTTPS with a certificate from a CA made for the run; Tacker (the sandbox) checks the
 * callback's certificate against that CA, the plug-in the injector's, and world.api trusts it.
 */
export async function startWorld(options: { log?: Logger; latencies?: Partial<typeof LATENCIES>; stack?: Partial<StackOptions>; tls?: boolean } = {}): Promise<World> {
  const log = options.log ?? silentLogger;
  const dir = mkdtempSync(join(tmpdir(), 'mixmesh-e2e-'));
  const tls = options.tls ?? process.env.MIXMESH_E2E_TLS === '1';
  const ca = tls ? createCa('mixmesh-e2e-ca') : undefined;
  if (ca) {
    const cert = issueServerCert(ca, ['127.0.0.1', 'localhost']);
    writeFileSync(join(dir, 'ca.crt'), ca.certPem);
    writeFileSync(join(dir, 'tls.crt'), cert.certPem);
    writeFileSync(join(dir, 'tls.key'), cert.keyPem, { mode: 0o600 });
  }
  const trusting = ca ? fetchTrusting(ca.certPem) : fetch;
    // the Tacker plug-in (instantiate_end) reads the injector's URL and token from this file
  const injectorConfig = join(dir, 'injector.json');
  const sandbox = await startSandbox({ dir, latencies: { ...LATENCIES, ...options.latencies }, log, mgmtDriverEnv: { MIXMESH_INJECTOR_CONFIG: injectorConfig }, ...(ca ? { callbackCaPem: ca.certPem } : {}) });
  try {
    const artifacts = join(dir, 'artifacts');
    mkdirSync(artifacts, { recursive: true });
    for (const format of ['deb', 'rpm', 'tar'] as const) {
      const pkg = await buildSidecarPackage({ format, version: ISTIO_VERSION, outDir: join(tmpdir(), 'mixmesh-e2e-package-cache') });
      const target = join(artifacts, `istio-sidecar-${ISTIO_VERSION}.${format === 'tar' ? 'tar.gz' : format}`);
      rmSync(target, { force: true });
      try { linkSync(pkg.path, target); } catch { copyFileSync(pkg.path, target); }
    }
    const tokens = { admin: randomBytes(18).toString('base64url'), viewer: randomBytes(18).toString('base64url') };
    const sha = (t: string): string => createHash('sha256').update(t).digest('hex');
    writeFileSync(join(dir, 'tokens.yaml'), `- {name: admin, role: admin, sha256: ${sha(tokens.admin)}}\n- {name: viewer, role: viewer, sha256: ${sha(tokens.viewer)}}\n`);
    const env = {
      KUBECONFIG: sandbox.paths.kubeconfig, MIXMESH_TOKENS_FILE: join(dir, 'tokens.yaml'), OS_CLOUD: 'sandbox', OS_CLIENT_CONFIG_FILE: sandbox.paths.cloudsYaml,
      MIXMESH_SIDECAR_ARTIFACTS: artifacts, MIXMESH_LISTEN: '127.0.0.1:0', MIXMESH_INJECTOR_LISTEN: '127.0.0.1:0', MIXMESH_INJECTOR_TOKEN: randomBytes(18).toString('base64url'),
      ...(ca ? { MIXMESH_TLS_CERT_FILE: join(dir, 'tls.crt'), MIXMESH_TLS_KEY_FILE: join(dir, 'tls.key'), MIXMESH_CA_FILE: join(dir, 'ca.crt') } : {}),
    } as Record<string, string>;
    const config = loadConfig({ env, cwd: dir, home: dir });
    const settings = { tackerPollMs: 300, readyPollMs: 50, resyncSeconds: 3600 };
    const begin = async (o: Partial<StackOptions> = {}): Promise<Stack> => {
      const started = await startStack({ config, log, ...options.stack, ...o, settings: { ...settings, ...options.stack?.settings, ...o.settings } });
      writeFileSync(injectorConfig, JSON.stringify({ url: started.injectorUrl, token: started.injectorToken, ...(ca ? { caFile: join(dir, 'ca.crt') } : {}) }), { mode: 0o600 });
      return started;
    };
    let stack = await begin();

    const extra: Stack[] = [];
    const kubeRaw = (method: string, path: string): Promise<string> => new Promise((resolve, reject) => {
      const url = new URL(path, sandbox.kube.url);
      const req = httpsRequest(url, { method, ca: sandbox.kube.caPem, headers: { authorization: `Bearer ${sandbox.kube.token}` } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => { text += c.toString(); });
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end();
    });

    const world: World = {
      dir, sandbox, tokens, env, fetch: trusting,
      get stack() { return stack; },
      async restart(o) {
        stack = await begin(o);
        return stack;
      },
      async another(more, stackOptions = {}) {
        const s = await startStack({ config: loadConfig({ env: { ...env, ...more }, cwd: dir, home: dir }), log, ...stackOptions, settings: { ...settings, ...stackOptions.settings } });
        extra.push(s);
        return s;
      },
      async spawnServe() {
        const port = await new Promise<number>((resolve) => {
          const srv = createNetServer().listen(0, '127.0.0.1', () => {
            const p = (srv.address() as { port: number }).port;
            srv.close(() => resolve(p));
          });
        });
        const child = spawn(process.execPath, ['--import', 'tsx', 'cli/bin.ts', 'serve'], {
          cwd: fileURLToPath(new URL('../..', import.meta.url)),
          env: { PATH: process.env.PATH ?? '', HOME: dir, ...env, MIXMESH_LISTEN: `127.0.0.1:${port}`, MIXMESH_LOG_LEVEL: 'warn' },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
        const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
        const url = `${ca ? 'https' : 'http'}://127.0.0.1:${port}`;
        for (let i = 0; ; i++) {
          if (await trusting(`${url}/readyz`).then((r) => r.status === 200, () => false)) break;
          if (i > 600 || child.exitCode !== null) throw new Error(`mixmesh serve did not get ready: ${stderr}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        return { url, kill: async () => { child.kill('SIGKILL'); await exited; } };
      },
      async api(method, path, o = {}) {
        const headers: Record<string, string> = { ...(o.headers ?? {}) };
        const token = o.token === undefined ? tokens.admin : o.token;
        if (token) headers.authorization = `Bearer ${token}`;
        if (o.body !== undefined) headers['content-type'] = o.type ?? 'application/yaml';
        const res = await trusting(stack.url + path, { method, headers, ...(o.body !== undefined ? { body: o.body } : {}) });
        const text = await res.text();
        let json: Record<string, unknown> = {};
        try { json = JSON.parse(text) as Record<string, unknown>; } catch { /* not JSON */ }
        return { status: res.status, json, text };
      },
      async waitOperation(id, timeoutMs = 60_000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const r = await world.api('GET', `/v1/operations/${id}`);
          if (r.status === 200 && ['Succeeded', 'Failed', 'RolledBack'].includes(String(r.json.state))) return r.json;
          if (Date.now() > deadline) throw new Error(`operation ${id} not finished after ${timeoutMs} ms: ${r.text}`);
          await new Promise((res) => setTimeout(res, 100));
        }
      },
      async kubeRequests() {
        return JSON.parse(await kubeRaw('GET', '/_sandbox/requests')) as { writes: number; entries: { verb: string; kind: string; dryRun: boolean; namespace?: string; count: number }[] };
      },
      async resetKubeRequests() {
        await kubeRaw('DELETE', '/_sandbox/requests');
      },
      async faults(body) {
        const res = await fetch(`${sandbox.openstack.adminUrl}/faults`, {
          method: body === null ? 'DELETE' : 'POST',
          headers: { authorization: `Bearer ${sandbox.openstack.adminToken}`, 'content-type': 'application/json' },
          ...(body === null ? {} : { body: JSON.stringify(body) }),
        });
        if (res.status >= 300) throw new Error(`faults: ${res.status} ${await res.text()}`);
      },
      async stop() {
        for (const s of extra) await s.stop().catch(() => undefined);
        await stack.stop().catch(() => undefined);
        await sandbox.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return world;
  } catch (e) {
    await sandbox.stop();
    throw e;
  }
}

/** a one-VM service (plus one container) for the fault tests */
export function vmService(name: string, namespace = 'faults', injection: 'orchestrator' | 'plugin' = 'orchestrator'): string {
  return `apiVersion: mixmesh.io/v1alpha1
kind: MeshService
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  microservices:
    - name: web
      runtime: container
      ports: [{name: http, port: 8080}]
      container: {image: ghcr.io/example/web:1.0.0}
    - name: db
      runtime: vm
      ports: [{name: sql, port: 5432, protocol: TCP}]
      vm:
        vnfdId: 6a4b5a1e-0000-4000-8000-00000000000${injection === 'plugin' ? 2 : 1}
        flavourId: simple
        ssh: {user: root, credentialsSecret: vm-ssh, hostKey: console}
        sidecar: {injection: ${injection}}
  connections:
    - {from: web, to: db}
`;
}
