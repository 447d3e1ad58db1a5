import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMixmeshError } from '../common/errors.js';
import { silentLogger } from '../common/logger.js';
import { TokenStore, parseTokensText } from '../orchestrator/tokens.js';
import { runTokenCreate, runTokenList, runTokenRevoke, type TokenIo } from './token.js';

describe('mixmesh token create|list|revoke (a tokens file)', () => {
  let dir: string;
  let file: string;
  let out: string[];
  let err: string[];
  let now: Date;
  const io = (): TokenIo => ({ out: (s) => out.push(s), err: (s) => err.push(s), env: { MIXMESH_TOKENS_FILE: file }, now: () => now });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-token-'));
    file = join(dir, 'tokens.yaml');
    out = [];
    err = [];
    now = new Date('2026-12-06T10:00:00Z');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('create prints the token once and keeps only its hash (0600); the store accepts it with its role until revoked', async () => {
    assert.equal(await runTokenCreate({ role: 'deployer', name: 'ci' }, io()), 0);
    const token = out.join('').trim();
    assert.match(token, /^mxm_[A-Za-z0-9_-]{43}$/);
    const text = readFileSync(file, 'utf8');
    assert.ok(!text.includes(token), 'the token itself is in the file');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const [record] = parseTokensText(text, file);
    assert.deepEqual({ name: record!.name, role: record!.role, expiresAt: record!.expiresAt }, { name: 'ci', role: 'deployer', expiresAt: undefined });

    const store = TokenStore.watching(file, parseTokensText(text, file), silentLogger, 3_600_000);
    try {
      assert.deepEqual(store.lookup(token), { name: 'ci', role: 'deployer' });
      assert.equal(store.lookup(`${token}x`), undefined);
      await runTokenRevoke('ci', {}, io());
      store.reload(file, silentLogger);
      assert.equal(store.lookup(token), undefined, 'a revoked token is refused after the reload');
    } finally {
      store.stop();
    }
  });

  it('--ttl: the token is refused once expired; list shows it expired', async () => {
    await runTokenCreate({ role: 'viewer', name: 'short', ttl: '1h' }, io());
    const token = out.join('').trim();
    let clock = now.getTime();
    const store = TokenStore.of(parseTokensText(readFileSync(file, 'utf8'), file), () => clock);
    assert.deepEqual(store.lookup(token), { name: 'short', role: 'viewer' });
    clock += 3600_000;
    assert.equal(store.lookup(token), undefined);
    out = [];
    now = new Date(clock);
    await runTokenList({}, io());
    assert.match(out.join(''), /^NAME\s+ROLE\s+CREATED\s+EXPIRES\nshort\s+viewer\s+2026-12-06T10:00:00.000Z\s+2026-12-06T11:00:00.000Z \(expired\)\n$/);
  });

  it('refuses a bad role, a duplicate name, a bad ttl, an unknown name to revoke, and changes nothing', async () => {
    await runTokenCreate({ role: 'admin', name: 'root' }, io());
    const before = readFileSync(file, 'utf8');
    await assert.rejects(runTokenCreate({ role: 'god', name: 'x' }, io()), (e) => isMixmeshError(e, 'USAGE') && /allowed: viewer, deployer, admin/.test(e.message));
    await assert.rejects(runTokenCreate({ role: 'admin', name: 'root' }, io()), (e) => isMixmeshError(e, 'USAGE') && /exists/.test(e.message));
    await assert.rejects(runTokenCreate({ role: 'admin', name: 'y', ttl: 'soon' }, io()), (e) => isMixmeshError(e, 'USAGE') && /--ttl/.test(e.message));
    await assert.rejects(runTokenRevoke('nobody', {}, io()), (e) => isMixmeshError(e, 'NOT_FOUND') && /known: root/.test(e.message));
    assert.equal(readFileSync(file, 'utf8'), before);
  });
});
