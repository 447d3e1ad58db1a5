/**
 * `npm run bench -- backup [--scale 0.1] [--no-swift]`: the issue-12 benchmark. A node (a real
 * OpenSSH sandbox VM) holds 1 GiB of local data in 10 000 files (half random, half text) under a
 * hostPath, and 5 000 Pods are bound to it in the Kubernetes emulator; `--scale` multiplies all
 * three. Backed up to file:// and to a real Swift, each beside the floor measured in the same run:
 * `tar | gzip -1` of the same data over the same SSH transport (read and dropped), and for Swift a
 * plain multipart upload of that stream. Each backup runs in a process of its own (_backup-child.ts,
 * compiled into dist/bench/ and run on dist/), which reports its time and its peak RSS (VmHWM): this
 * process holds the emulator and its Pods, which the backup's figure must not include. Restore of
 * the 5 000 objects vs `kubectl apply --server-side` of the same objects on the same emulator.
 * Prints figures; asserts nothing.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { build } from 'esbuild';
import { KubeClient, loadKubeConfig, type KubeObject } from '../clients/kube/index.js';
import { startKubeEmulator } from '../sandbox/kube/index.js';
import { startSwift } from '../sandbox/swift/index.js';
import { createLocalVmProvider } from '../sandbox/vms/index.js';
import { SshNodeAccess, generateStoreKeys, openStore, parseKek, restoreBackup, type StoreConfig, type StoreKeys } from '../backup/index.js';
import { KubeNodeResolver } from '../backup/wiring.js';
import { transform } from '../backup/transform.js';
import type { ChildJob, ChildResult } from './_backup-child.js';

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

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Compile _backup-child.ts next to dist/ (its imports then resolve to dist/backup/…); dist/ must be fresh. */
async function childScript(): Promise<string> {
  const built = join(root, 'dist', 'backup', 'capture.js');
  if (!existsSync(built)) throw new Error('dist/ is missing: run `npm run build` first (npm run bench does)');
  const stale = readdirSync(join(root, 'backup')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && statSync(join(root, 'backup', f)).mtimeMs > statSync(join(root, 'dist', 'backup', f.replace(/\.ts$/, '.js'))).mtimeMs);
  if (stale.length) throw new Error(`dist/ is older than backup/${stale[0]}: run \`npm run build\` first (npm run bench does)`);
  const out = join(root, 'dist', 'bench', '_backup-child.js');
  await build({ entryPoints: [join(root, 'bench', '_backup-child.ts')], outfile: out, bundle: false, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' });
  return out;
}

/** One backup in a process of its own: its time and its peak RSS. */
async function backupInChild(script: string, job: ChildJob): Promise<ChildResult> {
  const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-4000)));
  child.stdin.end(JSON.stringify(job));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const line = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`the backup process exited ${code}: ${stderr.trim()}`);
  return JSON.parse(line) as ChildResult;
}

export async function main(args: string[]): Promise<void> {
  const scale = Number(flag(args, '--scale', '1'));
  const useSwift = !args.includes('--no-swift');
  const doRestore = !args.includes('--no-restore');
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
    const script = await childScript();
    const g = generateStoreKeys();
    const keys: StoreKeys = { kek: parseKek(g.kek.toString('base64')), signingKey: createPrivateKey(g.signingKeyPem), publicKey: createPublicKey(g.publicKeyPem) };
    const nodeSsh = { user: 'root', privateKey: key, knownHosts: `${vm.address} ${vm.hostPublicKey}` };
    const resolver = new KubeNodeResolver(kube, nodeSsh);
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

    const configs: Array<[string, StoreConfig]> = [['file://', { url: `file://${join(dir, 'store')}` }]];
    if (swift) configs.push(['Swift', { url: 's3://bench/backups', s3: { endpoint: swift.endpoint, ...swift.s3 } }]);
    const targets = configs.map(([label, c]) => [label, openStore(c), c] as const);
    let restoreFrom: ReturnType<typeof openStore> | undefined;
    for (const [label, store, config] of targets) {
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
      const r = await backupInChild(script, { kubeconfig: join(dir, 'kubeconfig'), store: config, kek: g.kek.toString('base64'), signingKeyPem: g.signingKeyPem, publicKeyPem: g.publicKeyPem, node: nodeSsh, name: `bench-${label === 'Swift' ? 'swift' : 'file'}`, selection: { node: 'bench-node' } });
      const secs = r.seconds;
      const rate = bytes / MiB / secs;
      const vsFloor = (swiftFloorS ?? floorS) / secs;
      out.push(`backup to ${label}: ${secs.toFixed(2)} s = ${rate.toFixed(1)} MiB/s (${r.items} objects, ${r.files} files, phase ${r.phase}); floor ${label === 'Swift' ? `(SSH tar|gzip -1 + plain multipart upload) ${swiftFloorS!.toFixed(2)} s` : `${floorS.toFixed(2)} s`}; ${(vsFloor * 100).toFixed(0)}% of the floor's throughput (target 80%); peak RSS of the backup process ${(r.peakRssBytes / MiB).toFixed(0)} MiB (target < 200 MiB; ${(r.rssBeforeBytes / MiB).toFixed(0)} MiB once loaded, before the backup)`);
      restoreFrom = store;
    }

    // restore of the objects (no data) vs kubectl apply --server-side of the same objects
    if (!doRestore) {
      for (const [, s] of targets) s.close();
      kube.close();
      process.stdout.write(`${out.join('\n')}\n`);
      return;
    }
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
