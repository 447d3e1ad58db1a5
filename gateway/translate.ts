/**
 * A ServiceDefinition translated for each orchestrator: a Swarm ServiceSpec (Docker Engine API
 * v1.41), a Marathon v2 app, a Kubernetes Deployment + Service. Pure; byte-identical per input.
 */
import type { ServiceDefinition } from './types.js';

export const GATEWAY_LABEL = 'mixmesh.io/gateway-cluster';
export const SERVICE_LABEL = 'mixmesh.io/gateway-service';
export const TEMPLATE_LABEL = 'mixmesh.io/gateway-template';

const sortedEnv = (env: Record<string, string>): [string, string][] => Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

function labels(def: ServiceDefinition): Record<string, string> {
  return { [GATEWAY_LABEL]: def.cluster, [SERVICE_LABEL]: def.name, [TEMPLATE_LABEL]: def.template };
}

/**
 * Swarm: POST /services/create body. Ports are not published on the hosts (no ingress routing).
 * `Init`: the engine's init (tini) is PID 1 and passes SIGTERM on, so a command that sets no handler
 * of its own (busybox httpd, a shell loop) stops at once on scale-down, update and delete, instead
 * of being killed after the 10 s grace period (a PID 1 ignores signals it does not handle).
 */
export function toSwarmService(def: ServiceDefinition): Record<string, unknown> {
  return {
    Name: def.name,
    Labels: labels(def),
    TaskTemplate: {
      ContainerSpec: {
        Image: def.image,
        ...(def.command ? { Command: def.command } : {}),
        Init: true,
        Env: sortedEnv(def.env).map(([k, v]) => `${k}=${v}`),
        Labels: labels(def),
        ...(def.volumes.length ? { Mounts: def.volumes.map((v) => ({ Type: 'volume', Source: `${def.name}-${v.name}`, Target: v.path })) } : {}),
        ...(def.healthCheck ? { HealthCheck: swarmHealth(def.healthCheck) } : {}),
      },
      Resources: { Limits: { NanoCPUs: Math.round(def.resources.cpus * 1e9), MemoryBytes: def.resources.memoryMiB * 1024 * 1024 } },
      RestartPolicy: { Condition: 'any', Delay: 1_000_000_000, MaxAttempts: 0 },
    },
    Mode: { Replicated: { Replicas: def.replicas } },
    EndpointSpec: { Mode: 'vip' },
  };
}

function swarmHealth(h: NonNullable<ServiceDefinition['healthCheck']>): Record<string, unknown> {
  const test = h.type === 'http' ? ['CMD-SHELL', `wget -q -O /dev/null http://127.0.0.1:${h.port}${h.path ?? '/'} || exit 1`] : ['CMD-SHELL', `nc -z 127.0.0.1 ${h.port} || exit 1`];
  return { Test: test, Interval: 5_000_000_000, Timeout: 3_000_000_000, Retries: 3, StartPeriod: 2_000_000_000 };
}

/** Marathon v2: POST /v2/apps body (a Docker container app) */
export function toMarathonApp(def: ServiceDefinition): Record<string, unknown> {
  return {
    id: `/${def.name}`,
    ...(def.command ? { cmd: def.command.map(shellWord).join(' ') } : {}),
    cpus: def.resources.cpus,
    mem: def.resources.memoryMiB,
    instances: def.replicas,
    env: Object.fromEntries(sortedEnv(def.env)),
    labels: labels(def),
    container: {
      type: 'DOCKER',
      docker: { image: def.image, network: 'HOST' },
      volumes: def.volumes.map((v) => ({ containerPath: v.path, hostPath: `/var/lib/mixmesh/${def.name}/${v.name}`, mode: 'RW' })),
    },
    portDefinitions: def.ports.map((p) => ({ port: p, protocol: 'tcp', name: `p${p}` })),
    requirePorts: false,
    healthChecks: def.healthCheck
      ? [def.healthCheck.type === 'http'
        ? { protocol: 'MESOS_HTTP', path: def.healthCheck.path ?? '/', port: def.healthCheck.port, gracePeriodSeconds: 30, intervalSeconds: 10, maxConsecutiveFailures: 3 }
        : { protocol: 'MESOS_TCP', port: def.healthCheck.port, gracePeriodSeconds: 30, intervalSeconds: 10, maxConsecutiveFailures: 3 }]
      : [],
  };
}

function shellWord(w: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'"'"'`)}'`;
}

/** Kubernetes: a Deployment and a ClusterIP Service in `namespace` */
export function toKubernetes(def: ServiceDefinition, namespace: string): Record<string, unknown>[] {
  const selector = { [SERVICE_LABEL]: def.name };
  const probe = def.healthCheck
    ? def.healthCheck.type === 'http' ? { httpGet: { path: def.healthCheck.path ?? '/', port: def.healthCheck.port } } : { tcpSocket: { port: def.healthCheck.port } }
    : undefined;
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: def.name, namespace, labels: { ...labels(def), 'app.kubernetes.io/managed-by': 'mixmesh-gateway' } },
    spec: {
      replicas: def.replicas,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: { ...labels(def) } },
        spec: {
          containers: [{
            name: def.name,
            image: def.image,
            ...(def.command ? { command: def.command } : {}),
            env: sortedEnv(def.env).map(([name, value]) => ({ name, value })),
            ports: def.ports.map((p) => ({ containerPort: p, name: `p${p}` })),
            resources: { limits: { cpu: `${Math.round(def.resources.cpus * 1000)}m`, memory: `${def.resources.memoryMiB}Mi` } },
            ...(probe ? { readinessProbe: probe } : {}),
            ...(def.volumes.length ? { volumeMounts: def.volumes.map((v) => ({ name: v.name, mountPath: v.path })) } : {}),
          }],
          ...(def.volumes.length ? { volumes: def.volumes.map((v) => ({ name: v.name, emptyDir: {} })) } : {}),
        },
      },
    },
  };
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: def.name, namespace, labels: { ...labels(def), 'app.kubernetes.io/managed-by': 'mixmesh-gateway' } },
    spec: { selector, ports: def.ports.map((p) => ({ name: `p${p}`, port: p, targetPort: p, protocol: 'TCP' })) },
  };
  return [deployment, service];
}
