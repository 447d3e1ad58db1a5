/**
 * What `mixmesh install` prints (docs/operations.md): everything mixmesh needs in a cluster, in
 * apply order, least privilege. Pure: options in, objects out; the only randomness (the admin and
 * injector tokens) comes in through the options. `deploy/kustomize/` holds the same objects as a
 * kustomize base (`test/install.test.ts` renders it with `kubectl kustomize` and compares).
 *
 * The RBAC rules are exactly what the orchestrator and the injector ask the API server for
 * (`test/e2e/rbac.test.ts` records every request of an end-to-end run and compares both ways).
 */
import { meshServiceCrd } from '../descriptor/index.js';

type Obj = Record<string, unknown>;

export interface InstallOptions {
  namespace: string;
  image: string;
  replicas: number;
  /** the admin token's SHA-256 for Secret mixmesh-tokens; absent: the Secret is left empty (fill it with `mixmesh token create --secret`) */
  adminTokenSha256?: string;
  /** MIXMESH_INJECTOR_TOKEN; absent: the Secret is left empty */
  injectorToken?: string;
  /** a kubernetes.io/tls Secret (in `namespace`) for the API, the callback and the injector; '' turns TLS off */
  tlsSecret: string;
  /** where the injector finds istio-sidecar-<version>.{deb,rpm,tar.gz} */
  sidecarArtifacts: string;
  /** the gateway's namespace (its Cluster and ClusterService resources; gateway config `namespace`) */
  gatewayNamespace: string;
  /** bind ClusterRole mixmesh-backup-state (pods/exec for hooks, nodes/checkpoint for container state): off by default, exec into any pod is a strong right */
  backupState?: boolean;
}

export const DEFAULT_INSTALL: Readonly<InstallOptions> = Object.freeze({
  namespace: 'mixmesh-system',
  image: 'ghcr.io/mixmesh/mixmesh:0.1.0',
  replicas: 2,
  tlsSecret: 'mixmesh-tls',
  sidecarArtifacts: '/var/lib/mixmesh/artifacts',
  gatewayNamespace: 'mixmesh-gateway',
});

const LABELS = { 'app.kubernetes.io/name': 'mixmesh', 'app.kubernetes.io/part-of': 'mixmesh', 'app.kubernetes.io/managed-by': 'mixmesh-install' };
const component = (c: string): Record<string, string> => ({ ...LABELS, 'app.kubernetes.io/component': c });
const selector = (c: string): Record<string, string> => ({ 'app.kubernetes.io/name': 'mixmesh', 'app.kubernetes.io/component': c });


/** [API group, resource (with its /subresource), verbs]: one line per resource, sorted by group then resource, so a merge adds a line */
type Grant = readonly [group: string, resource: string, verbs: string];
const rules = (grants: readonly Grant[]): Obj[] => grants.map(([group, resource, verbs]) => ({ apiGroups: [group], resources: [resource], verbs: verbs.split(' ') }));

/**
 * ClusterRole mixmesh-orchestrator: what the controller reconciles in every namespace. Teardown
 * deletes a namespace mixmesh created only when nothing else is left in it, so it lists every
 * namespaced kind the server serves (the `list`-only lines).
 */
export const ORCHESTRATOR_CLUSTER_RULES: readonly Obj[] = rules([
  ['', 'configmaps', 'create delete get list'], // name claims
  ['', 'endpoints', 'list'],
  ['', 'namespaces', 'create delete get list'],
  ['', 'persistentvolumeclaims', 'list'],
  ['', 'pods', 'list'],
  ['', 'secrets', 'get list'],
  ['', 'serviceaccounts', 'delete list patch'],
  ['', 'services', 'delete list patch'],
  ['admissionregistration.k8s.io', 'validatingwebhookconfigurations', 'get patch'],
  ['apiextensions.k8s.io', 'customresourcedefinitions', 'get patch'],
  ['apps', 'daemonsets', 'list'],
  ['apps', 'deployments', 'delete list patch'],
  ['apps', 'replicasets', 'list'],
  ['apps', 'statefulsets', 'list'],
  ['backup.mixmesh.io', 'backups', 'list'],
  ['backup.mixmesh.io', 'backupschedules', 'list'],
  ['backup.mixmesh.io', 'backupstores', 'list'],
  ['backup.mixmesh.io', 'migrations', 'list'],
  ['backup.mixmesh.io', 'restores', 'list'],
  ['batch', 'cronjobs', 'list'],
  ['batch', 'jobs', 'list'],
  ['coordination.k8s.io', 'leases', 'list'],
  ['discovery.k8s.io', 'endpointslices', 'list'],
  ['events.k8s.io', 'events', 'create delete list watch'],
  ['gateway.mixmesh.io', 'clusters', 'list'],
  ['gateway.mixmesh.io', 'clusterservices', 'list'],
  ['mixmesh.io', 'meshservices', 'create delete get list patch update watch'],
  ['mixmesh.io', 'meshservices/status', 'patch'],
  ['networking.istio.io', 'destinationrules', 'delete list patch'],
  ['networking.istio.io', 'gateways', 'delete list patch'],
  ['networking.istio.io', 'serviceentries', 'list'],
  ['networking.istio.io', 'sidecars', 'list'],
  ['networking.istio.io', 'virtualservices', 'delete list patch'],
  ['networking.istio.io', 'workloadentries', 'delete get list patch'],
  ['networking.istio.io', 'workloadgroups', 'delete get list patch'],
  ['networking.k8s.io', 'ingresses', 'list'],
  ['policy', 'poddisruptionbudgets', 'list'],
  ['rbac.authorization.k8s.io', 'rolebindings', 'list'],
  ['rbac.authorization.k8s.io', 'roles', 'list'],
  ['security.istio.io', 'authorizationpolicies', 'delete list patch'],
  ['security.istio.io', 'peerauthentications', 'delete list patch'],
  ['security.istio.io', 'requestauthentications', 'list'],
]);

/** Role mixmesh-orchestrator in the system namespace: the leader Lease and mixmesh's own Secrets (get: the cluster-wide line) */
export const ORCHESTRATOR_NAMESPACE_RULES: readonly Obj[] = rules([
  ['', 'secrets', 'create update'],
  ['coordination.k8s.io', 'leases', 'create get update'],
]);

/** ClusterRole mixmesh-injector: the identity of a VM's workload and its SSH key, and a token for it */
export const INJECTOR_CLUSTER_RULES: readonly Obj[] = rules([
  ['', 'configmaps', 'get'],
  ['', 'secrets', 'get'],
  ['', 'serviceaccounts/token', 'create'],
  ['', 'services', 'get'],
  ['mixmesh.io', 'meshservices', 'get'],
  ['networking.istio.io', 'workloadgroups', 'get'],
]);

/**
 * ClusterRole mixmesh-backup, what backup, restore and migration need beyond the orchestrator's
 * role (bound to the orchestrator's ServiceAccount by a binding of its own): what a backup reads
 * (a node and the pods on it with what they reference, PVs, StorageClasses, the served CRDs), what
 * a restore creates and checks for conflicts (the kinds of a node's pods and of a MeshService's
 * objects; restoring another kind needs a line here, else its item fails FORBIDDEN), the nodes
 * migration's automatic mode watches.
 */
export const BACKUP_CLUSTER_RULES: readonly Obj[] = rules([
  ['', 'nodes', 'get list'],
  ['', 'persistentvolumeclaims', 'create get'],
  ['', 'persistentvolumes', 'get'],
  ['', 'pods', 'create get'],
  ['', 'secrets', 'create'],
  ['', 'serviceaccounts', 'create get'],
  ['', 'services', 'create'],
  ['apiextensions.k8s.io', 'customresourcedefinitions', 'list'],
  ['apps', 'deployments', 'create get'],
  ['networking.istio.io', 'destinationrules', 'create get'],
  ['networking.istio.io', 'gateways', 'create get'],
  ['networking.istio.io', 'virtualservices', 'create get'],
  ['networking.istio.io', 'workloadgroups', 'create'],
  ['security.istio.io', 'authorizationpolicies', 'create get'],
  ['security.istio.io', 'peerauthentications', 'create get'],
  ['storage.k8s.io', 'storageclasses', 'get'],
]);

/**
 * ClusterRole mixmesh-backup-state, opt-in (`mixmesh install --backup-state`): container hooks run
 * through pods/exec and container state is taken through the kubelet's checkpoint API, whose
 * SubjectAccessReview asks for nodes/checkpoint. Exec into every pod of the cluster is as strong a
 * right as there is, so it is not bound by default: without it a hook is recorded as failed
 * (FORBIDDEN) and a container that asks for its state is cold-started with the reason recorded.
 */
export const BACKUP_STATE_CLUSTER_RULES: readonly Obj[] = rules([
  ['', 'nodes/checkpoint', 'create'],
  ['', 'pods/exec', 'create get'], // a WebSocket exec is a get; create since Kubernetes 1.30
]);

/** Role mixmesh-backup in the system namespace: the Backup, Restore, BackupSchedule, BackupStore and Migration resources */
export const BACKUP_NAMESPACE_RULES: readonly Obj[] = rules([
  ['backup.mixmesh.io', 'backups', 'create delete get list patch'],
  ['backup.mixmesh.io', 'backups/status', 'patch'],
  ['backup.mixmesh.io', 'backupschedules', 'create delete get list'],
  ['backup.mixmesh.io', 'backupstores', 'get'],
  ['backup.mixmesh.io', 'migrations', 'create get list'],
  ['backup.mixmesh.io', 'migrations/status', 'patch'],
  ['backup.mixmesh.io', 'restores', 'create get list patch'],
  ['backup.mixmesh.io', 'restores/status', 'patch'],
]);

/** ClusterRole mixmesh-gateway: its CRDs, applied when it starts */
export const GATEWAY_CLUSTER_RULES: readonly Obj[] = rules([
  ['apiextensions.k8s.io', 'customresourcedefinitions', 'get patch'],
]);

/** Role mixmesh-gateway in the gateway's namespace: its Cluster and ClusterService resources, the registered clusters' credentials, its Events */
export const GATEWAY_NAMESPACE_RULES: readonly Obj[] = rules([
  ['', 'secrets', 'create delete get'],
  ['events.k8s.io', 'events', 'create delete list'],
  ['gateway.mixmesh.io', 'clusters', 'create delete get list'],
  ['gateway.mixmesh.io', 'clusters/status', 'patch'],
  ['gateway.mixmesh.io', 'clusterservices', 'create delete get list patch'],
  ['gateway.mixmesh.io', 'clusterservices/status', 'patch'],
]);

const RESTRICTED = {
  runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
};

function probe(path: string, port: string, tls: boolean): Obj {
  return { httpGet: { path, port, scheme: tls ? 'HTTPS' : 'HTTP' }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 };
}

function tokenSecretData(o: InstallOptions): Obj {
  return o.adminTokenSha256 ? { stringData: { 'tokens.yaml': `- {name: admin, role: admin, sha256: ${o.adminTokenSha256}}\n` } } : {};
}

/**
 * The ServiceAccounts' roles and bindings: per part, a ClusterRole and, for what lives in one
 * namespace, a Role there. backup (with migration) and the gateway run inside the orchestrator's
 * process, so their roles are bound to its ServiceAccount, each by a binding of its own.
 */
export function rbacObjects(options: Partial<InstallOptions> = {}): Obj[] {
  const o: InstallOptions = { ...DEFAULT_INSTALL, ...options };
  const ns = o.namespace;
  const subject = (sa: string) => [{ kind: 'ServiceAccount', name: sa, namespace: ns }];
  const out: Obj[] = [];
  const part = (name: string, c: string, sa: string, clusterRules: readonly Obj[], namespaced?: { namespace: string; rules: readonly Obj[] }) => {
    const meta = (namespace?: string) => ({ name, ...(namespace ? { namespace } : {}), labels: component(c) });
    out.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: meta(), rules: clusterRules });
    out.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: meta(), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: subject(sa) });
    if (namespaced) {
      out.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta(namespaced.namespace), rules: namespaced.rules });
      out.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: meta(namespaced.namespace), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects: subject(sa) });
    }
  };
  part('mixmesh-orchestrator', 'orchestrator', 'mixmesh-orchestrator', ORCHESTRATOR_CLUSTER_RULES, { namespace: ns, rules: ORCHESTRATOR_NAMESPACE_RULES });
  part('mixmesh-injector', 'injector', 'mixmesh-injector', INJECTOR_CLUSTER_RULES);
  part('mixmesh-backup', 'backup', 'mixmesh-orchestrator', BACKUP_CLUSTER_RULES, { namespace: ns, rules: BACKUP_NAMESPACE_RULES });
  part('mixmesh-gateway', 'gateway', 'mixmesh-orchestrator', GATEWAY_CLUSTER_RULES, { namespace: o.gatewayNamespace, rules: GATEWAY_NAMESPACE_RULES });
  if (o.backupState) part('mixmesh-backup-state', 'backup', 'mixmesh-orchestrator', BACKUP_STATE_CLUSTER_RULES);
  return out;
}

export function installManifests(options: Partial<InstallOptions> = {}): Obj[] {
  const o: InstallOptions = { ...DEFAULT_INSTALL, ...options };
  const ns = o.namespace;
  const tls = o.tlsSecret !== '';
  const scheme = tls ? 'https' : 'http';
  const tlsVolume = tls ? [{ name: 'tls', secret: { secretName: o.tlsSecret } }] : [];
  const tlsMount = tls ? [{ name: 'tls', mountPath: '/etc/mixmesh/tls', readOnly: true }] : [];
  const tlsEnv = tls ? [{ name: 'MIXMESH_TLS_CERT_FILE', value: '/etc/mixmesh/tls/tls.crt' }, { name: 'MIXMESH_TLS_KEY_FILE', value: '/etc/mixmesh/tls/tls.key' }] : [];
  const resources = { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } };
  const injectorUrl = `${scheme}://mixmesh-injector.${ns}.svc:7071`;
  const config = [
    `systemNamespace: ${ns}`,
    `callbackUrl: ${scheme}://mixmesh.${ns}.svc:7070/v1/tacker/notifications`,
    'resyncSeconds: 30',
    '',
  ].join('\n');

  const orchestrator: Obj = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'mixmesh-orchestrator', namespace: ns, labels: component('orchestrator') },
    spec: {
      replicas: o.replicas,
      selector: { matchLabels: selector('orchestrator') },
      // one replica leads (Lease mixmesh-orchestrator); the others serve the API and the webhook
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: component('orchestrator') },
        spec: {
          serviceAccountName: 'mixmesh-orchestrator',
          automountServiceAccountToken: true,
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [{
            name: 'orchestrator', image: o.image, imagePullPolicy: 'IfNotPresent',
            args: ['serve', '--no-injector', '--config', '/etc/mixmesh/config/mixmesh.yaml'],
            env: [
              { name: 'MIXMESH_LISTEN', value: '0.0.0.0:7070' },
              { name: 'MIXMESH_WEBHOOK_LISTEN', value: '0.0.0.0:9443' },
              { name: 'MIXMESH_TOKENS_FILE', value: '/etc/mixmesh/tokens/tokens.yaml' },
              { name: 'MIXMESH_INJECTOR_URL', value: injectorUrl },
              { name: 'MIXMESH_INJECTOR_TOKEN', valueFrom: { secretKeyRef: { name: 'mixmesh-injector-token', key: 'token' } } },
              ...(tls ? [{ name: 'MIXMESH_TLS_SECRET', value: `${ns}/${o.tlsSecret}` }] : []),
            ],
            ports: [{ name: 'api', containerPort: 7070 }, { name: 'webhook', containerPort: 9443 }],
            readinessProbe: probe('/readyz', 'api', tls),
            livenessProbe: { ...probe('/healthz', 'api', tls), initialDelaySeconds: 10 },
            resources,
            securityContext: RESTRICTED,
            volumeMounts: [
              { name: 'config', mountPath: '/etc/mixmesh/config', readOnly: true },
              { name: 'tokens', mountPath: '/etc/mixmesh/tokens', readOnly: true },
              { name: 'tmp', mountPath: '/tmp' },
            ],
          }],
          volumes: [
            { name: 'config', secret: { secretName: 'mixmesh-config' } },
            { name: 'tokens', secret: { secretName: 'mixmesh-tokens' } },
            { name: 'tmp', emptyDir: {} },
          ],
        },
      },
    },
  };

  const injector: Obj = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'mixmesh-injector', namespace: ns, labels: component('injector') },
    spec: {
      // injections live in memory: one replica, replaced (callers re-inject; every step is idempotent)
      replicas: 1,
      selector: { matchLabels: selector('injector') },
      strategy: { type: 'Recreate' },
      template: {
        metadata: { labels: component('injector') },
        spec: {
          serviceAccountName: 'mixmesh-injector',
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [{
            name: 'injector', image: o.image, imagePullPolicy: 'IfNotPresent',
            args: ['serve-injector'],
            env: [
              { name: 'MIXMESH_INJECTOR_LISTEN', value: '0.0.0.0:7071' },
              { name: 'MIXMESH_INJECTOR_TOKEN', valueFrom: { secretKeyRef: { name: 'mixmesh-injector-token', key: 'token' } } },
              { name: 'MIXMESH_SIDECAR_ARTIFACTS', value: o.sidecarArtifacts },
              ...tlsEnv,
            ],
            ports: [{ name: 'api', containerPort: 7071 }],
            readinessProbe: probe('/readyz', 'api', tls),
            livenessProbe: { ...probe('/healthz', 'api', tls), initialDelaySeconds: 10 },
            resources: { requests: { cpu: '200m', memory: '256Mi' }, limits: { memory: '1Gi' } },
            securityContext: RESTRICTED,
            volumeMounts: [...tlsMount, { name: 'tmp', mountPath: '/tmp' }, { name: 'artifacts', mountPath: '/var/lib/mixmesh/artifacts', readOnly: true }],
          }],
          volumes: [...tlsVolume, { name: 'tmp', emptyDir: {} }, { name: 'artifacts', emptyDir: {} }],
        },
      },
    },
  };

  const service = (name: string, c: string, port: number, targetPort: string): Obj => ({
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns, labels: component(c) },
    spec: { selector: selector(c), ports: [{ name: targetPort === 'webhook' ? 'https' : scheme, port, targetPort, protocol: 'TCP' }] },
  });

  return [
    meshServiceCrd() as Obj,
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: LABELS } },
    // the gateway's Role lives there (the gateway applies the namespace too when it starts)
    ...(o.gatewayNamespace !== ns ? [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: o.gatewayNamespace, labels: component('gateway') } }] : []),
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'mixmesh-orchestrator', namespace: ns, labels: component('orchestrator') } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'mixmesh-injector', namespace: ns, labels: component('injector') } },
    ...rbacObjects(o),
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'mixmesh-config', namespace: ns, labels: LABELS }, type: 'Opaque', stringData: { 'mixmesh.yaml': config } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'mixmesh-tokens', namespace: ns, labels: LABELS }, type: 'Opaque', ...tokenSecretData(o) },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'mixmesh-injector-token', namespace: ns, labels: LABELS }, type: 'Opaque', ...(o.injectorToken ? { stringData: { token: o.injectorToken } } : {}) },
    service('mixmesh', 'orchestrator', 7070, 'api'),
    service('mixmesh-webhook', 'orchestrator', 443, 'webhook'),
    service('mixmesh-injector', 'injector', 7071, 'api'),
    orchestrator,
    { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'mixmesh-orchestrator', namespace: ns, labels: component('orchestrator') }, spec: { minAvailable: 1, selector: { matchLabels: selector('orchestrator') } } },
    injector,
    {
      apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: 'mixmesh-meshservices', labels: LABELS },
      webhooks: [{
        name: 'meshservices.mixmesh.io', admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Fail', matchPolicy: 'Equivalent', timeoutSeconds: 10,
        rules: [{ apiGroups: ['mixmesh.io'], apiVersions: ['v1alpha1'], operations: ['CREATE', 'UPDATE'], resources: ['meshservices'], scope: 'Namespaced' }],
        // caBundle is filled in by the orchestrator (its own CA, rotated)
        clientConfig: { service: { namespace: ns, name: 'mixmesh-webhook', port: 443, path: '/validate/meshservices' } },
      }],
    },
  ];
}
