/**
 * Prometheus metrics of the orchestrator. One registry per orchestrator (not prom-client's global
 * one), so tests and an in-process demo can run several.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MeshServiceStatus } from './ports.js';

export interface OrchestratorMetrics {
  registry: Registry;
  deployDuration: Histogram<'result'>;
  operations: Counter<'result'>;
  tackerLatency: Histogram<'call'>;
  kubeLatency: Histogram<'verb'>;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  services: ServiceGauges;
}

type ServiceLabels = 'namespace' | 'service';

/** per-service gauges, refreshed from the MeshService statuses when /metrics is read */
export interface ServiceGauges {
  phase: Gauge<ServiceLabels | 'phase'>;
  ready: Gauge<ServiceLabels>;
  desired: Gauge<ServiceLabels>;
  vmsDesired: Gauge<ServiceLabels>;
  vmsReady: Gauge<ServiceLabels>;
  sidecarsReady: Gauge<ServiceLabels>;
  tokenExpiry: Gauge<ServiceLabels>;
}

export const PHASES = ['Pending', 'Deploying', 'Ready', 'Degraded', 'Failed', 'Deleting'] as const;

function serviceGauges(registry: Registry): ServiceGauges {
  const g = <L extends string>(name: string, help: string, labelNames: L[]): Gauge<L> => new Gauge({ name, help, labelNames, registers: [registry] });
  const labels: ServiceLabels[] = ['namespace', 'service'];
  return {
    phase: g('mixmesh_service_phase', 'The service\'s phase: 1 for the current one, 0 for the others', [...labels, 'phase']),
    ready: g('mixmesh_service_workloads_ready', 'Ready replicas and VMs over all microservice versions', labels),
    desired: g('mixmesh_service_workloads_desired', 'Desired replicas and VMs over all microservice versions', labels),
    vmsDesired: g('mixmesh_service_vms_desired', 'VMs the descriptor asks for', labels),
    vmsReady: g('mixmesh_service_vms_ready', 'VMs whose VNF instance is instantiated and whose address is known', labels),
    sidecarsReady: g('mixmesh_service_sidecars_ready', 'VMs whose sidecar injection succeeded and is ready', labels),
    tokenExpiry: g('mixmesh_service_token_expiry_timestamp_seconds', 'The earliest expiry (Unix seconds) of the VMs\' Istio tokens; absent without VMs', labels),
  };
}

/** set the per-service gauges from every MeshService's status (services gone since the last read disappear) */
export function refreshServiceMetrics(gauges: ServiceGauges, services: readonly { metadata: { namespace?: string; name?: string }; status?: MeshServiceStatus }[]): void {
  for (const gauge of Object.values(gauges)) (gauge as Gauge<string>).reset();
  for (const s of services) {
    const labels = { namespace: s.metadata.namespace ?? '', service: s.metadata.name ?? '' };
    const st = s.status ?? {};
    for (const phase of PHASES) gauges.phase.set({ ...labels, phase }, (st.phase ?? 'Pending') === phase ? 1 : 0);
    const ms = st.microservices ?? [];
    gauges.ready.set(labels, ms.reduce((n, m) => n + m.ready, 0));
    gauges.desired.set(labels, ms.reduce((n, m) => n + m.desired, 0));
    const vms = ms.filter((m) => m.runtime === 'vm');
    const instances = vms.flatMap((m) => m.instances ?? []);
    gauges.vmsDesired.set(labels, vms.reduce((n, m) => n + m.desired, 0));
    gauges.vmsReady.set(labels, instances.filter((i) => i.serverId && i.address).length);
    gauges.sidecarsReady.set(labels, instances.filter((i) => i.sidecar === 'Succeeded').length);
    const expiries = instances.map((i) => (i.tokenExpiresAt ? Date.parse(i.tokenExpiresAt) : NaN)).filter((t) => Number.isFinite(t));
    if (expiries.length) gauges.tokenExpiry.set(labels, Math.min(...expiries) / 1000);
  }
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): OrchestratorMetrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'mixmesh_' });
  return {
    registry,
    deployDuration: new Histogram({ name: 'mixmesh_deploy_duration_seconds', help: 'Time from the start of a deploy operation to its end', labelNames: ['result'], buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800], registers: [registry] }),
    operations: new Counter({ name: 'mixmesh_operations_total', help: 'Finished operations by result (Succeeded, Failed, RolledBack)', labelNames: ['result'], registers: [registry] }),
    tackerLatency: new Histogram({ name: 'mixmesh_tacker_request_duration_seconds', help: 'Latency of Tacker and Nova calls', labelNames: ['call'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10], registers: [registry] }),
    kubeLatency: new Histogram({ name: 'mixmesh_kubernetes_request_duration_seconds', help: 'Latency of Kubernetes API calls', labelNames: ['verb'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5], registers: [registry] }),
    httpRequests: new Counter({ name: 'mixmesh_http_requests_total', help: 'Orchestrator API requests', labelNames: ['method', 'route', 'status'], registers: [registry] }),
    services: serviceGauges(registry),
  };
}

/** time an async call into a histogram */
export async function timed<T>(histogram: Histogram<string>, labels: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const end = histogram.startTimer(labels);
  try {
    return await fn();
  } finally {
    end();
  }
}
