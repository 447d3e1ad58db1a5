/**
 * The café's CI/CD workflow (`.github/workflows/cafe.yml`), step by step: the "Deploy with mixmesh"
 * step's own command (`mixmesh apply` of the descriptor, the built CLI in dist/) against an
 * orchestrator on the embedded sandbox (Kubernetes emulator, Keystone + Tacker/Nova emulator, real
 * OpenSSH VMs), started as the e2e tests start it, with the step's two secrets as its env; the
 * "Install host packages" step as written; and every `run` step of the workflow accounted for.
 * Needs `npm run build` first (the step runs dist/cli/bin.js, which its job's Install step builds).
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorld, type World } from '../../test/e2e/world.js';
import { descriptorImages } from './docker/build.js';
import { repo, runStep, workflowStep, workflowSteps } from './local/workflow.js';

/** how each `run` step of the workflow is exercised; a new step must say how here */
const COVERAGE: Record<string, string> = {
  'Install host packages': 'run here, as written (a stand-in sudo: the tests already run as root)',
  'Install': 'the runner\'s set-up: npm ci and npm run build make the tree these tests run in (workflow.test.ts needs dist/)',
  'Validate the descriptor': 'run by docker.test.ts',
  'Test the café': 'its globs are checked here: they name every café test file',
  'Build the images': 'run by docker.test.ts against a real Docker Engine',
  'Push the images': 'run by docker.test.ts as written (its ${{ }} filled in as the runner does), REGISTRY naming a real registry (Distribution, htpasswd auth) on 127.0.0.1 in place of ghcr.io; a wrong password fails the login',
  'Deploy with mixmesh': 'run here against an orchestrator on the sandbox',
};

describe('IoT café CI/CD workflow', function () {
  this.timeout(600_000);

  it('every run step says how it is tested', () => {
    const runs = workflowSteps().filter((s) => s.run).map((s) => s.name ?? `(unnamed step in ${s.job})`);
    assert.deepEqual([...new Set(runs)].sort(), Object.keys(COVERAGE).sort());
  });

  it('"Test the café" runs every café test file, after the job built dist/', () => {
    const command = workflowStep('Test the café');
    assert.match(command, /npx mocha 'examples\/iot-cafe\/\*\*\/\*\.test\.ts'/);
    // this file runs dist/cli/bin.js: the job builds before it tests
    const job = workflowSteps().filter((s) => s.job === workflowSteps().find((t) => t.name === 'Test the café')!.job);
    const at = job.findIndex((s) => s.name === 'Test the café');
    assert.ok(job.slice(0, at).some((s) => /\bnpm run build\b/.test(s.run ?? '')), 'the test job builds dist/ before "Test the café"');
    for (const f of ['cafe.test.ts', 'docker.test.ts', 'manifests.test.ts', 'workflow.test.ts', 'order-api/parser.test.ts', 'device-api/parser.test.ts']) {
      assert.ok(existsSync(join(repo, 'examples/iot-cafe', f)), `${f} is missing`);
    }
  });

  it('"Install host packages" runs as written and finds everything installed', async function () {
    if (process.getuid?.() !== 0) this.skip();
    const bin = mkdtempSync(join(tmpdir(), 'cafe-sudo-'));
    try {
      // the runner's sudo; a stand-in with its command line for a process that is already root
      writeFileSync(join(bin, 'sudo'), '#!/bin/sh\n[ "$(id -u)" = 0 ] || { echo "sudo stand-in: not root" >&2; exit 1; }\nexec "$@"\n');
      chmodSync(join(bin, 'sudo'), 0o755);
      const r = await runStep(workflowStep('Install host packages'), { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` });
      assert.equal(r.code, 0, r.out);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  describe('"Deploy with mixmesh" against an orchestrator on the sandbox', () => {
    let w: World | undefined;
    /** the step's env: its two secrets; with MIXMESH_E2E_TLS=1 the server's CA too (a runner would have it) */
    const stepEnv = (token: string): NodeJS.ProcessEnv => ({
      ...process.env, MIXMESH_SERVER: w!.stack.url, MIXMESH_TOKEN: token,
      ...(w!.env.MIXMESH_CA_FILE ? { MIXMESH_CERTIFICATE_AUTHORITY: w!.env.MIXMESH_CA_FILE } : {}),
    });

    before(async function () {
      if (!existsSync(join(repo, 'dist/cli/bin.js'))) throw new Error('dist/cli/bin.js is missing: run `npm run build` first (the deploy job\'s Install step builds it)');
      w = await startWorld();
      // what the cluster has before the pipeline runs: the namespace and the VMs' SSH key
      await w.stack.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'cafe' } });
      await w.stack.kube.create({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/ssh-auth', metadata: { name: 'vm-ssh', namespace: 'cafe' }, data: { 'ssh-privatekey': Buffer.from(w.sandbox.sshPrivateKey).toString('base64') } });
    });
    after(async () => { await w?.stop(); });

    it('a viewer token (the wrong secret) is refused and deploys nothing', async () => {
      const r = await runStep(workflowStep('Deploy with mixmesh'), stepEnv(w!.tokens.viewer));
      assert.notEqual(r.code, 0, r.out);
      assert.match(r.out, /403|forbidden|not allowed/i);
      assert.equal((await w!.api('GET', '/v1/services/cafe/iot-cafe')).status, 404);
    });

    it('the step\'s command deploys the descriptor: the café Ready, its two VMs made by Tacker', async () => {
      const r = await runStep(workflowStep('Deploy with mixmesh'), stepEnv(w!.tokens.admin));
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /cafe\/iot-cafe is Ready/, r.out);
      const svc = (await w!.api('GET', '/v1/services/cafe/iot-cafe')).json as { status: { phase: string; microservices: { name: string; runtime: string; ready: number }[] } };
      assert.equal(svc.status.phase, 'Ready');
      assert.deepEqual(svc.status.microservices.filter((m) => m.runtime === 'vm').map((m) => m.name).sort(), ['inventory-db', 'order-api']);
      const vnfs = (await w!.stack.openstack!.tacker.listVnfInstances()).map((v) => String(v.vnfInstanceName)).sort();
      assert.deepEqual(vnfs, ['cafe.iot-cafe.inventory-db.v1.0', 'cafe.iot-cafe.order-api.v1.0']);
      // the containers' Deployments carry the images the build step names (the descriptor's)
      const images = descriptorImages();
      for (const [name, version] of [['kiosk-ui', 'v1'], ['kitchen-display', 'v1'], ['device-api', 'v1'], ['order-api', 'v2']] as const) {
        const dep = await w!.stack.kube.get({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'cafe', name: `${name}-${version}` }) as unknown as { spec: { template: { spec: { containers: { name: string; image: string }[] } } } } | undefined;
        assert.ok(dep, `${name}-${version} Deployment`);
        assert.ok(dep.spec.template.spec.containers.some((c) => c.image === images[name]), `${name}: ${JSON.stringify(dep.spec.template.spec.containers.map((c) => c.image))}`);
      }
    });

    it('run again (the next push), it changes nothing and still succeeds', async () => {
      const r = await runStep(workflowStep('Deploy with mixmesh'), stepEnv(w!.tokens.admin));
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /unchanged/, r.out);
    });
  });
});
