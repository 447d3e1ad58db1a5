/**
 * Pre-flight before any write (docs/tacker.md, "What mixmesh does with Tacker"): each vnfdId is ONBOARDED and
 * ENABLED, each vimId exists, each credentialsSecret exists with key `ssh-privatekey`. A failure is
 * a 422 with pointers into the descriptor, and nothing changes.
 */
import { MixmeshError, type ProblemItem } from '../common/errors.js';
import type { MeshService } from '../descriptor/types.js';
import type { KubePort, TackerPort } from './ports.js';

export async function preflight(service: MeshService, kube: KubePort, tacker: TackerPort | undefined): Promise<void> {
  const vms = service.spec.microservices.map((m, i) => ({ m, i })).filter(({ m }) => m.runtime === 'vm' && m.vm);
  if (vms.length === 0) return;
  if (!tacker) {
    throw new MixmeshError('OPENSTACK_NOT_CONFIGURED', 'the descriptor has VM microservices but OpenStack is not configured (OS_CLOUD + clouds.yaml or OS_* variables)', {
      errors: vms.map(({ i }) => ({ pointer: `/spec/microservices/${i}/vm`, message: 'needs OpenStack, which this orchestrator has not been configured for' })),
    });
  }
  const problems: ProblemItem[] = [];
  const packageChecks = new Map<string, Promise<string | undefined>>();
  const vimChecks = new Map<string, Promise<string | undefined>>();
  const secretChecks = new Map<string, Promise<string | undefined>>();
  const checks: Promise<void>[] = [];

  for (const { m, i } of vms) {
    const vm = m.vm!;
    if (!packageChecks.has(vm.vnfdId)) {
      packageChecks.set(vm.vnfdId, tacker.listPackagesByVnfd(vm.vnfdId).then((pkgs) => {
        if (pkgs.length === 0) return `no VNF package has vnfdId ${vm.vnfdId}`;
        if (!pkgs.some((p) => p.onboardingState === 'ONBOARDED' && p.operationalState === 'ENABLED')) {
          return `the VNF package of vnfdId ${vm.vnfdId} is ${pkgs.map((p) => `${p.onboardingState}/${p.operationalState}`).join(', ')}; it must be ONBOARDED and ENABLED`;
        }
        return undefined;
      }));
    }
    checks.push(packageChecks.get(vm.vnfdId)!.then((msg) => { if (msg) problems.push({ pointer: `/spec/microservices/${i}/vm/vnfdId`, message: msg }); }));

    if (vm.vimId && tacker.vimExists) {
      const vimId = vm.vimId;
      if (!vimChecks.has(vimId)) vimChecks.set(vimId, tacker.vimExists(vimId).then((ok) => (ok ? undefined : `VIM ${vimId} does not exist`)));
      checks.push(vimChecks.get(vimId)!.then((msg) => { if (msg) problems.push({ pointer: `/spec/microservices/${i}/vm/vimId`, message: msg }); }));
    }

    const secretName = vm.ssh.credentialsSecret;
    if (!secretChecks.has(secretName)) {
      secretChecks.set(secretName, kube.get({ apiVersion: 'v1', kind: 'Secret', namespace: service.metadata.namespace, name: secretName }).then((s) => {
        if (!s) return `Secret ${service.metadata.namespace}/${secretName} does not exist (it must hold key ssh-privatekey)`;
        const data = (s.data ?? {}) as Record<string, string>;
        const stringData = (s.stringData ?? {}) as Record<string, string>;
        if (!data['ssh-privatekey'] && !stringData['ssh-privatekey']) return `Secret ${service.metadata.namespace}/${secretName} has no key ssh-privatekey`;
        return undefined;
      }));
    }
    checks.push(secretChecks.get(secretName)!.then((msg) => { if (msg) problems.push({ pointer: `/spec/microservices/${i}/vm/ssh/credentialsSecret`, message: msg }); }));
  }
  await Promise.all(checks);
  if (problems.length) {
    problems.sort((a, b) => (a.pointer < b.pointer ? -1 : a.pointer > b.pointer ? 1 : 0));
    throw new MixmeshError('PREFLIGHT_FAILED', problems.map((p) => `${p.pointer}: ${p.message}`).join('; '), { errors: problems });
  }
}
