/** The OpenAPI 3.1 description of the orchestrator API, served at /openapi.json. */

import { BEARER, PROBLEM_RESPONSE, PROBLEM_SCHEMA, SECURITY_SCHEMES } from '../../common/openapi.js';

const problem = PROBLEM_RESPONSE;
const descriptorBody = {
  required: true,
  content: {
    'application/yaml': { schema: { $ref: '#/components/schemas/MeshService' } },
    'application/json': { schema: { $ref: '#/components/schemas/MeshService' } },
  },
};
const accepted = { description: 'accepted', content: { 'application/json': { schema: { $ref: '#/components/schemas/Accepted' } } } };
const errors = { 400: problem, 401: problem, 403: problem, 413: problem, 415: problem };
// path segments are Kubernetes names (DNS-1123 labels); anything else is a 400 before any lookup
const dns1123Label = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$', maxLength: 63 };
const nsName = [
  { name: 'namespace', in: 'path', required: true, schema: dns1123Label },
  { name: 'name', in: 'path', required: true, schema: dns1123Label },
];
const bearer = BEARER;

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: { title: 'mixmesh orchestrator', version: 'v1', description: 'Deploy MeshServices: microservices on VMs (OpenStack Tacker) and containers (Kubernetes) in one Istio mesh.' },
    components: {
      securitySchemes: SECURITY_SCHEMES,
      schemas: {
        Problem: PROBLEM_SCHEMA,
        Accepted: { type: 'object', required: ['namespace', 'name', 'generation', 'operationId'], properties: { namespace: { type: 'string' }, name: { type: 'string' }, generation: { type: 'integer' }, operationId: { type: 'string' } } },
        MeshService: { type: 'object', description: 'a mixmesh.io/v1alpha1 MeshService descriptor (see descriptor/README.md)', required: ['apiVersion', 'kind', 'metadata', 'spec'] },
        Operation: { type: 'object', properties: { id: { type: 'string' }, state: { enum: ['Queued', 'Running', 'Succeeded', 'Failed', 'RolledBack'] }, steps: { type: 'array' }, error: { type: 'string' } } },
        Plan: { type: 'object', properties: { changes: { type: 'array' }, tacker: { type: 'array' }, vms: { type: 'array' } } },
      },
    },
    paths: {
      '/v1/services': {
        post: { summary: 'create a service', security: bearer, requestBody: descriptorBody, responses: { 202: accepted, ...errors, 409: problem, 422: problem } },
        get: { summary: 'list services', security: bearer, parameters: [{ name: 'namespace', in: 'query', schema: { type: 'string' } }], responses: { 200: { description: '{items: [...]}' }, 401: problem, 403: problem } },
      },
      '/v1/services/{namespace}/{name}': {
        put: { summary: 'create or update a service', security: bearer, parameters: nsName, requestBody: descriptorBody, responses: { 202: accepted, ...errors, 409: problem, 422: problem } },
        get: { summary: 'descriptor + status', security: bearer, parameters: nsName, responses: { 200: { description: 'the service' }, 404: problem } },
        delete: { summary: 'tear down a service', security: bearer, parameters: nsName, responses: { 202: accepted, 404: problem } },
      },
      '/v1/services/{namespace}/{name}/connections': {
        put: { summary: 'replace only spec.connections', security: bearer, parameters: nsName, requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { connections: { type: 'array' } } } }, 'application/yaml': {} } }, responses: { 202: accepted, ...errors, 404: problem } },
      },
      '/v1/services/{namespace}/{name}/plan': {
        post: { summary: 'dry run', security: bearer, parameters: nsName, requestBody: descriptorBody, responses: { 200: { description: 'plan', content: { 'application/json': { schema: { $ref: '#/components/schemas/Plan' } } } }, ...errors, 409: problem } },
      },
      '/v1/plan': { post: { summary: 'dry run', security: bearer, requestBody: descriptorBody, responses: { 200: { description: 'plan' }, ...errors, 409: problem } } },
      '/v1/services/{namespace}/{name}/events': {
        get: { summary: 'ordered events; ?watch=true streams text/event-stream honouring Last-Event-ID', security: bearer, parameters: [...nsName, { name: 'watch', in: 'query', schema: { type: 'boolean' } }], responses: { 200: { description: '{items} or an event stream' }, 404: problem } },
      },
      '/v1/services/{namespace}/{name}/mesh-config': {
        get: { summary: 'the live mesh objects as YAML', security: bearer, parameters: nsName, responses: { 200: { description: 'YAML stream', content: { 'application/yaml': {} } }, 404: problem } },
      },
      '/v1/operations/{id}': { get: { summary: 'one operation', security: bearer, parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'operation', content: { 'application/json': { schema: { $ref: '#/components/schemas/Operation' } } } }, 404: problem } } },
      '/v1/tacker/notifications': {
        get: { summary: "Tacker's subscription test", security: [{ tackerBasic: [] }, { bearer: [] }], responses: { 204: { description: 'ok' }, 401: problem } },
        post: { summary: 'Tacker LCM notifications (hints)', security: [{ tackerBasic: [] }, { bearer: [] }], responses: { 204: { description: 'ok' }, 401: problem } },
      },
      '/v1/tacker/oauth2/token': { post: { summary: 'OAuth2 client credentials for Tacker', security: [{ tackerBasic: [] }], responses: { 200: { description: '{access_token, token_type, expires_in}' }, 401: { description: '{"error": "invalid_client"}' } } } },
      // the web console's read-only helpers (console/README.md)
      '/v1/whoami': { get: { summary: 'the calling token: {name, role, namespaces?}', security: bearer, responses: { 200: { description: 'who' }, 401: problem } } },
      '/v1/services/{namespace}/{name}/objects': { get: { summary: 'the live generated objects and WorkloadEntries, each with its YAML', security: bearer, parameters: nsName, responses: { 200: { description: '{items: [{apiVersion, kind, name, namespace, labels, status?, yaml}]}' }, 404: problem } } },
      '/ui/login': { post: { summary: "the console's one-time login code → {token}, once", requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { code: { type: 'string' } } } } } }, responses: { 200: { description: '{token}' }, 401: problem } } },
      // backup/ (backup.md): viewers read and plan; writing needs admin
      '/v1/backups': {
        post: { summary: 'start a backup {name, service: NS/NAME | node, store?, encrypt?, state?, namespaces?, kinds?, labelSelector?}', security: bearer, responses: { 202: { description: '{name, operationId}' }, 400: problem, 401: problem, 403: problem, 409: problem } },
        get: { summary: 'the backups in the store (the truth) with their resources\' phases; ?store=', security: bearer, responses: { 200: { description: '{store, items}' }, 401: problem } },
      },
      '/v1/backups/{name}': {
        get: { summary: 'phase and progress, or the verified manifest', security: bearer, parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'backup' }, 404: problem, 409: problem, 422: problem } },
        delete: { summary: 'delete from the store', security: bearer, parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'deleted' }, 403: problem } },
      },
      '/v1/backups/{name}/objects/{path}': { get: { summary: 'one object of the archive, verified and decrypted (admin)', security: bearer, parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }, { name: 'path', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'bytes' }, 422: problem } } },
      '/v1/backups/{name}/cancel': { post: { summary: 'cancel a running backup', security: bearer, parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], responses: { 202: { description: 'cancel requested' }, 404: problem } } },
      '/v1/restores': {
        post: { summary: 'restore {name, backup, mappings?, conflict?, plan?, store?, data?}; plan: 200 with the plan, nothing changed', security: bearer, responses: { 200: { description: 'plan' }, 202: { description: '{name, operationId}' }, 400: problem, 403: problem, 409: problem, 422: problem } },
        get: { summary: 'restores', security: bearer, responses: { 200: { description: '{items}' } } },
      },
      '/v1/restores/{name}': { get: { summary: 'phase, per-item results with reason codes, warnings, first cause', security: bearer, parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'restore' }, 404: problem } } },
      '/v1/restores/{name}/cancel': { post: { summary: 'cancel a restore', security: bearer, parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], responses: { 202: { description: 'cancel requested' }, 404: problem } } },
      '/v1/schedules': {
        post: { summary: 'a BackupSchedule {name, cron (CRON_TZ= allowed), service | node, keep?, ttl?, store?}', security: bearer, responses: { 201: { description: '{name}' }, 400: problem, 409: problem } },
        get: { summary: 'schedules with their last (successful) backups', security: bearer, responses: { 200: { description: '{items}' } } },
      },
      '/v1/schedules/{name}': { delete: { summary: 'delete a schedule (its backups stay)', security: bearer, parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'deleted' }, 404: problem } } },
      // migrate/ (backup.md, "Migration"): viewers read and plan; starting one needs admin
      '/v1/migrations': {
        post: { summary: 'plan (plan: true → 200 with the plan and every problem, nothing changed) or start a migration {name?, node | service: NS/NAME, to, backup?, plan?}', security: bearer, responses: { 200: { description: 'the plan' }, 202: { description: '{name, operationId}' }, 400: problem, 401: problem, 403: problem, 409: problem, 422: problem } },
        get: { summary: 'the migrations with phase and step', security: bearer, responses: { 200: { description: '{items}' }, 401: problem } },
      },
      '/v1/migrations/{name}': { get: { summary: 'status: steps with timings, worker, error, rolled back, report', security: bearer, parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'migration' }, 404: problem } } },
      '/v1/migrations/{name}/events': { get: { summary: 'the Events of each step, oldest first', security: bearer, parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: '{items}' } } } },
      '/healthz': { get: { responses: { 200: { description: 'alive' } } } },
      '/livez': { get: { summary: 'liveness: the process answers', responses: { 200: { description: 'alive' } } } },
      '/version': { get: { summary: 'the server version, as Kubernetes /version (no auth)', responses: { 200: { description: '{version, component, nodeVersion, platform}' } } } },
      '/readyz': { get: { responses: { 200: { description: 'ready' }, 503: { description: 'not ready' } } } },
      '/metrics': { get: { responses: { 200: { description: 'Prometheus text format' } } } },
    },
  };
}
