/**
 * App-consistent hooks in containers (backup.md), run through `pods/exec` in the named container
 * as Velero's hooks are: a MeshService's container microservice declares them in its descriptor
 * (`backup.hooks.pre/post`, `backup.restoreHooks.post`, run in the container named after the
 * microservice), any other pod with annotations in Velero's shape:
 * `pre.hook.backup.mixmesh.io/command`, `post.hook.backup.mixmesh.io/command`,
 * `post.hook.restore.mixmesh.io/command` (a JSON array, e.g. `["sh","-c","sync"]`) and
 * `hook.backup.mixmesh.io/container` (default: the pod's first container). A hook that fails (exit
 * code, or the exec could not start) is recorded with its reason and the backup or restore goes on
 * with a warning.
 */
import { isMixmeshError } from '../common/errors.js';
import type { KubeObject } from '../clients/kube/index.js';
import type { MeshService } from '../descriptor/types.js';
import type { BackupKube, PodExec } from './ports.js';
import { LABEL_SERVICE } from '../common/labels.js';
import { listAll } from './select.js';

export const HOOK_ANNOTATIONS = {
  pre: 'pre.hook.backup.mixmesh.io/command',
  post: 'post.hook.backup.mixmesh.io/command',
  restorePost: 'post.hook.restore.mixmesh.io/command',
  container: 'hook.backup.mixmesh.io/container',
} as const;

export type HookPhase = 'pre' | 'post' | 'restorePost';

export interface HookTarget {
  namespace: string;
  pod: string;
  container: string;
  pre: string[][];
  post: string[][];
  restorePost: string[][];
  /** the pod's app/version labels: a controller's new pods are found by them */
  selector?: string;
}

export interface HookEntry {
  owner: string;
  container: string;
  phase: HookPhase;
  command: string[];
  result: 'ran' | 'failed';
  code?: number;
  reason?: string;
  message?: string;
}

type PodLike = KubeObject & { spec?: { containers?: Array<{ name: string }> } };

function parseCommand(pod: KubeObject, key: string): string[][] {
  const raw = pod.metadata.annotations?.[key];
  if (!raw) return [];
  try {
    const v = JSON.parse(raw) as unknown;
    if (Array.isArray(v) && v.length && v.every((x) => typeof x === 'string')) return [v as string[]];
  } catch {
    /* a plain string: one word */
  }
  return [[raw]];
}

/** Hooks of the selected pods: from their MeshService's descriptor or their annotations. */
export function hookTargets(objects: readonly KubeObject[]): HookTarget[] {
  const services = new Map<string, MeshService>();
  for (const o of objects) if (o.kind === 'MeshService') services.set(`${o.metadata.namespace}/${o.metadata.name}`, o as unknown as MeshService);
  const out: HookTarget[] = [];
  for (const o of objects) {
    if (o.kind !== 'Pod') continue;
    const pod = o as PodLike;
    const l = pod.metadata.labels ?? {};
    const svc = l[LABEL_SERVICE] ? services.get(`${pod.metadata.namespace}/${l[LABEL_SERVICE]}`) : undefined;
    const ms = svc?.spec.microservices.find((m) => m.runtime === 'container' && m.name === l.app && (m.version ?? 'v1') === l.version);
    const fromDescriptor = ms?.backup ? { container: ms.name, pre: ms.backup.hooks?.pre ?? [], post: ms.backup.hooks?.post ?? [], restorePost: ms.backup.restoreHooks?.post ?? [] } : undefined;
    const annotated = { pre: parseCommand(pod, HOOK_ANNOTATIONS.pre), post: parseCommand(pod, HOOK_ANNOTATIONS.post), restorePost: parseCommand(pod, HOOK_ANNOTATIONS.restorePost) };
    const container = pod.metadata.annotations?.[HOOK_ANNOTATIONS.container] ?? fromDescriptor?.container ?? pod.spec?.containers?.[0]?.name ?? '';
    const t: HookTarget = {
      namespace: pod.metadata.namespace ?? '', pod: pod.metadata.name, container,
      pre: annotated.pre.length ? annotated.pre : (fromDescriptor?.pre ?? []),
      post: annotated.post.length ? annotated.post : (fromDescriptor?.post ?? []),
      restorePost: annotated.restorePost.length ? annotated.restorePost : (fromDescriptor?.restorePost ?? []),
      ...(l.app ? { selector: `app=${l.app}${l.version ? `,version=${l.version}` : ''}` } : {}),
    };
    if (t.pre.length || t.post.length || t.restorePost.length) out.push(t);
  }
  return out;
}

/** Run one phase of hooks in each target; failures are recorded (and warned), never thrown. */
export async function runHooks(exec: PodExec | undefined, targets: readonly HookTarget[], phase: HookPhase, warnings: string[]): Promise<HookEntry[]> {
  const out: HookEntry[] = [];
  for (const t of targets) {
    const owner = `${t.namespace}/${t.pod}`;
    for (const command of t[phase]) {
      const base = { owner, container: t.container, phase, command };
      if (!exec) {
        out.push({ ...base, result: 'failed', reason: 'EXEC_UNAVAILABLE', message: 'no pods/exec access is configured' });
        warnings.push(`${owner}/${t.container}: ${phase} hook not run (EXEC_UNAVAILABLE)`);
        continue;
      }
      try {
        const r = await exec.exec(t.namespace, t.pod, t.container, command);
        if (r.code === 0) out.push({ ...base, result: 'ran', code: 0 });
        else {
          const message = `exit code ${r.code}: ${(r.stderr || r.stdout).trim().slice(-300)}`;
          out.push({ ...base, result: 'failed', code: r.code, reason: 'HOOK_FAILED', message });
          warnings.push(`${owner}/${t.container}: ${phase} hook failed (${message})`);
        }
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        out.push({ ...base, result: 'failed', reason: isMixmeshError(e) ? 'EXEC_FAILED' : 'INTERNAL', message });
        warnings.push(`${owner}/${t.container}: ${phase} hook could not run (${message})`);
      }
    }
  }
  return out;
}

type PodStatusLike = KubeObject & { status?: { phase?: string; containerStatuses?: Array<{ name: string; state?: { running?: unknown } }> } };

/**
 * Restore post hooks: once each restored pod's container runs (a pod restored by name, or the
 * pods a restored MeshService's Deployment makes, found by their labels).
 */
export async function runRestoreHooks(kube: BackupKube, exec: PodExec | undefined, targets: readonly HookTarget[], nsMap: Readonly<Record<string, string>>, restoredByName: ReadonlySet<string>, waitMs: number, warnings: string[]): Promise<HookEntry[]> {
  const out: HookEntry[] = [];
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
  for (const t of targets) {
    if (!t.restorePost.length) continue;
    const ns = nsMap[t.namespace] ?? t.namespace;
    const deadline = Date.now() + waitMs;
    let pods: string[] = [];
    for (let delay = 200; ; delay = Math.min(delay * 2, 2000)) {
      const running = (p: PodStatusLike) => p.status?.phase === 'Running' && !!p.status.containerStatuses?.find((c) => c.name === t.container)?.state?.running;
      if (restoredByName.has(`${t.namespace}/${t.pod}`)) {
        const p = await kube.get<PodStatusLike>({ apiVersion: 'v1', kind: 'Pod', namespace: ns, name: t.pod });
        pods = p && running(p) ? [t.pod] : [];
      } else if (t.selector) {
        // a controller's pod: the new ones with the same app/version labels
        pods = ((await listAll(kube, 'v1', 'Pod', { namespace: ns, labelSelector: t.selector })) as PodStatusLike[]).filter(running).map((p) => p.metadata.name);
      }
      if (pods.length || Date.now() > deadline) break;
      await sleep(delay);
    }
    if (!pods.length) {
      for (const command of t.restorePost) out.push({ owner: `${ns}/${t.pod}`, container: t.container, phase: 'restorePost', command, result: 'failed', reason: 'POD_NOT_RUNNING', message: `no running pod for ${t.namespace}/${t.pod} in ${Math.round(waitMs / 1000)} s` });
      warnings.push(`${ns}/${t.pod}/${t.container}: restore post hook not run (POD_NOT_RUNNING)`);
      continue;
    }
    out.push(...(await runHooks(exec, pods.map((pod) => ({ ...t, namespace: ns, pod })), 'restorePost', warnings)));
  }
  return out;
}
