import { strict as assert } from 'node:assert';
import { createMetrics, refreshServiceMetrics } from './metrics.js';

describe('orchestrator metrics: per-service gauges', () => {
  it('phase, workloads, VMs and sidecars ready and the earliest token expiry come from the status; gone services disappear', async () => {
    const m = createMetrics();
    const vm = (i: number, sidecar: string, expires?: string) => ({ index: i, vnfInstanceName: `x.${i}`, serverId: `s${i}`, address: `127.0.10.${i + 1}`, sidecar, ...(expires ? { tokenExpiresAt: expires } : {}) });
    refreshServiceMetrics(m.services, [{
      metadata: { namespace: 'cafe', name: 'iot-cafe' },
      status: {
        phase: 'Degraded',
        microservices: [
          { name: 'web', version: 'v1', runtime: 'container', ready: 2, desired: 2 },
          { name: 'db', version: 'v1', runtime: 'vm', ready: 1, desired: 3, instances: [vm(0, 'Succeeded', '2026-12-06T10:00:00Z'), vm(1, 'Installing'), { index: 2, vnfInstanceName: 'x.2' }] },
          { name: 'api', version: 'v1', runtime: 'vm', ready: 1, desired: 1, instances: [vm(3, 'Succeeded', '2026-12-06T09:00:00Z')] },
        ],
      },
    }]);
    const text = await m.registry.metrics();
    const labels = 'namespace="cafe",service="iot-cafe"';
    assert.match(text, new RegExp(`^mixmesh_service_phase\\{${labels},phase="Degraded"\\} 1$`, 'm'));
    assert.match(text, new RegExp(`^mixmesh_service_phase\\{${labels},phase="Ready"\\} 0$`, 'm'));
    assert.match(text, new RegExp(`^mixmesh_service_workloads_ready\\{${labels}\\} 4$`, 'm'));
    assert.match(text, new RegExp(`^mixmesh_service_workloads_desired\\{${labels}\\} 6$`, 'm'));
    assert.match(text, new RegExp(`^mixmesh_service_vms_desired\\{${labels}\\} 4$`, 'm'));
    assert.match(text, new RegExp(`^mixmesh_service_vms_ready\\{${labels}\\} 3$`, 'm'));
    assert.match(text, new RegExp(`^mixmesh_service_sidecars_ready\\{${labels}\\} 2$`, 'm'));
    assert.match(text, new RegExp(`^mixmesh_service_token_expiry_timestamp_seconds\\{${labels}\\} ${Date.parse('2026-12-06T09:00:00Z') / 1000}$`, 'm'));
    refreshServiceMetrics(m.services, []);
    assert.ok(!(await m.registry.metrics()).includes('iot-cafe'), 'a deleted service leaves no series behind');
  });
});
