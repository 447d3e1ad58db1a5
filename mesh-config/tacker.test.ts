import { strict as assert } from 'node:assert';
import { isMixmeshError } from '../common/errors.js';
import { specExample } from './fixtures/spec-example.js';
import { planTackerRequests, withFixedIp } from './tacker.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- deep paths into free-form Tacker structures
type Any = any;
const link = (cps: unknown[]) => [{ id: 'net', resourceId: 'r', extCps: cps }];
const cp = (config: unknown) => ({ cpdId: 'CP1', cpConfig: config });
const ipData = (addresses: unknown[]) => ({ cpProtocolData: [{ layerProtocol: 'IP_OVER_ETHERNET', ipOverEthernet: { ipAddresses: addresses } }] });

describe('mesh-config/tacker', () => {
  it('one plan per VM instance, named <ns>.<service>.<name>.<version>.<i>, with mixmesh metadata', () => {
    const svc = specExample();
    svc.spec.microservices[3]!.vm!.instances = 2;
    const plans = planTackerRequests(svc);
    assert.deepEqual(plans.map((p) => p.vnfInstanceName), ['cafe.iot-cafe.inventory-db.v1.0', 'cafe.iot-cafe.inventory-db.v1.1', 'cafe.iot-cafe.order-api.v1.0']);
    assert.deepEqual(plans[1]!.create.metadata, { 'mixmesh.io/namespace': 'cafe', 'mixmesh.io/service': 'iot-cafe', 'mixmesh.io/name': 'inventory-db', 'mixmesh.io/version': 'v1', 'mixmesh.io/index': 1 });
    assert.equal(plans[0]!.instantiate.vimConnectionInfo, undefined, 'no vimId: Tacker default VIM');
    assert.equal(plans[0]!.instantiate.additionalParams, undefined);
  });

  it('plug-in injection adds additionalParams.mixmesh and keeps the user params', () => {
    const svc = specExample();
    const vm = svc.spec.microservices[2]!.vm!;
    vm.sidecar.injection = 'plugin';
    vm.additionalParams = { a: 1 };
    const plan = planTackerRequests(svc).find((p) => p.vnfInstanceName === 'cafe.iot-cafe.order-api.v1.0')!;
    assert.deepEqual(plan.instantiate.additionalParams, { a: 1, mixmesh: { namespace: 'cafe', service: 'iot-cafe', name: 'order-api', version: 'v1', index: 0 } });
    assert.deepEqual(vm.additionalParams, { a: 1 }, 'the descriptor is not changed');
  });

  it('fixedIp goes into the single ipAddresses item (v2 map or v1 list cpConfig) without touching the input', () => {
    const v2 = link([cp({ c1: ipData([{ type: 'IPV4' }]) })]);
    const out = withFixedIp(v2, '10.0.0.5');
    assert.deepEqual((out[0] as Any).extCps[0].cpConfig.c1.cpProtocolData[0].ipOverEthernet.ipAddresses[0], { type: 'IPV4', fixedAddresses: ['10.0.0.5'] });
    assert.deepEqual((v2[0] as Any).extCps[0].cpConfig.c1.cpProtocolData[0].ipOverEthernet.ipAddresses[0], { type: 'IPV4' });
    const v1 = withFixedIp(link([cp([ipData([{ type: 'IPV4' }])])]), '10.0.0.6');
    assert.deepEqual((v1[0] as Any).extCps[0].cpConfig[0].cpProtocolData[0].ipOverEthernet.ipAddresses[0].fixedAddresses, ['10.0.0.6']);
    assert.deepEqual(withFixedIp([], '10.0.0.7'), [], 'no links: nowhere to put it (the spec example)');
    assert.throws(() => withFixedIp(link([cp({ a: ipData([{}]) }), cp({ b: ipData([{}]) })]), '10.0.0.8'), (e: unknown) => isMixmeshError(e, 'DESCRIPTOR_INVALID') && /found 2 extCps/.test(e.message));
  });
});
