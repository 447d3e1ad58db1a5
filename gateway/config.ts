/**
 * The gateway's configuration, read once (by `mixmesh serve` from `--gateway-config` /
 * MIXMESH_GATEWAY_CONFIG, a YAML file) and frozen: which infrastructure providers exist and how
 * to reach them. Without a file the gateway still serves the catalog, registration and services.
 *
 * ```yaml
 * namespace: mixmesh-gateway          # where Cluster / ClusterService live (default)
 * sshKeyFile: /etc/mixmesh/gateway-ssh/id_ed25519   # the key the install connects with
 * hostTimeoutSeconds: 300
 * baremetal: {inventory: [{address: 10.0.0.5, user: root, hostKey: "ssh-ed25519 AAAA…"}]}
 * ec2: {endpoint: https://ec2.eu-west-1.amazonaws.com, region: eu-west-1, image: debian-12-docker, instanceType: t3.small,
 *       keyName: mixmesh-gateway, securityGroupIds: [sg-…], username: admin}   # credentials: AWS_* environment
 * openstack: {vnfdId: …, flavourId: simple}   # Keystone/Tacker from the orchestrator's OS_* / clouds.yaml
 * # per provider, optional: the image an orchestrator's hosts boot (openstack: a VNFD id, ec2: an AMI id or
 * # name, baremetal: the `image` an inventory host is marked with); default: vnfdId / image / any host
 * #   images: {kubernetes: {manager: …, worker: …}, swarm: …, marathon: …}
 * ```
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { MixmeshError } from '../common/errors.js';
import type { InventoryHost } from './infra/baremetal.js';
import { ORCHESTRATORS, type OrchestratorKind } from './types.js';

/** the image per orchestrator (and per role): a VNFD id on openstack, an AMI id or name on ec2, an inventory mark on baremetal */
export type ImageChoice = Partial<Record<OrchestratorKind, string | { manager?: string; worker?: string }>>;

/** the image hosts of this orchestrator and role boot, when the configuration names one */
export function pickImage(images: ImageChoice | undefined, orchestrator: OrchestratorKind, role: 'manager' | 'worker'): string | undefined {
  const v = images?.[orchestrator];
  return typeof v === 'string' ? v : v?.[role];
}

function parseImages(raw: unknown, where: string): ImageChoice | undefined {
  if (raw === undefined) return undefined;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail(`${where}.images must be a mapping of orchestrator to image (or to {manager, worker})`);
  const out: ImageChoice = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (!(ORCHESTRATORS as readonly string[]).includes(k)) fail(`${where}.images.${k}: unknown orchestrator (allowed: ${ORCHESTRATORS.join(', ')})`);
    if (isString(v)) { out[k as OrchestratorKind] = v; continue; }
    if (!v || typeof v !== 'object' || Array.isArray(v)) fail(`${where}.images.${k} must be an image or {manager, worker}`);
    const r = v as Record<string, unknown>;
    for (const role of Object.keys(r)) if (role !== 'manager' && role !== 'worker') fail(`${where}.images.${k}.${role}: allowed are manager and worker`);
    for (const role of ['manager', 'worker']) if (r[role] !== undefined && !isString(r[role])) fail(`${where}.images.${k}.${role} must be a non-empty string`);
    out[k as OrchestratorKind] = { ...(isString(r.manager) ? { manager: r.manager } : {}), ...(isString(r.worker) ? { worker: r.worker } : {}) };
  }
  return out;
}

export interface Ec2Settings {
  endpoint?: string;
  region: string;
  /** an AMI id (ami-…) or an image name looked up with DescribeImages */
  image: string;
  instanceType: string;
  keyName: string;
  securityGroupIds?: string[];
  subnetId?: string;
  username: string;
  images?: ImageChoice;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface GatewayConfig {
  namespace: string;
  privateKey?: string;
  publicKey?: string;
  hostTimeoutSeconds: number;
  baremetal?: { inventory: InventoryHost[]; images?: ImageChoice };
  ec2?: Ec2Settings;
  openstack?: { vnfdId: string; flavourId: string; vimId?: string; images?: ImageChoice };
}

function fail(what: string): never {
  throw new MixmeshError('CONFIG_INVALID', `gateway configuration: ${what}`);
}

const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** parse and check a configuration object (a YAML file's content) */
export function parseGatewayConfig(raw: unknown, env: Record<string, string | undefined> = {}, readFile: (p: string) => string = (p) => readFileSync(p, 'utf8')): GatewayConfig {
  const o = (raw ?? {}) as Record<string, unknown>;
  if (typeof o !== 'object' || Array.isArray(o)) fail('must be a mapping');
  const known = ['namespace', 'sshKeyFile', 'hostTimeoutSeconds', 'baremetal', 'ec2', 'openstack'];
  for (const k of Object.keys(o)) if (!known.includes(k)) fail(`unknown key "${k}" (allowed: ${known.join(', ')})`);
  const cfg: GatewayConfig = { namespace: isString(o.namespace) ? o.namespace : 'mixmesh-gateway', hostTimeoutSeconds: 300 };
  if (o.hostTimeoutSeconds !== undefined) {
    if (!Number.isInteger(o.hostTimeoutSeconds) || (o.hostTimeoutSeconds as number) < 1) fail('hostTimeoutSeconds must be a positive integer');
    cfg.hostTimeoutSeconds = o.hostTimeoutSeconds as number;
  }
  if (o.sshKeyFile !== undefined) {
    if (!isString(o.sshKeyFile)) fail('sshKeyFile must be a path');
    try {
      cfg.privateKey = readFile(o.sshKeyFile);
    } catch (e) {
      fail(`sshKeyFile ${o.sshKeyFile}: ${(e as Error).message}`);
    }
    try {
      cfg.publicKey = readFile(`${o.sshKeyFile}.pub`).trim();
    } catch {
      // only EC2's ImportKeyPair needs it
    }
  }
  const needKey = (provider: string): void => { if (!cfg.privateKey) fail(`${provider} needs sshKeyFile (the key the install connects with)`); };
  if (o.baremetal !== undefined) {
    const inv = (o.baremetal as { inventory?: unknown }).inventory;
    if (!Array.isArray(inv) || inv.length === 0) fail('baremetal.inventory must be a non-empty list of {address, user, hostKey}');
    cfg.baremetal = {
      inventory: inv.map((h: Record<string, unknown>, i) => {
        if (!isString(h.address) || !isString(h.user) || !isString(h.hostKey)) fail(`baremetal.inventory[${i}] needs address, user and hostKey`);
        if (h.image !== undefined && !isString(h.image)) fail(`baremetal.inventory[${i}].image must be a non-empty string`);
        return { address: h.address, user: h.user, hostKey: h.hostKey, ...(Number.isInteger(h.port) ? { port: h.port as number } : {}), ...(isString(h.image) ? { image: h.image } : {}) };
      }),
    };
    const images = parseImages((o.baremetal as { images?: unknown }).images, 'baremetal');
    if (images) cfg.baremetal.images = images;
    needKey('baremetal');
  }
  if (o.ec2 !== undefined) {
    const e = o.ec2 as Record<string, unknown>;
    for (const k of ['region', 'image', 'instanceType', 'keyName']) if (!isString(e[k])) fail(`ec2.${k} is required`);
    const accessKeyId = env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
    cfg.ec2 = {
      region: e.region as string, image: e.image as string, instanceType: e.instanceType as string, keyName: e.keyName as string,
      username: isString(e.username) ? e.username : 'root',
      ...(isString(e.endpoint) ? { endpoint: e.endpoint } : {}),
      ...(Array.isArray(e.securityGroupIds) ? { securityGroupIds: e.securityGroupIds.map(String) } : {}),
      ...(isString(e.subnetId) ? { subnetId: e.subnetId } : {}),
      ...(e.images !== undefined ? { images: parseImages(e.images, 'ec2')! } : {}),
      ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey } } : {}),
    };
    needKey('ec2');
  }
  if (o.openstack !== undefined) {
    const s = o.openstack as Record<string, unknown>;
    if (!isString(s.vnfdId)) fail('openstack.vnfdId is required (the VNF package whose image has the engines)');
    cfg.openstack = {
      vnfdId: s.vnfdId, flavourId: isString(s.flavourId) ? s.flavourId : 'simple', ...(isString(s.vimId) ? { vimId: s.vimId } : {}),
      ...(s.images !== undefined ? { images: parseImages(s.images, 'openstack')! } : {}),
    };
    needKey('openstack');
  }
  return Object.freeze(cfg);
}

export function loadGatewayConfig(path: string | undefined, env: Record<string, string | undefined>): GatewayConfig {
  if (!path) return parseGatewayConfig({}, env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    fail(`${path}: ${(e as Error).message}`);
  }
  return parseGatewayConfig(parseYaml(text), env);
}
