/**
 * The café's images, built by a real Docker Engine (sandbox/docker) with the CI workflow's own
 * build command, on a base image made locally from this machine's node; the workflow's "Push the
 * images" step, its commands as written, to a real registry (Debian's docker-registry, Distribution,
 * on 127.0.0.1 with htpasswd auth) named by REGISTRY; then the order-api image run against a real
 * MariaDB (host network: the daemon has no bridge).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { importNodeBaseImage, startDockerd, type Dockerd } from '../../sandbox/docker/index.js';
import { startMariaDB, type MariaDB } from './local/mariadb.js';
import { freePort, waitFor200 } from './local/stack.js';
import { descriptorImages, inRegistry, SERVICES } from './docker/build.js';
import { startRegistry, type Registry } from './local/registry.js';
import { expandExpressions, repo, runStep, workflowStep } from './local/workflow.js';

const bash = runStep;

describe('IoT café images on a real Docker Engine', function () {
  this.timeout(600_000);
  let dir: string;
  let d: Dockerd;
  let db: MariaDB | undefined;
  let registry: Registry | undefined;
  let base: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cafe-docker-'));
    d = await startDockerd({ dir: join(dir, 'docker') });
    base = await importNodeBaseImage(d);
  });
  after(async () => {
    await d?.stop();
    await db?.stop();
    await registry?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the workflow validates the descriptor with the command it runs', async () => {
    const r = await bash(workflowStep('Validate the descriptor'), { ...process.env });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /descriptor\.yaml: valid/);
  });

  it('builds the four images with the workflow\'s command: multi-stage, non-root, the app a few MB over the node runtime', async () => {
    const r = await bash(workflowStep('Build the images'), { ...process.env, DOCKER_HOST: d.host, BASE_IMAGE: base, DOCKER_BUILDKIT: '0' });
    assert.equal(r.code, 0, r.out);
    const images = descriptorImages();
    assert.deepEqual(Object.keys(images).sort(), [...SERVICES].sort());
    const baseSize = Number((await d.docker(['image', 'inspect', '--format', '{{.Size}}', base])).trim());
    for (const s of SERVICES) {
      const dockerfile = readFileSync(join(repo, 'examples/iot-cafe', s, 'Dockerfile'), 'utf8');
      assert.match(dockerfile, /^ARG BASE_IMAGE=node:20-bookworm-slim$/m);
      assert.equal(dockerfile.match(/^FROM /gm)?.length, 2, `${s}: two stages`);
      const [user, size, cmd] = (await d.docker(['image', 'inspect', '--format', '{{.Config.User}}|{{.Size}}|{{json .Config.Cmd}}', images[s]!])).trim().split('|');
      assert.equal(user, '10001:10001', s);
      assert.deepEqual(JSON.parse(cmd!), ['node', '/app/server.mjs']);
      const extra = Number(size) - baseSize;
      assert.ok(extra > 0 && extra < 5_000_000, `${s}: ${extra} bytes over the base`);
    }
  });

  describe('"Push the images" to a real registry (Distribution, htpasswd auth)', () => {
    /** the step as the runner runs it: its expressions filled in, REGISTRY naming the local registry, a docker config of its own */
    const push = (password: string) => runStep(
      expandExpressions(workflowStep('Push the images'), { 'secrets.GITHUB_TOKEN': password, 'github.actor': registry!.user }),
      { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: join(dir, 'docker-config'), BASE_IMAGE: base, DOCKER_BUILDKIT: '0', REGISTRY: registry!.host },
    );

    before(async () => {
      registry = await startRegistry({ dir: join(dir, 'registry') });
    });

    it('a wrong password fails the login, and nothing is pushed', async () => {
      const r = await push(`${registry!.password}-wrong`);
      assert.notEqual(r.code, 0, r.out);
      assert.match(r.out, /unauthorized|401|incorrect username or password/i, r.out);
      assert.doesNotMatch(r.out, /built /, 'the step stops at the failed login');
      const catalog = (await (await registry!.api('/v2/_catalog')).json()) as { repositories: string[] };
      assert.deepEqual(catalog.repositories, []);
    });

    it('the step\'s commands log in and push the four images: in the catalog, tagged, the manifest digest the local RepoDigest', async () => {
      const r = await push(registry!.password);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /Login Succeeded/, r.out);
      const images = descriptorImages();
      const names = SERVICES.map((s) => ({ s, pushed: inRegistry(images[s]!, registry!.host) }));
      const catalog = (await (await registry!.api('/v2/_catalog')).json()) as { repositories: string[] };
      assert.deepEqual(catalog.repositories.sort(), names.map(({ pushed }) => pushed.slice(registry!.host.length + 1).replace(/:[^:/]+$/, '')).sort());
      for (const { s, pushed } of names) {
        const [repository, tag] = [pushed.slice(registry!.host.length + 1).replace(/:[^:/]+$/, ''), pushed.replace(/^.*:/, '')];
        const tags = (await (await registry!.api(`/v2/${repository}/tags/list`)).json()) as { name: string; tags: string[] };
        assert.deepEqual(tags, { name: repository, tags: [tag] }, s);
        const head = await registry!.api(`/v2/${repository}/manifests/${tag}`, { method: 'HEAD', accept: 'application/vnd.docker.distribution.manifest.v2+json' });
        assert.equal(head.status, 200, s);
        const digest = head.headers.get('docker-content-digest');
        assert.match(digest ?? '', /^sha256:[0-9a-f]{64}$/, s);
        const repoDigests = JSON.parse(await d.docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', pushed])) as string[];
        assert.ok(repoDigests.includes(`${registry!.host}/${repository}@${digest}`), `${s}: ${JSON.stringify(repoDigests)} has not ${digest}`);
        // the pushed image is the one the descriptor names (same image ID)
        const ids = await Promise.all([pushed, images[s]!].map(async (i) => (await d.docker(['image', 'inspect', '--format', '{{.Id}}', i])).trim()));
        assert.equal(ids[0], ids[1], s);
      }
      // the registry asks for the login: without it, nothing
      assert.equal((await fetch(`${registry!.url}/v2/_catalog`)).status, 401);
    });
  });

  it('runs the order-api image against MariaDB: ready, takes an order, runs as uid 10001', async () => {
    db = await startMariaDB({ dir: join(dir, 'mariadb'), port: await freePort() });
    const port = await freePort();
    const token = 'docker-test-staff-token';
    const id = (await d.docker(['run', '-d', '--network', 'host', '--name', 'order-api',
      '-e', `PORT=${port}`, '-e', 'HOST=127.0.0.1', '-e', 'DB_HOST=127.0.0.1', '-e', `DB_PORT=${db.port}`, '-e', `DB_USER=${db.user}`,
      '-e', `DB_PASSWORD=${db.password}`, '-e', `DB_NAME=${db.database}`, '-e', `CAFE_STAFF_TOKEN=${token}`, '-e', 'KITCHEN_URL=http://127.0.0.1:9',
      descriptorImages()['order-api']!])).trim();
    try {
      await waitFor200(`http://127.0.0.1:${port}/readyz`, 'order-api in its container', 120_000);
      const res = await fetch(`http://127.0.0.1:${port}/order/api/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sentence: '아메리카노 두 잔', table: '1' }) });
      assert.equal(res.status, 201, await res.clone().text());
      const order = (await res.json()) as { id: number };
      const conn = await mysql.createConnection({ host: '127.0.0.1', port: db.port, user: db.user, password: db.password, database: db.database });
      try {
        const [rows] = await conn.query('SELECT o.status, i.menu_id, i.qty FROM orders o JOIN order_items i ON i.order_id = o.id WHERE o.id = ?', [order.id]);
        assert.deepEqual(rows, [{ status: 'new', menu_id: 'americano', qty: 2 }]);
      } finally {
        await conn.end();
      }
      const top = await d.docker(['top', id, '-o', 'pid,uid,args']);
      assert.match(top, /^\s*\d+\s+10001\s+node \/app\/server\.mjs/m, top);
    } finally {
      await d.docker(['rm', '-f', id]).catch(() => undefined);
    }
  });
});
