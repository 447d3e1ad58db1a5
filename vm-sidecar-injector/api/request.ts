/**
 * Validation of `POST /v1/injections` bodies (vm-sidecar-injector/README.md, docs/tacker.md). Two forms:
 * the orchestrator's `{vm, workload, vnfInstanceId?}` and the Tacker plug-in's
 * `{vnfInstanceId, identity, servers}`. Every problem is reported with a JSON pointer; a private
 * key in the body is refused (keys live in Secrets) and never echoed.
 */
import { isIP } from 'node:net';
import { parsePublicKey } from '../../clients/ssh/index.js';
import { MixmeshError, type ProblemItem } from '../../common/errors.js';
import { DNS1123_LABEL } from '../../common/names.js';
import type { InjectionRequest } from '../injector.js';

export interface PluginRequest {
  vnfInstanceId: string;
  identity: { namespace: string; service: string; name: string; version: string; index?: number };
  servers: { serverId: string; fixedAddresses?: string[] }[];
}

export type ParsedRequest = { form: 'direct'; request: InjectionRequest } | { form: 'plugin'; request: PluginRequest };

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$/;
const USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const SERVER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const VERSION = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** true when any string anywhere in the value looks like a private key */
function containsPrivateKey(v: unknown): boolean {
  if (typeof v === 'string') return /PRIVATE KEY-----|^b3BlbnNzaC1rZXktdjE/.test(v);
  if (Array.isArray(v)) return v.some(containsPrivateKey);
  if (isObject(v)) return Object.values(v).some(containsPrivateKey);
  return false;
}

class Checker {
  readonly problems: ProblemItem[] = [];
  add(pointer: string, message: string): void {
    this.problems.push({ pointer, message });
  }
  only(obj: Record<string, unknown>, pointer: string, allowed: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) this.add(`${pointer}/${key}`, `unknown field "${key}" (allowed: ${allowed.join(', ')})`);
    }
  }
  string(obj: Record<string, unknown>, key: string, pointer: string, re: RegExp, what: string, required = true): string | undefined {
    const v = obj[key];
    if (v === undefined) {
      if (required) this.add(`${pointer}/${key}`, `is required: ${what}`);
      return undefined;
    }
    if (typeof v !== 'string' || !re.test(v)) {
      this.add(`${pointer}/${key}`, `${JSON.stringify(v)?.slice(0, 80)} is not allowed: expected ${what}`);
      return undefined;
    }
    return v;
  }
  object(obj: Record<string, unknown>, key: string, pointer: string, required = true): Record<string, unknown> | undefined {
    const v = obj[key];
    if (v === undefined) {
      if (required) this.add(`${pointer}/${key}`, 'is required (an object)');
      return undefined;
    }
    if (!isObject(v)) {
      this.add(`${pointer}/${key}`, 'must be an object');
      return undefined;
    }
    return v;
  }
}

function address(c: Checker, v: unknown, pointer: string): string | undefined {
  if (typeof v !== 'string' || !(isIP(v) !== 0 || HOSTNAME.test(v))) {
    c.add(pointer, `${JSON.stringify(v)?.slice(0, 80)} is not an IP address or host name`);
    return undefined;
  }
  return v;
}

function workloadRef(c: Checker, obj: Record<string, unknown>, pointer: string, extra: readonly string[] = []) {
  c.only(obj, pointer, ['service', 'name', 'version', 'namespace', ...extra]);
  const service = c.string(obj, 'service', pointer, DNS1123_LABEL, 'the MeshService name (a DNS-1123 label)');
  const name = c.string(obj, 'name', pointer, DNS1123_LABEL, 'the microservice name (a DNS-1123 label)');
  const version = c.string(obj, 'version', pointer, DNS1123_LABEL, 'the microservice version (a DNS-1123 label)');
  const namespace = c.string(obj, 'namespace', pointer, DNS1123_LABEL, 'a namespace (a DNS-1123 label)');
  return service && name && version && namespace ? { service, name, version, namespace } : undefined;
}

/** Parse and validate a POST /v1/injections body; throws BAD_REQUEST with every problem. */
export function parseInjectionRequest(body: unknown): ParsedRequest {
  if (!isObject(body)) throw new MixmeshError('BAD_REQUEST', 'the body must be a JSON object', { errors: [{ pointer: '', message: 'expected a JSON object' }] });
  if (containsPrivateKey(body)) {
    throw new MixmeshError('BAD_REQUEST', 'inline private keys are not accepted: put the key in a Secret (key ssh-privatekey) and send vm.credentials.secretRef', {
      errors: [{ pointer: '/vm/credentials', message: 'inline private keys are not accepted; use secretRef {namespace, name}' }],
    });
  }
  const c = new Checker();
  if ('identity' in body || 'servers' in body) {
    c.only(body, '', ['vnfInstanceId', 'identity', 'servers']);
    const vnfInstanceId = c.string(body, 'vnfInstanceId', '', SERVER_ID, 'the VNF instance id');
    const identityObj = c.object(body, 'identity', '');
    let identity: PluginRequest['identity'] | undefined;
    if (identityObj) {
      const ref = workloadRef(c, identityObj, '/identity', ['index']);
      const index = identityObj.index;
      if (index !== undefined && !(Number.isInteger(index) && (index as number) >= 0)) c.add('/identity/index', `${JSON.stringify(index)} is not a non-negative integer`);
      if (ref) identity = { ...ref, ...(index === undefined ? {} : { index: index as number }) };
    }
    const servers: PluginRequest['servers'] = [];
    if (!Array.isArray(body.servers) || body.servers.length === 0) c.add('/servers', 'is required: a non-empty list of {serverId, fixedAddresses?}');
    else {
      body.servers.forEach((s, i) => {
        const p = `/servers/${i}`;
        if (!isObject(s)) return c.add(p, 'must be an object {serverId, fixedAddresses?}');
        c.only(s, p, ['serverId', 'fixedAddresses']);
        const serverId = c.string(s, 'serverId', p, SERVER_ID, 'the Nova server UUID');
        let fixed: string[] | undefined;
        if (s.fixedAddresses !== undefined) {
          if (!Array.isArray(s.fixedAddresses)) c.add(`${p}/fixedAddresses`, 'must be a list of IP addresses');
          else fixed = s.fixedAddresses.map((a, j) => address(c, a, `${p}/fixedAddresses/${j}`)).filter((a): a is string => a !== undefined);
        }
        if (serverId) servers.push(fixed?.length ? { serverId, fixedAddresses: fixed } : { serverId });
      });
    }
    if (c.problems.length) throw new MixmeshError('BAD_REQUEST', `invalid injection request: ${c.problems.map((p) => `${p.pointer}: ${p.message}`).join('; ')}`, { errors: c.problems });
    return { form: 'plugin', request: { vnfInstanceId: vnfInstanceId!, identity: identity!, servers } };
  }

  c.only(body, '', ['vm', 'workload', 'vnfInstanceId', 'sidecar']);
  const vm = c.object(body, 'vm', '');
  const workloadObj = c.object(body, 'workload', '');
  const workload = workloadObj ? workloadRef(c, workloadObj, '/workload') : undefined;
  const vnfInstanceId = c.string(body, 'vnfInstanceId', '', SERVER_ID, 'the VNF instance id', false);
  let request: InjectionRequest['vm'] | undefined;
  if (vm) {
    c.only(vm, '/vm', ['address', 'port', 'user', 'credentials', 'hostKey', 'serverId', 'floating', 'consoleOutput']);
    const addr = vm.address === undefined ? (c.add('/vm/address', 'is required: the address to SSH to'), undefined) : address(c, vm.address, '/vm/address');
    let port = 22;
    if (vm.port !== undefined) {
      if (!Number.isInteger(vm.port) || (vm.port as number) < 1 || (vm.port as number) > 65535) c.add('/vm/port', `${JSON.stringify(vm.port)} is not a port 1..65535`);
      else port = vm.port as number;
    }
    const user = c.string(vm, 'user', '/vm', USER, 'the SSH user name');
    const serverId = c.string(vm, 'serverId', '/vm', SERVER_ID, 'the Nova server UUID', false);
    let hostKey = 'console';
    if (vm.hostKey !== undefined) {
      if (typeof vm.hostKey !== 'string') c.add('/vm/hostKey', 'must be console, accept-new or a pinned "ssh-ed25519 AAAA…" key');
      else if (vm.hostKey === 'console' || vm.hostKey === 'accept-new') hostKey = vm.hostKey;
      else {
        try {
          const k = parsePublicKey(vm.hostKey, '/vm/hostKey');
          hostKey = `${k.type} ${k.base64}`;
        } catch (e) {
          c.add('/vm/hostKey', `${(e as Error).message}; allowed: console, accept-new or a pinned key`);
        }
      }
    }
    let consoleOutput: string | undefined;
    if (vm.consoleOutput !== undefined) {
      if (typeof vm.consoleOutput !== 'string' || vm.consoleOutput.length > 1 << 20) c.add('/vm/consoleOutput', 'must be the VM\'s console text (at most 1 MiB) holding cloud-init\'s host key block');
      else consoleOutput = vm.consoleOutput;
    }
    if (hostKey === 'console' && serverId === undefined && vm.serverId === undefined && consoleOutput === undefined) c.add('/vm/serverId', 'is required when hostKey is console (the host keys come from that Nova server\'s console), unless vm.consoleOutput gives the console text');
    if (vm.floating !== undefined && typeof vm.floating !== 'boolean') c.add('/vm/floating', 'must be true or false');
    const creds = c.object(vm, 'credentials', '/vm');
    let secretRef: { namespace: string; name: string } | undefined;
    if (creds) {
      c.only(creds, '/vm/credentials', ['secretRef']);
      const ref = c.object(creds, 'secretRef', '/vm/credentials');
      if (ref) {
        c.only(ref, '/vm/credentials/secretRef', ['namespace', 'name']);
        const namespace = c.string(ref, 'namespace', '/vm/credentials/secretRef', DNS1123_LABEL, 'a namespace', false) ?? workload?.namespace;
        const name = c.string(ref, 'name', '/vm/credentials/secretRef', DNS1123_SUBDOMAIN, 'a Secret name');
        if (namespace && name) secretRef = { namespace, name };
      }
    }
    if (addr && user && secretRef) {
      request = { address: addr, port, user, secretRef, hostKey, ...(serverId ? { serverId } : {}), ...(typeof vm.floating === 'boolean' ? { floating: vm.floating } : {}), ...(consoleOutput !== undefined ? { consoleOutput } : {}) };
    }
  }
  let sidecar: InjectionRequest['sidecar'];
  const sc = c.object(body, 'sidecar', '', false);
  if (sc) {
    c.only(sc, '/sidecar', ['package', 'istioVersion']);
    const pkg = c.string(sc, 'package', '/sidecar', /^(deb|rpm|tar)$/, 'deb, rpm or tar', false) as 'deb' | 'rpm' | 'tar' | undefined;
    const istioVersion = c.string(sc, 'istioVersion', '/sidecar', VERSION, 'an Istio version like 1.30.3', false);
    sidecar = { ...(pkg ? { package: pkg } : {}), ...(istioVersion ? { istioVersion } : {}) };
  }
  if (c.problems.length || !request || !workload) {
    throw new MixmeshError('BAD_REQUEST', `invalid injection request: ${c.problems.map((p) => `${p.pointer}: ${p.message}`).join('; ')}`, { errors: c.problems });
  }
  // the SSH key is read with the injector's own rights: a caller may point it only at the namespace
  // it injects into (issue 8, defect 10), never at another tenant's or the mesh's Secrets
  if (request.secretRef.namespace !== workload.namespace) {
    throw new MixmeshError('FORBIDDEN', `vm.credentials.secretRef.namespace ${request.secretRef.namespace} is not the workload's namespace ${workload.namespace}; the SSH key Secret must be in the namespace the VM joins`, { errors: [{ pointer: '/vm/credentials/secretRef/namespace', message: `must be the workload's namespace, ${workload.namespace}` }] });
  }
  return { form: 'direct', request: { vm: request, workload, ...(vnfInstanceId ? { vnfInstanceId } : {}), ...(sidecar ? { sidecar } : {}) } };
}
