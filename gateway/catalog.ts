/**
 * The catalog: service templates (getCatalogTemplateData) and their rendering with parameters into
 * a ServiceDefinition, which each engine driver translates (translate.ts). Pure.
 */
import { MixmeshError } from '../common/errors.js';
import type { ServiceDefinition, ServiceRequest } from './types.js';

export interface CatalogTemplate {
  name: string;
  description: string;
  image: string;
  command?: string[];
  ports: number[];
  env: Record<string, string>;
  replicas: number;
  resources: { cpus: number; memoryMiB: number };
  volumes: { name: string; path: string }[];
  healthCheck?: { type: 'http' | 'tcp'; port: number; path?: string };
  /** JSON Schema of `parameters` */
  parameters: Record<string, unknown>;
}

const PARAMETERS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    replicas: { type: 'integer', minimum: 0, maximum: 100 },
    image: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-z0-9][a-z0-9._/:@-]*$' },
    env: { type: 'object', additionalProperties: { type: 'string', maxLength: 4096 }, propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' } },
    ports: { type: 'array', maxItems: 8, items: { type: 'integer', minimum: 1, maximum: 65535 } },
  },
};

const cafe = (name: string, description: string, port: number, health: CatalogTemplate['healthCheck'], env: Record<string, string> = {}): CatalogTemplate => ({
  name, description, image: `ghcr.io/example/${name}:1.0.0`, ports: [port], env, replicas: 1,
  resources: { cpus: 0.25, memoryMiB: 128 }, volumes: [], ...(health ? { healthCheck: health } : {}), parameters: PARAMETERS_SCHEMA,
});

export const CATALOG: readonly CatalogTemplate[] = [
  {
    name: 'web',
    description: 'a small HTTP server on port 8080 (busybox httpd serving /www); on Marathon it takes the $HOST:$PORT Marathon assigns',
    image: 'busybox:stable',
    command: ['sh', '-c', 'mkdir -p /www && exec httpd -f -v -p "${HOST:+$HOST:}${PORT:-8080}" -h /www'],
    ports: [8080], env: {}, replicas: 1, resources: { cpus: 0.1, memoryMiB: 32 }, volumes: [],
    healthCheck: { type: 'http', port: 8080, path: '/' },
    parameters: PARAMETERS_SCHEMA,
  },
  {
    name: 'cache',
    description: 'a redis-like in-memory cache on port 6379 (Redis 7, no persistence)',
    image: 'redis:7.2-alpine',
    command: ['redis-server', '--save', '', '--appendonly', 'no'],
    ports: [6379], env: {}, replicas: 1, resources: { cpus: 0.25, memoryMiB: 128 }, volumes: [{ name: 'data', path: '/data' }],
    healthCheck: { type: 'tcp', port: 6379 },
    parameters: PARAMETERS_SCHEMA,
  },
  {
    name: 'heartbeat',
    description: 'a worker that writes a line to its output every 2 s (`$MESSAGE`, default "alive"): logs and rolling updates made visible',
    image: 'busybox:stable',
    command: ['sh', '-c', 'while :; do echo "heartbeat ${MESSAGE:-alive}"; sleep 2; done'],
    ports: [], env: {}, replicas: 1, resources: { cpus: 0.05, memoryMiB: 16 }, volumes: [],
    parameters: PARAMETERS_SCHEMA,
  },
  cafe('kiosk-ui', "the IoT café's table kiosk (web UI)", 8080, { type: 'http', port: 8080, path: '/healthz' }),
  cafe('order-api', "the IoT café's order API", 8080, { type: 'http', port: 8080, path: '/healthz' }, { DEVICE_API_URL: 'http://device-api:8080', DB_HOST: 'inventory-db' }),
  cafe('kitchen-display', "the IoT café's kitchen display", 8080, undefined),
  cafe('device-api', "the IoT café's device API (sensors, tills)", 8080, { type: 'tcp', port: 8080 }, { DB_HOST: 'inventory-db' }),
  { ...cafe('inventory-db', "the IoT café's inventory database (MariaDB 10.11)", 3306, { type: 'tcp', port: 3306 }), image: 'mariadb:10.11', volumes: [{ name: 'data', path: '/var/lib/mysql' }], resources: { cpus: 0.5, memoryMiB: 512 } },
];

export function catalogTemplate(name: string): CatalogTemplate {
  const t = CATALOG.find((c) => c.name === name);
  if (!t) throw new MixmeshError('NOT_FOUND', `no catalog template "${name}"; the catalog has ${CATALOG.map((c) => c.name).join(', ')}`);
  return t;
}

export const parametersSchema = PARAMETERS_SCHEMA;

/** the template with the request's parameters (already validated) */
export function renderService(cluster: string, req: ServiceRequest): ServiceDefinition {
  const t = catalogTemplate(req.template);
  const p = req.parameters ?? {};
  return {
    name: req.name,
    cluster,
    template: t.name,
    image: p.image ?? t.image,
    ...(t.command ? { command: [...t.command] } : {}),
    env: { ...t.env, ...(p.env ?? {}) },
    ports: p.ports ? [...p.ports] : [...t.ports],
    replicas: p.replicas ?? t.replicas,
    resources: { ...t.resources },
    ...(t.healthCheck ? { healthCheck: { ...t.healthCheck } } : {}),
    volumes: t.volumes.map((v) => ({ ...v })),
  };
}
