import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, MixmeshError, problemTitle, toProblem, wrapError } from './errors.js';

describe('common/errors', () => {
  it('docs/errors.md lists exactly the codes in ERROR_CODES, with their statuses', () => {
    const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| `([A-Z0-9_]+)` \| ([^|]+) \|/gm)].map((m) => [m[1], m[2]!.trim()] as const);
    const documented = new Map(rows);
    assert.deepEqual([...documented.keys()].sort(), Object.keys(ERROR_CODES).sort());
    for (const [code, status] of Object.entries(ERROR_CODES)) {
      const shown = documented.get(code)!;
      assert.equal(shown, status >= 100 ? String(status) : `(exit ${status})`, `status of ${code}`);
    }
  });

  it('5xx problem bodies hide the message, 4xx ones show it', () => {
    const internal = toProblem(new MixmeshError('K8S_REQUEST_FAILED', 'token abc leaked?'));
    assert.equal(internal.detail, 'internal error; see the server log');
    const bad = toProblem(new MixmeshError('DESCRIPTOR_INVALID', 'bad', { errors: [{ pointer: '/a', message: 'm' }] }));
    assert.equal(bad.status, 400);
    assert.equal(bad.detail, 'bad');
    assert.deepEqual(bad.errors, [{ pointer: '/a', message: 'm' }]);
  });

  it('every problem title is a sentence, never the code repeated (also for a code without a written title)', () => {
    for (const code of [...Object.keys(ERROR_CODES), 'SOME_NEW_CODE']) {
      const title = problemTitle(code);
      assert.notEqual(title, code);
      assert.match(title, /^[A-Z][^]*\.$/, `${code}: ${title}`);
    }
    assert.equal(problemTitle('SOME_NEW_CODE'), 'Some new code.');
    assert.equal(toProblem(new MixmeshError('NOT_FOUND', 'no service a/b')).title, 'Not found.');
    assert.equal(toProblem(new Error('x')).title, 'Internal error.');
  });

  it('wrapError keeps the cause and adds context', () => {
    const cause = new Error('boom');
    const e = wrapError('K8S_APPLY_FAILED', 'apply Deployment cafe/x-v1', cause);
    assert.equal(e.code, 'K8S_APPLY_FAILED');
    assert.equal(e.message, 'apply Deployment cafe/x-v1: boom');
    assert.equal(e.cause, cause);
  });
});
