/**
 * The kubelet of a worker-image VM. It runs in the sandbox process (a VM has no Node.js) but acts
 * only through the VM: it starts when `kubeadm join` wrote /etc/kubernetes/kubelet.conf inside it,
 * talks to the cluster named there over HTTPS like a kubelet (Node, Lease heartbeats, pod status),
 * serves its API on <vm>:10250, and runs the pods bound to its node as processes inside the VM
 * (`nsenter` into the VM's namespaces, a private mount namespace per container with the volumes
 * bind-mounted, `chroot` into the VM's root). When the VM stops, so does everything it did.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:https';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Logger } from '../../common/logger.js';
import { shellQuote } from '../../common/names.js';
import { KubeHttp } from './http.js';
import { registerExecBackend } from '../kube/index.js';

type Obj = Record<string, unknown>;

export interface KubeletHost {
  serverId: string;
  address: string;
  image: string;
  /** the VM's root as the host sees it while it runs */
  rootfs(): string;
  /** the VM's pid 1 on the host; undefined while the VM is stopped */
  initPid(): number | undefined;
  /** does the image's kernel support CRIU (the checkpoint API)? */
  criu: boolean;
}

export interface KubeletOptions {
  /** Lease renewal and node status period (real: 10 s) */
  heartbeatMs: number;
  /** how often the pods bound to the node are looked at (real kubelets watch; this polls) */
  syncMs: number;
  maxPods: number;
  /** a serving certificate signed by the cluster CA, when the cluster is in this process */
  servingCert(server: string, nodeName: string, ip: string): { certPem: string; keyPem: string } | undefined;
  log: Logger;
}

interface Config { server: string; caPem: string; token: string; nodeName: string }

interface Container {
  name: string;
  child?: ChildProcess;
  hostPid?: number;
  restarts: number;
  startedAt?: string;
  lastExit?: { exitCode: number; finishedAt: string; startedAt: string; reason: string };
  waiting?: { reason: string; message?: string };
  backoffUntil: number;
  done: boolean;
}

interface PodRun { uid: string; ns: string; name: string; pod: Obj; containers: Map<string, Container>; reported: string }

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const specOf = (o: Obj): Obj => (o.spec ?? {}) as Obj;
const metaOf = (o: Obj): Obj => (o.metadata ?? {}) as Obj;
const nowIso = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export class Kubelet {
  private config: Config | undefined;
  private http: KubeHttp | undefined;
  private server: Server | undefined;
  private readonly pods = new Map<string, PodRun>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private lastHeartbeat = 0;
  private stopped = false;
  private registered = false;
  private unregisterExec: (() => void) | undefined;

  constructor(readonly host: KubeletHost, private readonly opts: KubeletOptions) {}

  get nodeName(): string | undefined {
    return this.config?.nodeName;
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.syncMs);
    void this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.killAll();
    await this.closeServer();
    this.http?.close();
  }

  private async tick(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      await this.step();
    } catch (e) {
      this.opts.log.warn({ err: e, serverId: this.host.serverId }, 'sandbox kubelet step failed');
    } finally {
      this.busy = false;
    }
  }

  private async step(): Promise<void> {
    if (this.host.initPid() === undefined) {
      // the VM is off: its processes are gone with it, and so is this kubelet until it boots
      if (this.server || this.pods.size) {
        this.forgetAll();
        await this.closeServer();
        this.registered = false;
        this.opts.log.info({ node: this.config?.nodeName }, 'sandbox kubelet: VM stopped');
      }
      return;
    }
    const root = this.host.rootfs();
    const confPath = join(root, 'etc/kubernetes/kubelet.conf');
    if (!existsSync(confPath)) {
      if (this.config) {
        // kubeadm reset: the kubelet stops, its containers with it
        this.killAll();
        await this.closeServer();
        this.config = undefined;
        this.http?.close();
        this.http = undefined;
        this.registered = false;
      }
      // kubeadm reset waits for this: the kubelet and its containers are stopped
      const resetRequest = join(root, 'etc/kubernetes/.sandbox-reset-request');
      if (existsSync(resetRequest)) rmSync(resetRequest, { force: true });
      return;
    }
    if (!this.config) {
      this.config = readKubeletConfig(confPath, join(root, 'var/lib/kubelet/kubeadm-flags.env'), this.host);
      this.http = new KubeHttp(this.config.server, this.config.caPem, this.config.token);
    }
    if (!this.registered) {
      await this.register();
      await this.serve();
      this.registered = true;
      this.lastHeartbeat = 0;
    }
    if (Date.now() - this.lastHeartbeat >= this.opts.heartbeatMs) {
      await this.heartbeat();
      this.lastHeartbeat = Date.now();
    }
    await this.syncPods();
  }

  // ---------- node ----------

  private nodeStatus(): Obj {
    const now = nowIso();
    const cap = { cpu: '2', memory: '4Gi', pods: String(this.opts.maxPods), 'ephemeral-storage': '20Gi' };
    return {
      capacity: cap, allocatable: cap,
      conditions: [
        { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available', lastHeartbeatTime: now, lastTransitionTime: now },
        { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure', lastHeartbeatTime: now, lastTransitionTime: now },
        { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available', lastHeartbeatTime: now, lastTransitionTime: now },
        { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now },
      ],
      addresses: [{ type: 'InternalIP', address: this.host.address }, { type: 'Hostname', address: this.config!.nodeName }],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        architecture: 'amd64', operatingSystem: 'linux', osImage: `mixmesh sandbox VM (${this.host.image})`, kernelVersion: '6.1.0-sandbox',
        kubeletVersion: 'v1.32.0', kubeProxyVersion: 'v1.32.0', // with criu the stand-in checkpoints and restores as CRI-O does (checkpoint archive as the image); without, it is a runtime that cannot
        containerRuntimeVersion: this.host.criu ? 'cri-o://1.32.0' : 'containerd://1.7.24',
        machineID: this.host.serverId.replace(/-/g, ''), systemUUID: this.host.serverId, bootID: '',
      },
    };
  }

  private async register(): Promise<void> {
    const http = this.http!;
    const name = this.config!.nodeName;
    const got = await http.call('GET', `/api/v1/nodes/${name}`);
    if (got.status === 404) {
      const made = await http.call('POST', '/api/v1/nodes', {
        apiVersion: 'v1', kind: 'Node',
        metadata: {
          name,
          labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'beta.kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': 'amd64', 'node.kubernetes.io/instance-type': this.host.image },
          annotations: { 'kubeadm.alpha.kubernetes.io/cri-socket': 'unix:///run/sandbox/runtime.sock', 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true', 'sandbox.mixmesh.io/server-id': this.host.serverId },
        },
        spec: {},
      });
      if (made.status >= 300 && made.status !== 409) throw new Error(`register node ${name}: HTTP ${made.status}`);
    } else if (got.status >= 300) throw new Error(`read node ${name}: HTTP ${got.status}`);
    await this.postStatus();
    this.opts.log.info({ node: name, address: this.host.address }, 'sandbox kubelet: node registered');
  }

  private async postStatus(): Promise<void> {
    const name = this.config!.nodeName;
    const r = await this.http!.call('PATCH', `/api/v1/nodes/${name}/status`, { status: this.nodeStatus() }, 'application/merge-patch+json');
    if (r.status >= 300) throw new Error(`node ${name} status: HTTP ${r.status}`);
  }

  private async heartbeat(): Promise<void> {
    const http = this.http!;
    const name = this.config!.nodeName;
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`;
    const renewTime = new Date().toISOString().replace('Z', '000Z');
    const cur = await http.call('GET', path);
    const node = await http.call('GET', `/api/v1/nodes/${name}`);
    if (node.status === 404) { this.registered = false; return; }
    const owner = [{ apiVersion: 'v1', kind: 'Node', name, uid: metaOf(node.body).uid }];
    const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: 'kube-node-lease', ownerReferences: owner }, spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime } };
    if (cur.status === 404) await http.call('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', lease);
    else await http.call('PUT', path, { ...lease, metadata: { ...lease.metadata, resourceVersion: metaOf(cur.body).resourceVersion } });
    const ready = (((node.body.status as Obj | undefined)?.conditions as Obj[] | undefined) ?? []).find((c) => c.type === 'Ready');
    if (ready?.status !== 'True') await this.postStatus();
  }

  // ---------- pods ----------

  private async syncPods(): Promise<void> {
    const http = this.http!;
    const list = await http.call('GET', `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${this.config!.nodeName}`)}`);
    if (list.status !== 200) return;
    const items = (list.body.items as Obj[] | undefined) ?? [];
    const seen = new Set<string>();
    for (const pod of items) {
      const uid = metaOf(pod).uid as string;
      seen.add(uid);
      if (metaOf(pod).deletionTimestamp) {
        this.killPod(uid);
        await http.call('DELETE', `/api/v1/namespaces/${String(metaOf(pod).namespace)}/pods/${String(metaOf(pod).name)}`, { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid } });
        continue;
      }
      let run = this.pods.get(uid);
      if (!run) {
        run = { uid, ns: metaOf(pod).namespace as string, name: metaOf(pod).name as string, pod, containers: new Map(), reported: '' };
        for (const c of (specOf(pod).containers as Obj[] | undefined) ?? []) run.containers.set(c.name as string, { name: c.name as string, restarts: 0, backoffUntil: 0, done: false });
        this.pods.set(uid, run);
      }
      run.pod = pod;
      await this.ensureContainers(run);
      await this.report(run);
    }
    for (const uid of [...this.pods.keys()]) if (!seen.has(uid)) this.killPod(uid);
  }

  private podDir(run: PodRun): string {
    return `/var/lib/kubelet/pods/${run.uid}`;
  }

  /** The volumes of a pod as directories in the VM: name → path inside the VM; throws FailedMount-like errors. */
  private async volumes(run: PodRun): Promise<Map<string, string>> {
    const root = this.host.rootfs();
    const out = new Map<string, string>();
    for (const v of (specOf(run.pod).volumes as Obj[] | undefined) ?? []) {
      const name = v.name as string;
      if (v.emptyDir) {
        const p = `${this.podDir(run)}/volumes/kubernetes.io~empty-dir/${name}`;
        await mkdir(join(root, p), { recursive: true, mode: 0o777 });
        out.set(name, p);
      } else if (v.hostPath) {
        const hp = v.hostPath as Obj;
        const p = hp.path as string;
        const type = (hp.type as string | undefined) ?? '';
        if (!existsSync(join(root, p))) {
          if (type === 'DirectoryOrCreate' || type === '') await mkdir(join(root, p), { recursive: true, mode: 0o755 });
          else throw new MountError(name, `hostPath type check failed: ${p} is not a ${type === 'Directory' ? 'directory' : type}`);
        }
        out.set(name, p);
      } else if (v.persistentVolumeClaim) {
        const claim = (v.persistentVolumeClaim as Obj).claimName as string;
        const pvc = await this.http!.call('GET', `/api/v1/namespaces/${run.ns}/persistentvolumeclaims/${claim}`);
        const pvName = specOf(pvc.body).volumeName as string | undefined;
        if (pvc.status !== 200 || !pvName) throw new MountError(name, `persistentvolumeclaim "${claim}" is not bound`);
        const pv = await this.http!.call('GET', `/api/v1/persistentvolumes/${pvName}`);
        const local = (specOf(pv.body).local ?? specOf(pv.body).hostPath) as Obj | undefined;
        const p = local?.path as string | undefined;
        if (!p) throw new MountError(name, `persistent volume ${pvName} is neither local nor hostPath: the sandbox node cannot mount it`);
        if (!existsSync(join(root, p))) {
          if (specOf(pv.body).hostPath) await mkdir(join(root, p), { recursive: true, mode: 0o755 });
          else throw new MountError(name, `MountVolume.NewMounter initialization failed for volume "${pvName}" : path "${p}" does not exist`);
        }
        out.set(name, p);
      } else if (v.configMap || v.secret) {
        const isSecret = Boolean(v.secret);
        const ref = (v.configMap ?? v.secret) as Obj;
        const objName = (isSecret ? ref.secretName : ref.name) as string;
        const got = await this.http!.call('GET', `/api/v1/namespaces/${run.ns}/${isSecret ? 'secrets' : 'configmaps'}/${objName}`);
        if (got.status !== 200 && ref.optional !== true) throw new MountError(name, `${isSecret ? 'secret' : 'configmap'} "${objName}" not found`);
        const p = `${this.podDir(run)}/volumes/kubernetes.io~${isSecret ? 'secret' : 'configmap'}/${name}`;
        await mkdir(join(root, p), { recursive: true, mode: 0o755 });
        const data = (got.body.data ?? {}) as Record<string, string>;
        for (const [k, val] of Object.entries(data)) {
          if (!/^[-._a-zA-Z0-9]+$/.test(k)) continue;
          await writeFile(join(root, p, k), isSecret ? Buffer.from(val, 'base64') : val, { mode: isSecret ? 0o600 : 0o644 });
        }
        out.set(name, p);
      }
      // other volume kinds (projected tokens, CSI, NFS) are not mounted on sandbox nodes
    }
    return out;
  }

  private async ensureContainers(run: PodRun): Promise<void> {
    const restartPolicy = (specOf(run.pod).restartPolicy as string | undefined) ?? 'Always';
    let vols: Map<string, string> | undefined;
    for (const spec of (specOf(run.pod).containers as Obj[] | undefined) ?? []) {
      const c = run.containers.get(spec.name as string)!;
      if (c.child || c.done || Date.now() < c.backoffUntil) continue;
      if (c.lastExit && (restartPolicy === 'Never' || (restartPolicy === 'OnFailure' && c.lastExit.exitCode === 0))) { c.done = true; continue; }
      try {
        vols ??= await this.volumes(run);
      } catch (e) {
        const msg = e instanceof MountError ? e.message : String(e);
        if (c.waiting?.message !== msg) await this.event(run, 'Warning', 'FailedMount', msg);
        c.waiting = { reason: 'ContainerCreating', message: msg };
        continue;
      }
      let restored: { argv: string[]; env: string[] } | undefined;
      if (isCheckpointImage(spec.image)) {
        try {
          restored = await this.restoreFrom(run, spec, vols);
        } catch (e) {
          const msg = e instanceof Error ? e.message : String(e);
          if (c.waiting?.message !== msg) await this.event(run, 'Warning', 'Failed', `Error: ${msg}`);
          c.waiting = { reason: 'CreateContainerError', message: msg };
          continue;
        }
      }
      this.startContainer(run, spec, c, vols, restored);
    }
  }

  private env(run: PodRun, spec: Obj): string[] {
    const out = [`PATH=${PATH}`, `HOSTNAME=${run.name}`, 'KUBERNETES_SERVICE_HOST=10.96.0.1', 'KUBERNETES_SERVICE_PORT=443', 'HOME=/root'];
    for (const e of (spec.env as Obj[] | undefined) ?? []) {
      if (typeof e.value === 'string') out.push(`${String(e.name)}=${e.value}`);
      const field = ((e.valueFrom as Obj | undefined)?.fieldRef as Obj | undefined)?.fieldPath as string | undefined;
      const byField: Record<string, string> = { 'metadata.name': run.name, 'metadata.namespace': run.ns, 'metadata.uid': run.uid, 'spec.nodeName': this.config!.nodeName, 'status.podIP': this.host.address, 'status.hostIP': this.host.address };
      if (field && field in byField) out.push(`${String(e.name)}=${byField[field]!}`);
    }
    return out.filter((x) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(x) && !x.includes('\0'));
  }

  /**
   * Restore from a checkpoint archive, as CRI-O does when a container's image is the path of a
   * checkpoint archive on the node: the archive's CRIU images give the process (command line,
   * environment) and its declared state file, written back into the container's view (a volume
   * when the path is under a mount) before it starts again. Needs CRIU on the node.
   */
  private async restoreFrom(run: PodRun, spec: Obj, vols: Map<string, string>): Promise<{ argv: string[]; env: string[] }> {
    const archive = spec.image as string;
    if (!this.host.criu) throw new Error(`failed to restore container ${String(spec.name)}: criu check failed: CRIU is not supported on this node's kernel`);
    const root = this.host.rootfs();
    if (!existsSync(join(root, archive))) throw new Error(`failed to restore container ${String(spec.name)}: checkpoint archive ${archive} not found on the node`);
    const work = `/var/lib/kubelet/checkpoints/.restore-${run.uid}-${String(spec.name)}`;
    const x = await inVm(this.host, `rm -rf ${shellQuote(work)} && mkdir -p ${shellQuote(work)} && tar -xf ${shellQuote(archive)} -C ${shellQuote(work)} && criu check >/dev/null`);
    if (x.code !== 0) throw new Error(`failed to restore container ${String(spec.name)}: ${x.stderr.trim().split('\n').join('; ')}`);
    const img = (f: string) => readFileSync(join(root, work, 'checkpoint', f));
    if (!existsSync(join(root, work, 'checkpoint/inventory.img'))) throw new Error(`failed to restore container ${String(spec.name)}: ${archive} holds no CRIU images (checkpoint/inventory.img)`);
    const argv = img('cmdline.img').toString('utf8').split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
    const env = img('environ.img').toString('utf8').split('\0').filter(Boolean);
    if (existsSync(join(root, work, 'checkpoint/state-path.img'))) {
      const statePath = img('state-path.img').toString('utf8').trim();
      let inVmPath = statePath;
      for (const m of (spec.volumeMounts as Obj[] | undefined) ?? []) {
        const to = String(m.mountPath).replace(/\/+$/, '');
        const src = vols.get(m.name as string);
        if (src && statePath.startsWith(`${to}/`)) inVmPath = `${src}${statePath.slice(to.length)}`;
      }
      await mkdir(join(root, dirname(inVmPath)), { recursive: true });
      await writeFile(join(root, inVmPath), img('state.img'));
    }
    return { argv, env };
  }

  private startContainer(run: PodRun, spec: Obj, c: Container, vols: Map<string, string>, restored?: { argv: string[]; env: string[] }): void {
    const init = this.host.initPid();
    if (init === undefined) return;
    const argv = restored?.argv ?? [...((spec.command as string[] | undefined) ?? []), ...((spec.args as string[] | undefined) ?? [])];
    // an image's entrypoint is not known here: a container without command/args just stays up
    const command = argv.length ? argv : ['sleep', 'inf'];
    const logDir = `/var/log/pods/${run.ns}_${run.name}_${run.uid}/${c.name}`;
    const lines = ['set -e', 'R=/mnt', `mkdir -p "$R"${shellQuote(logDir)}`];
    for (const m of (spec.volumeMounts as Obj[] | undefined) ?? []) {
      const src = vols.get(m.name as string);
      if (!src) continue;
      const from = typeof m.subPath === 'string' && m.subPath ? `${src}/${m.subPath}` : src;
      const to = m.mountPath as string;
      lines.push(`mkdir -p "$R"${shellQuote(from)} "$R"${shellQuote(to)}`, `mount --bind "$R"${shellQuote(from)} "$R"${shellQuote(to)}`);
      if (m.readOnly === true) lines.push(`mount -o remount,bind,ro "$R"${shellQuote(to)}`);
    }
    const workdir = (spec.workingDir as string | undefined) ?? '/';
    const env = (restored ? restored.env.filter((x) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(x)) : this.env(run, spec)).map(shellQuote).join(' ');
    lines.push(`exec chroot "$R" /usr/bin/env -i ${env} /bin/sh -c 'cd "$1" && shift && exec "$@"' sh ${shellQuote(workdir)} ${command.map(shellQuote).join(' ')} >>"$R"${shellQuote(`${logDir}/${c.restarts}.log`)} 2>&1`);
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', 'nsenter', '-t', String(init), '-m', '-p', '--', 'unshare', '-m', '--propagation', 'private', '--', 'sh', '-c', lines.join('\n')], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.unref();
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
    c.child = child;
    c.startedAt = nowIso();
    c.waiting = undefined;
    const startedAt = c.startedAt;
    child.once('exit', (code, signal) => {
      if (c.child !== child) return;
      c.child = undefined;
      c.hostPid = undefined;
      const exitCode = code ?? (signal ? 128 + 9 : 1);
      c.lastExit = { exitCode, startedAt, finishedAt: nowIso(), reason: exitCode === 0 ? 'Completed' : 'Error' };
      c.restarts++;
      // CrashLoopBackOff: 1 s doubling to 30 s (real: 10 s to 5 min)
      c.backoffUntil = Date.now() + Math.min(30_000, 1000 * 2 ** Math.min(5, c.restarts - 1));
      if (stderr.trim()) this.opts.log.warn({ pod: `${run.ns}/${run.name}`, container: c.name, exitCode, stderr: stderr.trim() }, 'sandbox kubelet: container start failed');
      void this.tick();
    });
  }

  /** The container's process on the host and in the VM (what `criu dump -t` takes). */
  containerPids(c: Container): { host: number; vm: number } | undefined {
    const ns = c.child?.pid;
    if (ns === undefined) return undefined;
    try {
      const kid = Number(readFileSync(`/proc/${ns}/task/${ns}/children`, 'utf8').trim().split(/\s+/)[0]);
      if (!kid) return undefined;
      const status = readFileSync(`/proc/${kid}/status`, 'utf8');
      const nspid = /^NSpid:\s+(.+)$/m.exec(status)?.[1]?.trim().split(/\s+/);
      return { host: kid, vm: Number(nspid?.[nspid.length - 1]) };
    } catch {
      return undefined;
    }
  }

  private killPod(uid: string): void {
    const run = this.pods.get(uid);
    if (!run) return;
    this.pods.delete(uid);
    for (const c of run.containers.values()) this.killContainer(c);
  }

  private killContainer(c: Container): void {
    const pids = this.containerPids(c);
    const child = c.child;
    c.child = undefined;
    c.done = true;
    try { if (pids) process.kill(pids.host, 'SIGKILL'); } catch { /* gone */ }
    try { child?.kill('SIGKILL'); } catch { /* gone */ }
  }

  private killAll(): void {
    for (const uid of [...this.pods.keys()]) this.killPod(uid);
  }

  /** The VM is off: its processes went with it. */
  private forgetAll(): void {
    this.pods.clear();
  }

  private async report(run: PodRun): Promise<void> {
    const specs = (specOf(run.pod).containers as Obj[] | undefined) ?? [];
    const statuses = specs.map((s) => {
      const c = run.containers.get(s.name as string)!;
      const running = Boolean(c.child);
      const state = running ? { running: { startedAt: c.startedAt } }
        : c.done && c.lastExit ? { terminated: { exitCode: c.lastExit.exitCode, reason: c.lastExit.reason, startedAt: c.lastExit.startedAt, finishedAt: c.lastExit.finishedAt } }
        : c.lastExit ? { waiting: { reason: 'CrashLoopBackOff', message: `back-off restarting failed container ${c.name} in pod ${run.name}_${run.ns}(${run.uid})` } }
        : { waiting: c.waiting ?? { reason: 'ContainerCreating' } };
      return {
        name: c.name, image: s.image, imageID: '', containerID: running && c.child?.pid ? `sandbox://${c.child.pid}` : undefined,
        ready: running, started: running, restartCount: Math.max(0, c.restarts - (running ? 0 : 0)), state,
        ...(c.lastExit && running ? { lastState: { terminated: { exitCode: c.lastExit.exitCode, reason: c.lastExit.reason, startedAt: c.lastExit.startedAt, finishedAt: c.lastExit.finishedAt } } } : {}),
      };
    });
    const all = statuses.every((s) => s.ready);
    const doneAll = [...run.containers.values()].every((c) => c.done && c.lastExit);
    const phase = doneAll ? ([...run.containers.values()].every((c) => c.lastExit!.exitCode === 0) ? 'Succeeded' : 'Failed') : statuses.some((s) => s.state.running) || [...run.containers.values()].some((c) => c.lastExit) ? 'Running' : 'Pending';
    const key = JSON.stringify([phase, statuses.map((s) => [s.ready, s.restartCount, Object.keys(s.state)[0], (s.state as Obj).waiting])]);
    if (key === run.reported) return;
    const now = nowIso();
    const cond = (type: string, ok: boolean) => ({ type, status: ok ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: now, ...(ok ? {} : type === 'Ready' || type === 'ContainersReady' ? { reason: 'ContainersNotReady', message: `containers with unready status: [${statuses.filter((s) => !s.ready).map((s) => s.name).join(' ')}]` } : {}) });
    const status = {
      phase, hostIP: this.host.address, hostIPs: [{ ip: this.host.address }], podIP: this.host.address, podIPs: [{ ip: this.host.address }],
      startTime: ((run.pod.status as Obj | undefined)?.startTime as string | undefined) ?? now, qosClass: 'BestEffort',
      conditions: [cond('PodReadyToStartContainers', true), cond('Initialized', true), cond('Ready', all && phase === 'Running'), cond('ContainersReady', all && phase === 'Running'), cond('PodScheduled', true)],
      containerStatuses: statuses,
    };
    const r = await this.http!.call('PATCH', `/api/v1/namespaces/${run.ns}/pods/${run.name}/status`, { status }, 'application/merge-patch+json');
    if (r.status < 300) run.reported = key;
  }

  private async event(run: PodRun, type: string, reason: string, message: string): Promise<void> {
    const now = nowIso();
    await this.http!.call('POST', `/api/v1/namespaces/${run.ns}/events`, {
      apiVersion: 'v1', kind: 'Event', metadata: { generateName: `${run.name}.`, name: `${run.name}.${Date.now().toString(16)}${Math.floor(Math.random() * 1e6).toString(16)}`, namespace: run.ns },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: run.name, namespace: run.ns, uid: run.uid },
      reason, message, type, source: { component: 'kubelet', host: this.config!.nodeName }, firstTimestamp: now, lastTimestamp: now, count: 1,
    });
  }

  // ---------- the kubelet API on :10250 ----------

  private async serve(): Promise<void> {
    const cfg = this.config!;
    const tls = this.opts.servingCert(cfg.server, cfg.nodeName, this.host.address);
    if (!tls) throw new Error(`no serving certificate for node ${cfg.nodeName}: its cluster ${cfg.server} is not in this process`);
    const server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => { void this.handle(req, res); });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(10250, this.host.address, () => resolve());
    });
    this.server = server;
    // the API server's pods/exec streams reach this kubelet (sandbox/kube/exec.ts)
    this.unregisterExec?.();
    this.unregisterExec = registerExecBackend(cfg.server, cfg.nodeName, { exec: (ns, pod, container, argv, io) => this.exec(ns, pod, container, argv, io) });
  }

  /**
   * Exec in a running container (what the CRI's Exec does): the container's mount, pid and UTS
   * namespaces, its root and working directory, the pod's environment; stdin/stdout/stderr streamed.
   */
  exec(ns: string, podName: string, container: string, argv: string[], io: { stdin?: NodeJS.ReadableStream; stdout(b: Buffer): void; stderr(b: Buffer): void }): Promise<number> {
    const run = [...this.pods.values()].find((r) => r.ns === ns && r.name === podName);
    const c = run?.containers.get(container);
    const pids = c ? this.containerPids(c) : undefined;
    if (!run || !c || !pids) return Promise.reject(new Error(`unable to upgrade connection: container not found ("${container}")`));
    const spec = (((specOf(run.pod).containers ?? []) as Obj[]).find((x) => x.name === container)) ?? {};
    const env = this.env(run, spec);
    const child = spawn('nsenter', ['-t', String(pids.host), '-m', '-p', '-u', '-r', '-w', '--', '/usr/bin/env', '-i', ...env, ...argv], { stdio: [io.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    if (io.stdin && child.stdin) io.stdin.pipe(child.stdin).on('error', () => undefined);
    child.stdout!.on('data', (b: Buffer) => io.stdout(b));
    child.stderr!.on('data', (b: Buffer) => io.stderr(b));
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve(code ?? (signal ? 137 : 1)));
    });
  }

  private async closeServer(): Promise<void> {
    this.unregisterExec?.();
    this.unregisterExec = undefined;
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (code: number, body: unknown, type = 'application/json') => {
      res.writeHead(code, { 'Content-Type': type }).end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    try {
      const url = new URL(req.url ?? '/', 'https://kubelet');
      if (url.pathname === '/healthz') return send(200, 'ok', 'text/plain');
      if (req.headers.authorization !== `Bearer ${this.config?.token ?? ''}` || !this.config) return send(401, 'Unauthorized', 'text/plain');
      if (url.pathname === '/pods' && req.method === 'GET') {
        return send(200, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [...this.pods.values()].map((r) => r.pod) });
      }
      const logs = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
      if (logs && req.method === 'GET') return await this.containerLogs(decodeURIComponent(logs[1]!), decodeURIComponent(logs[2]!), decodeURIComponent(logs[3]!), url.searchParams.get('tailLines'), send);
      const m = /^\/checkpoint\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
      if (m && req.method === 'POST') return await this.checkpoint(m[1]!, m[2]!, m[3]!, send);
      if (m) return send(405, 'Method Not Allowed', 'text/plain');
      return send(404, '404 page not found', 'text/plain');
    } catch (e) {
      this.opts.log.warn({ err: e }, 'sandbox kubelet API failed');
      return send(500, `Internal Error: ${e instanceof Error ? e.message : String(e)}`, 'text/plain');
    }
  }

  /** GET /containerLogs/{ns}/{pod}/{container}?tailLines=N: the current run's output, from its log file in the VM */
  private async containerLogs(ns: string, podName: string, container: string, tailLines: string | null, send: (code: number, body: unknown, type?: string) => void): Promise<void> {
    const run = [...this.pods.values()].find((r) => r.ns === ns && r.name === podName);
    const c = run?.containers.get(container);
    if (!run || !c) return send(404, `container ${container} of pod ${ns}/${podName} not found on this node`, 'text/plain');
    const file = join(this.host.rootfs(), `/var/log/pods/${run.ns}_${run.name}_${run.uid}/${container}/${c.restarts}.log`);
    const text = existsSync(file) ? await readFile(file, 'utf8') : '';
    const n = tailLines === null ? undefined : Number(tailLines);
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const out = n === undefined || !Number.isInteger(n) ? lines : n === 0 ? [] : lines.slice(-n);
    return send(200, out.length ? `${out.join('\n')}\n` : '', 'text/plain');
  }

  /**
   * POST /checkpoint/{ns}/{pod}/{container}: as the kubelet with CRI-O does it — the runtime dumps
   * the container with CRIU (here the image's stand-in criu, leaving it running) and the archive
   * checkpoint-<pod>_<ns>-<container>-<RFC3339>.tar (checkpoint/, config.dump, spec.dump,
   * rootfs-diff.tar; root 0600) is written under /var/lib/kubelet/checkpoints/ on the node.
   */
  private async checkpoint(ns: string, podName: string, container: string, send: (code: number, body: unknown, type?: string) => void): Promise<void> {
    const run = [...this.pods.values()].find((r) => r.ns === ns && r.name === podName);
    const c = run?.containers.get(container);
    const pids = c ? this.containerPids(c) : undefined;
    if (!run || !c) return send(404, `checkpointing of ${ns}/${podName}/${container} failed (container not found)`, 'text/plain');
    if (!pids) return send(500, `checkpointing of ${ns}/${podName}/${container} failed (rpc error: code = Unknown desc = container is not running)`, 'text/plain');
    const stamp = nowIso();
    const archive = `/var/lib/kubelet/checkpoints/checkpoint-${podName}_${ns}-${container}-${stamp}.tar`;
    const work = `/var/lib/kubelet/checkpoints/.work-${run.uid}-${container}-${Date.now()}`;
    const spec = ((specOf(run.pod).containers as Obj[] | undefined) ?? []).find((x) => x.name === container) ?? {};
    const root = this.host.rootfs();
    await mkdir(join(root, work, 'checkpoint'), { recursive: true, mode: 0o700 });
    await writeFile(join(root, work, 'config.dump'), JSON.stringify({ id: `sandbox://${pids.host}`, name: container, rootfsImageName: spec.image, runtime: 'sandbox', createdTime: c.startedAt, checkpointedTime: stamp, restoredTime: null, pod: { name: podName, namespace: ns, uid: run.uid } }, null, 2));
    await writeFile(join(root, work, 'spec.dump'), JSON.stringify({ ociVersion: '1.0.2', process: { args: [...((spec.command as string[] | undefined) ?? []), ...((spec.args as string[] | undefined) ?? [])], env: this.env(run, spec), cwd: spec.workingDir ?? '/' }, annotations: { 'io.kubernetes.pod.name': podName, 'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.uid': run.uid, 'io.kubernetes.container.name': container } }, null, 2));
    // the container's writable layer: none here (it runs in the VM's root), so an empty tar (10 KiB of zeros)
    await writeFile(join(root, work, 'rootfs-diff.tar'), Buffer.alloc(10240));
    const script = [
      'set -e',
      `W=${shellQuote(work)}`,
      `criu dump -t ${pids.vm} -D "$W/checkpoint" --leave-running --shell-job --tcp-established -o dump.log`,
      `umask 077; tar -cf ${shellQuote(`${archive}.tmp`)} -C "$W" checkpoint config.dump spec.dump rootfs-diff.tar`,
      `chmod 600 ${shellQuote(`${archive}.tmp`)}; mv ${shellQuote(`${archive}.tmp`)} ${shellQuote(archive)}`,
    ].join('\n');
    const result = await inVm(this.host, script);
    await inVm(this.host, `rm -rf ${shellQuote(work)}`);
    if (result.code !== 0) return send(500, `checkpointing of ${ns}/${podName}/${container} failed (rpc error: code = Unknown desc = failed to checkpoint container: ${result.stderr.trim().split('\n').join('; ')})`, 'text/plain');
    return send(200, { items: [archive] });
  }
}

/** CRI-O restores a container whose image is the path of a checkpoint archive on the node. */
function isCheckpointImage(image: unknown): image is string {
  return typeof image === 'string' && image.startsWith('/') && image.endsWith('.tar');
}

class MountError extends Error {
  constructor(volume: string, message: string) {
    super(`MountVolume.SetUp failed for volume "${volume}" : ${message}`);
  }
}

/** Run a POSIX sh script inside the VM (its namespaces, chrooted into its root), as root. */
export async function inVm(host: Pick<KubeletHost, 'initPid'>, script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const init = host.initPid();
  if (init === undefined) return { code: 255, stdout: '', stderr: 'the VM is not running' };
  // a VM that just booted mounts its root on /mnt before its sshd starts: wait for it (bounded, backing off)
  for (let delay = 10, waited = 0; !existsSync(`/proc/${init}/root/mnt/usr/bin/env`); waited += delay, delay = Math.min(delay * 2, 500)) {
    if (waited > 15_000) return { code: 255, stdout: '', stderr: 'the VM did not mount its root in time' };
    await new Promise((r) => setTimeout(r, delay));
  }
  return new Promise((resolve) => {
    const child = spawn('nsenter', ['-t', String(init), '-m', '-p', '-u', '--', 'chroot', '/mnt', '/usr/bin/env', '-i', `PATH=${PATH}`, 'HOME=/root', '/bin/sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('error', (e) => resolve({ code: 255, stdout, stderr: e.message }));
    child.once('close', (code) => resolve({ code: code ?? 255, stdout, stderr }));
  });
}

function readKubeletConfig(confPath: string, flagsPath: string, host: KubeletHost): Config {
  const kc = parseYaml(readFileSync(confPath, 'utf8')) as { clusters?: Array<{ cluster?: Obj }>; users?: Array<{ user?: Obj }> };
  const cluster = kc.clusters?.[0]?.cluster ?? {};
  const server = cluster.server as string;
  const caPem = Buffer.from(String(cluster['certificate-authority-data'] ?? ''), 'base64').toString('utf8');
  const token = kc.users?.[0]?.user?.token as string;
  const flags = existsSync(flagsPath) ? readFileSync(flagsPath, 'utf8') : '';
  const nodeName = /--hostname-override=([a-z0-9.-]+)/.exec(flags)?.[1] ?? host.serverId;
  if (!server || !token) throw new Error(`${confPath}: no server or token`);
  return { server, caPem, token, nodeName };
}

export async function readVmFile(host: Pick<KubeletHost, 'rootfs'>, path: string): Promise<string> {
  return readFile(join(host.rootfs(), path), 'utf8');
}
