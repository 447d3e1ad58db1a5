/**
 * Target clouds of migrations, from the file named by MIXMESH_MIGRATE_TARGETS (read once by
 * orchestrator/config.ts). Each names its cluster (kubeconfig), its OpenStack (a clouds.yaml cloud),
 * the worker image VNF package and flavour, its control-plane node's SSH access, and the store as
 * the target reaches it. Paths are relative to the file; secrets stay in the files they name.
 *
 * ```yaml
 * targets:
 *   - name: cloud-2
 *     kubeconfig: cloud-2/kubeconfig
 *     openstack: {cloudsYaml: cloud-2/clouds.yaml, cloud: sandbox}
 *     worker: {vnfdId: 6a4b5a1e-0000-4000-8000-000000000003, flavourId: simple, user: root, privateKeyFile: cloud-2/ssh/id_ed25519}
 *     controlPlane: {host: 127.0.10.130, user: root, privateKeyFile: cloud-2/ssh/id_ed25519, knownHostsFile: cloud-2/known_hosts}
 *     store: {url: s3://backups/prod, endpoint: http://127.0.0.1:8080, accessKeyId: test:tester, secretAccessKeyFile: cloud-2/s3-secret}   # optional
 *     vms: {privateKeyFile: cloud-2/ssh/vm_ed25519}       # optional: the key the target's VM images authorize (default the worker's)
 *     systemNamespace: mixmesh-system                     # optional: where the target's orchestrator runs
 * ```
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { MixmeshError, type ProblemItem } from '../common/errors.js';
import { KubeClient, KubeletClient, PodExecClient, loadKubeConfig } from '../clients/kube/index.js';
import { createOpenStackClient, loadOpenStackConfig } from '../clients/openstack/index.js';
import { KubeletCheckpointer, openStore, parseKnownHosts, type ObjectStore, type S3StoreOptions } from '../backup/index.js';
import type { Logger } from '../common/logger.js';
import type { Target } from './engine.js';

export interface TargetConfig {
  name: string;
  kubeconfig: string;
  openstack: { cloudsYaml: string; cloud: string };
  worker: { vnfdId: string; flavourId: string; instantiationLevelId?: string; user: string; privateKeyFile: string };
  controlPlane: { host: string; port?: number; user: string; privateKeyFile: string; knownHostsFile: string };
  store?: { url?: string; endpoint?: string; region?: string; accessKeyId?: string; secretAccessKeyFile?: string };
  /** the key the target's VM images authorize (a restored VM credentials Secret gets it); default the worker's */
  vms?: { privateKeyFile: string };
  /** the target orchestrator's system namespace (default mixmesh-system) */
  systemNamespace?: string;
}

const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Parse and check a targets file; every problem at once, with where it is. */
export function parseTargets(text: string, file: string): TargetConfig[] {
  const problems: ProblemItem[] = [];
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 10 });
  } catch (e) {
    throw new MixmeshError('CONFIG_INVALID', `${file}: not YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
  const list = (doc as { targets?: unknown } | null)?.targets;
  if (!Array.isArray(list)) throw new MixmeshError('CONFIG_INVALID', `${file}: expected "targets:" with a list of target clouds`);
  const base = dirname(resolve(file));
  const out: TargetConfig[] = [];
  const str = (o: Record<string, unknown> | undefined, key: string, ptr: string, required = true): string | undefined => {
    const v = o?.[key];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string' || !v) {
      problems.push({ pointer: `${ptr}/${key}`, message: 'a non-empty string is required' });
      return undefined;
    }
    return v;
  };
  const path = (o: Record<string, unknown> | undefined, key: string, ptr: string, required = true): string | undefined => {
    const v = str(o, key, ptr, required);
    if (v === undefined) return undefined;
    const p = resolve(base, v);
    if (!existsSync(p)) problems.push({ pointer: `${ptr}/${key}`, message: `${p} does not exist` });
    return p;
  };
  const names = new Set<string>();
  for (const [i, raw] of list.entries()) {
    const ptr = `/targets/${i}`;
    const t = raw as Record<string, unknown>;
    const obj = (k: string) => (t?.[k] && typeof t[k] === 'object' ? (t[k] as Record<string, unknown>) : (problems.push({ pointer: `${ptr}/${k}`, message: 'an object is required' }), undefined));
    const name = str(t, 'name', ptr);
    if (name && !NAME.test(name)) problems.push({ pointer: `${ptr}/name`, message: `"${name}": a DNS label (lower-case letters, digits, '-')` });
    if (name && names.has(name)) problems.push({ pointer: `${ptr}/name`, message: `"${name}" is named twice` });
    if (name) names.add(name);
    const os = obj('openstack');
    const w = obj('worker');
    const cp = obj('controlPlane');
    const st = t?.store as Record<string, unknown> | undefined;
    const port = cp?.port;
    if (port !== undefined && (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535)) problems.push({ pointer: `${ptr}/controlPlane/port`, message: 'a port 1–65535' });
    const cfg = {
      name: name ?? '',
      kubeconfig: path(t, 'kubeconfig', ptr) ?? '',
      openstack: { cloudsYaml: path(os, 'cloudsYaml', `${ptr}/openstack`) ?? '', cloud: str(os, 'cloud', `${ptr}/openstack`) ?? '' },
      worker: { vnfdId: str(w, 'vnfdId', `${ptr}/worker`) ?? '', flavourId: str(w, 'flavourId', `${ptr}/worker`) ?? '', user: str(w, 'user', `${ptr}/worker`, false) ?? 'root', privateKeyFile: path(w, 'privateKeyFile', `${ptr}/worker`) ?? '' },
      controlPlane: { host: str(cp, 'host', `${ptr}/controlPlane`) ?? '', user: str(cp, 'user', `${ptr}/controlPlane`, false) ?? 'root', privateKeyFile: path(cp, 'privateKeyFile', `${ptr}/controlPlane`) ?? '', knownHostsFile: path(cp, 'knownHostsFile', `${ptr}/controlPlane`) ?? '' },
    } as TargetConfig;
    const level = str(w, 'instantiationLevelId', `${ptr}/worker`, false);
    if (level) cfg.worker.instantiationLevelId = level;
    if (typeof port === 'number') cfg.controlPlane.port = port;
    const vms = t?.vms as Record<string, unknown> | undefined;
    if (vms !== undefined) {
      const key = path(vms && typeof vms === 'object' ? vms : undefined, 'privateKeyFile', `${ptr}/vms`);
      if (key) cfg.vms = { privateKeyFile: key };
    }
    const sysNs = str(t, 'systemNamespace', ptr, false);
    if (sysNs && !NAME.test(sysNs)) problems.push({ pointer: `${ptr}/systemNamespace`, message: `"${sysNs}": a DNS label` });
    else if (sysNs) cfg.systemNamespace = sysNs;
    if (st) {
      const url = str(st, 'url', `${ptr}/store`, false);
      if (url && !/^file:\/\/\//.test(url) && !/^s3:\/\/[^/]{3,}/.test(url)) problems.push({ pointer: `${ptr}/store/url`, message: `"${url}": file:///absolute/dir or s3://bucket[/prefix]` });
      const endpoint = str(st, 'endpoint', `${ptr}/store`, false);
      const region = str(st, 'region', `${ptr}/store`, false);
      const accessKeyId = str(st, 'accessKeyId', `${ptr}/store`, false);
      const secretAccessKeyFile = path(st, 'secretAccessKeyFile', `${ptr}/store`, false);
      cfg.store = { ...(url ? { url } : {}), ...(endpoint ? { endpoint } : {}), ...(region ? { region } : {}), ...(accessKeyId ? { accessKeyId } : {}), ...(secretAccessKeyFile ? { secretAccessKeyFile } : {}) };
    }
    out.push(cfg);
  }
  if (problems.length) throw new MixmeshError('CONFIG_INVALID', `${file}: ${problems.map((p) => `${p.pointer}: ${p.message}`).join('; ')}`, { errors: problems });
  return out;
}

export function loadTargetsFile(file: string): TargetConfig[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new MixmeshError('CONFIG_INVALID', `MIXMESH_MIGRATE_TARGETS ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return parseTargets(text, file);
}

/** Clients for one target (opened when a migration needs it; close() releases them). */
export function openTarget(cfg: TargetConfig, defaults: { store: string; s3: S3StoreOptions }, log?: Logger): Target & { close(): void } {
  const kc = loadKubeConfig(cfg.kubeconfig);
  const kube = new KubeClient(kc, log?.child({ target: cfg.name, part: 'kube' }));
  const osConfig = loadOpenStackConfig({ OS_CLOUD: cfg.openstack.cloud, OS_CLIENT_CONFIG_FILE: cfg.openstack.cloudsYaml });
  if (!osConfig) throw new MixmeshError('MIGRATE_TARGET_UNKNOWN', `target ${cfg.name}: no OpenStack cloud ${cfg.openstack.cloud} in ${cfg.openstack.cloudsYaml}`);
  const os = createOpenStackClient(osConfig, log ? { logger: log.child({ target: cfg.name, part: 'openstack' }) } : {});
  const url = cfg.store?.url ?? defaults.store;
  const s3: S3StoreOptions = { ...defaults.s3, ...(cfg.store?.endpoint ? { endpoint: cfg.store.endpoint } : {}), ...(cfg.store?.region ? { region: cfg.store.region } : {}), ...(cfg.store?.accessKeyId && cfg.store.secretAccessKeyFile ? { accessKeyId: cfg.store.accessKeyId, secretAccessKey: readFileSync(cfg.store.secretAccessKeyFile, 'utf8').trim() } : {}) };
  const store: ObjectStore = openStore({ url, s3 });
  const known = parseKnownHosts(readFileSync(cfg.controlPlane.knownHostsFile, 'utf8'));
  const hostKeys = known.get(cfg.controlPlane.host) ?? [];
  if (!hostKeys.length) throw new MixmeshError('MIGRATE_TARGET_UNKNOWN', `target ${cfg.name}: the control plane ${cfg.controlPlane.host} has no entry in ${cfg.controlPlane.knownHostsFile} (host keys are always checked)`);
  return {
    name: cfg.name,
    kube,
    tacker: os.tacker,
    nova: os.nova,
    worker: { vnfdId: cfg.worker.vnfdId, flavourId: cfg.worker.flavourId, ...(cfg.worker.instantiationLevelId ? { instantiationLevelId: cfg.worker.instantiationLevelId } : {}), user: cfg.worker.user, privateKey: readFileSync(cfg.worker.privateKeyFile, 'utf8') },
    controlPlane: { host: cfg.controlPlane.host, ...(cfg.controlPlane.port ? { port: cfg.controlPlane.port } : {}), user: cfg.controlPlane.user, privateKey: readFileSync(cfg.controlPlane.privateKeyFile, 'utf8'), hostKeys },
    store,
    // the target's kubelets (its kubeconfig's CA and credentials): a container's checkpoint is restored where the new node's runtime can
    checkpointer: new KubeletCheckpointer(kube, new KubeletClient(kc)),
    podExec: new PodExecClient(kc),
    ...(cfg.vms ? { vmPrivateKey: readFileSync(cfg.vms.privateKeyFile, 'utf8') } : {}),
    ...(cfg.systemNamespace ? { systemNamespace: cfg.systemNamespace } : {}),
    close() {
      kube.close();
      store.close();
    },
  };
}
