/**
 * Request validation with JSON pointers (problem+json `errors[]`): every body and parameter is
 * checked before anything happens; a rejection changes nothing.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { MixmeshError, type ProblemItem } from '../common/errors.js';
import { parametersSchema } from './catalog.js';
import { ORCHESTRATORS, PROVIDERS, type ClusterRequest, type ServiceRequest } from './types.js';

const NAME = { type: 'string', minLength: 1, maxLength: 40, pattern: '^[a-z]([-a-z0-9]*[a-z0-9])?$' };

const clusterSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'orchestrator'],
  properties: {
    name: NAME,
    orchestrator: { enum: [...ORCHESTRATORS] },
    version: { type: 'string', maxLength: 40, pattern: '^[A-Za-z0-9._+-]+$' },
    infrastructure: {
      type: 'object', additionalProperties: false, required: ['provider'],
      properties: {
        provider: { enum: [...PROVIDERS] },
        instanceType: { type: 'string', maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' },
        image: { type: 'string', maxLength: 128, pattern: '^[A-Za-z0-9._/-]+$' },
        hostTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 3600 },
      },
    },
    size: {
      type: 'object', additionalProperties: false, required: ['managers', 'workers'],
      properties: { managers: { type: 'integer', minimum: 1, maximum: 1 }, workers: { type: 'integer', minimum: 0, maximum: 50 } },
    },
    register: {
      type: 'object', additionalProperties: false, minProperties: 1,
      properties: {
        kubeconfig: { type: 'string', minLength: 1, maxLength: 262144 },
        context: { type: 'string', maxLength: 253 },
        endpoint: { type: 'string', minLength: 1, maxLength: 2048, pattern: '^(unix|tcp|http|https)://' },
        ca: { type: 'string', maxLength: 65536 },
        cert: { type: 'string', maxLength: 65536 },
        key: { type: 'string', maxLength: 65536 },
        username: { type: 'string', maxLength: 256 },
        password: { type: 'string', maxLength: 1024 },
      },
    },
  },
  oneOf: [{ required: ['register'] }, { required: ['infrastructure', 'size'] }],
};

const serviceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'template'],
  properties: { name: NAME, template: { type: 'string', minLength: 1, maxLength: 63 }, parameters: parametersSchema },
};

/** PATCH of a service: scale (replicas) and/or update (image, env: the env replaces the request's) */
const scaleSchema = {
  type: 'object', additionalProperties: false, minProperties: 1,
  properties: {
    replicas: (parametersSchema.properties as Record<string, unknown>).replicas,
    image: (parametersSchema.properties as Record<string, unknown>).image,
    env: (parametersSchema.properties as Record<string, unknown>).env,
  },
};

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = { cluster: ajv.compile(clusterSchema), service: ajv.compile(serviceSchema), scale: ajv.compile(scaleSchema) };

function problems(errors: ErrorObject[] | null | undefined): ProblemItem[] {
  const out: ProblemItem[] = [];
  for (const e of errors ?? []) {
    if (e.keyword === 'oneOf' || (e.keyword === 'required' && e.schemaPath.startsWith('#/oneOf'))) continue;
    let pointer = e.instancePath;
    let message = e.message ?? 'is not allowed';
    if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      pointer = `${pointer}/${extra}`;
      message = 'is not allowed here';
    } else if (e.keyword === 'required') {
      pointer = `${pointer}/${(e.params as { missingProperty: string }).missingProperty}`;
      message = 'is required';
    } else if (e.keyword === 'enum') {
      message = `must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues).join(', ')}`;
    }
    if (!out.some((p) => p.pointer === pointer && p.message === message)) out.push({ pointer, message });
  }
  return out;
}

function check<T>(v: ValidateFunction, body: unknown, what: string, extra: (b: T) => ProblemItem[] = () => []): T {
  const ok = v(body);
  const list = ok ? extra(body as T) : problems(v.errors);
  if (!ok && list.length === 0 && typeof body === 'object' && body !== null) {
    const b = body as Record<string, unknown>;
    // the oneOf: either register, or infrastructure + size
    if ('register' in b && ('infrastructure' in b || 'size' in b)) list.push({ pointer: '/register', message: 'give either register or infrastructure + size, not both' });
    else list.push({ pointer: '', message: 'give either register (an existing cluster) or infrastructure + size (a new one)' });
  }
  if (list.length) throw new MixmeshError('BAD_REQUEST', `invalid ${what}: ${list.map((p) => `${p.pointer || '/'}: ${p.message}`).join('; ')}`, { errors: list });
  return body as T;
}

export function validateClusterRequest(body: unknown): ClusterRequest {
  return check<ClusterRequest>(validators.cluster, body, 'cluster request', (b) => {
    const out: ProblemItem[] = [];
    const r = b.register;
    if (r) {
      if (b.orchestrator === 'kubernetes' && !r.kubeconfig) out.push({ pointer: '/register/kubeconfig', message: 'is required to register a kubernetes cluster' });
      if (b.orchestrator !== 'kubernetes' && !r.endpoint) out.push({ pointer: '/register/endpoint', message: `is required to register a ${b.orchestrator} cluster` });
      if (b.orchestrator === 'marathon' && r.endpoint && !/^https?:\/\//.test(r.endpoint)) out.push({ pointer: '/register/endpoint', message: 'must be http(s)://host:port for marathon' });
      if (b.orchestrator === 'swarm' && r.endpoint && /^http:\/\//.test(r.endpoint)) out.push({ pointer: '/register/endpoint', message: 'must be unix://, tcp:// or https:// for swarm' });
    }
    return out;
  });
}

export function validateServiceRequest(body: unknown): ServiceRequest {
  return check<ServiceRequest>(validators.service, body, 'service request');
}

export interface ServicePatch { replicas?: number; image?: string; env?: Record<string, string> }

export function validateScale(body: unknown): ServicePatch {
  if (body && typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0) {
    throw new MixmeshError('BAD_REQUEST', 'invalid service change: give replicas, image or env', { errors: [{ pointer: '', message: 'give replicas, image or env' }] });
  }
  return check<ServicePatch>(validators.scale, body, 'service change');
}

/** a path parameter that must be a name */
export function checkName(value: string, where: string): string {
  if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(value) || value.length > 63) {
    throw new MixmeshError('BAD_REQUEST', `${where} "${value.slice(0, 80)}" is not a name (lower-case letters, digits and "-", starting with a letter)`, { errors: [{ pointer: where, message: 'is not a name' }] });
  }
  return value;
}
