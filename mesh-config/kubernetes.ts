/**
 * Kubernetes kinds of the render contract (docs/descriptor.md, "What a descriptor becomes"):
 * Namespace, ServiceAccount, Service, Deployment. Pure: plain objects in, plain objects out.
 */
import { ANNOTATION_CREATED_BY, workloadLabels } from '../common/labels.js';
import type { ContainerSpec, Microservice, ProbePort, ReadinessProbe } from '../descriptor/types.js';
import { byString, meta, sortPorts, type MicroserviceGroup, type RenderContext, type RenderedObject } from './model.js';

/**
 * Created (never applied over an existing one) with injection on and who created it. With a
 * revision in the mesh values, `istio.io/rev` selects that revision's injector instead
 * (`istio-injection` would win over it and pick the default revision).
 */
export function renderNamespace(ctx: RenderContext): RenderedObject {
  const rev = ctx.values.revision;
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: ctx.namespace,
      labels: { ...ctx.labels, ...(rev === '' ? { 'istio-injection': 'enabled' } : { 'istio.io/rev': rev }) },
      annotations: { [ANNOTATION_CREATED_BY]: ctx.serviceName },
    },
  };
}

/** One ServiceAccount per distinct `serviceAccount` value, sorted by name. */
export function renderServiceAccounts(ctx: RenderContext): RenderedObject[] {
  const names = new Set<string>();
  for (const g of ctx.groups) for (const v of g.versions) names.add(v.serviceAccount);
  return [...names].sort().map((name) => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(ctx, name) }));
}

const APP_PROTOCOL: Record<string, string> = { HTTP: 'http', HTTP2: 'http2', GRPC: 'grpc', TCP: 'tcp', TLS: 'tls' };

/** The Service spans every version: selector without `version`, targetPort by name. */
export function renderService(ctx: RenderContext, group: MicroserviceGroup): RenderedObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(ctx, group.name),
    spec: {
      selector: workloadLabels(ctx.serviceName, group.name),
      ports: group.ports.map((p) => ({
        name: p.name,
        port: p.port,
        // by name, so each version keeps its own container port number
        targetPort: p.name,
        protocol: 'TCP',
        appProtocol: APP_PROTOCOL[p.protocol],
      })),
    },
  };
}

/** Hardened defaults; a user `securityContext` replaces all of them (pod level too). */
const HARDENED_CONTAINER = {
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  privileged: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};
const HARDENED_POD = { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } };

function probePort(port: ProbePort): string | number {
  // a name is the container port's name, a number is a targetPort number: both as given
  return port;
}

export function deploymentProbe(probe: ReadinessProbe): Record<string, unknown> {
  if ('httpGet' in probe) return { httpGet: { path: probe.httpGet.path, port: probePort(probe.httpGet.port) } };
  return { tcpSocket: { port: probePort(probe.tcpSocket.port) } };
}

/**
 * The pod's volumes and the container's mounts: the hardened writable /tmp (unless a volume of the
 * descriptor is mounted there), then the descriptor's volumes in their order. A mount is writable
 * unless `readOnly`, also on the hardened read-only root filesystem.
 */
function renderVolumes(c: ContainerSpec, hardened: boolean): { volumes?: Record<string, unknown>[]; mounts?: Record<string, unknown>[] } {
  const own = c.volumes ?? [];
  const tmp = hardened && !own.some((v) => v.mountPath.replace(/\/+$/, '') === '/tmp');
  const volumes: Record<string, unknown>[] = tmp ? [{ name: 'tmp', emptyDir: {} }] : [];
  const mounts: Record<string, unknown>[] = tmp ? [{ name: 'tmp', mountPath: '/tmp' }] : [];
  for (const v of own) {
    const source = v.hostPath
      ? { hostPath: v.hostPath.type === undefined ? { path: v.hostPath.path } : { path: v.hostPath.path, type: v.hostPath.type } }
      : v.persistentVolumeClaim
        ? { persistentVolumeClaim: { claimName: v.persistentVolumeClaim.claimName } }
        : { emptyDir: {} };
    volumes.push({ name: v.name, ...source });
    mounts.push({ name: v.name, mountPath: v.mountPath, ...(v.readOnly === true ? { readOnly: true } : {}) });
  }
  return volumes.length === 0 ? {} : { volumes, mounts };
}

/** `Deployment <name>-<version>` for a container version. */
export function renderDeployment(ctx: RenderContext, ms: Microservice): RenderedObject {
  const c = ms.container;
  if (!c) throw new TypeError(`renderDeployment: ${ms.name} ${ms.version} is not a container version`);
  const labels = workloadLabels(ctx.serviceName, ms.name, ms.version);
  const hardened = c.securityContext === undefined;
  const volumes = renderVolumes(c, hardened);
  const container: Record<string, unknown> = {
    name: ms.name,
    image: c.image,
    command: c.command,
    args: c.args,
    env: c.env ? [...c.env].sort(byString((e) => e.name)) : undefined,
    ports: sortPorts(ms.ports).map((p) => ({ name: p.name, containerPort: p.targetPort, protocol: 'TCP' })),
    resources: c.resources,
    readinessProbe: ms.readinessProbe ? deploymentProbe(ms.readinessProbe) : undefined,
    securityContext: hardened ? HARDENED_CONTAINER : c.securityContext,
    // a read-only root file system still needs a writable /tmp for most programs
    volumeMounts: volumes.mounts,
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(ctx, `${ms.name}-${ms.version}`),
    spec: {
      replicas: c.replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: {
          // The injection webhook's object selector reads pod *labels* (an annotation would not
          // trigger it in a namespace that lacks istio-injection=enabled, which we never modify).
          labels: { ...labels, 'sidecar.istio.io/inject': 'true', ...(ctx.values.revision === '' ? {} : { 'istio.io/rev': ctx.values.revision }) },
        },
        spec: {
          serviceAccountName: ms.serviceAccount,
          securityContext: hardened ? HARDENED_POD : undefined,
          nodeSelector: c.nodeSelector && Object.keys(c.nodeSelector).length > 0 ? { ...c.nodeSelector } : undefined,
          containers: [container],
          volumes: volumes.volumes,
        },
      },
    },
  };
}
