/** The OpenAPI 3.1 description of the injector API (vm-sidecar-injector/README.md), served at /openapi.json. */

import { BEARER, PROBLEM_RESPONSE, PROBLEM_SCHEMA, SECURITY_SCHEMES } from '../../common/openapi.js';

const problem = PROBLEM_RESPONSE;
const bearer = BEARER;
const idParam = [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }];
const injection = { description: 'one injection', content: { 'application/json': { schema: { $ref: '#/components/schemas/Injection' } } } };

export function injectorOpenApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: { title: 'mixmesh VM Sidecar Injector', version: 'v1', description: 'Install Envoy and the Istio bootstrap on VMs over SSH, keep their tokens fresh, take it off again.' },
    components: {
      securitySchemes: SECURITY_SCHEMES,
      schemas: {
        Problem: PROBLEM_SCHEMA,
        OrchestratorRequest: {
          type: 'object', required: ['vm', 'workload'],
          properties: {
            vm: {
              type: 'object', required: ['address', 'credentials', 'hostKey'],
              properties: {
                address: { type: 'string' }, port: { type: 'integer' }, user: { type: 'string' }, floating: { type: 'string' },
                credentials: { type: 'object', properties: { secretRef: { type: 'object', required: ['namespace', 'name'], properties: { namespace: { type: 'string' }, name: { type: 'string' } } } } },
                hostKey: { type: 'string', description: '"console", "accept-new" or a pinned key "<type> <base64>"' },
                serverId: { type: 'string', description: 'the Nova server UUID; required with hostKey console' },
              },
            },
            workload: { type: 'object', required: ['service', 'name', 'version', 'namespace'], properties: { service: { type: 'string' }, name: { type: 'string' }, version: { type: 'string' }, namespace: { type: 'string' } } },
            vnfInstanceId: { type: 'string' },
            sidecar: { type: 'object', properties: { package: { enum: ['deb', 'rpm', 'tar'] }, istioVersion: { type: 'string' } } },
          },
        },
        PluginRequest: {
          type: 'object', required: ['vnfInstanceId', 'identity', 'servers'],
          properties: {
            vnfInstanceId: { type: 'string' },
            identity: { type: 'object', required: ['namespace', 'service', 'name', 'version', 'index'], properties: { namespace: { type: 'string' }, service: { type: 'string' }, name: { type: 'string' }, version: { type: 'string' }, index: { type: 'integer' } } },
            servers: { type: 'array', items: { type: 'object', required: ['serverId'], properties: { serverId: { type: 'string' }, fixedAddresses: { type: 'array', items: { type: 'string' } } } } },
          },
        },
        Injection: {
          type: 'object', required: ['id', 'state'],
          properties: {
            id: { type: 'string' },
            state: { enum: ['Pending', 'Connecting', 'Installing', 'Starting', 'Verifying', 'Succeeded', 'Failed', 'Removing', 'Removed'] },
            code: { type: 'string' }, error: { type: 'string' }, hostKey: { type: 'string' }, tokenExpiresAt: { type: 'string', format: 'date-time' },
            unchanged: { type: 'boolean' }, supersededBy: { type: 'string' },
            sidecar: { type: 'object', properties: { state: { type: 'string' } } },
            steps: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, startedAt: { type: 'string' }, endedAt: { type: 'string' }, exitCode: { type: 'integer' }, stderrTail: { type: 'string' }, changed: { type: 'boolean' } } } },
          },
        },
      },
    },
    paths: {
      '/v1/injections': {
        post: {
          summary: 'inject a VM (orchestrator form or plug-in form)', security: bearer,
          requestBody: { required: true, content: { 'application/json': { schema: { oneOf: [{ $ref: '#/components/schemas/OrchestratorRequest' }, { $ref: '#/components/schemas/PluginRequest' }] } } } },
          responses: { 202: { description: '{id, state}; Location: /v1/injections/{id}' }, 400: problem, 401: problem, 413: problem, 415: problem },
        },
        get: { summary: 'list injections', security: bearer, parameters: [{ name: 'vnfInstanceId', in: 'query', schema: { type: 'string' } }], responses: { 200: { description: '{items: [Injection]}' }, 400: problem, 401: problem } },
      },
      '/v1/injections/{id}': {
        get: { summary: 'one injection (in memory: 404 after an injector restart)', security: bearer, parameters: idParam, responses: { 200: injection, 401: problem, 404: problem } },
        delete: { summary: 'uninstall the sidecar from that VM', security: bearer, parameters: idParam, responses: { 202: { description: '{id, state}' }, 401: problem, 404: problem } },
      },
      '/v1/tacker/notifications': {
        get: { summary: "Tacker's subscription test (stand-alone notification mode only, else 404)", security: [{ tackerBasic: [] }], responses: { 204: { description: 'ok' }, 401: problem, 404: problem } },
        post: { summary: 'Tacker LCM notifications (stand-alone notification mode only, else 404)', security: [{ tackerBasic: [] }], responses: { 204: { description: 'ok' }, 401: problem, 404: problem } },
      },
      '/healthz': { get: { responses: { 200: { description: 'alive' } } } },
      '/livez': { get: { summary: 'liveness: the process answers', responses: { 200: { description: 'alive' } } } },
      '/readyz': { get: { summary: 'the cluster answers', responses: { 200: { description: 'ready' }, 503: { description: 'not ready' } } } },
      '/version': { get: { summary: 'the injector version (no auth)', responses: { 200: { description: '{version, component, nodeVersion, platform}' } } } },
      '/metrics': { get: { responses: { 200: { description: 'Prometheus text format' } } } },
      '/openapi.json': { get: { responses: { 200: { description: 'this document' } } } },
    },
  };
}
