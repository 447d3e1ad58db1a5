/**
 * The `x-kubernetes-validations` (CEL) rules of Istio 1.30's CRDs for the kinds mixmesh generates or
 * the sandbox stores (every networking/security kind validateMeshObject knows; the rules are the same
 * in every served version), which `@kubernetes-models/istio` drops. The rule texts are Istio's, verbatim,
 * and are evaluated with a CEL interpreter, so they behave as in the API server.
 * `test/istio-crds.test.ts` checks that this table equals the rules in Istio's own CRD file.
 *
 * A path is a list of segments: a property name, `[]` for every array item, `{}` for every map value.
 */
export interface CelRule {
  kind: string;
  path: string[];
  rule: string;
  message: string;
}

const DURATION = "duration(self) >= duration('1ms')";
const DURATION_MSG = 'must be a valid duration greater than 1ms';
const PORT = '0 < self && self <= 65535';
const PORT_MSG = 'port must be between 1-65535';

const MATCH_LABELS_RULES = (kind: string, at: string[]): CelRule[] => [
  { kind, path: [...at, 'matchLabels'], rule: 'self.all(key, !key.contains("*"))', message: 'wildcard not allowed in label key match' },
  { kind, path: [...at, 'matchLabels'], rule: 'self.all(key, key.size() != 0)', message: 'key must not be empty' },
  { kind, path: [...at, 'matchLabels', '{}'], rule: '!self.contains("*")', message: 'wildcard not allowed in label value match' },
];

/** Durations inside a DestinationRule TrafficPolicy (and its portLevelSettings). */
const TRAFFIC_POLICY_DURATIONS = [
  ['connectionPool', 'http', 'idleTimeout'],
  ['connectionPool', 'tcp', 'connectTimeout'],
  ['connectionPool', 'tcp', 'maxConnectionDuration'],
  ['connectionPool', 'tcp', 'tcpKeepalive', 'interval'],
  ['connectionPool', 'tcp', 'tcpKeepalive', 'time'],
  ['loadBalancer', 'warmup', 'duration'],
  ['loadBalancer', 'warmupDurationSecs'],
  ['outlierDetection', 'baseEjectionTime'],
  ['outlierDetection', 'interval'],
];

function destinationRuleRules(): CelRule[] {
  const policies = [
    ['spec', 'trafficPolicy'],
    ['spec', 'trafficPolicy', 'portLevelSettings', '[]'],
    ['spec', 'subsets', '[]', 'trafficPolicy'],
    ['spec', 'subsets', '[]', 'trafficPolicy', 'portLevelSettings', '[]'],
  ];
  const rules: CelRule[] = [];
  for (const at of policies) {
    for (const field of TRAFFIC_POLICY_DURATIONS) {
      rules.push({ kind: 'DestinationRule', path: [...at, ...field], rule: DURATION, message: DURATION_MSG });
    }
  }
  return [...rules, ...MATCH_LABELS_RULES('DestinationRule', ['spec', 'workloadSelector'])];
}

const UDS_DIR = 'self.startsWith("unix://") ? !self.endsWith("/") : true';
const UDS_ABS = 'self.startsWith("unix://") ? (self.substring(7, 8) == "/" || self.substring(7, 8) == "@") : true';
const UDS_PORTS = '(has(self.address) ? self.address : "").startsWith("unix://") ? !has(self.ports) : true';
const PORT_NAMES = 'self.all(key, size(key) < 63 && key.matches("^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$"))';

function workloadRules(kind: string, at: string[]): CelRule[] {
  return [
    { kind, path: at, rule: UDS_PORTS, message: 'UDS may not include ports' },
    { kind, path: [...at, 'address'], rule: UDS_DIR, message: 'UDS may not be a dir' },
    { kind, path: [...at, 'address'], rule: UDS_ABS, message: 'UDS must be an absolute path or abstract socket' },
    { kind, path: [...at, 'ports'], rule: PORT_NAMES, message: 'port name must be valid' },
    { kind, path: [...at, 'ports', '{}'], rule: PORT, message: PORT_MSG },
  ];
}

const CONNECTION_POOL_DURATIONS = TRAFFIC_POLICY_DURATIONS.filter((f) => f[0] === 'connectionPool').map((f) => f.slice(1));

function sidecarRules(): CelRule[] {
  const rules: CelRule[] = [];
  for (const at of [['spec', 'inboundConnectionPool'], ['spec', 'ingress', '[]', 'connectionPool']]) {
    for (const f of CONNECTION_POOL_DURATIONS) rules.push({ kind: 'Sidecar', path: [...at, ...f], rule: DURATION, message: DURATION_MSG });
  }
  const tls = ['spec', 'ingress', '[]', 'tls'];
  rules.push(
    { kind: 'Sidecar', path: tls, rule: '(has(self.tlsCertificates) ? 1 : 0) + (has(self.credentialNames) ? 1 : 0) <= 1', message: 'only one of credentialNames or tlsCertificates can be set' },
    { kind: 'Sidecar', path: tls, rule: '(has(self.credentialName) ? 1 : 0) + (has(self.credentialNames) ? 1 : 0) <= 1', message: 'only one of credentialName or credentialNames can be set' },
    { kind: 'Sidecar', path: tls, rule: '(has(self.credentialNames) ? 1 : 0) + (has(self.tlsCertificates) ? 1 : 0) <= 1', message: 'only one of credentialName or tlsCertificates can be set' },
    { kind: 'Sidecar', path: ['spec', 'workloadSelector', 'labels', '{}'], rule: '!self.contains("*")', message: 'wildcard is not supported in selector' },
  );
  return rules;
}

function serviceEntryRules(): CelRule[] {
  const kind = 'ServiceEntry';
  return [
    { kind, path: ['spec'], rule: '(has(self.workloadSelector) ? 1 : 0) + (has(self.endpoints) ? 1 : 0) <= 1', message: 'only one of WorkloadSelector or Endpoints can be set' },
    {
      kind,
      path: ['spec'],
      rule: '!((has(self.addresses) ? self.addresses : []).exists(k, k.contains("/")) && !((has(self.resolution) ? self.resolution : "NONE") in ["STATIC", "NONE"]))',
      message: 'CIDR addresses are allowed only for NONE/STATIC resolution types',
    },
    { kind, path: ['spec'], rule: '((has(self.resolution) ? self.resolution : "NONE") == "NONE") ? !has(self.endpoints) : true', message: 'NONE mode cannot set endpoints' },
    {
      kind,
      path: ['spec'],
      rule: '((has(self.resolution) ? self.resolution : "") == "DNS_ROUND_ROBIN") ? ((has(self.endpoints) ? self.endpoints : []).size() <= 1) : true',
      message: 'DNS_ROUND_ROBIN mode cannot have multiple endpoints',
    },
    ...workloadRules(kind, ['spec', 'endpoints', '[]']),
    { kind, path: ['spec', 'endpoints', '[]'], rule: 'has(self.address) || has(self.network)', message: 'Address is required' },
    { kind, path: ['spec', 'hosts', '[]'], rule: 'self != "*"', message: 'hostname cannot be wildcard' },
    { kind, path: ['spec', 'ports'], rule: 'self.all(l1, self.exists_one(l2, l1.number == l2.number))', message: 'port number cannot be duplicated' },
    { kind, path: ['spec', 'ports', '[]', 'number'], rule: PORT, message: PORT_MSG },
    { kind, path: ['spec', 'ports', '[]', 'targetPort'], rule: PORT, message: PORT_MSG },
    { kind, path: ['spec', 'workloadSelector', 'labels', '{}'], rule: '!self.contains("*")', message: 'wildcard is not supported in selector' },
  ];
}

export const CEL_RULES: readonly CelRule[] = Object.freeze([
  ...sidecarRules(),
  ...serviceEntryRules(),
  ...destinationRuleRules(),
  ...[['corsPolicy', 'maxAge'], ['fault', 'delay', 'exponentialDelay'], ['fault', 'delay', 'fixedDelay'], ['retries', 'backoff'], ['retries', 'perTryTimeout'], ['timeout']]
    .map((f): CelRule => ({ kind: 'VirtualService', path: ['spec', 'http', '[]', ...f], rule: DURATION, message: DURATION_MSG })),
  { kind: 'Gateway', path: ['spec', 'servers', '[]', 'tls'], rule: '(has(self.credentialName) ? 1 : 0) + (has(self.credentialNames) ? 1 : 0) <= 1', message: 'only one of credentialName or credentialNames can be set' },
  { kind: 'Gateway', path: ['spec', 'servers', '[]', 'tls'], rule: '(has(self.credentialNames) ? 1 : 0) + (has(self.tlsCertificates) ? 1 : 0) <= 1', message: 'only one of credentialName or tlsCertificates can be set' },
  { kind: 'Gateway', path: ['spec', 'servers', '[]', 'tls'], rule: '(has(self.tlsCertificates) ? 1 : 0) + (has(self.credentialNames) ? 1 : 0) <= 1', message: 'only one of credentialNames or tlsCertificates can be set' },
  ...workloadRules('WorkloadEntry', ['spec']),
  { kind: 'WorkloadEntry', path: ['spec'], rule: 'has(self.address) || has(self.network)', message: 'Address is required' },
  ...workloadRules('WorkloadGroup', ['spec', 'template']),
  { kind: 'WorkloadGroup', path: ['spec', 'probe', 'grpc', 'port'], rule: PORT, message: PORT_MSG },
  { kind: 'WorkloadGroup', path: ['spec', 'probe', 'httpGet', 'port'], rule: PORT, message: PORT_MSG },
  { kind: 'WorkloadGroup', path: ['spec', 'probe', 'httpGet', 'scheme'], rule: 'self in ["", "HTTP", "HTTPS"]', message: 'scheme must be one of [HTTP, HTTPS]' },
  { kind: 'WorkloadGroup', path: ['spec', 'probe', 'tcpSocket', 'port'], rule: PORT, message: PORT_MSG },
  { kind: 'AuthorizationPolicy', path: ['spec'], rule: '(has(self.selector) ? 1 : 0) + (has(self.targetRef) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1', message: 'only one of targetRefs or selector can be set' },
  {
    kind: 'AuthorizationPolicy',
    path: ['spec', 'rules', '[]', 'from', '[]', 'source'],
    rule: '(has(self.serviceAccounts) || has(self.notServiceAccounts)) ? (!has(self.principals) &&\n!has(self.notPrincipals) && !has(self.namespaces) && !has(self.notNamespaces)) : true',
    message: 'Cannot set serviceAccounts with namespaces or principals',
  },
  ...MATCH_LABELS_RULES('AuthorizationPolicy', ['spec', 'selector']),
  { kind: 'AuthorizationPolicy', path: ['spec', 'targetRef', 'namespace'], rule: 'self.size() == 0', message: 'cross namespace referencing is not currently supported' },
  { kind: 'AuthorizationPolicy', path: ['spec', 'targetRefs', '[]', 'namespace'], rule: 'self.size() == 0', message: 'cross namespace referencing is not currently supported' },
  {
    kind: 'PeerAuthentication',
    path: ['spec'],
    rule: 'has(self.portLevelMtls) ? (((has(self.selector) && has(self.selector.matchLabels)) ? self.selector.matchLabels : {}).size() > 0) : true',
    message: 'portLevelMtls requires selector',
  },
  { kind: 'PeerAuthentication', path: ['spec', 'portLevelMtls'], rule: 'self.all(key, 0 < int(key) && int(key) <= 65535)', message: 'port must be between 1-65535' },
  ...MATCH_LABELS_RULES('PeerAuthentication', ['spec', 'selector']),
]);
