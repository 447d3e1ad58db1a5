import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createLocalVmProvider, type LocalVmProvider, type SandboxVm } from '../sandbox/vms/index.js';
import { until } from '../cli/two-clouds.js';
import { SshNodeAccess, type NodeTarget } from './nodes.js';

describe('backup/nodes: SshNodeAccess on a node whose sshd allows 2 channels per connection (MaxSessions 2)', function () {
  this.timeout(60_000);
  let dir: string;
  let provider: LocalVmProvider;
  let vm: SandboxVm;
  let target: NodeTarget;
  const big = randomBytes(16 * 1024 * 1024);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-nodes-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
    provider = await createLocalVmProvider({ dir, authorizedKeys: [readFileSync(join(dir, 'id.pub'), 'utf8')], sshdDelayMs: 0 });
    vm = await provider.create({ serverId: 'nodes-max2', name: 'nodes-max2', sshdOptions: ['MaxSessions 2'] });
    target = { name: 'node-a', host: vm.address, user: 'root', privateKey: readFileSync(join(dir, 'id'), 'utf8'), hostKeys: [vm.hostPublicKey] };
    writeFileSync(join(vm.rootfs, 'checkpoint.tar'), big);
  });
  after(async () => {
    await provider?.removeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a connection check that fails (no channel left) does not cut off the streams in flight on that connection', async () => {
    const nodes = new SshNodeAccess();
    try {
      // channel 1: a read held open (16 MiB, far beyond the SSH window, not consumed yet)
      const read = await nodes.readFile(target, '/checkpoint.tar');
      // channel 2: a write held open until its stdin ends
      const stdin = new PassThrough();
      const writing = nodes.writeFile(target, '/tmp/out.bin', stdin);
      writing.catch(() => undefined);
      stdin.write(Buffer.from('first part, '));
      await until('the write to have started on the node', async () => existsSync(join(vm.rootfs, 'tmp/out.bin.mixmesh-tmp')), 30_000);
      // a third operation: its check finds no channel free on the shared connection
      assert.equal(await nodes.dirExists(target, '/tmp'), true);
      // the two streams in flight carry on to the end
      stdin.end(Buffer.from('second part'));
      const chunks: Buffer[] = [];
      for await (const c of read.stream as AsyncIterable<Buffer>) chunks.push(c);
      await read.done;
      assert.ok(Buffer.concat(chunks).equals(big), 'the read is complete');
      await writing;
      assert.equal(readFileSync(join(vm.rootfs, 'tmp/out.bin'), 'utf8'), 'first part, second part');
    } finally {
      await nodes.close();
    }
  });
});
