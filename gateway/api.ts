/**
 * The gateway's REST routes under /v1/gateway, mounted on the orchestrator's API (same bearer
 * tokens and roles, body limit, problem+json with pointers): the ten operations, scale, events,
 * operations, the catalog and the capability matrix.
 */
import type { Request, Response } from 'express';
import { parseBody, type ApiMount } from '../orchestrator/index.js';
import type { Gateway } from './gateway.js';

const p = (req: Request, key: string): string => String(req.params[key]);

export function gatewayMount(gateway: Gateway): ApiMount {
  return {
    openApiPaths: gatewayOpenApiPaths,
    routes(app, { need, rawBody }) {
      const base = '/v1/gateway';
      app.get(`${base}/capabilities`, need('viewer'), (_req, res) => { res.json(gateway.capabilities()); });
      app.get(`${base}/catalog`, need('viewer'), (_req, res) => { res.json(gateway.catalog()); });
      app.get(`${base}/catalog/:name`, need('viewer'), (req, res) => { res.json(gateway.catalogTemplate(p(req, 'name'))); });

      app.post(`${base}/clusters`, need('deployer'), rawBody, async (req: Request, res: Response) => {
        const accepted = await gateway.createCluster(parseBody(req, false));
        res.status(202).location(`${base}/clusters/${accepted.id}`).json(accepted);
      });
      app.get(`${base}/clusters`, need('viewer'), async (_req, res) => { res.json(await gateway.listClusters()); });
      app.get(`${base}/clusters/:id`, need('viewer'), async (req, res) => { res.json(await gateway.getCluster(p(req, 'id'))); });
      app.delete(`${base}/clusters/:id`, need('deployer'), async (req, res) => { res.status(202).json(await gateway.deleteCluster(p(req, 'id'))); });
      app.get(`${base}/clusters/:id/events`, need('viewer'), async (req, res) => { res.json({ items: await gateway.events(p(req, 'id')) }); });
      app.get(`${base}/clusters/:id/hosts`, need('viewer'), async (req, res) => { res.json(await gateway.hosts(p(req, 'id'))); });
      app.get(`${base}/clusters/:id/hosts/:hostId`, need('viewer'), async (req, res) => { res.json(await gateway.host(p(req, 'id'), p(req, 'hostId'))); });

      app.post(`${base}/clusters/:id/services`, need('deployer'), rawBody, async (req, res) => {
        const created = await gateway.createService(p(req, 'id'), parseBody(req, false));
        res.status(201).location(`${base}/clusters/${p(req, 'id')}/services/${created.name}`).json(created);
      });
      app.get(`${base}/clusters/:id/services`, need('viewer'), async (req, res) => { res.json(await gateway.listServices(p(req, 'id'))); });
      app.get(`${base}/clusters/:id/services/:sid`, need('viewer'), async (req, res) => { res.json(await gateway.getService(p(req, 'id'), p(req, 'sid'))); });
      app.patch(`${base}/clusters/:id/services/:sid`, need('deployer'), rawBody, async (req, res) => { res.json(await gateway.scaleService(p(req, 'id'), p(req, 'sid'), parseBody(req, false))); });
      app.delete(`${base}/clusters/:id/services/:sid`, need('deployer'), async (req, res) => {
        await gateway.deleteService(p(req, 'id'), p(req, 'sid'));
        res.status(204).end();
      });
      app.get(`${base}/clusters/:id/services/:sid/logs`, need('viewer'), async (req, res) => { res.json(await gateway.logs(p(req, 'id'), p(req, 'sid'), req.query.tail)); });
      app.get(`${base}/clusters/:id/services/:sid/containers`, need('viewer'), async (req, res) => { res.json(await gateway.containers(p(req, 'id'), p(req, 'sid'))); });
      app.get(`${base}/clusters/:id/services/:sid/containers/:cid`, need('viewer'), async (req, res) => { res.json(await gateway.container(p(req, 'id'), p(req, 'sid'), p(req, 'cid'))); });
      app.get(`${base}/operations/:opId`, need('viewer'), async (req, res) => { res.json(await gateway.operation(p(req, 'opId'))); });
    },
  };
}

const problem = { description: 'RFC 9457 problem', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };
const bearer = [{ bearer: [] }];
const id = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const sid = { name: 'sid', in: 'path', required: true, schema: { type: 'string' } };
const json = (description: string) => ({ description, content: { 'application/json': { schema: { type: 'object' } } } });
const body = (description: string) => ({ required: true, description, content: { 'application/json': { schema: { type: 'object' } }, 'application/yaml': { schema: { type: 'object' } } } });
const errs = { 400: problem, 401: problem, 403: problem, 404: problem };

export function gatewayOpenApiPaths(): Record<string, unknown> {
  return {
    '/v1/gateway/capabilities': { get: { summary: 'the capability matrix of every driver', security: bearer, responses: { 200: json('{items: [{driver, kind, capabilities, notes}]}'), 401: problem } } },
    '/v1/gateway/catalog': { get: { summary: 'getCatalogTemplateData: every template', security: bearer, responses: { 200: json('{items}'), 401: problem } } },
    '/v1/gateway/catalog/{name}': { get: { summary: 'one template with the JSON Schema of its parameters', security: bearer, parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: json('template'), 404: problem } } },
    '/v1/gateway/clusters': {
      post: { summary: 'createOrchestrator: {name, orchestrator, infrastructure, size, version} or {name, orchestrator, register}', security: bearer, requestBody: body('cluster request'), responses: { 202: json('{id, operationId}'), ...errs, 409: problem, 422: problem } },
      get: { summary: 'every cluster', security: bearer, responses: { 200: json('{items}'), 401: problem } },
    },
    '/v1/gateway/clusters/{id}': {
      get: { summary: 'getOrchestratorInfo', security: bearer, parameters: [id], responses: { 200: json('cluster info'), ...errs } },
      delete: { summary: 'deleteOrchestrator', security: bearer, parameters: [id], responses: { 202: json('{id, operationId}'), ...errs } },
    },
    '/v1/gateway/clusters/{id}/events': { get: { summary: 'the pipeline\'s events, oldest first', security: bearer, parameters: [id], responses: { 200: json('{items}'), ...errs } } },
    '/v1/gateway/clusters/{id}/hosts': { get: { summary: 'the cluster\'s hosts', security: bearer, parameters: [id], responses: { 200: json('{items}'), ...errs } } },
    '/v1/gateway/clusters/{id}/hosts/{hostId}': { get: { summary: 'getHostInfoById', security: bearer, parameters: [id, { name: 'hostId', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: json('host'), ...errs } } },
    '/v1/gateway/clusters/{id}/services': {
      post: { summary: 'createOrchestratorService: {name, template, parameters: {replicas, image, env, ports}}', security: bearer, parameters: [id], requestBody: body('service request'), responses: { 201: json('service'), ...errs, 409: problem } },
      get: { summary: 'getOrchestratorsServiceInfo', security: bearer, parameters: [id], responses: { 200: json('{items}'), ...errs } },
    },
    '/v1/gateway/clusters/{id}/services/{sid}': {
      get: { summary: 'getContainerServiceInfo', security: bearer, parameters: [id, sid], responses: { 200: json('service in detail'), ...errs } },
      patch: { summary: 'scale and/or update: {replicas?, image?, env?} (a rolling update on the engine)', security: bearer, parameters: [id, sid], requestBody: body('{replicas?, image?, env?}'), responses: { 200: json('service'), ...errs } },
      delete: { summary: 'deleteOrchestratorService', security: bearer, parameters: [id, sid], responses: { 204: { description: 'deleted' }, ...errs } },
    },
    '/v1/gateway/clusters/{id}/services/{sid}/logs': { get: { summary: 'the last lines of each container (Swarm: the service\'s logs; Kubernetes: pods/log); 422 where the orchestrator cannot', security: bearer, parameters: [id, sid, { name: 'tail', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 10000, default: 100 } }], responses: { 200: json('{items: [{container, lines}]}'), ...errs, 422: problem } } },
    '/v1/gateway/clusters/{id}/services/{sid}/containers': { get: { summary: 'getContainerInfo: pods / tasks / Marathon tasks', security: bearer, parameters: [id, sid], responses: { 200: json('{items}'), ...errs } } },
    '/v1/gateway/clusters/{id}/services/{sid}/containers/{cid}': { get: { summary: 'one container', security: bearer, parameters: [id, sid, { name: 'cid', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: json('container'), ...errs } } },
    '/v1/gateway/operations/{opId}': { get: { summary: 'one gateway operation: state, steps, error', security: bearer, parameters: [{ name: 'opId', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: json('operation'), ...errs } } },
  };
}
