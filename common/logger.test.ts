import { strict as assert } from 'node:assert';
import { Writable } from 'node:stream';
import { createLogger, redactText } from './logger.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  return { lines, destination: destination as unknown as NodeJS.WritableStream };
}

describe('common/logger', () => {
  it('redacts secret fields and secret-looking text', () => {
    const { lines, destination } = capture();
    const log = createLogger({ destination: destination as never });
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOlsiaXN0aW8tY2EiXX0.c2lnbmF0dXJlc2lnbmF0dXJl';
    log.info({ token: jwt, req: { headers: { authorization: 'Bearer abcdefgh12345' } }, vm: { password: 'hunter22' } }, `got ${jwt}`);
    const text = lines.join('');
    assert.ok(!text.includes(jwt), text);
    assert.ok(!text.includes('abcdefgh12345'), text);
    assert.ok(!text.includes('hunter22'), text);
    assert.ok(text.includes('[REDACTED]'));
  });

  it('redactText scrubs private keys, bearer tokens and given literals', () => {
    const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----';
    assert.equal(redactText(`x ${key} y`), 'x [REDACTED] y');
    assert.equal(redactText('Authorization: Bearer s3cr3ttoken'), 'Authorization: Bearer [REDACTED]');
    assert.equal(redactText('pw=opensesame!', ['opensesame!']), 'pw=[REDACTED]');
  });
});
