/**
 * Atomic name claims (issue 8, defect 5): of services racing for one generated name exactly one
 * wins; a claim is released with its service, and taken over only when its service is gone.
 */
import assert from 'node:assert/strict';
import { isMixmeshError } from '../common/errors.js';
import { CLAIM_GRACE_MS, CLAIMS_CONFIGMAP, checkNameConflicts, claimNames, releaseNames } from './conflicts.js';
import { MESH_API_VERSION, MESH_KIND, type KubeObject } from './ports.js';
import { MemoryKube } from '../test/helpers/memory-kube.js';

const obj = (kind: string, name: string): KubeObject => ({ apiVersion: 'v1', kind, metadata: { name, namespace: 'shop' } });
const WEB = [obj('Service', 'web'), obj('ServiceAccount', 'web'), obj('Deployment', 'web-v1')];

async function world(): Promise<MemoryKube> {
  const kube = new MemoryKube();
  await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  return kube;
}

const claims = async (kube: MemoryKube): Promise<Record<string, string>> => ((await kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'shop', name: CLAIMS_CONFIGMAP }))?.data ?? {}) as Record<string, string>;

describe('orchestrator: atomic name claims', () => {
  it('of 10 services claiming the same names at once, exactly one wins and the others get NAME_CONFLICT', async () => {
    const kube = await world();
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => claimNames(kube, `svc${i}`, 'shop', WEB)));
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1);
    for (const r of results) if (r.status === 'rejected') assert.ok(isMixmeshError(r.reason, 'NAME_CONFLICT'), String(r.reason));
    const owners = new Set(Object.values(await claims(kube)).map((v) => v.split(' ')[0]));
    assert.equal(owners.size, 1);
  });

  it('the name check claims too (the controller\'s path, e.g. a MeshService from kubectl), except as a dry run or in a namespace not there yet', async () => {
    const kube = await world();
    await checkNameConflicts(kube, 'a', WEB, { dryRun: true });
    assert.deepEqual(await claims(kube), {});
    await checkNameConflicts(kube, 'a', WEB);
    assert.deepEqual(Object.keys(await claims(kube)).sort(), ['Deployment.web-v1', 'Service.web', 'ServiceAccount.web']);
    await assert.rejects(checkNameConflicts(kube, 'b', WEB), (e) => isMixmeshError(e, 'NAME_CONFLICT'));
    const elsewhere = WEB.map((o) => ({ ...o, metadata: { ...o.metadata, namespace: 'new-ns' } }));
    await checkNameConflicts(kube, 'c', elsewhere);
    assert.equal(await kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'new-ns', name: CLAIMS_CONFIGMAP }), undefined);
  });

  it('writes only when a claim changes; drops names the service no longer generates', async () => {
    const kube = await world();
    await claimNames(kube, 'a', 'shop', WEB);
    const writes = kube.writes.length;
    await claimNames(kube, 'a', 'shop', WEB);
    assert.equal(kube.writes.length, writes, 'an unchanged claim writes nothing');
    await claimNames(kube, 'a', 'shop', [WEB[0]!]);
    assert.deepEqual(Object.keys(await claims(kube)), ['Service.web']);
    await claimNames(kube, 'b', 'shop', [WEB[2]!]);
  });

  it('a claim of a service that is gone is free after the grace period, never before; release drops it at once', async () => {
    const kube = await world();
    let now = Date.parse('2026-01-01T00:00:00Z');
    await claimNames(kube, 'a', 'shop', WEB, () => now);
    // a's MeshService is not there (yet): within the grace its claim holds
    await assert.rejects(claimNames(kube, 'b', 'shop', WEB, () => now + 1000), (e) => isMixmeshError(e, 'NAME_CONFLICT'));
    // a exists: its claim holds however old
    await kube.create({ apiVersion: MESH_API_VERSION, kind: MESH_KIND, metadata: { name: 'a', namespace: 'shop' }, spec: {} });
    now += CLAIM_GRACE_MS * 10;
    await assert.rejects(claimNames(kube, 'b', 'shop', WEB, () => now), (e) => isMixmeshError(e, 'NAME_CONFLICT'));
    // a is gone and its claim old: b takes it
    await kube.delete({ apiVersion: MESH_API_VERSION, kind: MESH_KIND, namespace: 'shop', name: 'a' });
    await claimNames(kube, 'b', 'shop', WEB, () => now);
    assert.ok(Object.values(await claims(kube)).every((v) => v.startsWith('b ')));
    await releaseNames(kube, 'b', 'shop');
    assert.equal(await kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'shop', name: CLAIMS_CONFIGMAP }), undefined);
  });
});
