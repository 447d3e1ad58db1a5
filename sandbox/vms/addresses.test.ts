import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimAddress, releaseAddress } from './addresses.js';

describe('sandbox/vms: host-wide address claims', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-claims-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('one live holder at a time; a claim of a dead process is taken over; release only frees our own', async () => {
    assert.equal(await claimAddress('127.0.10.9', 'a', dir), true);
    assert.equal(await claimAddress('127.0.10.9', 'b', dir), false, 'held by a live process (us)');
    // pid 1 is alive and not us: never taken over, never released by us
    writeFileSync(join(dir, '127.0.10.8'), '1 other\n');
    assert.equal(await claimAddress('127.0.10.8', 'a', dir), false);
    await releaseAddress('127.0.10.8', dir);
    assert.ok(existsSync(join(dir, '127.0.10.8')));
    // a pid that cannot exist: stale, taken over
    writeFileSync(join(dir, '127.0.10.7'), '2147483646 crashed\n');
    assert.equal(await claimAddress('127.0.10.7', 'a', dir), true);
    assert.equal(readFileSync(join(dir, '127.0.10.7'), 'utf8'), `${process.pid} a\n`);
    await releaseAddress('127.0.10.9', dir);
    assert.equal(existsSync(join(dir, '127.0.10.9')), false);
    assert.equal(await claimAddress('127.0.10.9', 'c', dir), true);
  });

  it('parallel claims of one address: exactly one wins', async () => {
    writeFileSync(join(dir, '127.0.10.6'), '2147483646 crashed\n');
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => claimAddress('127.0.10.6', `t${i}`, dir)));
    assert.equal(results.filter(Boolean).length, 1);
  });
});
