/**
 * k8s/ (the café as plain manifests) against the sandbox's Kubernetes API with the real kubectl
 * (`apply --dry-run=server`), and against `mixmesh render` of the descriptor: the same Services
 * with the same ports, the same images, env names and readiness probes, the same ingress paths.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { startKubeEmulator, type KubeEmulator } from '../../sandbox/kube/index.js';
import { PATH_RULES } from './local/nginx.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const k8sDir = join(repo, 'examples/iot-cafe/k8s');
const KUBECTL = '/usr/bin/kubectl';

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec?: Record<string, unknown> } & Record<string, unknown>;
interface Container { name: string; image: string; env?: { name: string }[]; ports?: { name?: string; containerPort: number }[]; readinessProbe?: { httpGet?: { path: string; port: string | number } } }

function docs(text: string): Obj[] {
  return parseAllDocuments(text).map((d) => d.toJS() as Obj).filter(Boolean);
}
const manifests = (): Obj[] => readdirSync(k8sDir).filter((f) => f.endsWith('.yaml')).sort().flatMap((f) => docs(readFileSync(join(k8sDir, f), 'utf8')));
const find = (objs: Obj[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name);
const containerOf = (o: Obj | undefined): Container => ((o?.spec as { template: { spec: { containers: Container[] } } }).template.spec.containers[0])!;

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    execFile(cmd, args, { cwd: repo, timeout: 120_000, maxBuffer: 32 << 20 }, (err, stdout, stderr) => ok({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

describe('IoT café manifests (k8s/) and the mixmesh descriptor', function () {
  this.timeout(120_000);

  it('agree with `mixmesh render` on names, ports, images, env, probes and ingress paths', async () => {
    const r = await run(process.execPath, ['--import', 'tsx', 'cli/bin.ts', 'render', 'examples/iot-cafe/descriptor.yaml']);
    assert.equal(r.code, 0, r.stderr);
    const rendered = docs(r.stdout);
    const plain = manifests();
    assert.equal(find(rendered, 'Namespace', 'cafe')?.metadata.name, find(plain, 'Namespace', 'cafe')?.metadata.name);
    const renderedServices = rendered.filter((o) => o.kind === 'Service').map((o) => o.metadata.name).sort();
    assert.deepEqual(renderedServices, ['device-api', 'inventory-db', 'kiosk-ui', 'kitchen-display', 'order-api']);
    for (const name of renderedServices) {
      const ports = (o: Obj | undefined) => ((o?.spec as { ports: { name: string; port: number }[] } | undefined)?.ports ?? []).map((p) => `${p.name}:${p.port}`).sort();
      assert.deepEqual(ports(find(plain, 'Service', name)), ports(find(rendered, 'Service', name)), `Service ${name}`);
    }
    // every container version: the manifests' Deployment runs the same image, env and probe
    for (const dep of rendered.filter((o) => o.kind === 'Deployment')) {
      const name = dep.metadata.name.replace(/-v\d+$/, '');
      const a = containerOf(dep);
      const b = containerOf(find(plain, 'Deployment', name));
      assert.equal(b.image, a.image, `${name} image`);
      assert.deepEqual((b.env ?? []).map((e) => e.name).sort(), (a.env ?? []).map((e) => e.name).sort(), `${name} env`);
      assert.deepEqual(b.ports?.map((p) => `${p.name}:${p.containerPort}`), a.ports?.map((p) => `${p.name}:${p.containerPort}`), `${name} ports`);
      assert.deepEqual(b.readinessProbe?.httpGet, a.readinessProbe?.httpGet, `${name} readiness`);
    }
    // the VM versions' microservices are in the manifests too: order-api as a Deployment, inventory-db as the StatefulSet
    assert.ok(find(plain, 'StatefulSet', 'inventory-db'));
    // ingress paths: the descriptor's routes, the Ingress's rules and nginx's local rules
    const vs = find(rendered, 'VirtualService', 'iot-cafe-ingress')!.spec as { http: { match: { uri: { prefix: string } }[]; route: { destination: { host: string; port: { number: number } } }[] }[] };
    const fromMesh = vs.http.map((h) => `${h.match[0]!.uri.prefix} ${h.route[0]!.destination.host.split('.')[0]}:${h.route[0]!.destination.port.number}`).sort();
    const ing = find(plain, 'Ingress', 'iot-cafe')!.spec as { rules: { http: { paths: { path: string; pathType: string; backend: { service: { name: string; port: { name: string } } } }[] } }[] };
    const svcPort = (svc: string, portName: string) => ((find(plain, 'Service', svc)!.spec as { ports: { name: string; port: number }[] }).ports.find((p) => p.name === portName)!.port);
    const fromIngress = ing.rules[0]!.http.paths.map((p) => `${p.path} ${p.backend.service.name}:${svcPort(p.backend.service.name, p.backend.service.port.name)}`).sort();
    assert.deepEqual(fromIngress, fromMesh);
    assert.ok(ing.rules[0]!.http.paths.every((p) => p.pathType === 'Prefix'));
    assert.deepEqual(PATH_RULES.map((p) => `${p.path} ${p.name}:8080`).sort(), fromMesh);
    // order-api is the one with several replicas (stateless)
    assert.ok(((find(plain, 'Deployment', 'order-api')!.spec as { replicas: number }).replicas) >= 2);
  });

  describe('against the sandbox Kubernetes API with kubectl', () => {
    let emu: KubeEmulator;
    let dir: string;
    const kubectl = (...args: string[]) => run(KUBECTL, ['--kubeconfig', join(dir, 'kubeconfig'), '--cache-dir', join(dir, 'cache'), ...args]);
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'cafe-kubectl-'));
      emu = await startKubeEmulator({ readyDelayMs: 50 });
      writeFileSync(join(dir, 'kubeconfig'), emu.kubeconfig());
    });
    after(async () => {
      await emu?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('apply --dry-run=server accepts every manifest and stores nothing', async () => {
      const ns = await kubectl('apply', '-f', join(k8sDir, 'namespace.yaml'));
      assert.equal(ns.code, 0, ns.stderr);
      const r = await kubectl('apply', '--dry-run=server', '-f', k8sDir);
      assert.equal(r.code, 0, r.stderr);
      for (const o of manifests().filter((m) => m.kind !== 'Namespace')) {
        assert.match(r.stdout, new RegExp(`${o.kind.toLowerCase()}[^ ]*/${o.metadata.name} (created|configured|unchanged) \\(server dry run\\)`, 'i'), `${o.kind}/${o.metadata.name} in:\n${r.stdout}`);
      }
      const got = await kubectl('get', 'deploy,sts,svc,ingress,secret', '-n', 'cafe', '-o', 'name');
      assert.equal(got.code, 0, got.stderr);
      assert.doesNotMatch(got.stdout, /order-api|inventory-db|iot-cafe/);
    });

  });
});
