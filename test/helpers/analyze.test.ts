import { strict as assert } from 'node:assert';
import { analyze } from './analyze.js';
import { renderAll } from '../../mesh-config/index.js';
import { specExample } from '../../mesh-config/fixtures/spec-example.js';

const labels = {};
const svc = (name: string, ports: Array<Record<string, unknown>>) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'n', labels }, spec: { ports } });
const dr = (name: string, subsets: string[]) => ({
  apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace: 'n', labels },
  spec: { host: `${name}.n.svc.cluster.local`, subsets: subsets.map((s) => ({ name: s, labels: { version: s } })) },
});
const vs = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: 'n', labels }, spec });
const dest = (host: string, extra: Record<string, unknown> = {}) => ({ destination: { host: `${host}.n.svc.cluster.local`, ...extra } });
const HTTP = { name: 'http', port: 80, appProtocol: 'http' };

function codes(objects: unknown[]): string[] {
  return analyze(objects).map((m) => m.code).sort();
}

describe('test/helpers/analyze (istioctl analyze checks)', () => {
  it('finds nothing in the rendered spec example', () => {
    assert.deepEqual(analyze(renderAll(specExample())), []);
  });

  it('a good hand-written config is clean', () => {
    assert.deepEqual(codes([svc('a', [HTTP]), dr('a', ['v1']), vs('a', { hosts: ['a.n.svc.cluster.local'], http: [{ route: [dest('a', { subset: 'v1', port: { number: 80 } })] }] })]), []);
  });

  it('IST0101: host not found', () => {
    assert.deepEqual(codes([svc('a', [HTTP]), vs('a', { hosts: ['a'], http: [{ route: [dest('b')] }] })]), ['IST0101']);
  });

  it('IST0101: subset not found', () => {
    assert.deepEqual(codes([svc('a', [HTTP]), dr('a', ['v1']), vs('a', { hosts: ['a'], http: [{ route: [dest('a', { subset: 'v2' })] }] })]), ['IST0101']);
  });

  it('IST0101: gateway not found', () => {
    const m = analyze([svc('a', [HTTP]), vs('a', { hosts: ['x.example.com'], gateways: ['gw'], http: [{ route: [dest('a')] }] })]);
    assert.deepEqual(m.map((x) => x.code), ['IST0101']);
    assert.match(m[0]!.message, /gateway not found: "gw"/);
  });

  it('IST0106: schema error', () => {
    assert.deepEqual(codes([svc('a', [HTTP]), vs('a', { hosts: ['a'], http: [{ timeout: '0s', route: [dest('a')] }] })]), ['IST0106']);
  });

  it('IST0109: two mesh VirtualServices for one host', () => {
    const spec = { hosts: ['a.n.svc.cluster.local'], http: [{ route: [dest('a')] }] };
    assert.deepEqual(codes([svc('a', [HTTP]), vs('a', spec), vs('a2', spec)]), ['IST0109', 'IST0109']);
  });

  it('IST0112: destination without port when the service has several', () => {
    assert.deepEqual(codes([svc('a', [HTTP, { name: 'grpc', port: 90, appProtocol: 'grpc' }]), vs('a', { hosts: ['a'], http: [{ route: [dest('a')] }] })]), ['IST0112']);
  });

  it('IST0118: port name and appProtocol give no protocol', () => {
    assert.deepEqual(codes([svc('a', [{ name: 'web', port: 80 }])]), ['IST0118']);
    assert.deepEqual(codes([svc('a', [{ name: 'web', port: 80, appProtocol: 'http' }])]), []);
    assert.deepEqual(codes([svc('a', [{ name: 'http-web', port: 80 }])]), []);
  });

  it('IST0130: a rule after a catch-all, or a repeated match, is unreachable', () => {
    const http = [{ route: [dest('a')] }, { match: [{ uri: { prefix: '/' } }], route: [dest('a')] }];
    assert.deepEqual(codes([svc('a', [HTTP]), vs('a', { hosts: ['a'], http })]), ['IST0130']);
    const twice = [{ match: [{ port: 80 }], route: [dest('a')] }, { match: [{ port: 80 }], route: [dest('a')] }];
    assert.deepEqual(codes([svc('a', [HTTP]), vs('a', { hosts: ['a'], http: twice })]), ['IST0130']);
  });
});
