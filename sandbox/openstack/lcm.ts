/**
 * Tacker VNF LCM v2 (`/vnflcm/v2`), behaving like docs/tacker.md on every point: Version header rules,
 * instances, asynchronous operations with the full state machine (STARTING → PROCESSING →
 * COMPLETED | FAILED_TEMP → retry / rollback / fail), one VM per VDU instance through the
 * VmProvider seam, the mgmt driver, notifications, SOL013 lists.
 *
 * Two layers, one file a seam: lcm-operations.ts (instances, operations, notifications) ← this
 * file (the LCM routes and SOL013 lists).
 */
import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { HttpProblem, jsonBody, objectBody } from './http-util.js';
import { parseSubscriptionRequest, subscriptionView } from './notifier.js';
import { sendPage } from './paging.js';
import { listQueryFilter, matchesFilter, selectFields, Sol013Error, type SelectorQuery } from './sol013.js';
import { API_VERSION, INSTANCE_LIST_EXCLUDED, OP_LIST_EXCLUDED, TackerLcmOperations, type InstanceRec, type OpRec } from './lcm-operations.js';

export { API_VERSION, DEFAULT_LATENCIES, SANDBOX_NET, VIM_TYPE, requestedCpConfigs, type Latencies, type LcmDeps, type MgmtDriverConfig, type Vim } from './lcm-operations.js';

export class TackerLcm extends TackerLcmOperations {
  // ---------- routes ----------

  private list(req: Request, res: Response, items: Record<string, unknown>[], excluded: readonly string[], path: string): void {
    const q = req.query as Record<string, string | undefined>;
    let exprs;
    try {
      exprs = listQueryFilter(q as SelectorQuery);
    } catch (e) {
      if (e instanceof Sol013Error) throw new HttpProblem(400, e.message);
      throw e;
    }
    const out = items.filter((i) => matchesFilter(i, exprs)).map((i) => selectFields(i, q as SelectorQuery, excluded));
    sendPage(req, res, out, this.url(path), this.d.pageSize);
  }

  router(): Router {
    const r = express.Router();
    // every call but api_versions must carry Version: 2.0.0 (missing 400, other 406)
    r.use((req: Request, res: Response, next: NextFunction) => {
      res.set('Version', API_VERSION);
      if (req.path === '/api_versions') return next();
      const v = req.get('version');
      if (v === undefined) throw new HttpProblem(400, 'Version header is required.');
      if (v.trim() !== API_VERSION) throw new HttpProblem(406, `Version ${v} not supported (supported: ${API_VERSION}).`);
      next();
    });
    r.use(jsonBody);
    r.get('/api_versions', (_req, res) => {
      res.json({ uriPrefix: '/vnflcm/v2', apiVersions: [{ version: API_VERSION, isDeprecated: false }] });
    });

    r.post('/vnf_instances', (req, res) => {
      const body = objectBody(req, 'create VNF instance');
      if (typeof body.vnfdId !== 'string') throw new HttpProblem(400, 'vnfdId is required (a string)');
      for (const k of ['vnfInstanceName', 'vnfInstanceDescription'] as const) if (body[k] !== undefined && typeof body[k] !== 'string') throw new HttpProblem(400, `${k} must be a string`);
      if (body.metadata !== undefined && (typeof body.metadata !== 'object' || body.metadata === null || Array.isArray(body.metadata))) throw new HttpProblem(400, 'metadata must be an object');
      const pkg = this.d.packages.byVnfdId(body.vnfdId);
      if (!pkg || !pkg.vnfd) throw new HttpProblem(422, `VnfdId ${body.vnfdId} not found.`);
      if (pkg.operationalState !== 'ENABLED') throw new HttpProblem(422, `VnfPackage of vnfdId ${body.vnfdId} is not ENABLED (it is ${pkg.operationalState}).`);
      const id = randomUUID();
      const view: InstanceRec['view'] = {
        id,
        ...(body.vnfInstanceName !== undefined ? { vnfInstanceName: body.vnfInstanceName as string } : {}),
        ...(body.vnfInstanceDescription !== undefined ? { vnfInstanceDescription: body.vnfInstanceDescription } : {}),
        vnfdId: body.vnfdId,
        vnfProvider: pkg.vnfd.provider,
        vnfProductName: pkg.vnfd.productName,
        vnfSoftwareVersion: pkg.vnfd.softwareVersion,
        vnfdVersion: pkg.vnfd.vnfdVersion,
        instantiationState: 'NOT_INSTANTIATED',
        ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
        _links: this.instanceLinks(id, false),
      };
      const inst: InstanceRec = { view, pkg, vms: [], opId: undefined };
      this.instances.set(id, inst);
      pkg.usageState = 'IN_USE';
      this.notifyIdentifier('VnfIdentifierCreationNotification', inst);
      res.status(201).location(this.url(`/vnf_instances/${id}`)).json(view);
    });

    r.get('/vnf_instances', (req, res) => {
      this.list(req, res, [...this.instances.values()].map((i) => i.view), INSTANCE_LIST_EXCLUDED, '/vnf_instances');
    });

    r.get('/vnf_instances/:id', (req, res) => {
      res.json(this.inst(req.params.id as string).view);
    });

    r.delete('/vnf_instances/:id', async (req, res) => {
      const inst = this.inst(req.params.id as string);
      if (inst.view.instantiationState === 'INSTANTIATED') throw new HttpProblem(409, `VnfInstance ${inst.view.id} is INSTANTIATED; terminate it first.`);
      this.busy(inst);
      this.instances.delete(inst.view.id);
      // VMs a failed (FAILED) instantiate left behind go with the instance
      for (const o of this.ops.values()) if (o.view.vnfInstanceId === inst.view.id) await this.removeVms(o.created);
      if (![...this.instances.values()].some((i) => i.pkg === inst.pkg)) inst.pkg.usageState = 'NOT_IN_USE';
      this.notifyIdentifier('VnfIdentifierDeletionNotification', inst);
      res.status(204).end();
    });

    r.post('/vnf_instances/:id/instantiate', (req, res) => {
      const inst = this.inst(req.params.id as string);
      const body = objectBody(req, 'instantiate');
      // like Tacker: the request is validated (400) before the instance state is checked (409)
      const checked = this.checkInstantiateRequest(inst, body);
      if (inst.view.instantiationState === 'INSTANTIATED') throw new HttpProblem(409, `VnfInstance ${inst.view.id} is already INSTANTIATED.`);
      this.busy(inst);
      const op = this.newOp(inst, 'INSTANTIATE', body);
      op.vimConnectionInfo = checked.vimConnectionInfo;
      this.notifyOp(op, inst);
      this.drive(() => this.runInstantiate(op, inst));
      res.status(202).location(this.url(`/vnf_lcm_op_occs/${op.view.id}`)).end();
    });

    r.post('/vnf_instances/:id/terminate', (req, res) => {
      const inst = this.inst(req.params.id as string);
      const body = objectBody(req, 'terminate');
      if (body.terminationType !== 'FORCEFUL' && body.terminationType !== 'GRACEFUL') throw new HttpProblem(400, `terminationType must be FORCEFUL or GRACEFUL, got ${JSON.stringify(body.terminationType)}`);
      if (body.gracefulTerminationTimeout !== undefined && (typeof body.gracefulTerminationTimeout !== 'number' || body.gracefulTerminationTimeout < 0)) throw new HttpProblem(400, 'gracefulTerminationTimeout must be a non-negative number');
      if (inst.view.instantiationState !== 'INSTANTIATED') throw new HttpProblem(409, `VnfInstance ${inst.view.id} is NOT_INSTANTIATED.`);
      this.busy(inst);
      const op = this.newOp(inst, 'TERMINATE', body);
      this.notifyOp(op, inst);
      this.drive(() => this.runTerminate(op, inst));
      res.status(202).location(this.url(`/vnf_lcm_op_occs/${op.view.id}`)).end();
    });

    r.get('/vnf_lcm_op_occs', (req, res) => {
      this.list(req, res, [...this.ops.values()].map((o) => o.view), OP_LIST_EXCLUDED, '/vnf_lcm_op_occs');
    });

    r.get('/vnf_lcm_op_occs/:id', (req, res) => {
      res.json(this.op(req.params.id as string).view);
    });

    const failedTemp = (op: OpRec, action: string): InstanceRec => {
      if (op.view.operationState !== 'FAILED_TEMP') throw new HttpProblem(409, `Cannot ${action} LCM operation ${op.view.id}: it is ${op.view.operationState}, not FAILED_TEMP.`);
      return this.inst(op.view.vnfInstanceId);
    };

    r.post('/vnf_lcm_op_occs/:id/retry', (req, res) => {
      const op = this.op(req.params.id as string);
      const inst = failedTemp(op, 'retry');
      this.setOpState(op, 'PROCESSING');
      inst.opId = op.view.id;
      this.drive(() => (op.view.operation === 'INSTANTIATE' ? this.instantiateProcessing(op, inst) : this.terminateProcessing(op, inst)));
      res.status(202).end();
    });

    r.post('/vnf_lcm_op_occs/:id/rollback', (req, res) => {
      const op = this.op(req.params.id as string);
      failedTemp(op, 'roll back');
      if (op.view.operation !== 'INSTANTIATE') throw new HttpProblem(422, `Rollback of ${op.view.operation} is not supported.`);
      this.setOpState(op, 'ROLLING_BACK');
      this.drive(async () => {
        await this.wait(this.d.latencies.terminateMs);
        await this.removeVms(op.created);
        op.created = [];
        if (this.stopped) return;
        op.view.resourceChanges = { affectedVnfcs: [] };
        this.setOpState(op, 'ROLLED_BACK');
      });
      res.status(202).end();
    });

    r.post('/vnf_lcm_op_occs/:id/fail', (req, res) => {
      const op = this.op(req.params.id as string);
      failedTemp(op, 'fail');
      this.setOpState(op, 'FAILED');
      res.status(200).json(op.view);
    });

    r.post('/subscriptions', async (req, res) => {
      const body = objectBody(req, 'create subscription');
      const sub = await this.d.notifier.subscribe(parseSubscriptionRequest(body));
      res.status(201).location(this.url(`/subscriptions/${sub.id}`)).json(subscriptionView(sub, this.d.baseUrl()));
    });

    r.get('/subscriptions', (req, res) => {
      this.list(req, res, [...this.d.notifier.subscriptions.values()].map((s) => subscriptionView(s, this.d.baseUrl())), [], '/subscriptions');
    });

    r.get('/subscriptions/:id', (req, res) => {
      const s = this.d.notifier.subscriptions.get(req.params.id as string);
      if (!s) throw new HttpProblem(404, `LccnSubscription ${req.params.id as string} not found.`);
      res.json(subscriptionView(s, this.d.baseUrl()));
    });

    r.delete('/subscriptions/:id', (req, res) => {
      if (!this.d.notifier.subscriptions.delete(req.params.id as string)) throw new HttpProblem(404, `LccnSubscription ${req.params.id as string} not found.`);
      res.status(204).end();
    });

    return r;
  }
}
