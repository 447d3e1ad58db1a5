/**
 * `mixmesh demo migrate` end to end (a smoke test of the story, no timings): the IoT café on
 * cloud-1 with orders, its worker stopped, the node and the café moved, the café Ready in cloud-2
 * with its orders byte-identical. Root (the sandbox's VMs).
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runDemoMigrate } from '../cli/demo-migrate.js';

const root = process.getuid?.() === 0;

(root ? describe : describe.skip)('mixmesh demo migrate', function () {
  this.timeout(1_200_000);
  let dir: string;
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('tells the story: the café deployed on cloud-1 with orders, worker-1 stopped, the café Ready in cloud-2 with its orders', async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-demo-migrate-'));
    const err = new PassThrough();
    let text = '';
    err.on('data', (c: Buffer) => { text += c.toString(); });
    const rc = await runDemoMigrate({ dir: join(dir, 'demo') }, err);
    assert.equal(rc, 0, text);
    for (const line of [
      /cloud-1: the café is Ready; VMs: .*inventory-db/,
      /cloud-1: 12 orders placed/,
      /fault: worker-1 powered off/,
      /\[node\] · WorkerDone: .*INSTANTIATED/,
      /\[node\] · JoinDone: .*Node migrate-demo-worker-0 joined cloud-2/,
      /\[café\] · RestoreDone: .*onto new VMs before their sidecar/,
      /credentials: Secret cafe\/vm-ssh: the target's VM key/,
      /WorkloadEntry .* → 127\.0\.10\.\d+/,
      /cloud-2: the café is Ready/,
      /cloud-2: all 12 orders byte-identical in inventory-db's data dir/,
      /cloud-2: the order log byte-identical on migrate-demo-worker-0/,
      /the café runs in cloud-2 with its orders\./,
    ]) assert.match(text, line);
    assert.doesNotMatch(text, /PRIVATE KEY/);
  });
});
