/**
 * The emulator's controllers, scheduler and node lifecycle, driven by @kubernetes/client-node:
 * Deployment → ReplicaSet → Pods, StatefulSet pods and claims, local PV binding through the
 * scheduler, a "full" cluster (FailedScheduling), a Node that stops renewing its Lease.
 */
import { strict as assert } from 'node:assert';
import { CoreV1Api, KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { startKubeEmulator, type KubeEmulator } from './index.js';

type Obj = KubernetesObject & Record<string, unknown> & { spec?: Record<string, unknown>; status?: Record<string, unknown> };

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let delay = 10;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 200);
  }
}

const worker = (name: string, labels: Record<string, string> = {}): Obj => ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } } });

describe('sandbox/kube workloads, scheduler and nodes', function () {
  this.timeout(60_000);
  let emu: KubeEmulator;
  let core: CoreV1Api;
  let objects: KubernetesObjectApi;
  const renewers = new Map<string, NodeJS.Timeout>();

  before(async () => {
    emu = await startKubeEmulator({ readyDelayMs: 50, virtualNode: { maxPods: 5 }, nodeMonitorGracePeriodMs: 4000, podEvictionTimeoutMs: 400 });
    const kc = new KubeConfig();
    kc.loadFromString(emu.kubeconfig());
    core = kc.makeApiClient(CoreV1Api);
    objects = KubernetesObjectApi.makeApiClient(kc);
  });
  after(async () => {
    for (const t of renewers.values()) clearInterval(t);
    await emu?.stop();
  });

  /** A node as a kubelet registers it, with its Lease renewed now. */
  async function registerNode(name: string, pods: number, labels: Record<string, string> = {}): Promise<void> {
    await objects.create(worker(name, labels));
    const now = new Date().toISOString();
    const cap = { cpu: '2', memory: '2Gi', pods: String(pods) };
    await core.patchNodeStatus({ name, body: [{ op: 'add', path: '/status', value: { capacity: cap, allocatable: cap, conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now }] } }] });
    await renewLease(name);
    // a heartbeat, as its kubelet would send, until the test stops it (40 per grace period: load-proof)
    renewers.set(name, setInterval(() => { void renewLease(name).catch(() => undefined); }, 100));
  }
  async function renewLease(name: string): Promise<void> {
    const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: 'kube-node-lease' }, spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: new Date().toISOString().replace('Z', '000Z') } };
    try { await objects.replace({ ...body, metadata: { ...body.metadata, resourceVersion: (await objects.read<Obj>(body)).metadata!.resourceVersion } }); } catch { await objects.create(body); }
  }

  it('Deployment → ReplicaSet → Pods with owner references; a new template rolls to a new ReplicaSet', async () => {
    await core.createNamespace({ body: { metadata: { name: 'rs' } } });
    await objects.create({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'rs' }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'x:1' }] } } } } as Obj);
    const d = await until('deployment ready', async () => {
      const x = await objects.read<Obj>({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'rs' } });
      return x.status?.readyReplicas === 2 ? x : undefined;
    });
    const rsList = (await objects.list<Obj>('apps/v1', 'ReplicaSet', 'rs')).items;
    assert.equal(rsList.length, 1);
    const rs = rsList[0]!;
    assert.equal(rs.metadata!.ownerReferences![0]!.uid, d.metadata!.uid);
    assert.equal(rs.metadata!.ownerReferences![0]!.kind, 'Deployment');
    assert.match(rs.metadata!.name!, /^web-[a-z0-9]{10}$/);
    const pods = (await core.listNamespacedPod({ namespace: 'rs' })).items;
    assert.equal(pods.length, 2);
    for (const p of pods) {
      assert.equal(p.metadata!.ownerReferences![0]!.kind, 'ReplicaSet');
      assert.equal(p.metadata!.ownerReferences![0]!.uid, rs.metadata!.uid);
      assert.equal(p.spec!.nodeName, 'sandbox-node');
      assert.ok(p.metadata!.name!.startsWith(`${rs.metadata!.name!}-`));
    }
    await objects.patch({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'rs' }, spec: { template: { spec: { containers: [{ name: 'c', image: 'x:2' }] } } } } as Obj);
    await until('rolled', async () => {
      const all = (await objects.list<Obj>('apps/v1', 'ReplicaSet', 'rs')).items;
      const ps = (await core.listNamespacedPod({ namespace: 'rs' })).items;
      return all.length === 1 && all[0]!.metadata!.name !== rs.metadata!.name && ps.length === 2 && ps.every((p) => p.spec!.containers[0]!.image === 'x:2') ? true : undefined;
    });
    await objects.delete({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'rs' } });
    await until('pods collected', async () => ((await core.listNamespacedPod({ namespace: 'rs' })).items.length === 0 ? true : undefined));
  });

  it('a full cluster: pods stay Pending with PodScheduled=False and a FailedScheduling event; a new node takes them', async () => {
    await core.createNamespace({ body: { metadata: { name: 'full' } } });
    // the virtual node has room for 5 pods; the seeded istio pods take 3
    await objects.create({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'big', namespace: 'full' }, spec: { replicas: 4, selector: { matchLabels: { app: 'big' } }, template: { metadata: { labels: { app: 'big' } }, spec: { containers: [{ name: 'c', image: 'x:1', resources: { requests: { cpu: '500m' } } }] } } } } as Obj);
    const pending = await until('a pending pod', async () => {
      const ps = (await core.listNamespacedPod({ namespace: 'full' })).items.filter((p) => !p.spec!.nodeName);
      return ps.length === 2 && ps.every((p) => p.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False')) ? ps : undefined;
    });
    const cond = pending[0]!.status!.conditions!.find((c) => c.type === 'PodScheduled')!;
    assert.equal(cond.reason, 'Unschedulable');
    assert.match(cond.message!, /^0\/1 nodes are available: 1 Too many pods\. preemption:/);
    const events = (await core.listNamespacedEvent({ namespace: 'full' })).items.filter((e) => e.reason === 'FailedScheduling');
    assert.ok(events.length >= 1 && events[0]!.type === 'Warning');
    await registerNode('w1', 10);
    await until('scheduled on w1', async () => {
      const ps = (await core.listNamespacedPod({ namespace: 'full' })).items;
      return ps.filter((p) => p.spec!.nodeName === 'w1').length === 2 ? true : undefined;
    });
    await objects.delete({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'big', namespace: 'full' } });
  });

  it('StatefulSet: pods name-0, name-1 in order, claims from volumeClaimTemplates bound to local PVs on the chosen node', async () => {
    await core.createNamespace({ body: { metadata: { name: 'sts' } } });
    for (const [pv, node] of [['pv-a', 'w1'], ['pv-b', 'w1']] as const) {
      await objects.create({ apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: pv }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Retain', storageClassName: 'local-storage', local: { path: `/mnt/disks/${pv}` }, nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] } } } } as Obj);
    }
    await objects.create({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: 'sts' }, spec: { replicas: 2, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'c', image: 'db:1' }] } }, volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '500Mi' } } } }] } } as Obj);
    // w1 has no kubelet here: its pods are bound but never become ready, so db-1 waits for db-0
    const p0 = await until('db-0 bound', async () => {
      const p = (await core.listNamespacedPod({ namespace: 'sts' })).items.find((x) => x.metadata!.name === 'db-0');
      return p?.spec!.nodeName ? p : undefined;
    });
    assert.equal(p0.spec!.nodeName, 'w1', 'the local PVs are only on w1');
    assert.equal(p0.metadata!.labels!['statefulset.kubernetes.io/pod-name'], 'db-0');
    assert.equal(p0.spec!.volumes!.find((v) => v.name === 'data')!.persistentVolumeClaim!.claimName, 'data-db-0');
    const pvc = await core.readNamespacedPersistentVolumeClaim({ name: 'data-db-0', namespace: 'sts' });
    assert.equal(pvc.status!.phase, 'Bound');
    assert.equal(pvc.metadata!.annotations!['volume.kubernetes.io/selected-node'], 'w1');
    const pv = await core.readPersistentVolume({ name: pvc.spec!.volumeName! });
    assert.equal(pv.spec!.claimRef!.name, 'data-db-0');
    assert.equal(pv.status!.phase, 'Bound');
    assert.equal((await core.listNamespacedPod({ namespace: 'sts' })).items.length, 1, 'OrderedReady: db-1 waits until db-0 is Ready');
    // the "kubelet" reports db-0 ready: db-1 follows
    const now = new Date().toISOString();
    await core.patchNamespacedPodStatus({ name: 'db-0', namespace: 'sts', body: [{ op: 'replace', path: '/status', value: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }] } }] });
    const p1 = await until('db-1', async () => (await core.listNamespacedPod({ namespace: 'sts' })).items.find((x) => x.metadata!.name === 'db-1' && x.spec!.nodeName));
    assert.equal(p1.spec!.nodeName, 'w1');
    assert.equal((await core.readNamespacedPersistentVolumeClaim({ name: 'data-db-1', namespace: 'sts' })).status!.phase, 'Bound');
  });

  it('a Node whose Lease stops: Ready=Unknown with the unreachable taints, its pods not ready, then Terminating', async () => {
    // w1's kubelet stops: nobody renews its Lease any more
    clearInterval(renewers.get('w1'));
    const node = await until('w1 not ready', async () => {
      const n = await core.readNode({ name: 'w1' });
      return n.status!.conditions!.find((c) => c.type === 'Ready')!.status === 'Unknown' ? n : undefined;
    });
    assert.equal(node.status!.conditions!.find((c) => c.type === 'Ready')!.message, 'Kubelet stopped posting node status.');
    assert.ok(node.spec!.taints!.some((t) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute'));
    const p0 = await core.readNamespacedPod({ name: 'db-0', namespace: 'sts' });
    assert.equal(p0.status!.conditions!.find((c) => c.type === 'Ready')!.status, 'False');
    await until('db-0 terminating', async () => ((await core.readNamespacedPod({ name: 'db-0', namespace: 'sts' })).metadata!.deletionTimestamp ? true : undefined));
    // a new pod does not go to the NotReady node
    await objects.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pinned', namespace: 'sts' }, spec: { nodeSelector: { 'kubernetes.io/hostname': 'w1' }, containers: [{ name: 'c', image: 'x' }] } } as Obj);
    const p = await until('pinned unschedulable', async () => {
      const x = await core.readNamespacedPod({ name: 'pinned', namespace: 'sts' });
      return x.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False') ? x : undefined;
    });
    assert.match(p.status!.conditions![0]!.message!, /node\(s\) had untolerated taint \{node\.kubernetes\.io\/unreachable: \}/);
    // it comes back: the kubelet renews its Lease and posts Ready
    await renewLease('w1');
    const now = new Date().toISOString();
    await core.patchNodeStatus({ name: 'w1', body: [{ op: 'replace', path: '/status/conditions', value: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: now, lastTransitionTime: now }] }] });
    await until('taints gone', async () => ((await core.readNode({ name: 'w1' })).spec!.taints === undefined ? true : undefined));
  });
});
