import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMixmeshError } from '../../common/index.js';
import { cloudsYamlSearchPath, findEndpoint, loadOpenStackConfig, tokensUrl, type CatalogEntry } from './index.js';

describe('clients/openstack configuration', () => {
  let dir: string;
  const clouds = (authUrl: string) => `clouds:\n  sandbox:\n    auth:\n      auth_url: ${authUrl}\n      username: admin\n      password: s3cret\n      project_name: admin\n      user_domain_name: Default\n      project_domain_name: Default\n    region_name: RegionOne\n    interface: internal\n`;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-osconf-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is undefined without OS_CLOUD and OS_AUTH_URL (OpenStack not configured)', () => {
    assert.equal(loadOpenStackConfig({}, { cwd: dir, home: dir }), undefined);
  });

  it('reads OS_* variables, defaulting domains to Default and the interface to public', () => {
    const c = loadOpenStackConfig({ OS_AUTH_URL: 'http://k:5000/v3', OS_USERNAME: 'u', OS_PASSWORD: 'p', OS_PROJECT_NAME: 'pr', OS_REGION_NAME: 'R2' }, { cwd: dir, home: dir });
    assert.deepEqual({ ...c }, { authUrl: 'http://k:5000/v3', username: 'u', password: 'p', projectName: 'pr', userDomainName: 'Default', projectDomainName: 'Default', regionName: 'R2', interface: 'public', source: 'OS_* environment variables' });
    assert.ok(Object.isFrozen(c));
  });

  it('names every missing variable, and never the password', () => {
    assert.throws(() => loadOpenStackConfig({ OS_AUTH_URL: 'http://k/v3', OS_PASSWORD: 'hunter22' }, { cwd: dir, home: dir }), (e: unknown) => {
      assert.ok(isMixmeshError(e, 'CONFIG_INVALID'));
      assert.match(e.message, /OS_USERNAME/);
      assert.match(e.message, /OS_PROJECT_NAME/);
      assert.ok(!e.message.includes('hunter22'));
      return true;
    });
    assert.throws(() => loadOpenStackConfig({ OS_AUTH_URL: 'ftp://k', OS_USERNAME: 'u', OS_PASSWORD: 'p', OS_PROJECT_NAME: 'x' }, { cwd: dir, home: dir }), /must be http or https/);
    assert.throws(() => loadOpenStackConfig({ OS_AUTH_URL: 'http://k', OS_USERNAME: 'u', OS_PASSWORD: 'p', OS_PROJECT_NAME: 'x', OS_INTERFACE: 'private' }, { cwd: dir, home: dir }), /public, internal or admin/);
  });

  it('finds OS_CLOUD in the files of interfaces.md, in order', () => {
    const home = join(dir, 'home');
    const cwd = join(dir, 'work');
    mkdirSync(join(home, '.config/openstack'), { recursive: true });
    mkdirSync(cwd);
    assert.deepEqual(cloudsYamlSearchPath({ OS_CLIENT_CONFIG_FILE: 'x.yaml' }, { cwd, home }), [join(cwd, 'x.yaml'), join(cwd, 'clouds.yaml'), join(home, '.config/openstack/clouds.yaml'), '/etc/openstack/clouds.yaml']);
    writeFileSync(join(home, '.config/openstack/clouds.yaml'), clouds('http://home:5000/v3'));
    assert.equal(loadOpenStackConfig({ OS_CLOUD: 'sandbox' }, { cwd, home })?.authUrl, 'http://home:5000/v3');
    writeFileSync(join(cwd, 'clouds.yaml'), clouds('http://cwd:5000/v3'));
    assert.equal(loadOpenStackConfig({ OS_CLOUD: 'sandbox' }, { cwd, home })?.authUrl, 'http://cwd:5000/v3');
    writeFileSync(join(dir, 'explicit.yaml'), clouds('http://explicit:5000/v3'));
    const c = loadOpenStackConfig({ OS_CLOUD: 'sandbox', OS_CLIENT_CONFIG_FILE: join(dir, 'explicit.yaml') }, { cwd, home });
    assert.equal(c?.authUrl, 'http://explicit:5000/v3');
    assert.equal(c?.interface, 'internal');
    assert.equal(c?.regionName, 'RegionOne');
    assert.throws(() => loadOpenStackConfig({ OS_CLOUD: 'other' }, { cwd, home }), /OS_CLOUD "other" is not defined \(known: sandbox\)/);
    assert.throws(() => loadOpenStackConfig({ OS_CLOUD: 'sandbox', OS_CLIENT_CONFIG_FILE: join(dir, 'none.yaml') }, { cwd: dir, home: dir }), /no clouds.yaml was found/);
  });

  it('builds the token URL whether or not the auth URL ends in /v3', () => {
    assert.equal(tokensUrl('http://k:5000/v3'), 'http://k:5000/v3/auth/tokens');
    assert.equal(tokensUrl('http://k:5000/v3/'), 'http://k:5000/v3/auth/tokens');
    assert.equal(tokensUrl('http://k/identity'), 'http://k/identity/v3/auth/tokens');
  });

  it('picks catalog endpoints by type, interface and region, keeping the URL path', () => {
    const catalog: CatalogEntry[] = [
      { type: 'nfv-orchestration', endpoints: [
        { interface: 'public', region_id: 'R1', url: 'http://t1:9890/' },
        { interface: 'internal', region_id: 'R1', url: 'http://t1-int:9890/' },
        { interface: 'public', region_id: 'R2', url: 'http://t2/tacker/' },
      ] },
      { type: 'compute', endpoints: [{ interface: 'public', region: 'R2', url: 'http://n2:8774/v2.1' }] },
    ];
    assert.equal(findEndpoint(catalog, 'nfv-orchestration', 'public', 'R1'), 'http://t1:9890');
    assert.equal(findEndpoint(catalog, 'nfv-orchestration', 'internal', 'R1'), 'http://t1-int:9890');
    assert.equal(findEndpoint(catalog, 'nfv-orchestration', 'public', 'R2'), 'http://t2/tacker');
    assert.equal(findEndpoint(catalog, 'compute', 'public', 'R2'), 'http://n2:8774/v2.1');
    assert.equal(findEndpoint(catalog, 'nfv-orchestration', 'public', undefined), 'http://t1:9890');
    assert.throws(() => findEndpoint(catalog, 'nfv-orchestration', 'admin', 'R1'), /no admin endpoint of "nfv-orchestration" in region "R1".*public@R1/);
    assert.throws(() => findEndpoint(catalog, 'image', 'public', 'R1'), (e: unknown) => isMixmeshError(e, 'KEYSTONE_AUTH_FAILED') && /types: nfv-orchestration, compute/.test(e.message));
  });
});
