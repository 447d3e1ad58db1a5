/**
 * `npm run bench -- backup [--scale 0.1] [--no-swift]`: the issue-12 benchmark. A node (a real
 * OpenSSH sandbox VM) holds 1 GiB of local data in 10 000 files (half random, half text) under a
 * hostPath, and 5 000 Pods are bound to it in the Kubernetes emulator; `--scale` multiplies all
 * three. Backed up to file:// and to a real Swift, each beside the floor measured in the same run:
 * `tar | gzip -1` of the same data over the same SSH transport (read and dropped), and for Swift a
 * plain multipart upload of that stream. Peak RSS of this process (it also holds the emulator) is
 * sampled during each backup. Restore of the 5 000 objects vs `kubectl apply --server-side` of the
 * same objects on the same emulator. Prints figures; asserts nothing.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { KubeClient, loadKubeConfig, type KubeObject } from '../clients/kube/index.js';
import { startKubeEmulator } from '../sandbox/kube/index.js';
import { startSwift } from '../sandbox/swift/index.js';
import { createLocalVmProvider } from '../sandbox/vms/index.js';
import { SshNodeAccess, generateStoreKeys, openStore, parseKek, restoreBackup, runBackup, type StoreKeys } from '../backup/index.js';
import { KubeNodeResolver } from '../backup/wiring.js';
import { transform } from '../backup/transform.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

function flag(args: string[], name: string, def: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const v = await fn();
  return [v, Number(process.hrtime.bigint() - t) / 1e9];
}

/** peak RSS while fn runs, sampled every 20 ms */
async function withPeakRss<T>(fn: () => Promise<T>): Promise<[T, number, number]> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const t = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
  try {
    const v = await fn();
    return [v, peak, base];
  } finally {
    clearInterval(t);
  }
}

export async function main(args: string[]): Promise<void> {
  const scale = Number(flag(args, '--scale', '1'));
  const useSwift = !args.includes('--no-swift');
  const files = Math.max(10, Math.round(10_000 * scale));
  const bytes = Math.round(1024 * MiB * scale);
  const objects = Math.max(10, Math.round(5_000 * scale));
  const dir = mkdtempSync(join(tmpdir(), 'bench-backup-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
  const key = readFileSync(join(dir, 'id'), 'utf8');
  const provider = await createLocalVmProvider({ dir: join(dir, 'vms'), authorizedKeys: [readFileSync(join(dir, 'id.pub'), 'utf8')], sshdDelayMs: 0 });
  const emu = await startKubeEmulator({ dir: join(dir, 'kube'), readyDelayMs: 100 });
  const swift = useSwift ? await startSwift({ dir: join(dir, 'swift') }) : undefined;
  const nodes = new SshNodeAccess();
  // the sandbox VM's processes are unref'd: keep this process alive while we wait on them
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    const vm = await provider.create({ serverId: 'bench-node', name: 'bench-node' });
    // the data: half incompressible, half text, in two levels of directories
    const data = join(vm.rootfs, 'data/bench');
    const per = Math.floor(bytes / files);
    const text = Buffer.from('the quick brown fox jumps over the lazy dog 0123456789\n'.repeat(Math.ceil(per / 55) + 1));
    for (let i = 0; i < files; i++) {
      const d = join(data, `d${i % 100}`);
      if (i < 100) mkdirSync(d, { recursive: true });
      writeFileSync(join(d, `f${i}`), i % 2 ? randomBytes(per) : text.subarray(0, per));
    }
    writeFileSync(join(dir, 'kubeconfig'), emu.kubeconfig());
    const kube = new KubeClient(loadKubeConfig(join(dir, 'kubeconfig')));
    await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } });
    await kube.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'bench-node' } } as KubeObject);
    await kube.mergePatch({ apiVersion: 'v1', kind: 'Node', name: 'bench-node' }, { status: { addresses: [{ type: 'InternalIP', address: vm.address }] } }, { subresource: 'status' });
    const pods: KubeObject[] = [];
    for (let i = 0; i < objects; i++) {
      pods.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `p${i}`, namespace: 'bench', labels: { app: `a${i % 50}` } }, spec: { nodeName: 'bench-node', containers: [{ name: 'c', image: 'app:1', env: [{ name: 'X', value: 'y'.repeat(100) }] }], ...(i === 0 ? { volumes: [{ name: 'data', hostPath: { path: '/data/bench' } }] } : {}) } } as KubeObject);
    }
    for (let i = 0; i < pods.length; i += 50) await Promise.all(pods.slice(i, i + 50).map((p) => kube.create(p)));
    const g = generateStoreKeys();
    const keys: StoreKeys = { kek: parseKek(g.kek.toString('base64')), signingKey: createPrivateKey(g.signingKeyPem), publicKey: createPublicKey(g.publicKeyPem) };
    const resolver = new KubeNodeResolver(kube, { user: 'root', privateKey: key, knownHosts: `${vm.address} ${vm.hostPublicKey}` });
    const target = await resolver.node('bench-node');
    const out: string[] = [`data: ${files} files, ${(bytes / MiB).toFixed(0)} MiB; ${objects} Pods (scale ${scale}); load ${(await run('cat', ['/proc/loadavg'])).stdout.split(' ').slice(0, 3).join(' ')}`];

    // floor: tar | gzip -1 over the same SSH transport, read and dropped
    const floor = async () => {
      const { stream, done } = await nodes.readDir(target, '/data/bench');
      await Promise.all([pipeline(stream, new Writable({ write: (_c, _e, cb) => cb() })), done]);
    };
    await floor(); // warm the page cache and the connection
    const [, floorS] = await timed(floor);
    out.push(`floor (tar | gzip -1 over SSH): ${floorS.toFixed(2)} s = ${(bytes / MiB / floorS).toFixed(1)} MiB/s`);

    const targets: Array<[string, ReturnType<typeof openStore>]> = [['file://', openStore({ url: `file://${join(dir, 'store')}` })]];
    if (swift) targets.push(['Swift', openStore({ url: 's3://bench/backups', s3: { endpoint: swift.endpoint, ...swift.s3 } })]);
    let restoreFrom: ReturnType<typeof openStore> | undefined;
    for (const [label, store] of targets) {
      let swiftFloorS: number | undefined;
      if (label === 'Swift' && swift) {
        const s3 = new S3Client({ endpoint: swift.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: swift.s3, requestChecksumCalculation: 'WHEN_REQUIRED' });
        await s3.send(new CreateBucketCommand({ Bucket: 'bench' })).catch(() => undefined);
        [, swiftFloorS] = await timed(async () => {
          const { stream, done } = await nodes.readDir(target, '/data/bench');
          await Promise.all([new Upload({ client: s3, params: { Bucket: 'bench', Key: 'floor.tar.gz', Body: stream }, partSize: 8 * MiB, queueSize: 2 }).done(), done]);
        });
        s3.destroy();
      }
      const [[m, secs], peak, base] = await withPeakRss(() => timed(() => runBackup({ kube, store, keys, nodes, resolver }, { name: `bench-${label === 'Swift' ? 'swift' : 'file'}`, selection: { node: 'bench-node' } })));
      const rate = bytes / MiB / secs;
      const vsFloor = (swiftFloorS ?? floorS) / secs;
      out.push(`backup to ${label}: ${secs.toFixed(2)} s = ${rate.toFixed(1)} MiB/s (${m.items.length} objects, ${m.data[0]?.files ?? 0} files, phase ${m.phase}); floor ${label === 'Swift' ? `(SSH tar|gzip -1 + plain multipart upload) ${swiftFloorS!.toFixed(2)} s` : `${floorS.toFixed(2)} s`}; ${(vsFloor * 100).toFixed(0)}% of the floor's throughput; peak RSS ${(peak / MiB).toFixed(0)} MiB (+${((peak - base) / MiB).toFixed(0)} MiB over the ${(base / MiB).toFixed(0)} MiB before, emulator included)`);
      restoreFrom = store;
    }

    // restore of the objects (no data) vs kubectl apply --server-side of the same objects
    const [res, restoreS] = await timed(() => restoreBackup({ kube, store: restoreFrom!, keys, nodes, resolver }, { name: 'bench-restore', backup: swift ? 'bench-swift' : 'bench-file', data: false, mappings: { namespaces: { bench: 'restored' } } }));
    const created = res.items.filter((i) => i.action === 'created').length;
    const same = pods.map((p) => transform(p, { namespaces: { bench: 'kubectl' } }, 'kubectl', 'none', () => false));
    await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kubectl' } });
    writeFileSync(join(dir, 'objects.yaml'), same.map((o) => JSON.stringify(o)).join('\n'));
    const [, kubectlS] = await timed(() => run('kubectl', ['--kubeconfig', join(dir, 'kubeconfig'), '--cache-dir', join(dir, 'kcache'), 'apply', '--server-side', '-f', join(dir, 'objects.yaml')], { maxBuffer: 64 * MiB }));
    out.push(`restore of ${created} objects (verify + create): ${restoreS.toFixed(2)} s vs kubectl apply --server-side of the same objects ${kubectlS.toFixed(2)} s: ${(restoreS / kubectlS).toFixed(2)}×`);
    for (const [, s] of targets) s.close();
    kube.close();
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await nodes.close();
    await swift?.stop();
    await emu.stop();
    await provider.removeAll();
    clearInterval(keepAlive);
    rmSync(dir, { recursive: true, force: true });
  }
}
