/**
 * The JSON Schema (draft-07) of `mixmesh.io/v1alpha1` MeshService, exactly as
 * docs/descriptor.md. `additionalProperties: false` everywhere except `extVirtualLinks`
 * items and `additionalParams` (passed through to Tacker untouched). Defaults are here where the
 * spec gives a constant; defaults that depend on other fields (serviceAccount = name,
 * targetPort = port, a connection's only port, istioVersion from configuration) are applied by
 * validate.ts. The orchestrator derives its CRD schema from this object (crd.ts), so every node
 * carries a `type` and conditional rules live only in `allOf` entries that crd.ts drops.
 */

export type JsonSchema = Record<string, unknown>;

/** Patterns are RE2-compatible (no look-arounds) so the derived CRD schema keeps them. */
export const PATTERNS = {
  dns1123Label: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
  dns1035Label: '^[a-z]([-a-z0-9]*[a-z0-9])?$',
  dns1123Subdomain: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
  // IANA service name: [a-z0-9-], at least one letter, no "--", no leading/trailing "-"
  ianaSvcName: '^([0-9]+-)*[0-9]*[a-z][a-z0-9]*(-[a-z0-9]+)*$',
  duration: '^[0-9]+(ms|s|m|h)$',
  hostname: '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
  hostKey: '^(console|accept-new|(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521) [A-Za-z0-9+/]+={0,3})$',
  istioVersion: '^[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.-]+)?$',
  linuxUser: '^[a-z_][a-z0-9_-]*$',
  path: '^/',
  image: '^[^\\s]+$',
  envName: '^[-._a-zA-Z][-._a-zA-Z0-9]*$',
  quantity: '^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$',
  headerName: '^[a-zA-Z0-9!#$%&\'*+.^_`|~-]+$',
  retryOn: '^[a-z0-9-]+(,[a-z0-9-]+)*$',
  // an absolute path whose segments are never "." or ".." (RE2: no look-arounds)
  absolutePath: '^(/([^/.\\x00][^/\\x00]*|\\.[^/.\\x00][^/\\x00]*|\\.\\.[^/\\x00]+))+/?$',
  systemdUnit: '^[A-Za-z0-9:_.@-]+$',
} as const;

/** What each pattern means, in words, for problem messages. */
export const PATTERN_WORDS: Record<string, string> = {
  [PATTERNS.dns1123Label]: 'a DNS-1123 label (lowercase letters, digits and "-", starting and ending with a letter or digit)',
  [PATTERNS.dns1035Label]: 'a DNS-1035 label (lowercase letters, digits and "-", starting with a letter, ending with a letter or digit)',
  [PATTERNS.dns1123Subdomain]: 'a DNS-1123 subdomain (lowercase letters, digits, "-" and ".")',
  [PATTERNS.ianaSvcName]: 'an IANA service name (lowercase letters, digits and "-", at least one letter, no "--", not starting or ending with "-")',
  [PATTERNS.duration]: 'a duration (a whole number followed by ms, s, m or h, e.g. 3s)',
  [PATTERNS.hostname]: 'a DNS host name (e.g. cafe.example.com, optionally starting with "*.")',
  [PATTERNS.hostKey]: 'console, accept-new, or a pinned public key such as "ssh-ed25519 AAAA…"',
  [PATTERNS.istioVersion]: 'an Istio version such as 1.30.3',
  [PATTERNS.linuxUser]: 'a login name (lowercase letters, digits, "_" and "-", not starting with a digit or "-")',
  [PATTERNS.path]: 'a path starting with "/"',
  [PATTERNS.image]: 'a container image reference without spaces',
  [PATTERNS.envName]: 'an environment variable name (letters, digits, "_", "-", ".", not starting with a digit)',
  [PATTERNS.quantity]: 'a Kubernetes quantity such as 100m, 1.5 or 128Mi',
  [PATTERNS.headerName]: 'an HTTP header name',
  [PATTERNS.retryOn]: 'a comma-separated list of retry conditions such as 5xx,connect-failure',
  [PATTERNS.absolutePath]: 'an absolute path such as /var/lib/app (no "." or ".." segments)',
  [PATTERNS.systemdUnit]: 'a systemd unit name such as app.service',
};

const str = (pattern?: string, maxLength?: number): JsonSchema => ({
  type: 'string',
  minLength: 1,
  ...(maxLength === undefined ? {} : { maxLength }),
  ...(pattern === undefined ? {} : { pattern }),
});
const int = (minimum: number, maximum: number, def?: number): JsonSchema => ({
  type: 'integer',
  minimum,
  maximum,
  ...(def === undefined ? {} : { default: def }),
});
const obj = (properties: Record<string, JsonSchema>, required: string[] = [], extra: JsonSchema = {}): JsonSchema => ({
  type: 'object',
  additionalProperties: false,
  ...(required.length > 0 ? { required } : {}),
  properties,
  ...extra,
});
const arr = (items: JsonSchema, minItems?: number, maxItems?: number): JsonSchema => ({
  type: 'array',
  ...(minItems === undefined ? {} : { minItems }),
  ...(maxItems === undefined ? {} : { maxItems }),
  items,
});
const ref = (name: string): JsonSchema => ({ $ref: `#/definitions/${name}` });
const stringMap = (valueSchema: JsonSchema = { type: 'string' }): JsonSchema => ({ type: 'object', additionalProperties: valueSchema });

export const LIMITS = Object.freeze({
  microservices: 1000,
  connections: 10000,
  ports: 16,
  ingressRoutes: 100,
  routes: 100,
  inputBytes: 4 * 1024 * 1024,
  aliasExpandedNodes: 10000,
  /** nodes of the text (collections, keys, values): 1000 microservices and 10000 connections with every option are about 350000 */
  nodes: 500000,
});

const definitions: Record<string, JsonSchema> = {
  duration: str(PATTERNS.duration, 20),
  // a port name of this microservice, or a targetPort number (name-or-number: int-or-string in the CRD)
  probePort: { type: ['string', 'integer'], minLength: 1, maxLength: 15, pattern: PATTERNS.ianaSvcName, minimum: 1, maximum: 65535 },
  quantityMap: { type: 'object', additionalProperties: str(PATTERNS.quantity, 64), propertyNames: { type: 'string', pattern: '^[a-z0-9./-]+$' } },
  port: obj(
    {
      name: str(PATTERNS.ianaSvcName, 15),
      port: int(1, 65535),
      targetPort: int(1, 65535),
      protocol: { type: 'string', enum: ['HTTP', 'HTTP2', 'GRPC', 'TCP', 'TLS'], default: 'HTTP' },
    },
    ['name', 'port'],
  ),
  readinessProbe: obj(
    {
      httpGet: obj({ path: str(PATTERNS.path, 1024), port: ref('probePort') }, ['path', 'port']),
      tcpSocket: obj({ port: ref('probePort') }, ['port']),
    },
    [],
    { minProperties: 1, maxProperties: 1 },
  ),
  envVar: {
    ...obj(
      {
        name: str(PATTERNS.envName, 256),
        value: { type: 'string' },
        valueFrom: obj({ secretKeyRef: obj({ name: str(PATTERNS.dns1123Subdomain, 253), key: str('^[-._a-zA-Z0-9]+$', 253) }, ['name', 'key']) }, ['secretKeyRef']),
      },
      ['name'],
    ),
    // exactly one of value / valueFrom
    oneOf: [
      { required: ['value'], properties: { value: true } },
      { required: ['valueFrom'], properties: { valueFrom: true } },
    ],
  },
  securityContext: obj({
    allowPrivilegeEscalation: { type: 'boolean' },
    appArmorProfile: obj({ type: { type: 'string', enum: ['Localhost', 'RuntimeDefault', 'Unconfined'] }, localhostProfile: { type: 'string' } }, ['type']),
    capabilities: obj({ add: arr({ type: 'string' }), drop: arr({ type: 'string' }) }),
    privileged: { type: 'boolean' },
    procMount: { type: 'string', enum: ['Default', 'Unmasked'] },
    readOnlyRootFilesystem: { type: 'boolean' },
    runAsGroup: int(0, 2147483647),
    runAsNonRoot: { type: 'boolean' },
    runAsUser: int(0, 2147483647),
    seLinuxOptions: obj({ level: { type: 'string' }, role: { type: 'string' }, type: { type: 'string' }, user: { type: 'string' } }),
    seccompProfile: obj({ type: { type: 'string', enum: ['Localhost', 'RuntimeDefault', 'Unconfined'] }, localhostProfile: { type: 'string' } }, ['type']),
    windowsOptions: obj({
      gmsaCredentialSpec: { type: 'string' },
      gmsaCredentialSpecName: { type: 'string' },
      hostProcess: { type: 'boolean' },
      runAsUserName: { type: 'string' },
    }),
  }),
  container: obj(
    {
      image: str(PATTERNS.image, 512),
      replicas: int(0, 1000, 1),
      command: arr({ type: 'string' }),
      args: arr({ type: 'string' }),
      env: arr(ref('envVar'), 0, 256),
      resources: obj({ requests: ref('quantityMap'), limits: ref('quantityMap') }),
      securityContext: ref('securityContext'),
      // the pod's volumes and this container's mounts of them (a stateful container's data)
      volumes: arr(ref('volume'), 0, 32),
      // node labels the pods must match (keys and values checked in validate.ts, with reasons)
      nodeSelector: stringMap(),
    },
    ['image'],
  ),
  volume: {
    ...obj(
      {
        name: str(PATTERNS.dns1123Label, 63),
        mountPath: str(PATTERNS.absolutePath, 1024),
        readOnly: { type: 'boolean' },
        hostPath: obj(
          {
            path: str(PATTERNS.absolutePath, 1024),
            type: { type: 'string', enum: ['DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'] },
          },
          ['path'],
        ),
        persistentVolumeClaim: obj({ claimName: str(PATTERNS.dns1123Subdomain, 253) }, ['claimName']),
        emptyDir: obj({}),
      },
      ['name', 'mountPath'],
    ),
    // exactly one source
    oneOf: [
      { required: ['hostPath'], properties: { hostPath: true } },
      { required: ['persistentVolumeClaim'], properties: { persistentVolumeClaim: true } },
      { required: ['emptyDir'], properties: { emptyDir: true } },
    ],
  },
  vm: obj(
    {
      vnfdId: str(undefined, 255),
      flavourId: str(undefined, 255),
      instantiationLevelId: str(undefined, 255),
      instances: int(1, 50, 1),
      vimId: str(undefined, 255),
      // passed through to Tacker's instantiate request: its schema is Tacker's, not ours
      extVirtualLinks: arr({ type: 'object' }),
      additionalParams: { type: 'object' },
      fixedIp: { type: 'string', format: 'ip' },
      // a VNF terminated or deleted outside mixmesh: recreate it (same name), or only report it
      recreate: { type: 'boolean', default: true },
      ssh: obj(
        {
          user: str(PATTERNS.linuxUser, 32),
          port: int(1, 65535, 22),
          credentialsSecret: str(PATTERNS.dns1123Subdomain, 253),
          hostKey: { type: 'string', pattern: PATTERNS.hostKey, maxLength: 16384, default: 'console' },
        },
        ['user', 'credentialsSecret'],
      ),
      sidecar: obj(
        {
          package: { type: 'string', enum: ['deb', 'rpm', 'tar'], default: 'deb' },
          istioVersion: str(PATTERNS.istioVersion, 64),
          injection: { type: 'string', enum: ['orchestrator', 'plugin'], default: 'orchestrator' },
        },
        [],
        { default: {} },
      ),
      // backup.md: the VM's persistent data, copied over SSH and written back before the sidecar starts
      dataDirs: arr(str(PATTERNS.absolutePath, 1024), 0, 16),
      // the process CRIU checkpoints when backup.state is checkpoint: a systemd unit or a pid file
      checkpoint: obj({ unit: str(PATTERNS.systemdUnit, 256), pidFile: str(PATTERNS.absolutePath, 1024) }, [], { minProperties: 1, maxProperties: 1 }),
    },
    ['vnfdId', 'flavourId', 'ssh'],
  ),
  // a command as an argument array (never a shell string): ["mysqldump", "--single-transaction", …]
  command: arr(str(undefined, 4096), 1, 256),
  backup: obj({
    state: { type: 'string', enum: ['checkpoint', 'hooks', 'none'], default: 'none' },
    hooks: obj({ pre: arr(ref('command'), 0, 16), post: arr(ref('command'), 0, 16) }),
    restoreHooks: obj({ post: arr(ref('command'), 0, 16) }),
  }),
  microservice: {
    ...obj(
      {
        name: str(PATTERNS.dns1035Label, 40),
        version: { ...str(PATTERNS.dns1123Label, 20), default: 'v1' },
        runtime: { type: 'string', enum: ['container', 'vm'] },
        serviceAccount: str(PATTERNS.dns1123Subdomain, 253),
        ports: arr(ref('port'), 1, LIMITS.ports),
        readinessProbe: ref('readinessProbe'),
        container: ref('container'),
        vm: ref('vm'),
        backup: ref('backup'),
      },
      ['name', 'runtime', 'ports'],
    ),
    // container is required when runtime=container and forbidden otherwise; likewise vm.
    // (JSON Schema only: crd.ts drops this allOf, Kubernetes has no if/then.)
    allOf: [
      {
        if: { type: 'object', properties: { runtime: { const: 'container' } }, required: ['runtime'] },
        then: { type: 'object', required: ['container'], properties: { container: true, vm: false } },
      },
      {
        if: { type: 'object', properties: { runtime: { const: 'vm' } }, required: ['runtime'] },
        then: { type: 'object', required: ['vm'], properties: { vm: true, container: false } },
      },
    ],
  },
  route: obj(
    {
      match: obj(
        {
          pathPrefix: str(PATTERNS.path, 1024),
          headers: { type: 'object', minProperties: 1, additionalProperties: { type: 'string' }, propertyNames: { type: 'string', pattern: PATTERNS.headerName, maxLength: 256 } },
        },
        [],
        { minProperties: 1 },
      ),
      split: arr(obj({ version: str(PATTERNS.dns1123Label, 20), weight: int(0, 100) }, ['version', 'weight']), 1, 100),
    },
    ['split'],
  ),
  loadBalancer: {
    oneOf: [
      { type: 'string', enum: ['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'PASSTHROUGH'] },
      obj(
        {
          consistentHash: obj(
            {
              header: str(PATTERNS.headerName, 256),
              cookie: obj({ name: str(undefined, 256), ttl: ref('duration'), path: str(PATTERNS.path, 1024) }, ['name']),
              sourceIp: { type: 'boolean', const: true },
            },
            [],
            { minProperties: 1, maxProperties: 1 },
          ),
        },
        ['consistentHash'],
      ),
    ],
  },
  connection: obj(
    {
      from: str(undefined, 63),
      to: str(undefined, 63),
      port: str(PATTERNS.ianaSvcName, 15),
      timeout: ref('duration'),
      retries: obj({ attempts: int(0, 10), perTryTimeout: ref('duration'), retryOn: str(PATTERNS.retryOn, 256) }, ['attempts']),
      fault: obj(
        {
          delay: obj({ percent: { type: 'number', minimum: 0, maximum: 100 }, fixed: ref('duration') }, ['percent', 'fixed']),
          abort: obj({ percent: { type: 'number', minimum: 0, maximum: 100 }, httpStatus: int(100, 599) }, ['percent', 'httpStatus']),
        },
        [],
        { minProperties: 1 },
      ),
      routes: arr(ref('route'), 1, LIMITS.routes),
      loadBalancer: ref('loadBalancer'),
      connectionPool: obj(
        { maxConnections: int(1, 2147483647), maxPendingRequests: int(1, 2147483647), maxRequestsPerConnection: int(0, 2147483647) },
        [],
        { minProperties: 1 },
      ),
      circuitBreaker: obj(
        { consecutiveErrors: int(1, 2147483647), interval: ref('duration'), baseEjectionTime: ref('duration'), maxEjectionPercent: int(0, 100) },
        [],
        { minProperties: 1 },
      ),
    },
    ['from', 'to'],
  ),
  ingress: obj(
    {
      host: str(PATTERNS.hostname, 253),
      tls: obj({ credentialName: str(PATTERNS.dns1123Subdomain, 253) }, ['credentialName']),
      routes: arr(obj({ pathPrefix: str(PATTERNS.path, 1024), to: str(undefined, 63), port: str(PATTERNS.ianaSvcName, 15) }, ['pathPrefix', 'to']), 1, LIMITS.ingressRoutes),
    },
    ['host', 'routes'],
  ),
};

/** The descriptor's `spec` (also the CRD's `spec`). */
const specSchema: JsonSchema = obj(
  {
    mesh: obj(
      {
        mtls: { type: 'string', enum: ['STRICT', 'PERMISSIVE', 'DISABLE'], default: 'STRICT' },
        authorization: { type: 'string', enum: ['connections', 'open'], default: 'connections' },
        network: { type: 'string', maxLength: 63, default: '' },
      },
      [],
      { default: {} },
    ),
    microservices: arr(ref('microservice'), 1, LIMITS.microservices),
    connections: { ...arr(ref('connection'), 0, LIMITS.connections), default: [] },
    ingress: ref('ingress'),
  },
  ['microservices'],
);

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Frozen all the way down: importers share it, so nobody may change it in place. */
export const MESH_SERVICE_SCHEMA: Readonly<JsonSchema> = deepFreeze({
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://mixmesh.io/schemas/v1alpha1/meshservice.json',
  title: 'mixmesh.io/v1alpha1 MeshService',
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { type: 'string', const: 'mixmesh.io/v1alpha1' },
    kind: { type: 'string', const: 'MeshService' },
    metadata: obj(
      {
        name: str(PATTERNS.dns1123Label, 40),
        namespace: { ...str(PATTERNS.dns1123Label, 63), default: 'default' },
        // keys and values are checked by rule 12 in validate.ts, with messages that say why
        labels: { ...stringMap(), default: {} },
      },
      ['name'],
    ),
    spec: specSchema,
  },
  definitions,
});

/** A deep, mutable copy of the schema (ajv and crd.ts may annotate what they get). */
export function meshServiceSchema(): JsonSchema {
  return structuredClone(MESH_SERVICE_SCHEMA) as JsonSchema;
}
