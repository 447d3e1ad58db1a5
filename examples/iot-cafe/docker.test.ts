/**
 * The café's images, built by a real Docker Engine (sandbox/docker) with the CI workflow's own
 * build command, on a base image made locally from this machine's node; then the order-api image
 * run against a real MariaDB (host network: the daemon has no bridge).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { importNodeBaseImage, startDockerd, type Dockerd } from '../../sandbox/docker/index.js';
import { startMariaDB, type MariaDB } from './local/mariadb.js';
import { freePort, waitFor200 } from './local/stack.js';
import { descriptorImages, SERVICES } from './docker/build.js';
import { repo, runStep, workflowStep } from './local/workflow.js';

const bash = runStep;

describe('IoT café images on a real Docker Engine', function () {
  this.timeout(600_000);
  let dir: string;
  let d: Dockerd;
  let db: MariaDB | undefined;
  let base: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cafe-docker-'));
    d = await startDockerd({ dir: join(dir, 'docker') });
    base = await importNodeBaseImage(d);
  });
  after(async () => {
    await d?.stop();
    await db?.stop();
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
