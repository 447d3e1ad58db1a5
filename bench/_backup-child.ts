/**
 * The backup of `bench/backup.ts`, in a process of its own, so that the peak RSS it reports is the
 * backup's alone: the bench process also holds the Kubernetes emulator with its 5 000 Pods, the
 * floors' S3 client and the test data. bench/backup.ts compiles this file into dist/bench/ and runs
 * it with node against dist/ (what `mixmesh` runs, no TypeScript loader in the process). The job comes
 * as one JSON document on stdin (the store keys and the node's SSH key never on a command line); the
 * result is one JSON line on stdout. The peak is the kernel's (VmHWM of /proc/self/status: the
 * process's whole life, module loading included), not a sample.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { KubeClient, loadKubeConfig } from '../clients/kube/index.js';
import { KubeNodeResolver, SshNodeAccess, openStore, parseKek, runBackup, type Selection, type StoreConfig } from '../backup/index.js';

export interface ChildJob {
  kubeconfig: string;
  store: StoreConfig;
  kek: string;
  signingKeyPem: string;
  publicKeyPem: string;
  node: { user: string; privateKey: string; knownHosts: string };
  name: string;
  selection: Selection;
}

export interface ChildResult {
  /** runBackup's wall time (the process start and module loading excluded) */
  seconds: number;
  phase: string;
  items: number;
  files: number;
  /** VmHWM: the peak resident set of this process over its whole life */
  peakRssBytes: number;
  /** RSS once the modules were loaded, before the backup started */
  rssBeforeBytes: number;
}

function peakRss(): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

const chunks: Buffer[] = [];
for await (const c of process.stdin) chunks.push(c as Buffer);
const job = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChildJob;
const kube = new KubeClient(loadKubeConfig(job.kubeconfig));
const store = openStore(job.store);
const nodes = new SshNodeAccess();
const keys = { kek: parseKek(job.kek), signingKey: createPrivateKey(job.signingKeyPem), publicKey: createPublicKey(job.publicKeyPem) };
const resolver = new KubeNodeResolver(kube, job.node);
try {
  const rssBeforeBytes = process.memoryUsage().rss;
  const t = process.hrtime.bigint();
  const m = await runBackup({ kube, store, keys, nodes, resolver }, { name: job.name, selection: job.selection });
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  const result: ChildResult = { seconds, phase: m.phase, items: m.items.length, files: m.data.reduce((n, d) => n + d.files, 0), peakRssBytes: peakRss(), rssBeforeBytes };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await nodes.close();
  store.close();
  kube.close();
}
