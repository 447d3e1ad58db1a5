/**
 * waitForOperation through Tacker trouble (a 5xx, a dropped connection): a small local HTTP server
 * plays Keystone and a misbehaving Tacker, which the emulator never does on purpose.
 * (nock cannot intercept fetch on Node 20.)
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isMixmeshError } from '../../common/index.js';
import { createOpenStackClient, validateConfig } from './index.js';

type Step = (res: ServerResponse, req: IncomingMessage) => void;

describe('clients/openstack waitForOperation through Tacker trouble', () => {
  let server: Server;
  let base = '';
  let steps: Step[] = [];
  const seen: { path: string; version?: string; token?: string }[] = [];

  const json = (status: number, body: unknown): Step => (res) => {
    res.writeHead(status, { 'Content-Type': status >= 400 ? 'application/problem+json' : 'application/json', Version: '2.0.0' }).end(JSON.stringify(body));
  };
  const op = (state: string) => json(200, { id: 'op1', operationState: state, stateEnteredTime: '', startTime: '', vnfInstanceId: 'i1', operation: 'INSTANTIATE', isAutomaticInvocation: false, isCancelPending: false });

  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.method === 'POST' && req.url === '/v3/auth/tokens') {
          res.writeHead(201, { 'Content-Type': 'application/json', 'X-Subject-Token': 'gAAAAAB-test-token' }).end(JSON.stringify({
            token: { expires_at: new Date(Date.now() + 3600_000).toISOString(), issued_at: new Date().toISOString(), catalog: [{ type: 'nfv-orchestration', endpoints: [{ interface: 'public', region_id: 'RegionOne', url: `${base}/tacker/` }] }] },
          }));
          return;
        }
        seen.push({ path: req.url ?? '', version: req.headers.version as string | undefined, token: req.headers['x-auth-token'] as string | undefined });
        const step = steps.shift();
        if (step) step(res, req);
        else res.writeHead(500).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const client = () => createOpenStackClient(validateConfig({ authUrl: `${base}/v3`, username: 'u', password: 'p', projectName: 'p', regionName: 'RegionOne' }));

  it('polls through a 503 and a dropped connection until the state is final (path prefix kept, headers sent)', async () => {
    seen.length = 0;
    steps = [json(503, { status: 503, title: 'Service Unavailable', detail: 'restarting' }), (_res, req) => req.socket.destroy(), op('PROCESSING'), op('COMPLETED')];
    const done = await client().tacker.waitForOperation('op1', { minIntervalMs: 1, maxIntervalMs: 2 });
    assert.equal(done.operationState, 'COMPLETED');
    assert.equal(steps.length, 0);
    assert.ok(seen.every((s) => s.path === '/tacker/vnflcm/v2/vnf_lcm_op_occs/op1' && s.version === '2.0.0' && s.token === 'gAAAAAB-test-token'));
  });

  it('gives up at once on a 404 (the operation does not exist)', async () => {
    steps = [json(404, { status: 404, title: 'Not Found', detail: 'VnfLcmOpOcc op1 not found.' }), op('COMPLETED')];
    await assert.rejects(client().tacker.waitForOperation('op1', { minIntervalMs: 1 }), (e: unknown) => isMixmeshError(e, 'TACKER_REQUEST_FAILED') && e.details?.httpStatus === 404 && /VnfLcmOpOcc op1 not found/.test(e.message));
    assert.equal(steps.length, 1, 'no second GET');
  });
});
