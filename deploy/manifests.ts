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
}

export const DEFAULT_INSTALL: Readonly<InstallOptions> = Object.freeze({
  namespace: 'mixmesh-system',
  image: 'ghcr.io/mixmesh/mixmesh:0.1.0',
  replicas: 2,
  tlsSecret: 'mixmesh-tls',
  sidecarArtifacts: '/var/lib/mixmesh/artifacts',
});

const LABELS = { 'app.kubernetes.io/name': 'mixmesh', 'app.kubernetes.io/part-of': 'mixmesh', 'app.kubernetes.io/managed-by': 'mixmesh-install' };
const component = (c: string): Record<string, string> => ({ ...LABELS, 'app.kubernetes.io/component': c });
const selector = (c: string): Record<string, string> => ({ 'app.kubernetes.io/name': 'mixmesh', 'app.kubernetes.io/component': c });


const rule = (apiGroups: string[], resources: string[], verbs: string[]): Obj => ({ apiGroups, resources, verbs });

/** cluster-wide: what the controller reconciles in every namespace */
export const ORCHESTRATOR_CLUSTER_RULES: readonly Obj[] = [
  rule(['mixmesh.io'], ['meshservices'], ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch']),
  rule(['mixmesh.io'], ['meshservices/status'], ['patch']),
  rule(['apiextensions.k8s.io'], ['customresourcedefinitions'], ['get', 'patch']),
  rule(['admissionregistration.k8s.io'], ['validatingwebhookconfigurations'], ['get', 'patch']),
  rule([''], ['namespaces'], ['create', 'delete', 'get', 'list']),
  // name claims are ConfigMaps in the service's namespace
  rule([''], ['configmaps'], ['create', 'delete', 'get', 'list']),
  rule([''], ['secrets'], ['get', 'list']),
  rule([''], ['serviceaccounts', 'services'], ['delete', 'list', 'patch']),
  rule(['apps'], ['deployments'], ['delete', 'list', 'patch']),
  rule(['networking.istio.io'], ['destinationrules', 'gateways', 'virtualservices'], ['delete', 'list', 'patch']),
  rule(['networking.istio.io'], ['workloadentries', 'workloadgroups'], ['delete', 'get', 'list', 'patch']),
  rule(['security.istio.io'], ['authorizationpolicies', 'peerauthentications'], ['delete', 'list', 'patch']),
  rule(['events.k8s.io'], ['events'], ['create', 'delete', 'list', 'watch']),
  // teardown deletes a namespace mixmesh created only when nothing else is left in it: it lists what could be
  rule([''], ['endpoints', 'persistentvolumeclaims', 'pods'], ['list']),
  rule(['apps'], ['daemonsets', 'replicasets', 'statefulsets'], ['list']),
  rule(['batch'], ['cronjobs', 'jobs'], ['list']),
  rule(['coordination.k8s.io'], ['leases'], ['list']),
  rule(['discovery.k8s.io'], ['endpointslices'], ['list']),
  rule(['networking.k8s.io'], ['ingresses'], ['list']),
  rule(['policy'], ['poddisruptionbudgets'], ['list']),
  rule(['rbac.authorization.k8s.io'], ['rolebindings', 'roles'], ['list']),
  rule(['networking.istio.io'], ['serviceentries', 'sidecars'], ['list']),
  rule(['security.istio.io'], ['requestauthentications'], ['list']),
  // (the backup, migration and gateway CRDs are namespaced kinds the server serves, so teardown lists them too;
  // what those parts themselves need is not in these manifests yet: see docs/operations.md)
  rule(['backup.mixmesh.io'], ['backups', 'backupschedules', 'backupstores', 'migrations', 'restores'], ['list']),
  // backup: the kubelet checkpoint API (the kubelet's SubjectAccessReview) and container hooks through pods/exec (websocket: get and create)
  rule([''], ['nodes/checkpoint', 'pods/exec'], ['create', 'get']),
];

/** in the system namespace only: the leader Lease and mixmesh's own Secrets */
export const ORCHESTRATOR_NAMESPACE_RULES: readonly Obj[] = [
  rule(['coordination.k8s.io'], ['leases'], ['create', 'get', 'update']),
  // (get: the cluster-wide rule, which the SSH key Secrets of every namespace need anyway)
  rule([''], ['secrets'], ['create', 'update']),
];

/** the injector: the identity of a VM's workload and its SSH key, and a token for it */
export const INJECTOR_CLUSTER_RULES: readonly Obj[] = [
  rule(['mixmesh.io'], ['meshservices'], ['get']),
  rule(['networking.istio.io'], ['workloadgroups'], ['get']),
  rule([''], ['configmaps', 'secrets', 'services'], ['get']),
  rule([''], ['serviceaccounts/token'], ['create']),
];

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
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'mixmesh-orchestrator', namespace: ns, labels: component('orchestrator') } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'mixmesh-injector', namespace: ns, labels: component('injector') } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'mixmesh-orchestrator', labels: component('orchestrator') }, rules: ORCHESTRATOR_CLUSTER_RULES },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'mixmesh-injector', labels: component('injector') }, rules: INJECTOR_CLUSTER_RULES },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'mixmesh-orchestrator', labels: component('orchestrator') }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'mixmesh-orchestrator' }, subjects: [{ kind: 'ServiceAccount', name: 'mixmesh-orchestrator', namespace: ns }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'mixmesh-injector', labels: component('injector') }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'mixmesh-injector' }, subjects: [{ kind: 'ServiceAccount', name: 'mixmesh-injector', namespace: ns }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'mixmesh-orchestrator', namespace: ns, labels: component('orchestrator') }, rules: ORCHESTRATOR_NAMESPACE_RULES },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'mixmesh-orchestrator', namespace: ns, labels: component('orchestrator') }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'mixmesh-orchestrator' }, subjects: [{ kind: 'ServiceAccount', name: 'mixmesh-orchestrator', namespace: ns }] },
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
