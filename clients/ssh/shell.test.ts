import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { isMixmeshError } from '../../common/errors.js';
import { createLocalVmProvider, type LocalVmProvider, type SandboxVm } from '../../sandbox/vms/index.js';
import { connectSsh, type RemoteShell } from './index.js';

describe('clients/ssh against a real OpenSSH sandbox VM', function () {
  this.timeout(30_000);
  let dir: string;
  let provider: LocalVmProvider;
  let vm: SandboxVm;
  let key: string;
  let shell: RemoteShell;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-ssh-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
    key = readFileSync(join(dir, 'id'), 'utf8');
    provider = await createLocalVmProvider({ dir, authorizedKeys: [readFileSync(join(dir, 'id.pub'), 'utf8')], sshdDelayMs: 0 });
    vm = await provider.create({ serverId: 'ssh-client', name: 'ssh-client' });
    shell = await connectSsh({ host: vm.address, username: 'root', privateKey: key, hostKey: { expected: [vm.hostPublicKey] } });
  });
  after(async () => {
    await shell?.close();
    await provider?.removeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('trust on first use records the offered key', async () => {
    const seen: string[] = [];
    const s = await connectSsh({ host: vm.address, username: 'root', privateKey: key, hostKey: { acceptNew: (k) => seen.push(k) } });
    await s.close();
    assert.deepEqual(seen, [vm.hostPublicKey]);
  });

  it('exec passes stdin and returns exact output; root never goes through sudo', async () => {
    assert.deepEqual(await shell.exec('cat; printf "\\n  tail  "', { stdin: 'line 1\nline 2' }), { code: 0, stdout: 'line 1\nline 2\n  tail  ', stderr: '' });
    // no sudo on the VM: a wrapped command would fail
    assert.equal((await shell.exec(`printf '%s' "it's"`, { sudo: true })).stdout, "it's");
    // many steps share the one connection, in parallel too
    const outs = await Promise.all(Array.from({ length: 5 }, (_, i) => shell.exec(`echo ${i}`)));
    assert.deepEqual(outs.map((o) => o.stdout), ['0\n', '1\n', '2\n', '3\n', '4\n']);
  });

  it('a failing step is SSH_COMMAND_FAILED naming the step, with a redacted stderr tail; allowFailure returns it', async () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOlsiaXN0aW8tY2EiXX0.c2lnbmF0dXJlc2lnbmF0dXJl';
    await assert.rejects(shell.exec(`echo "bad token ${jwt} and hunter22secret" >&2; exit 3`, { step: 'place token', secrets: ['hunter22secret'] }), (e: unknown) => {
      assert.ok(isMixmeshError(e, 'SSH_COMMAND_FAILED'));
      assert.match(e.message, /place token exited 3: bad token \[REDACTED\] and \[REDACTED\]/);
      assert.ok(!e.message.includes(jwt) && !e.message.includes('hunter22secret'));
      assert.equal(e.details?.exitCode, 3);
      return true;
    });
    assert.deepEqual(await shell.exec('exit 4', { allowFailure: true }), { code: 4, stdout: '', stderr: '' });
  });

  it('put writes bytes and files with the given mode, also over an existing file; get reads them', async () => {
    await shell.put(Buffer.from('one'), '/tmp/f', 0o644);
    await shell.put(Buffer.from('two'), '/tmp/f', 0o600);
    assert.equal((await shell.exec('stat -c %a /tmp/f; cat /tmp/f')).stdout, '600\ntwo');
    const local = join(dir, 'local.bin');
    execFileSync('dd', ['if=/dev/urandom', `of=${local}`, 'bs=1M', 'count=3'], { stdio: 'ignore' });
    await shell.put(local, '/tmp/big.bin', 0o640);
    assert.ok((await shell.get('/tmp/big.bin')).equals(readFileSync(local)));
    assert.equal((await shell.exec('stat -c %a /tmp/big.bin')).stdout, '640\n');
  });

  it('more commands in flight than the server allows channels (MaxSessions 10) wait for one instead of failing', async () => {
    const s = await connectSsh({ host: vm.address, username: 'root', privateKey: key, hostKey: { expected: [vm.hostPublicKey] } });
    try {
      // every `cat` holds its channel until its stdin ends: 12 at once is beyond OpenSSH's 10
      const stdins = Array.from({ length: 12 }, () => new PassThrough());
      const started = stdins.map((stdin) => s.execStream!('cat', { stdin, step: 'held' }));
      // the first 9 (the default bound) are open at once; only then do the stdins end
      const first = await Promise.all(started.slice(0, 9));
      assert.equal(first.length, 9);
      stdins.forEach((stdin, i) => stdin.end(`${i}`));
      const outs = await Promise.all(
        started.map(async (p) => {
          const { stdout, done } = await p;
          const chunks: Buffer[] = [];
          for await (const c of stdout as AsyncIterable<Buffer>) chunks.push(c);
          assert.equal((await done).code, 0);
          return Buffer.concat(chunks).toString('utf8');
        }),
      );
      assert.deepEqual(outs, stdins.map((_, i) => `${i}`));
    } finally {
      await s.close();
    }
  });

  it('a busy process does not lose a fast command\'s exit status (was: "exited 255")', async () => {
    // Blocking the event loop now and then (as a loaded machine starves it) makes one socket read
    // hold a command's exec reply, output, exit status and close together; ssh2 emits them in that
    // one turn, so an exit listener added after an await missed the status. Nothing here needs the
    // blocking to line up: it only makes the old failure likely; the fixed client passes regardless.
    let blocking = true;
    const block = () => {
      if (!blocking) return;
      const until = Date.now() + 30;
      while (Date.now() < until);
      setTimeout(block, 1);
    };
    setTimeout(block, 1);
    try {
      for (let round = 0; round < 5; round++) {
        const outs = await Promise.all(
          Array.from({ length: 8 }, async (_, i) => {
            const { stdout, done } = await shell.execStream!(`echo ${i}`, { step: `echo ${i}` });
            const chunks: Buffer[] = [];
            for await (const c of stdout as AsyncIterable<Buffer>) chunks.push(c);
            assert.equal((await done).code, 0);
            return Buffer.concat(chunks).toString('utf8');
          }),
        );
        assert.deepEqual(outs, Array.from({ length: 8 }, (_, i) => `${i}\n`));
        assert.deepEqual(await Promise.all(Array.from({ length: 8 }, (_, i) => shell.exec(`echo ${i}`).then((r) => r.stdout))), Array.from({ length: 8 }, (_, i) => `${i}\n`));
      }
    } finally {
      blocking = false;
    }
  });

  it('a stream cut off by the connection going away says so (not just "exited 255")', async () => {
    const s = await connectSsh({ host: vm.address, username: 'root', privateKey: key, hostKey: { expected: [vm.hostPublicKey] } });
    const stdin = new PassThrough();
    const { stdout, done } = await s.execStream!('cat', { stdin, step: 'read /some/archive.tar' });
    (stdout as NodeJS.ReadableStream & { resume(): void }).resume();
    await s.close();
    await assert.rejects(done, (e: unknown) => {
      assert.ok(isMixmeshError(e, 'SSH_COMMAND_FAILED'));
      assert.match(e.message, /read \/some\/archive\.tar exited 255: the connection closed before the command reported its exit \(closed by this client\)/);
      return true;
    });
    await assert.rejects(s.exec('true'), (e: unknown) => isMixmeshError(e, 'SSH_CONNECT_FAILED') && /closed/.test(e.message));
  });

  it('closeWhenIdle takes no new command, lets the ones in flight finish, then closes', async () => {
    const s = await connectSsh({ host: vm.address, username: 'root', privateKey: key, hostKey: { expected: [vm.hostPublicKey] } });
    const stdin = new PassThrough();
    const { stdout, done } = await s.execStream!('cat', { stdin });
    const closing = s.closeWhenIdle!();
    await assert.rejects(s.exec('true', { step: 'late' }), (e: unknown) => isMixmeshError(e, 'SSH_CONNECT_FAILED') && /late could not start: the connection is being closed/.test(e.message));
    assert.equal(s.lost, undefined);
    stdin.end('still here');
    const chunks: Buffer[] = [];
    for await (const c of stdout as AsyncIterable<Buffer>) chunks.push(c);
    assert.equal((await done).code, 0);
    assert.equal(Buffer.concat(chunks).toString('utf8'), 'still here');
    await closing;
    assert.equal(s.lost, 'closed by this client');
  });

  it('gives up with SSH_CONNECT_FAILED when nothing answers within the budget', async () => {
    await assert.rejects(
      connectSsh({ host: '127.0.0.1', port: 1, username: 'root', privateKey: key, hostKey: { expected: [vm.hostPublicKey] }, connectBudgetMs: 400 }),
      (e: unknown) => isMixmeshError(e, 'SSH_CONNECT_FAILED') && /attempts/.test(e.message),
    );
    await assert.rejects(connectSsh({ host: vm.address, username: 'root', privateKey: key, hostKey: { expected: [] } }), (e: unknown) => isMixmeshError(e, 'SSH_HOST_KEY_UNKNOWN'));
  });
});
