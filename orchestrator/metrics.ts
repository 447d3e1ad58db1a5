/**
 * Prometheus metrics of the orchestrator. One registry per orchestrator (not prom-client's global
 * one), so tests and an in-process demo can run several.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface OrchestratorMetrics {
  registry: Registry;
  deployDuration: Histogram<'result'>;
  operations: Counter<'result'>;
  tackerLatency: Histogram<'call'>;
  kubeLatency: Histogram<'verb'>;
  httpRequests: Counter<'method' | 'route' | 'status'>;
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
