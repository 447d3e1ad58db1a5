/**
 * List paging (limit / continue) of the emulator, through @kubernetes/client-node, clients/kube's
 * listPage and the real kubectl (which asks for chunks of 500 by default, here --chunk-size=7).
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { KubeClient, kubeConfigFromText } from '../../clients/kube/index.js';
import { startKubeEmulator, type KubeEmulator } from './index.js';

describe('sandbox/kube: list paging (limit, continue)', function () {
  this.timeout(60_000);
  let emu: KubeEmulator;
  let core: CoreV1Api;
  let dir: string;
  const names = Array.from({ length: 25 }, (_, i) => `cm-${String(i).padStart(2, '0')}`);

  before(async () => {
    emu = await startKubeEmulator({ readyDelayMs: 50 });
    const kc = new KubeConfig();
    kc.loadFromString(emu.kubeconfig());
    core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'paged' } } });
    for (const name of names) await core.createNamespacedConfigMap({ namespace: 'paged', body: { metadata: { name, labels: { odd: String(Number(name.slice(3)) % 2) } }, data: { n: name } } });
    dir = mkdtempSync(join(tmpdir(), 'paging-'));
    writeFileSync(join(dir, 'kubeconfig'), emu.kubeconfig());
  });
  after(async () => {
    await emu?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('pages of `limit` items with a continue token and remainingItemCount; the last page has none', async () => {
    // (the controller adds the namespace's root-CA ConfigMaps beside ours)
    const all = (await core.listNamespacedConfigMap({ namespace: 'paged' })).items.map((c) => c.metadata!.name!);
    assert.ok(names.every((n) => all.includes(n)) && all.length >= 25);
    const seen: string[] = [];
    let token: string | undefined;
    const pages: number[] = [];
    do {
      const page = await core.listNamespacedConfigMap({ namespace: 'paged', limit: 10, ...(token ? { _continue: token } : {}) });
      pages.push(page.items.length);
      seen.push(...page.items.map((c) => c.metadata!.name!));
      if (page.metadata?._continue) assert.equal(page.metadata.remainingItemCount, all.length - seen.length);
      token = page.metadata?._continue || undefined;
    } while (token);
    assert.deepEqual(pages, [10, 10, all.length - 20]);
    assert.deepEqual(seen, all);
  });

  it('with a label selector: pages of matching items, no remainingItemCount', async () => {
    const first = await core.listNamespacedConfigMap({ namespace: 'paged', limit: 5, labelSelector: 'odd=1' });
    assert.equal(first.items.length, 5);
    assert.ok(first.metadata?._continue);
    assert.equal(first.metadata?.remainingItemCount, undefined);
    const rest = await core.listNamespacedConfigMap({ namespace: 'paged', limit: 50, labelSelector: 'odd=1', _continue: first.metadata!._continue! });
    assert.equal(first.items.length + rest.items.length, 12);
    assert.equal(rest.metadata?._continue ?? '', '');
  });

  it('an invalid continue token is a 400', async () => {
    await assert.rejects(core.listNamespacedConfigMap({ namespace: 'paged', limit: 5, _continue: 'bm90IGEgdG9rZW4=' }), (e: unknown) => (e as { code?: number }).code === 400);
  });

  it('clients/kube listPage follows it; kubectl get --chunk-size lists every item', async () => {
    const kube = new KubeClient(kubeConfigFromText(emu.kubeconfig()));
    const got: string[] = [];
    let token = '';
    do {
      const p = await kube.listPage('v1', 'ConfigMap', { namespace: 'paged', limit: 7, continue: token });
      assert.ok(p.items.length <= 7);
      got.push(...p.items.map((c) => c.metadata.name));
      token = p.continue;
    } while (token);
    kube.close();
    assert.deepEqual(got.filter((n) => n.startsWith('cm-')), names);
    const out = await new Promise<string>((resolve, reject) => execFile('/usr/bin/kubectl', ['--kubeconfig', join(dir, 'kubeconfig'), '--cache-dir', join(dir, 'cache'), 'get', 'configmaps', '-n', 'paged', '--chunk-size=7', '-o', 'name'], { timeout: 30_000 }, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout))));
    assert.deepEqual(out.trim().split('\n').filter((n) => n.startsWith('configmap/cm-')), names.map((n) => `configmap/${n}`));
    assert.equal(out.trim().split('\n').length, got.length);
  });
});
