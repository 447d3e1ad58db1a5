import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importNodeBaseImage, nodeRootfsTar, sharedLibraries, startDockerd, type Dockerd } from './index.js';

describe('sandbox/docker: a real Docker Engine and a locally made node base image', function () {
  this.timeout(180_000);
  let dir: string;
  let d: Dockerd;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-docker-'));
    d = await startDockerd({ dir });
  });
  after(async () => {
    await d?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the node binary\'s libraries, loader included', async () => {
    const libs = await sharedLibraries(process.execPath);
    assert.ok(libs.some((l) => /libc\.so/.test(l)), libs.join());
    assert.ok(libs.some((l) => /ld-linux/.test(l)), libs.join());
    assert.ok((await nodeRootfsTar()).length > 30_000_000);
  });

  it('imports the base image once and runs node in it as an unprivileged user, on the host network', async () => {
    const tag = await importNodeBaseImage(d, 'mixmesh.local/node-test:1');
    assert.equal(await importNodeBaseImage(d, tag), tag);
    const out = await d.docker(['run', '--rm', '--network', 'host', '--user', '10001:10001', tag, 'node', '-e', 'console.log(process.version, process.getuid())']);
    assert.equal(out.trim(), `${process.version} 10001`);
  });
});
