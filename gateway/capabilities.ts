/**
 * The capability matrix: what each driver really does here. Served at /v1/gateway/capabilities and
 * printed in the README; a row says "no" where the driver cannot (yet).
 */
export type Capability = 'create' | 'register' | 'scale' | 'update' | 'logs' | 'health' | 'containers' | 'delete';
export const CAPABILITIES: readonly Capability[] = ['create', 'register', 'scale', 'update', 'logs', 'health', 'containers', 'delete'];

export interface CapabilityRow {
  driver: string;
  kind: 'orchestrator' | 'infrastructure';
  /** "yes", "no", or "partial: …" */
  capabilities: Record<Capability, string>;
  notes: string;
}

export const CAPABILITY_MATRIX: readonly CapabilityRow[] = [
  {
    driver: 'swarm', kind: 'orchestrator',
    capabilities: {
      create: 'yes: over SSH, dockerd started (docker.io installed with apt-get/dnf when missing: untested here, the sandbox image has it), `docker swarm init` on the manager, `docker swarm join` on workers',
      register: 'yes: unix://, tcp:// or https:// (TLS client certificate) Docker Engine endpoint',
      scale: 'yes: service update of Mode.Replicated.Replicas',
      update: 'yes: PATCH {image, env} → service update with the new spec (Swarm replaces the tasks)',
      logs: 'yes: /services/{id}/logs on the manager (its log broker gathers every task\'s output), per task',
      health: 'yes: /version and /nodes (healthy = every node ready)',
      containers: 'yes: /tasks of the service (node, state, image, started)',
      delete: 'yes: services removed; created clusters: `swarm leave` and the engine stopped on every host, hosts released',
    },
    notes: 'Docker Engine API v1.41 through dockerode. Ports are not published on the hosts (no ingress routing mesh). A created cluster\'s engine listens on <host>:2375 without TLS: use it on a trusted network only.',
  },
  {
    driver: 'marathon', kind: 'orchestrator',
    capabilities: {
      create: 'yes: over SSH, mesos-master + marathon started on the manager, mesos-agent on workers (the image must carry Mesos and Marathon: nothing is installed)',
      register: 'yes: http(s):// Marathon endpoint, optional basic auth',
      scale: 'yes: PUT /v2/apps/{id} instances',
      update: 'yes: PATCH {image, env} → PUT /v2/apps/{id} with the new app (Marathon restarts the tasks)',
      logs: 'no: Marathon\'s API has no task output (it lives in the Mesos agents\' sandboxes): 422 GATEWAY_NOT_SUPPORTED',
      health: 'yes: /v2/info, and the agents from the Mesos master /state',
      containers: 'yes: Marathon tasks of the app (agent host, state, started)',
      delete: 'yes: apps removed; created clusters: the daemons stopped on every host, hosts released',
    },
    notes: 'Marathon v2 REST API (Marathon is archived and Mesos is in the Apache Attic since 2021; the gateway uses only the published v2 API).',
  },
  {
    driver: 'kubernetes', kind: 'orchestrator',
    capabilities: {
      create: 'yes: over SSH, `kubeadm init` on the manager (admin kubeconfig read from it, kept in a Secret), `kubeadm token create` + `kubeadm join` on workers (the image must carry kubeadm, a kubelet and a runtime; no pod network add-on is installed)',
      register: 'yes: kubeconfig (+ context)',
      scale: 'yes: Deployment spec.replicas',
      update: 'yes: PATCH {image, env} → server-side apply of the Deployment (a rollout)',
      logs: 'yes: pods/log of each pod',
      health: 'yes: /version and Node Ready conditions (created clusters: the workers; the control plane is tainted NoSchedule)',
      containers: 'yes: the Deployment\'s pods (node, phase, restarts)',
      delete: 'yes: Deployment + Service removed; created clusters: `kubeadm reset -f` on every host, hosts released; a registered cluster is only forgotten',
    },
    notes: '@kubernetes/client-node; objects in namespace `mixmesh-gateway` of the target cluster.',
  },
  {
    driver: 'openstack', kind: 'infrastructure',
    capabilities: { create: 'yes: one Tacker VNF per host (the VNF package per orchestrator and role from the configuration: its VNFD\'s sw_image_data is the image the server boots), Nova address and console host key', register: 'n/a', scale: 'no: a cluster keeps its size', update: 'no', logs: 'no', health: 'no: checked at provision only (INSTANTIATED, address, SSH)', containers: 'n/a', delete: 'yes: terminate + delete the VNF' },
    notes: 'Through clients/openstack (Keystone, Tacker VNF LCM v2, Nova). Idempotent by VNF instance name `gw.<cluster>.<host>`.',
  },
  {
    driver: 'ec2', kind: 'infrastructure',
    capabilities: { create: 'yes: RunInstances of the AMI per orchestrator and role (ClientToken per host, Name and cluster tags, key pair, security group), host key from GetConsoleOutput', register: 'n/a', scale: 'no: a cluster keeps its size', update: 'no', logs: 'no', health: 'no: checked at provision only (running, address, console host key, SSH)', containers: 'n/a', delete: 'yes: TerminateInstances' },
    notes: '@aws-sdk/client-ec2; any EC2 Query API endpoint (AWS or the sandbox emulator). InsufficientInstanceCapacity fails the create and releases what it made.',
  },
  {
    driver: 'baremetal', kind: 'infrastructure',
    capabilities: { create: 'yes: allocates hosts from the SSH inventory in the configuration (only hosts marked with the orchestrator\'s image, when images are configured)', register: 'n/a', scale: 'no', update: 'no', logs: 'no', health: 'no: checked at install only (SSH)', containers: 'n/a', delete: 'yes: the engine uninstalled, the host returned to the inventory' },
    notes: 'Hosts are never created or destroyed; their host keys come from the inventory.',
  },
];

export function capabilityRow(driver: string): CapabilityRow | undefined {
  return CAPABILITY_MATRIX.find((r) => r.driver === driver);
}

/** the README's table */
export function capabilityMarkdown(): string {
  const head = `| driver | ${CAPABILITIES.join(' | ')} |\n|---|${CAPABILITIES.map(() => '---').join('|')}|\n`;
  return head + CAPABILITY_MATRIX.map((r) => `| ${r.driver} | ${CAPABILITIES.map((c) => r.capabilities[c].replace(/\|/g, '\\|')).join(' | ')} |`).join('\n') + '\n';
}
