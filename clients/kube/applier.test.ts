import { strict as assert } from 'node:assert';
import { MixmeshError, isMixmeshError } from '../../common/errors.js';
import { Applier, type ApplyPort } from './applier.js';
import type { KubeObject } from './client.js';

const SA: KubeObject = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'order-api', namespace: 'cafe' } };

/** A port over nothing: every object is new, and every apply fails with `failure`. */
function failingPort(failure: unknown): ApplyPort {
  return {
    get: () => Promise.resolve(undefined),
    list: () => Promise.resolve([]),
    apply: () => Promise.reject(failure),
    delete: () => Promise.resolve(false),
  };
}

async function applyError(failure: unknown): Promise<MixmeshError> {
  try {
    await new Applier(failingPort(failure)).apply([SA]);
  } catch (e) {
    assert.ok(isMixmeshError(e), String(e));
    return e;
  }
  assert.fail('apply did not fail');
}

describe('clients/kube/applier: apply failures', () => {
  it("passes the port's K8S_APPLY_FAILED on as it is (it names the object already): the same error, not wrapped twice", async () => {
    const refused = new MixmeshError('K8S_APPLY_FAILED', 'apply ServiceAccount cafe/order-api: admission webhook denied it', { details: { httpStatus: 403 } });
    const e = await applyError(refused);
    assert.equal(e, refused);
  });

  it('a K8S_APPLY_FAILED whose message happens not to start with the context is still not wrapped (the code decides, not the text)', async () => {
    const refused = new MixmeshError('K8S_APPLY_FAILED', 'ServiceAccount order-api refused', { details: { httpStatus: 422 } });
    assert.equal(await applyError(refused), refused);
  });

  it('a request failure of the port becomes K8S_APPLY_FAILED naming the object, keeping its cause and details', async () => {
    const cause = new Error('socket hang up');
    const failed = new MixmeshError('K8S_REQUEST_FAILED', 'discover v1: socket hang up', { cause, details: { httpStatus: 503 } });
    const e = await applyError(failed);
    assert.equal(e.code, 'K8S_APPLY_FAILED');
    assert.equal(e.message, 'apply ServiceAccount cafe/order-api: discover v1: socket hang up');
    assert.equal(e.cause, cause);
    assert.deepEqual(e.details, { httpStatus: 503 });
  });

  it('another mixmesh error keeps its code and gains the context, even when its text starts like the context', async () => {
    const e = await applyError(new MixmeshError('BAD_REQUEST', 'apply ServiceAccount cafe/order-api needs a namespace'));
    assert.equal(e.code, 'BAD_REQUEST');
    assert.equal(e.message, 'apply ServiceAccount cafe/order-api: apply ServiceAccount cafe/order-api needs a namespace');
  });

  it('a plain error becomes K8S_APPLY_FAILED naming the object, with the error as its cause', async () => {
    const cause = new TypeError('boom');
    const e = await applyError(cause);
    assert.equal(e.code, 'K8S_APPLY_FAILED');
    assert.equal(e.message, 'apply ServiceAccount cafe/order-api: boom');
    assert.equal(e.cause, cause);
  });
});
