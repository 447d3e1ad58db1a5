/* eslint-disable @typescript-eslint/no-explicit-any -- the cases mutate free-form documents */
/**
 * The table of bad descriptors: every schema rule, every semantic rule (1–12 of descriptor.md),
 * hostile YAML. Each case names the exact set of pointers it must produce and a fragment of each
 * message, so a rule that stops firing, or fires somewhere else, fails here.
 */
import { strict as assert } from 'node:assert';
import { stringify } from 'yaml';
import { fixedIpTarget, parseAndValidate, validateDescriptor } from './index.js';
import type { Problem } from './index.js';

type Doc = Record<string, any>;

const vm = () => ({ vnfdId: '6a4b5a1e-0000-4000-8000-000000000001', flavourId: 'simple', ssh: { user: 'root', credentialsSecret: 'vm-ssh' } });

/** A valid base: a container web, an api with a VM v1 and a container v2 (two ports), a VM db. */
export function base(): Doc {
  return {
    apiVersion: 'mixmesh.io/v1alpha1',
    kind: 'MeshService',
    metadata: { name: 'shop', namespace: 'shop' },
    spec: {
      microservices: [
        { name: 'web', runtime: 'container', ports: [{ name: 'http', port: 8080 }], container: { image: 'web:1' } },
        { name: 'api', version: 'v1', runtime: 'vm', ports: [{ name: 'http', port: 8080 }, { name: 'grpc', port: 9090, protocol: 'GRPC' }], vm: vm() },
        { name: 'api', version: 'v2', runtime: 'container', ports: [{ name: 'http', port: 8080 }, { name: 'grpc', port: 9090, protocol: 'GRPC' }], container: { image: 'api:2' } },
        { name: 'db', runtime: 'vm', ports: [{ name: 'mysql', port: 3306, protocol: 'TCP' }], vm: vm() },
      ],
      connections: [
        { from: 'web', to: 'api', port: 'http', routes: [{ split: [{ version: 'v1', weight: 50 }, { version: 'v2', weight: 50 }] }] },
        { from: 'api', to: 'db' },
        { from: 'ingress', to: 'web' },
      ],
      ingress: { host: 'shop.example.com', routes: [{ pathPrefix: '/', to: 'web' }] },
    },
  };
}

const ms = (d: Doc, i: number) => d.spec.microservices[i];
const conn = (d: Doc, i: number) => d.spec.connections[i];

export interface Case {
  name: string;
  mutate: (d: Doc) => void;
  /** [pointer, message fragment] for every problem expected, no more, no less */
  expect: [string, string][];
}

export const CASES: Case[] = [
  // ---- schema: top level and metadata
  { name: 'wrong apiVersion', mutate: (d) => (d.apiVersion = 'mixmesh.io/v1'), expect: [['/apiVersion', '"mixmesh.io/v1" is not allowed (allowed: mixmesh.io/v1alpha1)']] },
  { name: 'wrong kind', mutate: (d) => (d.kind = 'Service'), expect: [['/kind', '"Service" is not allowed (allowed: MeshService)']] },
  { name: 'missing metadata', mutate: (d) => delete d.metadata, expect: [['/metadata', 'is required']] },
  { name: 'missing spec', mutate: (d) => delete d.spec, expect: [['/spec', 'is required']] },
  { name: 'name not DNS-1123', mutate: (d) => (d.metadata.name = 'Shop'), expect: [['/metadata/name', '"Shop" is not a DNS-1123 label']] },
  { name: 'name over 40 characters', mutate: (d) => (d.metadata.name = 'a'.repeat(41)), expect: [['/metadata/name', 'is 41 characters long (at most 40 allowed)']] },
  { name: 'namespace not DNS-1123', mutate: (d) => (d.metadata.namespace = 'my_ns'), expect: [['/metadata/namespace', '"my_ns" is not a DNS-1123 label']] },
  { name: 'unknown top-level field', mutate: (d) => (d.status = {}), expect: [['/status', 'unknown field "status" (allowed: apiVersion, kind, metadata, spec)']] },
  { name: 'unknown metadata field', mutate: (d) => (d.metadata.annotations = {}), expect: [['/metadata/annotations', 'unknown field "annotations" (allowed: name, namespace, labels)']] },
  { name: 'label value of the wrong type', mutate: (d) => (d.metadata.labels = { team: 5 }), expect: [['/metadata/labels/team', '5 is not a string']] },
  // ---- schema: microservices
  { name: 'no microservices', mutate: (d) => (d.spec.microservices = []), expect: [['/spec/microservices', 'has 0 entries (allowed: 1..1000)']] },
  {
    name: 'more than 1000 microservices',
    mutate: (d) => (d.spec.microservices = Array.from({ length: 1001 }, (_, i) => ({ name: `s${i}`, runtime: 'container', ports: [{ name: 'http', port: 80 }], container: { image: 'x' } }))),
    expect: [['/spec/microservices', 'has 1001 entries (allowed: 1..1000)']],
  },
  { name: 'unknown microservice field (typo)', mutate: (d) => (ms(d, 0).replica = 2), expect: [['/spec/microservices/0/replica', 'unknown field "replica" (allowed: name, version, runtime, serviceAccount, ports, readinessProbe, container, vm, backup)']] },
  { name: 'runtime not allowed', mutate: (d) => (ms(d, 0).runtime = 'lambda'), expect: [['/spec/microservices/0/runtime', '"lambda" is not allowed (allowed: container, vm)']] },
  { name: 'runtime missing', mutate: (d) => delete ms(d, 0).runtime, expect: [['/spec/microservices/0/runtime', 'is required']] },
  { name: 'container missing for runtime container', mutate: (d) => delete ms(d, 0).container, expect: [['/spec/microservices/0/container', 'is required when runtime is "container"']] },
  { name: 'vm missing for runtime vm', mutate: (d) => delete ms(d, 3).vm, expect: [['/spec/microservices/3/vm', 'is required when runtime is "vm"']] },
  { name: 'vm beside runtime container', mutate: (d) => (ms(d, 0).vm = vm()), expect: [['/spec/microservices/0/vm', 'is not allowed when runtime is "container"']] },
  { name: 'microservice name starts with a digit', mutate: (d) => (ms(d, 0).name = '1web'), expect: [['/spec/microservices/0/name', '"1web" is not a DNS-1035 label']] },
  { name: 'version over 20 characters', mutate: (d) => (ms(d, 0).version = 'v'.repeat(21)), expect: [['/spec/microservices/0/version', 'is 21 characters long (at most 20 allowed)']] },
  // ---- schema: ports
  { name: 'no ports', mutate: (d) => (ms(d, 0).ports = []), expect: [['/spec/microservices/0/ports', 'has 0 entries (allowed: 1..16)']] },
  {
    name: 'more than 16 ports',
    mutate: (d) => (ms(d, 0).ports = Array.from({ length: 17 }, (_, i) => ({ name: `p${i}`, port: 1000 + i }))),
    expect: [['/spec/microservices/0/ports', 'has 17 entries (allowed: 1..16)']],
  },
  { name: 'port out of range', mutate: (d) => (ms(d, 0).ports[0].port = 70000), expect: [['/spec/microservices/0/ports/0/port', '70000 is out of range (allowed: 1..65535)']] },
  { name: 'port is a string', mutate: (d) => (ms(d, 0).ports[0].port = 'http'), expect: [['/spec/microservices/0/ports/0/port', '"http" is not an integer']] },
  { name: 'targetPort zero', mutate: (d) => (ms(d, 0).ports[0].targetPort = 0), expect: [['/spec/microservices/0/ports/0/targetPort', '0 is out of range (allowed: 1..65535)']] },
  { name: 'port name with "--"', mutate: (d) => (ms(d, 0).ports[0].name = 'ht--tp'), expect: [['/spec/microservices/0/ports/0/name', '"ht--tp" is not an IANA service name']] },
  { name: 'port name without a letter', mutate: (d) => (ms(d, 0).ports[0].name = '8080'), expect: [['/spec/microservices/0/ports/0/name', '"8080" is not an IANA service name']] },
  { name: 'port name over 15 characters', mutate: (d) => (ms(d, 0).ports[0].name = 'a'.repeat(16)), expect: [['/spec/microservices/0/ports/0/name', 'is 16 characters long (at most 15 allowed)']] },
  { name: 'protocol not allowed', mutate: (d) => (ms(d, 0).ports[0].protocol = 'UDP'), expect: [['/spec/microservices/0/ports/0/protocol', '"UDP" is not allowed (allowed: HTTP, HTTP2, GRPC, TCP, TLS)']] },
  // ---- schema: container
  { name: 'replicas over 1000', mutate: (d) => (ms(d, 0).container.replicas = 1001), expect: [['/spec/microservices/0/container/replicas', '1001 is out of range (allowed: 0..1000)']] },
  { name: 'replicas negative', mutate: (d) => (ms(d, 0).container.replicas = -1), expect: [['/spec/microservices/0/container/replicas', '-1 is out of range (allowed: 0..1000)']] },
  { name: 'empty image', mutate: (d) => (ms(d, 0).container.image = ''), expect: [['/spec/microservices/0/container/image', 'must not be empty']] },
  {
    name: 'env with value and valueFrom',
    mutate: (d) => (ms(d, 0).container.env = [{ name: 'A', value: 'x', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }]),
    expect: [['/spec/microservices/0/container/env/0', 'sets both value and valueFrom (exactly one is allowed)']],
  },
  { name: 'env with neither value nor valueFrom', mutate: (d) => (ms(d, 0).container.env = [{ name: 'A' }]), expect: [['/spec/microservices/0/container/env/0', 'needs value or valueFrom']] },
  {
    name: 'env secretKeyRef without key',
    mutate: (d) => (ms(d, 0).container.env = [{ name: 'A', valueFrom: { secretKeyRef: { name: 's' } } }]),
    expect: [['/spec/microservices/0/container/env/0/valueFrom/secretKeyRef/key', 'is required']],
  },
  { name: 'resources quantity malformed', mutate: (d) => (ms(d, 0).container.resources = { limits: { memory: '256 MB' } }), expect: [['/spec/microservices/0/container/resources/limits/memory', 'is not a Kubernetes quantity']] },
  { name: 'securityContext unknown field', mutate: (d) => (ms(d, 0).container.securityContext = { runAsRoot: true }), expect: [['/spec/microservices/0/container/securityContext/runAsRoot', 'unknown field "runAsRoot"']] },
  // ---- schema: readinessProbe
  {
    name: 'probe with httpGet and tcpSocket',
    mutate: (d) => (ms(d, 0).readinessProbe = { httpGet: { path: '/', port: 'http' }, tcpSocket: { port: 'http' } }),
    expect: [['/spec/microservices/0/readinessProbe', 'sets httpGet and tcpSocket (exactly one of httpGet, tcpSocket is allowed)']],
  },
  { name: 'probe path without "/"', mutate: (d) => (ms(d, 0).readinessProbe = { httpGet: { path: 'healthz', port: 'http' } }), expect: [['/spec/microservices/0/readinessProbe/httpGet/path', '"healthz" is not a path starting with "/"']] },
  { name: 'probe port of the wrong type', mutate: (d) => (ms(d, 0).readinessProbe = { tcpSocket: { port: true } }), expect: [['/spec/microservices/0/readinessProbe/tcpSocket/port', 'true is not a port name or number']] },
  // ---- schema: vm
  { name: 'instances over 50', mutate: (d) => (ms(d, 3).vm.instances = 51), expect: [['/spec/microservices/3/vm/instances', '51 is out of range (allowed: 1..50)']] },
  { name: 'vm without ssh', mutate: (d) => delete ms(d, 3).vm.ssh, expect: [['/spec/microservices/3/vm/ssh', 'is required']] },
  { name: 'vm without vnfdId and flavourId', mutate: (d) => { delete ms(d, 3).vm.vnfdId; delete ms(d, 3).vm.flavourId; }, expect: [['/spec/microservices/3/vm/flavourId', 'is required'], ['/spec/microservices/3/vm/vnfdId', 'is required']] },
  { name: 'hostKey not a policy or key', mutate: (d) => (ms(d, 3).vm.ssh.hostKey = 'yes'), expect: [['/spec/microservices/3/vm/ssh/hostKey', '"yes" is not console, accept-new, or a pinned public key']] },
  { name: 'sidecar package not allowed', mutate: (d) => (ms(d, 3).vm.sidecar = { package: 'apk' }), expect: [['/spec/microservices/3/vm/sidecar/package', '"apk" is not allowed (allowed: deb, rpm, tar)']] },
  { name: 'vm.recreate not a boolean', mutate: (d) => (ms(d, 3).vm.recreate = 'no'), expect: [['/spec/microservices/3/vm/recreate', '"no" is not true or false']] },
  { name: 'fixedIp not an address', mutate: (d) => (ms(d, 3).vm.fixedIp = '10.0.0'), expect: [['/spec/microservices/3/vm/fixedIp', '"10.0.0" is not an IPv4 or IPv6 address']] },
  // ---- backup fields (backup.md)
  { name: 'dataDirs relative', mutate: (d) => (ms(d, 3).vm.dataDirs = ['var/lib/app']), expect: [['/spec/microservices/3/vm/dataDirs/0', '"var/lib/app" is not an absolute path such as /var/lib/app (no "." or ".." segments)']] },
  { name: 'dataDirs with ..', mutate: (d) => (ms(d, 3).vm.dataDirs = ['/var/lib/../etc']), expect: [['/spec/microservices/3/vm/dataDirs/0', '"/var/lib/../etc" is not an absolute path such as /var/lib/app (no "." or ".." segments)']] },
  { name: 'dataDirs nested', mutate: (d) => (ms(d, 3).vm.dataDirs = ['/var/lib/app', '/var/lib/app/db']), expect: [['/spec/microservices/3/vm/dataDirs/1', '/var/lib/app/db is inside /var/lib/app; list each data dir once']] },
  // ---- container volumes and nodeSelector
  { name: 'volume with two sources', mutate: (d) => (ms(d, 0).container.volumes = [{ name: 'data', mountPath: '/data', hostPath: { path: '/srv/data' }, emptyDir: {} }]), expect: [['/spec/microservices/0/container/volumes/0', 'sets hostPath and emptyDir (exactly one of hostPath, persistentVolumeClaim, emptyDir is allowed)']] },
  { name: 'volume without a source', mutate: (d) => (ms(d, 0).container.volumes = [{ name: 'data', mountPath: '/data' }]), expect: [['/spec/microservices/0/container/volumes/0', 'sets none of hostPath, persistentVolumeClaim, emptyDir (exactly one is required)']] },
  { name: 'volume without a mountPath', mutate: (d) => (ms(d, 0).container.volumes = [{ name: 'data', emptyDir: {} }]), expect: [['/spec/microservices/0/container/volumes/0/mountPath', 'is required']] },
  { name: 'volume name not DNS-1123', mutate: (d) => (ms(d, 0).container.volumes = [{ name: 'Data_1', mountPath: '/data', emptyDir: {} }]), expect: [['/spec/microservices/0/container/volumes/0/name', '"Data_1" is not a DNS-1123 label']] },
  { name: 'volume mountPath relative', mutate: (d) => (ms(d, 0).container.volumes = [{ name: 'data', mountPath: 'data', emptyDir: {} }]), expect: [['/spec/microservices/0/container/volumes/0/mountPath', '"data" is not an absolute path such as /var/lib/app (no "." or ".." segments)']] },
  { name: 'volume hostPath with ..', mutate: (d) => (ms(d, 0).container.volumes = [{ name: 'data', mountPath: '/data', hostPath: { path: '/srv/../etc' } }]), expect: [['/spec/microservices/0/container/volumes/0/hostPath/path', '"/srv/../etc" is not an absolute path such as /var/lib/app (no "." or ".." segments)']] },
  { name: 'volume hostPath type unknown', mutate: (d) => (ms(d, 0).container.volumes = [{ name: 'data', mountPath: '/data', hostPath: { path: '/srv', type: 'Folder' } }]), expect: [['/spec/microservices/0/container/volumes/0/hostPath/type', '"Folder" is not allowed (allowed: DirectoryOrCreate, Directory, FileOrCreate, File, Socket, CharDevice, BlockDevice)']] },
  { name: 'volume claimName not DNS-1123', mutate: (d) => (ms(d, 0).container.volumes = [{ name: 'data', mountPath: '/data', persistentVolumeClaim: { claimName: 'My Claim' } }]), expect: [['/spec/microservices/0/container/volumes/0/persistentVolumeClaim/claimName', '"My Claim" is not a DNS-1123 subdomain']] },
  { name: 'emptyDir with a field', mutate: (d) => (ms(d, 0).container.volumes = [{ name: 'data', mountPath: '/data', emptyDir: { medium: 'Memory' } }]), expect: [['/spec/microservices/0/container/volumes/0/emptyDir/medium', 'unknown field "medium" (no fields are allowed: {})']] },
  { name: 'volume unknown field', mutate: (d) => (ms(d, 0).container.volumes = [{ name: 'data', mountPath: '/data', emptyDir: {}, nfs: {} }]), expect: [['/spec/microservices/0/container/volumes/0/nfs', 'unknown field "nfs" (allowed: name, mountPath, readOnly, hostPath, persistentVolumeClaim, emptyDir)']] },
  {
    name: 'volume names and mount paths twice',
    mutate: (d) => (ms(d, 0).container.volumes = [{ name: 'data', mountPath: '/data', emptyDir: {} }, { name: 'data', mountPath: '/data/', hostPath: { path: '/srv' } }]),
    expect: [
      ['/spec/microservices/0/container/volumes/1/mountPath', '"/data/" is already the mountPath of /spec/microservices/0/container/volumes/0 (mount paths must be unique)'],
      ['/spec/microservices/0/container/volumes/1/name', '"data" is already the name of /spec/microservices/0/container/volumes/0 (volume names must be unique)'],
    ],
  },
  { name: 'volume named tmp with the hardened defaults', mutate: (d) => (ms(d, 0).container.volumes = [{ name: 'tmp', mountPath: '/scratch', emptyDir: {} }]), expect: [['/spec/microservices/0/container/volumes/0/name', '"tmp" is reserved without a securityContext']] },
  { name: 'nodeSelector bad key and value', mutate: (d) => (ms(d, 0).container.nodeSelector = { 'a/b/c': 'x', zone: 'eu west' }), expect: [['/spec/microservices/0/container/nodeSelector/a~1b~1c', 'is not a valid label key'], ['/spec/microservices/0/container/nodeSelector/zone', 'value "eu west" is not a valid label value']] },
  { name: 'nodeSelector value not a string', mutate: (d) => (ms(d, 0).container.nodeSelector = { zone: 1 }), expect: [['/spec/microservices/0/container/nodeSelector/zone', '1 is not a string']] },
  { name: 'checkpoint state without vm.checkpoint', mutate: (d) => (ms(d, 3).backup = { state: 'checkpoint' }), expect: [['/spec/microservices/3/backup/state', 'checkpoint on a VM needs vm.checkpoint ({unit: NAME} or {pidFile: PATH}): the process CRIU dumps']] },
  { name: 'hook command as a string', mutate: (d) => (ms(d, 0).backup = { state: 'hooks', hooks: { pre: ['mysqldump > x'] } }), expect: [['/spec/microservices/0/backup/hooks/pre/0', 'is not a list']] },
  { name: 'ssh user with spaces', mutate: (d) => (ms(d, 3).vm.ssh.user = 'root; rm -rf /'), expect: [['/spec/microservices/3/vm/ssh/user', 'is not a login name']] },
  // ---- schema: connections
  {
    name: 'more than 10000 connections',
    mutate: (d) => (d.spec.connections = Array.from({ length: 10001 }, () => ({ from: 'web', to: 'db' }))),
    expect: [['/spec/connections', 'has 10001 entries (allowed: 0..10000)']],
  },
  { name: 'connection without to', mutate: (d) => delete conn(d, 1).to, expect: [['/spec/connections/1/to', 'is required']] },
  { name: 'timeout not a duration', mutate: (d) => (conn(d, 0).timeout = '3 seconds'), expect: [['/spec/connections/0/timeout', '"3 seconds" is not a duration']] },
  { name: 'retries attempts over 10', mutate: (d) => (conn(d, 0).retries = { attempts: 11 }), expect: [['/spec/connections/0/retries/attempts', '11 is out of range (allowed: 0..10)']] },
  { name: 'fault without delay or abort', mutate: (d) => (conn(d, 0).fault = {}), expect: [['/spec/connections/0/fault', 'must not be empty (set at least one of: delay, abort)']] },
  { name: 'split weight over 100', mutate: (d) => (conn(d, 0).routes = [{ split: [{ version: 'v1', weight: 101 }] }]), expect: [['/spec/connections/0/routes/0/split/0/weight', '101 is out of range (allowed: 0..100)']] },
  {
    name: 'loadBalancer name not allowed',
    mutate: (d) => (conn(d, 1).loadBalancer = 'FASTEST'),
    expect: [['/spec/connections/1/loadBalancer', '"FASTEST" is not allowed (allowed: ROUND_ROBIN, LEAST_REQUEST, RANDOM, PASSTHROUGH)']],
  },
  {
    name: 'loadBalancer consistentHash empty',
    mutate: (d) => (conn(d, 0).loadBalancer = { consistentHash: {} }),
    expect: [['/spec/connections/0/loadBalancer/consistentHash', 'sets none of header, cookie, sourceIp (exactly one is required)']],
  },
  { name: 'loadBalancer of the wrong type', mutate: (d) => (conn(d, 0).loadBalancer = 5), expect: [['/spec/connections/0/loadBalancer', '5 is not a load balancer']] },
  { name: 'connection unknown field', mutate: (d) => (conn(d, 0).weight = 5), expect: [['/spec/connections/0/weight', 'unknown field "weight"']] },
  // ---- schema: mesh and ingress
  { name: 'mtls not allowed', mutate: (d) => (d.spec.mesh = { mtls: 'ON' }), expect: [['/spec/mesh/mtls', '"ON" is not allowed (allowed: STRICT, PERMISSIVE, DISABLE)']] },
  { name: 'ingress without routes', mutate: (d) => delete d.spec.ingress.routes, expect: [['/spec/ingress/routes', 'is required']] },
  { name: 'ingress host not a host name', mutate: (d) => (d.spec.ingress.host = 'http://shop'), expect: [['/spec/ingress/host', 'is not a DNS host name']] },
  // ---- every schema problem, not just the first
  {
    name: 'several schema problems at once',
    mutate: (d) => {
      ms(d, 0).runtime = 'lambda';
      ms(d, 2).ports[0].port = 0;
      conn(d, 0).timeout = 'soon';
    },
    expect: [
      ['/spec/microservices/0/runtime', '"lambda" is not allowed'],
      ['/spec/microservices/2/ports/0/port', '0 is out of range'],
      ['/spec/connections/0/timeout', '"soon" is not a duration'],
    ],
  },

  // ---- schema and rule problems in one report (the rules skip only the parts that failed the schema)
  {
    name: 'a schema problem and a rule problem together',
    mutate: (d) => {
      ms(d, 0).container.image = '';
      conn(d, 1).to = 'dbb';
    },
    expect: [
      ['/spec/microservices/0/container/image', 'must not be empty'],
      ['/spec/connections/1/to', '"dbb" is not a microservice (known: api, db, web)'],
    ],
  },
  {
    name: 'a broken version makes no false alarms about connections into it',
    mutate: (d) => {
      ms(d, 2).runtime = 'lambda';
      conn(d, 0).routes[0].split[1].weight = 10;
      d.metadata.labels = { 'mixmesh.io/x': 'y' };
    },
    expect: [
      ['/spec/microservices/2/runtime', '"lambda" is not allowed'],
      ['/metadata/labels/mixmesh.io~1x', 'is reserved'],
    ],
  },
  {
    name: 'a broken ingress block and a rule problem elsewhere',
    mutate: (d) => {
      d.spec.ingress.host = 'not a host';
      d.spec.connections.push({ from: 'ingress', to: 'api', port: 'http' });
      d.spec.mesh = { mtls: 'DISABLE' };
    },
    expect: [
      ['/spec/ingress/host', 'is not a DNS host name'],
      ['/spec/mesh/mtls', '"DISABLE" is not allowed with authorization: connections'],
    ],
  },
  // ---- rule 1
  {
    name: 'rule 1: (name, version) declared twice',
    mutate: (d) => (ms(d, 2).version = 'v1'),
    expect: [
      ['/spec/microservices/2/version', 'api version "v1" is already declared at /spec/microservices/1'],
      ['/spec/connections/0/routes/0/split/1/version', '"v2" is not a version of api (versions: v1)'],
    ],
  },
  {
    name: 'rule 1: <name>-<version> declared twice',
    mutate: (d) => {
      d.spec.microservices.push({ name: 'web', version: 'x-y', runtime: 'container', ports: [{ name: 'http', port: 8080 }], container: { image: 'w' } });
      d.spec.microservices.push({ name: 'web-x', version: 'y', runtime: 'container', ports: [{ name: 'http', port: 8080 }], container: { image: 'w' } });
    },
    expect: [['/spec/microservices/5/name', '"web-x-y" (name-version) is also the name-version of /spec/microservices/4']],
  },
  {
    name: 'rule 1: versions declare different ports',
    mutate: (d) => (ms(d, 2).ports[1].protocol = 'HTTP2'),
    expect: [['/spec/microservices/2/ports', 'api v2 declares ports grpc:9090/HTTP2, http:8080/HTTP, but api v1 (/spec/microservices/1) declares grpc:9090/GRPC, http:8080/HTTP']],
  },
  { name: 'rule 1: duplicate port name in one version', mutate: (d) => (ms(d, 2).ports[1].name = 'http'), expect: [['/spec/microservices/2/ports', 'all versions must declare the same ports'], ['/spec/microservices/2/ports/1/name', '"http" is already the name of /spec/microservices/2/ports/0']] },
  // ---- rule 2
  { name: 'rule 2: unknown to', mutate: (d) => (conn(d, 0).to = 'apii'), expect: [['/spec/connections/0/to', '"apii" is not a microservice (known: api, db, web)']] },
  { name: 'rule 2: unknown from', mutate: (d) => (conn(d, 1).from = 'cron'), expect: [['/spec/connections/1/from', '"cron" is not a microservice or "ingress" (known: api, db, web)']] },
  { name: 'rule 2: from equals to', mutate: (d) => (conn(d, 1).from = 'db'), expect: [['/spec/connections/1/to', '"db" is also the caller (from and to must differ)']] },
  {
    name: 'rule 2: a microservice named ingress',
    mutate: (d) => d.spec.microservices.push({ name: 'ingress', runtime: 'container', ports: [{ name: 'http', port: 80 }], container: { image: 'x' } }),
    expect: [['/spec/microservices/4/name', '"ingress" is reserved']],
  },
  {
    name: 'rule 2: a microservice named <service>-ingress',
    mutate: (d) => d.spec.microservices.push({ name: 'shop-ingress', runtime: 'container', ports: [{ name: 'http', port: 80 }], container: { image: 'x' } }),
    expect: [['/spec/microservices/4/name', '"shop-ingress" is reserved']],
  },
  // ---- rule 3
  { name: 'rule 3: port not a port of to', mutate: (d) => (conn(d, 1).port = 'http'), expect: [['/spec/connections/1/port', '"http" is not a port of db (ports: mysql)']] },
  { name: 'rule 3: port missing when to has several', mutate: (d) => delete conn(d, 0).port, expect: [['/spec/connections/0/port', 'is required because api has several ports (http, grpc)']] },
  // ---- rule 4
  {
    name: 'rule 4: the same (from, to, port) twice, once with the implied port',
    mutate: (d) => d.spec.connections.push({ from: 'api', to: 'db', port: 'mysql' }),
    expect: [['/spec/connections/3', 'duplicates /spec/connections/1 (from api to db port mysql)']],
  },
  // ---- rule 5
  { name: 'rule 5: timeout on a TCP port', mutate: (d) => (conn(d, 1).timeout = '1s'), expect: [['/spec/connections/1/timeout', 'timeout is for HTTP, HTTP2 and GRPC ports only; port mysql of db is TCP']] },
  { name: 'rule 5: retries, fault and routes on a TCP port', mutate: (d) => Object.assign(conn(d, 1), { retries: { attempts: 1 }, fault: { abort: { percent: 1, httpStatus: 503 } }, routes: [{ split: [{ version: 'v1', weight: 100 }] }] }), expect: [['/spec/connections/1/fault', 'fault is for HTTP'], ['/spec/connections/1/retries', 'retries is for HTTP'], ['/spec/connections/1/routes', 'routes is for HTTP']] },
  { name: 'rule 5: consistentHash.header on a TCP port', mutate: (d) => (conn(d, 1).loadBalancer = { consistentHash: { header: 'x-user' } }), expect: [['/spec/connections/1/loadBalancer/consistentHash/header', 'consistentHash.header is for HTTP']] },
  { name: 'rule 5: connectionPool HTTP settings on a TCP port', mutate: (d) => (conn(d, 1).connectionPool = { maxConnections: 5, maxPendingRequests: 5 }), expect: [['/spec/connections/1/connectionPool/maxPendingRequests', 'connectionPool.maxPendingRequests is for HTTP']] },
  // ---- rule 6
  { name: 'rule 6: split names a version to does not have', mutate: (d) => (conn(d, 0).routes[0].split[1].version = 'v3'), expect: [['/spec/connections/0/routes/0/split/1/version', '"v3" is not a version of api (versions: v1, v2)']] },
  { name: 'rule 6: weights do not sum to 100', mutate: (d) => (conn(d, 0).routes[0].split[1].weight = 40), expect: [['/spec/connections/0/routes/0/split', 'weights sum to 90, must sum to 100']] },
  {
    name: 'rule 6: a route without match that is not the last',
    mutate: (d) => conn(d, 0).routes.push({ match: { pathPrefix: '/x' }, split: [{ version: 'v1', weight: 100 }] }),
    expect: [['/spec/connections/0/routes/0', 'route 0 has no match but is not the last route']],
  },
  // ---- rule 7
  {
    name: 'rule 7: destination-wide settings disagree',
    mutate: (d) => {
      conn(d, 0).loadBalancer = 'ROUND_ROBIN';
      d.spec.connections.push({ from: 'db', to: 'api', port: 'http', loadBalancer: 'RANDOM', circuitBreaker: { consecutiveErrors: 5 } });
    },
    expect: [['/spec/connections/3/loadBalancer', 'differs from /spec/connections/0/loadBalancer; every connection into api port http must set the same loadBalancer']],
  },
  { name: 'rule 7: PASSTHROUGH into a VM version', mutate: (d) => (conn(d, 1).loadBalancer = 'PASSTHROUGH'), expect: [['/spec/connections/1/loadBalancer', '"PASSTHROUGH" is not allowed because db has a VM version (v1)']] },
  // ---- rule 8
  { name: 'rule 8: ingress route to an unknown microservice', mutate: (d) => (d.spec.ingress.routes[0].to = 'shopfront'), expect: [['/spec/connections/2/from', 'needs an ingress route to web port http'], ['/spec/ingress/routes/0/to', '"shopfront" is not a microservice (known: api, db, web)']] },
  { name: 'rule 8: ingress route port missing when to has several', mutate: (d) => d.spec.ingress.routes.unshift({ pathPrefix: '/api', to: 'api' }), expect: [['/spec/ingress/routes/0/port', 'is required because api has several ports (http, grpc)']] },
  { name: 'rule 8: ingress route to a TCP port', mutate: (d) => d.spec.ingress.routes.unshift({ pathPrefix: '/db', to: 'db' }), expect: [['/spec/ingress/routes/0/to', 'port mysql of db is TCP; the ingress gateway routes HTTP, HTTP2 and GRPC ports only']] },
  { name: 'rule 8: from ingress without a matching ingress route', mutate: (d) => d.spec.connections.push({ from: 'ingress', to: 'api', port: 'http' }), expect: [['/spec/connections/3/from', 'a connection from "ingress" needs an ingress route to api port http']] },
  { name: 'rule 8: from ingress without spec.ingress', mutate: (d) => delete d.spec.ingress, expect: [['/spec/connections/2/from', 'and there is no spec.ingress']] },
  {
    name: 'rule 8: from ingress with a pathPrefix match',
    mutate: (d) => (conn(d, 2).routes = [{ match: { pathPrefix: '/a' }, split: [{ version: 'v1', weight: 100 }] }]),
    expect: [['/spec/connections/2/routes/0/match/pathPrefix', 'is not allowed on a connection from "ingress"']],
  },
  {
    name: 'rule 8: an ingress pathPrefix shadowed by an earlier one',
    mutate: (d) => d.spec.ingress.routes.push({ pathPrefix: '/api', to: 'api', port: 'http' }),
    expect: [['/spec/ingress/routes/1/pathPrefix', '"/api" can never match: it starts with "/", the pathPrefix of the earlier route /spec/ingress/routes/0']],
  },
  // ---- rule 9
  { name: 'rule 9: fixedIp with several instances', mutate: (d) => Object.assign(ms(d, 3).vm, { fixedIp: '127.0.10.9', instances: 2 }), expect: [['/spec/microservices/3/vm/fixedIp', 'needs instances: 1 (instances is 2)']] },
  {
    name: 'rule 9: fixedIp with extVirtualLinks of two extCps',
    mutate: (d) => Object.assign(ms(d, 3).vm, { fixedIp: '127.0.10.9', extVirtualLinks: [{ id: 'l', resourceId: 'n', extCps: [{ cpdId: 'a' }, { cpdId: 'b' }] }] }),
    expect: [['/spec/microservices/3/vm/extVirtualLinks', 'fixedIp needs extVirtualLinks with exactly one extCps entry holding exactly one cpConfig with one cpProtocolData[].ipOverEthernet.ipAddresses item (found 2 extCps entries)']],
  },
  { name: 'rule 9: a VM port defaulting to ssh.port', mutate: (d) => (ms(d, 3).ports[0].port = 22), expect: [['/spec/microservices/3/ports/0/port', "22 is this VM's ssh.port (and targetPort defaults to port)"]] },
  { name: 'rule 9: a VM targetPort equal to ssh.port', mutate: (d) => { ms(d, 3).ports[0].targetPort = 2222; ms(d, 3).vm.ssh.port = 2222; }, expect: [['/spec/microservices/3/ports/0/targetPort', "2222 is this VM's ssh.port; a VM version's targetPort must differ from ssh.port"]] },
  // ---- rule 11
  { name: 'rule 11: mtls DISABLE with authorization connections (the default)', mutate: (d) => (d.spec.mesh = { mtls: 'DISABLE' }), expect: [['/spec/mesh/mtls', '"DISABLE" is not allowed with authorization: connections']] },
  // ---- rule 12
  { name: 'rule 12: label key app', mutate: (d) => (d.metadata.labels = { app: 'x' }), expect: [['/metadata/labels/app', 'key "app" is reserved']] },
  { name: 'rule 12: label key version', mutate: (d) => (d.metadata.labels = { version: 'x' }), expect: [['/metadata/labels/version', 'key "version" is reserved']] },
  { name: 'rule 12: label key app.kubernetes.io/managed-by', mutate: (d) => (d.metadata.labels = { 'app.kubernetes.io/managed-by': 'me' }), expect: [['/metadata/labels/app.kubernetes.io~1managed-by', 'is reserved']] },
  { name: 'rule 12: label key under mixmesh.io/', mutate: (d) => (d.metadata.labels = { 'mixmesh.io/service': 'x' }), expect: [['/metadata/labels/mixmesh.io~1service', 'key "mixmesh.io/service" is reserved']] },
  { name: 'rule 12: label keys under istio.io/ and *.istio.io/', mutate: (d) => (d.metadata.labels = { 'istio.io/rev': 'x', 'sidecar.istio.io/inject': 'false' }), expect: [['/metadata/labels/istio.io~1rev', 'is reserved'], ['/metadata/labels/sidecar.istio.io~1inject', 'is reserved']] },
  { name: 'rule 12: label key not a Kubernetes label key', mutate: (d) => (d.metadata.labels = { '-team': 'x' }), expect: [['/metadata/labels/-team', 'key "-team" is not a valid label key']] },
  { name: 'rule 12: label value not a Kubernetes label value', mutate: (d) => (d.metadata.labels = { team: 'the store' }), expect: [['/metadata/labels/team', 'value "the store" is not a valid label value']] },
  // ---- additions: probes and durations
  { name: 'probe names a port the version lacks', mutate: (d) => (ms(d, 0).readinessProbe = { httpGet: { path: '/', port: 'admin' } }), expect: [['/spec/microservices/0/readinessProbe/httpGet/port', '"admin" is not a port of web v1 (ports: http)']] },
  { name: 'probe number is not a targetPort', mutate: (d) => (ms(d, 0).readinessProbe = { tcpSocket: { port: 9999 } }), expect: [['/spec/microservices/0/readinessProbe/tcpSocket/port', '9999 is not a targetPort of web v1 (targetPorts: 8080)']] },
  { name: 'timeout over an hour', mutate: (d) => (conn(d, 0).timeout = '2h'), expect: [['/spec/connections/0/timeout', '"2h" is out of range (allowed: 1ms..1h)']] },
  { name: 'timeout of zero', mutate: (d) => (conn(d, 0).timeout = '0s'), expect: [['/spec/connections/0/timeout', '"0s" is out of range (allowed: 1ms..1h)']] },
  // ---- every semantic problem, in pointer order
  {
    name: 'several rules at once, reported in document order',
    mutate: (d) => {
      d.spec.mesh = { mtls: 'DISABLE' };
      conn(d, 0).to = 'nope';
      conn(d, 1).timeout = '1s';
      d.metadata.labels = { app: 'x' };
    },
    expect: [
      ['/metadata/labels/app', 'is reserved'],
      ['/spec/connections/0/to', '"nope" is not a microservice'],
      ['/spec/connections/1/timeout', 'timeout is for HTTP'],
      ['/spec/mesh/mtls', '"DISABLE" is not allowed'],
    ],
  },
];

function check(problems: Problem[], expect: [string, string][]): void {
  const got = problems.map((p) => `${p.pointer}: ${p.message}`).join('\n');
  assert.deepEqual(problems.map((p) => p.pointer).sort(), expect.map(([p]) => p).sort(), `pointers differ; got:\n${got}`);
  for (const [pointer, fragment] of expect) {
    assert.ok(
      problems.some((p) => p.pointer === pointer && p.message.includes(fragment)),
      `no problem at ${pointer} containing ${JSON.stringify(fragment)}; got:\n${got}`,
    );
  }
  for (const p of problems) assert.ok(!/^must (NOT )?(have|be|match)/.test(p.message), `raw ajv text leaked: ${p.message}`);
}

describe('descriptor: the table of bad descriptors', () => {
  it('the base of the table is valid', () => {
    const r = validateDescriptor(base());
    assert.deepEqual(r.problems, []);
  });

  it(`has at least 40 distinct cases (${CASES.length})`, () => {
    assert.ok(CASES.length >= 40);
    assert.equal(new Set(CASES.map((c) => c.name)).size, CASES.length);
  });

  for (const c of CASES) {
    it(c.name, () => {
      const d = base();
      c.mutate(d);
      const r = validateDescriptor(d);
      assert.equal(r.ok, false, 'should be invalid');
      check(r.problems, c.expect);
      // the same problems through YAML text, and in the same order every time
      const again = parseAndValidate(stringify(d), 'case.yaml');
      assert.deepEqual(again.problems, r.problems);
    });
  }
});

const BILLION_LAUGHS = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...'bcdefghi'.split('').map((k, n) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghi'[n]}`).join(',')}]`),
].join('\n');

interface TextCase {
  name: string;
  text: string | Uint8Array | (() => string | Uint8Array);
  fragment: string;
}

const TEXT_CASES: TextCase[] = [
  { name: 'duplicate keys', text: 'apiVersion: mixmesh.io/v1alpha1\nkind: MeshService\nmetadata:\n  name: a\n  name: b\n', fragment: 'not YAML or JSON: duplicated mapping key at line 5, column 3' },
  { name: 'duplicate keys in JSON', text: '{"kind": "MeshService", "kind": "MeshService"}', fragment: 'duplicated mapping key at line 1, column 25' },
  { name: 'a billion laughs', text: BILLION_LAUGHS, fragment: 'not YAML or JSON: aliases expand to more than 10000 nodes at line' },
  { name: 'a quadratic blow-up: one big anchor aliased many times', text: () => `x: &x [${Array(200).fill('1').join(',')}]\ny: [${Array(100).fill('*x').join(',')}]\n`, fragment: 'aliases expand to more than 10000 nodes' },
  { name: 'a recursive alias', text: 'a: &a [*a]\n', fragment: 'refers to a node that contains it at line 1, column 8' },
  { name: 'an alias without anchor', text: 'a: *nowhere\n', fragment: 'not YAML or JSON: ' },
  { name: 'a custom tag', text: 'apiVersion: !!python/object:os.system echo\n', fragment: 'tags are not allowed' },
  { name: 'a local tag', text: 'kind: !include other.yaml\n', fragment: 'tags are not allowed' },
  { name: 'a list as a mapping key', text: 'a: 1\n? [x]\n: 3\n', fragment: 'mapping keys must be plain values at line 2, column 3' },
  { name: 'not UTF-8', text: () => Buffer.from([0x61, 0x3a, 0x20, 0xff, 0xfe, 0x0a]), fragment: 'not YAML or JSON: not UTF-8 text' },
  { name: 'tabs as indentation', text: 'spec:\n\t- a\n', fragment: 'not YAML or JSON: tabs are not allowed as indentation at line 2, column 1' },
  { name: 'broken YAML', text: 'spec: [\n', fragment: 'not YAML or JSON: ' },
  { name: 'two documents', text: 'a: 1\n---\nb: 2\n', fragment: 'more than one document at line 2, column 1' },
  { name: 'input over 4 MiB', text: () => `# ${'x'.repeat(4 * 1024 * 1024)}\n`, fragment: 'more than the limit of 4194304 bytes' },
  { name: 'deep nesting', text: () => `${'['.repeat(2000)}${']'.repeat(2000)}`, fragment: 'nested' },
];

describe('descriptor: hostile and broken text', () => {
  for (const c of TEXT_CASES) {
    it(c.name, () => {
      const text = typeof c.text === 'function' ? c.text() : c.text;
      const r = parseAndValidate(text, 'f.yaml');
      assert.equal(r.ok, false);
      assert.equal(r.problems.length, 1, JSON.stringify(r.problems));
      assert.equal(r.problems[0]!.pointer, '');
      assert.ok(r.problems[0]!.message.includes(c.fragment), r.problems[0]!.message);
    });
  }

  it('a few aliases well under the limit are fine', () => {
    const d = base();
    const text = stringify(d).replace('spec:\n', 'x-anchors: &img web:1\nspec:\n');
    // an anchor at an unknown field is still an unknown field, but it parses
    const r = parseAndValidate(text, 'f.yaml');
    assert.deepEqual(r.problems.map((p) => p.pointer), ['/x-anchors']);
  });

  it('an empty file and a list are not descriptors', () => {
    for (const text of ['', '[]', '"x"']) {
      const r = parseAndValidate(text, 'f.yaml');
      assert.equal(r.ok, false);
      assert.equal(r.problems[0]!.pointer, '');
      assert.match(r.problems[0]!.message, /is not a MeshService descriptor/);
    }
  });
});

describe('descriptor: good variants', () => {
  const good: [string, (d: Doc) => void][] = [
    ['targetPort may differ between versions', (d) => (ms(d, 2).ports[0].targetPort = 8081)],
    ['an omitted destination-wide setting never conflicts', (d) => d.spec.connections.push({ from: 'db', to: 'api', port: 'http', loadBalancer: 'RANDOM' })],
    ['equal destination-wide settings agree', (d) => { conn(d, 0).connectionPool = { maxConnections: 5 }; d.spec.connections.push({ from: 'db', to: 'api', port: 'http', connectionPool: { maxConnections: 5 } }); }],
    ['PASSTHROUGH into a container-only microservice', (d) => d.spec.connections.push({ from: 'api', to: 'web', loadBalancer: 'PASSTHROUGH' })],
    ['mtls DISABLE with authorization open', (d) => (d.spec.mesh = { mtls: 'DISABLE', authorization: 'open' })],
    ['an ingress prefix ordered longest first', (d) => d.spec.ingress.routes.unshift({ pathPrefix: '/api', to: 'api', port: 'http' })],
    ['a pinned host key', (d) => (ms(d, 3).vm.ssh.hostKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl')],
    ['a probe by targetPort number', (d) => (ms(d, 0).readinessProbe = { tcpSocket: { port: 8080 } })],
    ['an IPv6 fixedIp', (d) => (ms(d, 3).vm.fixedIp = 'fd00::21')],
    ['consistentHash cookie on an HTTP port', (d) => (conn(d, 0).loadBalancer = { consistentHash: { cookie: { name: 's', ttl: '1h' } } })],
    ['a zero replica container', (d) => (ms(d, 0).container.replicas = 0)],
    ['labels that are valid and not reserved', (d) => (d.metadata.labels = { 'example.com/team': 'store', tier: '' })],
    [
      'container volumes of every source, read-only or not, and a nodeSelector',
      (d) =>
        Object.assign(ms(d, 0).container, {
          volumes: [
            { name: 'files', mountPath: '/var/lib/files', hostPath: { path: '/srv/shop/files', type: 'DirectoryOrCreate' } },
            { name: 'ledger', mountPath: '/var/lib/ledger', persistentVolumeClaim: { claimName: 'ledger' } },
            { name: 'cache', mountPath: '/cache', emptyDir: {} },
            { name: 'config', mountPath: '/etc/web', readOnly: true, hostPath: { path: '/etc/shop' } },
          ],
          nodeSelector: { 'kubernetes.io/hostname': 'worker-1', 'example.com/disk': '' },
        }),
    ],
    ['a volume at /tmp replaces the hardened one, and tmp is a free name with a securityContext', (d) => {
      ms(d, 0).container.volumes = [{ name: 'tmp', mountPath: '/tmp', emptyDir: {} }];
      ms(d, 2).container.securityContext = { runAsUser: 1000 };
      ms(d, 2).container.volumes = [{ name: 'tmp', mountPath: '/scratch', emptyDir: {} }];
    }],
  ];
  for (const [name, mutate] of good) {
    it(name, () => {
      const d = base();
      mutate(d);
      assert.deepEqual(validateDescriptor(d).problems, []);
    });
  }

  it('fixedIp with the one-address extVirtualLinks shape, and where the address goes', () => {
    const d = base();
    const links = [{ id: 'net', resourceId: 'n1', extCps: [{ cpdId: 'CP1', cpConfig: { c1: { cpProtocolData: [{ layerProtocol: 'IP_OVER_ETHERNET', ipOverEthernet: { ipAddresses: [{ type: 'IPV4', subnetId: 's' }] } }] } } }] }];
    Object.assign(ms(d, 3).vm, { fixedIp: '127.0.10.21', extVirtualLinks: links });
    const r = validateDescriptor(d);
    assert.deepEqual(r.problems, []);
    const target = fixedIpTarget({ extVirtualLinks: links });
    assert.ok(target.ok);
    assert.equal(target.pointer, '/extVirtualLinks/0/extCps/0/cpConfig/c1/cpProtocolData/0/ipOverEthernet/ipAddresses/0');
    assert.deepEqual(target.ipAddress, { type: 'IPV4', subnetId: 's' });
  });
});
