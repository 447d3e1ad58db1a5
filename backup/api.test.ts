/**
 * The backup API on a running orchestrator (sandbox): auth and roles, problem+json, a backup and a
 * restore through /v1/backups and /v1/restores with their Backup/Restore resources, a plan, a
 * schedule that runs twice and garbage-collects, a restore resumed after the orchestrator that ran
 * it went away, metrics.
 */
import { strict as assert } from 'node:assert';
import type { KubeObject } from '../clients/kube/index.js';
import { PassThrough } from 'node:stream';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBackupCreate, runBackupDescribe, runBackupDownload, runRestoreCreate } from '../cli/backup.js';
import { startWorld, type World } from '../test/e2e/world.js';

function capture() {
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (c: Buffer) => { o += c.toString(); });
  err.on('data', (c: Buffer) => { e += c.toString(); });
  return { io: { out, err, pollMs: 100 }, text: () => ({ out: o, err: e }) };
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

describe('backup API (/v1/backups, /v1/restores, /v1/schedules)', function () {
  this.timeout(180_000);
  let w: World;
  const json = (body: unknown) => ({ body: JSON.stringify(body), type: 'application/json' });

  before(async () => {
    w = await startWorld({ stack: { settings: { backupPollMs: 100 } } });
    const kube = w.stack.kube;
    await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'app' } });
    await kube.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a' } } as KubeObject);
    await kube.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'app' }, data: { a: '1' } } as KubeObject);
    await kube.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds', namespace: 'app' }, data: { password: Buffer.from('hunter2-secret').toString('base64') } } as KubeObject);
    await kube.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'api', namespace: 'app', labels: { app: 'api' } }, spec: { nodeName: 'node-a', containers: [{ name: 'api', image: 'api:1', envFrom: [{ configMapRef: { name: 'settings' } }, { secretRef: { name: 'creds' } }] }] } } as KubeObject);
  });
  after(async () => { await w?.stop(); });

  it('refuses without a token, with a viewer token, and a bad body, as problem+json', async () => {
    assert.equal((await w.api('POST', '/v1/backups', { ...json({ name: 'x', node: 'node-a' }), token: null })).status, 401);
    const r = await w.api('POST', '/v1/backups', { ...json({ name: 'x', node: 'node-a' }), token: w.tokens.viewer });
    assert.equal(r.status, 403);
    assert.equal(r.json.code, 'FORBIDDEN');
    const bad = await w.api('POST', '/v1/backups', json({ name: 'Bad_Name', node: 'node-a' }));
    assert.equal(bad.status, 400);
    assert.equal(bad.json.code, 'BAD_REQUEST');
    const both = await w.api('POST', '/v1/backups', json({ name: 'x', node: 'node-a', service: 'a/b' }));
    assert.equal(both.status, 400);
    const cron = await w.api('POST', '/v1/schedules', json({ name: 's', node: 'node-a', cron: 'not a cron' }));
    assert.equal(cron.status, 400);
    assert.equal((await w.api('GET', '/v1/restores/nope')).status, 404);
  });

  it('a backup and a restore through the API; the plan changes nothing', async () => {
    const r = await w.api('POST', '/v1/backups', json({ name: 'node-a-1', node: 'node-a' }));
    assert.equal(r.status, 202, r.text);
    const done = await until('backup done', async () => {
      const g = await w.api('GET', '/v1/backups/node-a-1');
      return g.status === 200 && ['Completed', 'CompletedWithWarnings', 'Failed'].includes(String(g.json.phase)) ? g.json : undefined;
    });
    assert.equal(done.phase, 'Completed', JSON.stringify(done));
    const list = await w.api('GET', '/v1/backups');
    assert.deepEqual((list.json.items as Array<{ name: string; phase: string }>).map((b) => [b.name, b.phase]), [['node-a-1', 'Completed']]);
    const results = await w.api('GET', '/v1/backups/node-a-1/objects/results.json');
    assert.equal(results.status, 200);
    assert.match(results.text, /"ConfigMap"/);
    // Secrets never readable in the store: the logs and the status never carry it either
    assert.doesNotMatch(JSON.stringify(done), /hunter2/);

    await w.resetKubeRequests();
    const plan = await w.api('POST', '/v1/restores', json({ name: 'plan-1', backup: 'node-a-1', plan: true, mappings: { namespaces: { app: 'app2' } } }));
    assert.equal(plan.status, 200, plan.text);
    assert.deepEqual(plan.json.problems, []);
    // no write but the orchestrator's own bookkeeping (Lease renewals, Events) running beside
    const writes = (await w.kubeRequests()).entries.filter((e) => !e.dryRun && ['create', 'update', 'patch', 'delete', 'deletecollection'].includes(e.verb) && !['Lease', 'Event'].includes(e.kind));
    assert.deepEqual(writes, []);

    const rr = await w.api('POST', '/v1/restores', json({ name: 'restore-1', backup: 'node-a-1', mappings: { namespaces: { app: 'app2' } } }));
    assert.equal(rr.status, 202, rr.text);
    const rs = await until('restore done', async () => {
      const g = await w.api('GET', '/v1/restores/restore-1');
      return ['Completed', 'CompletedWithWarnings', 'Failed'].includes(String(g.json.phase)) ? g.json : undefined;
    });
    assert.equal(rs.phase, 'Completed', JSON.stringify(rs));
    assert.ok(await w.stack.kube.get({ apiVersion: 'v1', kind: 'Pod', namespace: 'app2', name: 'api' }));
    assert.ok(await w.stack.kube.get({ apiVersion: 'backup.mixmesh.io/v1alpha1', kind: 'Restore', namespace: 'mixmesh-system', name: 'restore-1' }));
  });

  it('a restore left InProgress by an orchestrator that went away is resumed by the next one, without duplicates', async () => {
    const kube = w.stack.kube;
    // what a killed run leaves: the Restore InProgress and some objects already created with its label
    await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'app3', labels: { 'backup.mixmesh.io/restore': 'restore-2' } } });
    await kube.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'app3', labels: { 'backup.mixmesh.io/restore': 'restore-2' } }, data: { a: '1' } } as KubeObject);
    await w.stack.stop();
    await kube.create({ apiVersion: 'backup.mixmesh.io/v1alpha1', kind: 'Restore', metadata: { name: 'restore-2', namespace: 'mixmesh-system' }, spec: { backup: 'node-a-1', mappings: { namespaces: { app: 'app3' } }, conflict: 'skip' } } as KubeObject);
    await kube.mergePatch({ apiVersion: 'backup.mixmesh.io/v1alpha1', kind: 'Restore', namespace: 'mixmesh-system', name: 'restore-2' }, { status: { phase: 'InProgress', startedAt: new Date().toISOString() } }, { subresource: 'status' });
    await w.restart({ settings: { backupPollMs: 100 } });
    const rs = await until('resumed restore done', async () => {
      const g = await w.api('GET', '/v1/restores/restore-2');
      return g.json.phase === 'Completed' || g.json.phase === 'Failed' ? g.json : undefined;
    });
    assert.equal(rs.phase, 'Completed', JSON.stringify(rs));
    const items = (rs.status as { items: Array<{ kind: string; action: string; reason?: string }> }).items;
    assert.deepEqual(items.filter((i) => i.reason === 'RESUMED').map((i) => i.kind).sort(), ['ConfigMap', 'Namespace']);
    assert.equal((rs.status as { resumed?: number }).resumed, 1);
    assert.equal((await w.stack.kube.list('v1', 'Pod', { namespace: 'app3' })).items.length, 1);
  });

  it('the CLI: backup create --wait, describe, download, restore --plan (exit 1 on problems)', async () => {
    const flags = { server: w.stack.url, token: w.tokens.admin };
    const c = capture();
    assert.equal(await runBackupCreate('cli-1', { ...flags, node: 'node-a', wait: true }, c.io), 0, c.text().err);
    assert.match(c.text().err, /backup cli-1: Completed/);
    const d = capture();
    assert.equal(await runBackupDescribe('cli-1', flags, d.io), 0);
    assert.match(d.text().out, /Pod app\/api\tcaptured/);
    const dir = mkdtempSync(join(tmpdir(), 'mixmesh-dl-'));
    try {
      assert.equal(await runBackupDownload('cli-1', dir, flags, capture().io), 0);
      assert.match(readFileSync(join(dir, 'results.json'), 'utf8'), /"Pod"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const p = capture();
    assert.equal(await runRestoreCreate('cli-plan', { ...flags, from: 'cli-1', namespaceMap: ['app:app9'] , plan: true }, p.io), 0, p.text().out + p.text().err);
    assert.match(p.text().out, /create\tPod app9\/api/);
    const bad = capture();
    assert.equal(await runRestoreCreate('cli-plan2', { ...flags, from: 'cli-1', vnfPackageMap: [], storageClassMap: [], plan: true, store: 'file:///nonexistent-store-dir' }, bad.io), 1);
    assert.match(bad.text().err, /BACKUP_NOT_FOUND/);
  });

  it('a schedule runs twice, keeps `keep`, and garbage-collects the expired backup from the store', async () => {
    const r = await w.api('POST', '/v1/schedules', json({ name: 'every-second', node: 'node-a', cron: 'CRON_TZ=Europe/Paris * * * * * *', keep: 1 }));
    assert.equal(r.status, 201, r.text);
    const seen = new Set<string>();
    await until('two scheduled backups', async () => {
      const l = await w.api('GET', '/v1/backups');
      for (const b of l.json.items as Array<{ name: string; phase: string }>) if (b.name.startsWith('every-second-') && b.phase === 'Completed') seen.add(b.name);
      return seen.size >= 2;
    }, 90_000);
    // the older ones are gone from the store: exactly `keep` complete backups of the schedule remain
    // (looked at while the schedule runs: its garbage collection comes with each of its ticks)
    const left = await until('garbage collected', async () => {
      await new Promise((res) => setTimeout(res, 300));
      const l = await w.api('GET', '/v1/backups');
      const mine = (l.json.items as Array<{ name: string; inStore: { complete: boolean } | null }>).filter((b) => b.name.startsWith('every-second-') && b.inStore?.complete);
      return mine.length === 1 ? mine : undefined;
    });
    assert.equal((await w.api('DELETE', '/v1/schedules/every-second')).status, 200);
    assert.equal(left.length, 1);
    const first = [...seen].sort()[0]!;
    assert.notEqual(left[0]!.name, first);
    const metrics = await fetch(`${w.stack.url}/metrics`).then((x) => x.text());
    assert.match(metrics, /mixmesh_backup_results_total\{kind="backup",phase="Completed"\} \d+/);
    assert.match(metrics, /mixmesh_backup_results_total\{kind="restore",phase="Completed"\} \d+/);
  });
});
