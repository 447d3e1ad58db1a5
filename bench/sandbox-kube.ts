/**
 * `npm run bench -- sandbox-kube [N…]`: the Kubernetes API emulator under clients/kube.
 * For each N: emulator start, server-side apply of N objects (a Namespace, then N-1 Services,
 * Deployments and VirtualServices), the same set again (no change: must be zero writes), one
 * changed object, and the wait until every Deployment is ready. Prints figures; asserts nothing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKubeEmulator } from '../sandbox/kube/index.js';
import { KubeClient, deploymentReady, loadKubeConfig, type KubeObject } from '../clients/kube/index.js';

function objects(n: number, image: string): KubeObject[] {
  const out: KubeObject[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } }];
  for (let i = 0; out.length < n; i++) {
    const name = `svc-${i}`;
    const labels = { app: name, 'app.kubernetes.io/managed-by': 'mixmesh' };
    out.push({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'bench', labels }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
    if (out.length < n) out.push({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'bench', labels }, spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: i === 0 ? image : 'app:1', ports: [{ containerPort: 8080, name: 'http' }] }] } } } });
    if (out.length < n) out.push({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: 'bench', labels }, spec: { hosts: [name], http: [{ route: [{ destination: { host: name } }], timeout: '5s', retries: { attempts: 3, perTryTimeout: '1s' } }] } });
  }
  return out;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const v = await fn();
  return [v, Number(process.hrtime.bigint() - t) / 1e6];
}

export async function main(args: string[]): Promise<void> {
  const sizes = args.length ? args.map(Number) : [100, 1000];
  for (const n of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-kube-'));
    const [emu, startMs] = await timed(() => startKubeEmulator({ dir, readyDelayMs: 1000 }));
    try {
      writeFileSync(join(dir, 'kubeconfig'), emu.kubeconfig());
      const kube = new KubeClient(loadKubeConfig(join(dir, 'kubeconfig')));
      const [created, createMs] = await timed(() => kube.apply(objects(n, 'app:1')));
      emu.resetRequests();
      const [same, sameMs] = await timed(() => kube.apply(objects(n, 'app:1')));
      const sameWrites = emu.requests().writes;
      emu.resetRequests();
      const [changed, changeMs] = await timed(() => kube.apply(objects(n, 'app:2')));
      const changeWrites = emu.requests().writes;
      const deployments = objects(n, 'app:2').filter((o) => o.kind === 'Deployment');
      const [, readyMs] = await timed(() => Promise.all(deployments.map((d) => kube.waitFor({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'bench', name: d.metadata.name }, deploymentReady, 120_000))));
      kube.close();
      process.stdout.write([
        `N=${n}: emulator start ${startMs.toFixed(0)} ms`,
        `  apply (created ${created.created.length}): ${createMs.toFixed(0)} ms (${(createMs / n).toFixed(2)} ms/object)`,
        `  re-apply unchanged (${same.unchanged.length} unchanged): ${sameMs.toFixed(0)} ms, writes ${sameWrites}`,
        `  one change (${changed.configured.length} configured): ${changeMs.toFixed(0)} ms, writes ${changeWrites}`,
        `  wait for ${deployments.length} Deployments ready (delay 1000 ms): ${readyMs.toFixed(0)} ms`,
        '',
      ].join('\n'));
    } finally {
      await emu.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
