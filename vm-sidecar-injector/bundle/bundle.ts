/**
 * The VM bootstrap bundle (docs/vm-bootstrap.md, "Files placed on each VM"): cluster.env, mesh.yaml and the
 * hosts line, plus the root cert and token when the injector has read them from the cluster.
 * Pure: the same inputs always give the same bytes. `mixmesh render -o` calls it without cluster
 * facts and gets templates with `${VM_ADDRESS}` / `${EASTWEST_IP}`; the injector calls it with the live
 * WorkloadGroup and the facts it read.
 */
import { MixmeshError } from '../../common/errors.js';
import { toYaml } from '../../common/yaml.js';
import type { MeshValues } from '../../descriptor/index.js';

export const VM_ADDRESS_PLACEHOLDER = '${VM_ADDRESS}';
export const EASTWEST_IP_PLACEHOLDER = '${EASTWEST_IP}';

/** Ports the sidecar itself serves: never captured, so Envoy does not intercept its own agent. */
const SIDECAR_PORTS = [15020, 15021, 15090] as const;

export type WorkloadGroupProbe = {
  httpGet?: { path?: string; port: number; host?: string; scheme?: string };
  tcpSocket?: { port: number; host?: string };
  exec?: { command: string[] };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
};

/** The part of a `networking.istio.io/v1 WorkloadGroup` the bundle reads (structural, so plain objects fit). */
export interface WorkloadGroupLike {
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec: {
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    template: {
      serviceAccount?: string;
      network?: string;
      ports?: Record<string, number>;
      labels?: Record<string, string>;
    };
    probe?: WorkloadGroupProbe;
  };
}

/** What the injector reads from the live cluster (docs/vm-bootstrap.md, "Files placed on each VM"). */
export interface ClusterFacts {
  /** PEM, `data["root-cert.pem"]` of ConfigMap istio-ca-root-cert */
  rootCert: string;
  /** `status.token` of a TokenRequest with audience istio-ca */
  token: string;
  /** the east-west gateway's load-balancer IP (or first external IP) */
  eastWestIP: string;
}

export interface BundleOptions {
  /** the VM's SSH port: excluded from capture so the injector's own session survives. Default 22 */
  sshPort?: number;
  /** true when vmAddress is a floating address: adds REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION */
  floating?: boolean;
}

export interface BundleFiles {
  /** /var/lib/istio/envoy/cluster.env */
  clusterEnv: string;
  /** /etc/istio/config/mesh */
  meshYaml: string;
  /** one line appended once to /etc/hosts */
  hosts: string;
  /** /etc/certs/root-cert.pem (secret; only with cluster facts) */
  rootCert?: string;
  /** /var/run/secrets/tokens/istio-token (secret; only with cluster facts) */
  token?: string;
}

export interface Bundle {
  files: BundleFiles;
}

/** Where each file goes on the VM (docs/vm-bootstrap.md). */
export const BUNDLE_PATHS = Object.freeze({
  clusterEnv: '/var/lib/istio/envoy/cluster.env',
  meshYaml: '/etc/istio/config/mesh',
  rootCert: '/etc/certs/root-cert.pem',
  token: '/var/run/secrets/tokens/istio-token',
  hosts: '/etc/hosts',
});

function bad(where: string, message: string): MixmeshError {
  return new MixmeshError('BAD_REQUEST', `bundle: ${where}: ${message}`);
}

function requireString(value: unknown, where: string): string {
  if (typeof value !== 'string' || value === '') throw bad(where, `must be a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}

function checkPort(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw bad(where, `must be an integer port 1..65535, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** `'value'` with embedded single quotes closed and escaped: cluster.env is sourced by a shell. */
function quoteEnvValue(value: string): string {
  return `'${value.replace(/'/g, `'"'"'`)}'`;
}

function sortedRecord(record: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key]!;
  return out;
}

/** The labels the proxy announces: the WorkloadGroup's spec.metadata.labels plus the canonical pair. */
export function proxyLabels(workloadGroup: WorkloadGroupLike): Record<string, string> {
  const labels = { ...(workloadGroup.spec.metadata?.labels ?? {}) };
  const app = labels.app ?? workloadGroup.spec.template.labels?.app;
  const version = labels.version ?? workloadGroup.spec.template.labels?.version;
  if (app === undefined) throw bad('/spec/metadata/labels/app', 'the WorkloadGroup must label its workloads with app');
  if (version === undefined) throw bad('/spec/metadata/labels/version', 'the WorkloadGroup must label its workloads with version');
  labels.app = app;
  labels.version = version;
  labels['service.istio.io/canonical-name'] ??= app;
  labels['service.istio.io/canonical-revision'] ??= version;
  return sortedRecord(labels);
}

/** `istiod.<ns>.svc` or, for a revision, `istiod-<rev>.<ns>.svc`. */
export function discoveryHost(meshValues: Pick<MeshValues, 'istioNamespace' | 'revision'>): string {
  const istiod = meshValues.revision ? `istiod-${meshValues.revision}` : 'istiod';
  return `${istiod}.${meshValues.istioNamespace}.svc`;
}

/** The cluster.env entries (also mesh.yaml's proxyMetadata), keys sorted. */
export function clusterEnvEntries(
  workloadGroup: WorkloadGroupLike,
  meshValues: MeshValues,
  vmAddress: string,
  options: BundleOptions = {},
): Record<string, string> {
  const namespace = requireString(workloadGroup.metadata.namespace, '/metadata/namespace');
  requireString(workloadGroup.metadata.name, '/metadata/name');
  const template = workloadGroup.spec?.template;
  if (template === undefined || template === null) throw bad('/spec/template', 'is required');
  const serviceAccount = requireString(template.serviceAccount, '/spec/template/serviceAccount');
  const labels = proxyLabels(workloadGroup);
  const sshPort = checkPort(options.sshPort ?? 22, 'options.sshPort');

  const inbound = Object.entries(template.ports ?? {}).map(([name, port]) => checkPort(port, `/spec/template/ports/${name}`));
  const inboundPorts = [...new Set(inbound)].sort((a, b) => a - b);
  const excluded = [...new Set([sshPort, ...SIDECAR_PORTS])].sort((a, b) => a - b);

  const entries: Record<string, string> = {
    CANONICAL_REVISION: labels['service.istio.io/canonical-revision']!,
    CANONICAL_SERVICE: labels['service.istio.io/canonical-name']!,
    ISTIO_INBOUND_PORTS: inboundPorts.length > 0 ? inboundPorts.join(',') : '*',
    ISTIO_LOCAL_EXCLUDE_PORTS: excluded.join(','),
    ISTIO_METAJSON_LABELS: JSON.stringify(labels),
    ISTIO_META_CLUSTER_ID: meshValues.clusterId,
    ISTIO_META_DNS_CAPTURE: 'true',
    ISTIO_META_MESH_ID: meshValues.meshId || meshValues.trustDomain,
    ISTIO_META_NETWORK: template.network ?? '',
    ISTIO_META_WORKLOAD_NAME: workloadGroup.metadata.name,
    ISTIO_NAMESPACE: namespace,
    ISTIO_SERVICE: `${labels.app}.${namespace}`,
    ISTIO_SERVICE_CIDR: '*',
    ISTIO_SVC_IP: vmAddress,
    POD_NAMESPACE: namespace,
    SERVICE_ACCOUNT: serviceAccount,
    TRUST_DOMAIN: meshValues.trustDomain,
  };
  // as `istioctl x workload entry configure --externalIP` does for a floating address
  if (options.floating) entries.REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION = 'true';
  return sortedRecord(entries);
}

/**
 * bundle(workloadGroup, meshValues, vmAddress, clusterFacts?, options?): the files for one VM.
 * Without clusterFacts (render mode) the address and east-west IP are placeholders and there is
 * no token or root cert.
 */
export function bundle(
  workloadGroup: WorkloadGroupLike,
  meshValues: MeshValues,
  vmAddress?: string | null,
  clusterFacts?: ClusterFacts | null,
  options: BundleOptions = {},
): Bundle {
  if (workloadGroup === null || typeof workloadGroup !== 'object' || workloadGroup.metadata === undefined || workloadGroup.spec === undefined) {
    throw bad('workloadGroup', 'must be a WorkloadGroup with metadata and spec');
  }
  const address = vmAddress === undefined || vmAddress === null || vmAddress === '' ? VM_ADDRESS_PLACEHOLDER : vmAddress;
  const entries = clusterEnvEntries(workloadGroup, meshValues, address, options);
  const clusterEnv = Object.entries(entries).map(([k, v]) => `${k}=${quoteEnvValue(v)}\n`).join('');

  const host = discoveryHost(meshValues);
  const defaultConfig: Record<string, unknown> = {
    discoveryAddress: `${host}:15012`,
    proxyMetadata: entries,
  };
  if (workloadGroup.spec.probe !== undefined) defaultConfig.readinessProbe = workloadGroup.spec.probe;
  const meshYaml = toYaml({ defaultConfig });

  let eastWestIP = EASTWEST_IP_PLACEHOLDER;
  if (clusterFacts) {
    eastWestIP = requireString(clusterFacts.eastWestIP, 'clusterFacts.eastWestIP');
    requireString(clusterFacts.rootCert, 'clusterFacts.rootCert');
    requireString(clusterFacts.token, 'clusterFacts.token');
  }
  const files: BundleFiles = { clusterEnv, meshYaml, hosts: `${eastWestIP} ${host}\n` };
  if (clusterFacts) {
    files.rootCert = clusterFacts.rootCert.endsWith('\n') ? clusterFacts.rootCert : `${clusterFacts.rootCert}\n`;
    files.token = clusterFacts.token;
  }
  return { files };
}
