/**
 * validateDescriptor: the schema (with its constant defaults), then the dependent defaults, then
 * the rules beyond the schema (docs/descriptor.md rules 1–12). Pure: the input is never changed.
 * Every problem is reported, in pointer order: when the schema fails, the rules still run over
 * the parts that passed it (a `Skip` says which did not), so one run shows a typo in an image and
 * a wrong `to` together, without guessing about the broken parts.
 */
import type { ValidateFunction } from 'ajv';
import type { Connection, ContainerSpec, MeshService, Microservice, Port, Problem, ValidationResult, VmSpec } from './types.js';
import { isHttpFamily } from './types.js';
import { PATTERNS } from './schema.js';
import { parseDescriptorText, type ParseOptions } from './parse.js';
import { joinPointer, orderProblems, schemaProblems, show } from './problems.js';
import { DEFAULT_ISTIO_VERSION } from './defaults.js';
import { validate as generatedValidator } from './schema-validator.gen.js';

export interface ValidateOptions {
  /** the sidecar version VMs get when the descriptor does not say; default the mesh values' 1.30.3 */
  istioVersion?: string;
}

/**
 * The schema validator (allErrors, useDefaults, strict): ajv's standalone code, generated ahead of
 * time from meshServiceSchema() by gen-schema-validator.ts, so no run pays for ajv's compile.
 */
export function schemaValidator(): ValidateFunction {
  return generatedValidator as unknown as ValidateFunction;
}

function fail(problems: Problem[]): ValidationResult {
  return { ok: false, problems: orderProblems(problems) };
}

export function validateDescriptor(input: unknown, options: ValidateOptions = {}): ValidationResult {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return fail([{ pointer: '', message: `${show(input)} is not a MeshService descriptor (a mapping with apiVersion, kind, metadata, spec)` }]);
  }
  // ajv applies defaults in place: work on a copy so the caller's object never changes
  return validateCopy(structuredClone(input) as Record<string, unknown>, () => input, options);
}

/**
 * Validate `data`, a document nobody else holds (the schema's defaults are written into it);
 * `original()` gives the document as written, which only the messages of a schema failure read.
 */
function validateCopy(data: Record<string, unknown>, original: () => unknown, options: ValidateOptions): ValidationResult {
  const validate = schemaValidator();
  if (!validate(data)) {
    const problems = schemaProblems(validate.errors ?? [], original());
    if (problems.length === 0) problems.push({ pointer: '', message: 'does not match the MeshService schema' });
    const skip = skipFor(problems);
    if (!skip.all) {
      const service = data as unknown as MeshService;
      problems.push(...checkRules(service, applyDependentDefaults(service, options, skip), skip));
    }
    return fail(problems);
  }
  const service = data as unknown as MeshService;
  const problems = checkRules(service, applyDependentDefaults(service, options, NO_SKIP), NO_SKIP);
  if (problems.length > 0) return fail(problems);
  return { ok: true, value: service, problems: [] };
}

/** The parts of a document that failed the schema, which the rules must not look into. */
interface Skip {
  all: boolean;
  metadata: boolean;
  mesh: boolean;
  ingress: boolean;
  allConnections: boolean;
  microservices: ReadonlySet<number>;
  connections: ReadonlySet<number>;
  /** per skipped connection, the fields the schema refused ('' for the connection itself) */
  connectionFields: ReadonlyMap<number, ReadonlySet<string>>;
  ingressRoutes: ReadonlySet<number>;
}

const NO_SKIP: Skip = { all: false, metadata: false, mesh: false, ingress: false, allConnections: false, microservices: new Set(), connections: new Set(), connectionFields: new Map(), ingressRoutes: new Set() };

function skipFor(problems: readonly Problem[]): Skip {
  const skip = { ...NO_SKIP, microservices: new Set<number>(), connections: new Set<number>(), connectionFields: new Map<number, Set<string>>(), ingressRoutes: new Set<number>() };
  for (const { pointer } of problems) {
    let m: RegExpExecArray | null;
    if (pointer === '' || pointer === '/spec' || pointer === '/spec/microservices') skip.all = true;
    else if (pointer.startsWith('/metadata')) skip.metadata = true;
    else if (pointer.startsWith('/spec/mesh')) skip.mesh = true;
    else if (pointer === '/spec/connections') skip.allConnections = true;
    else if ((m = /^\/spec\/microservices\/(\d+)(\/|$)/.exec(pointer))) skip.microservices.add(Number(m[1]));
    else if ((m = /^\/spec\/connections\/(\d+)(?:\/([^/]*)|$)/.exec(pointer))) {
      const i = Number(m[1]);
      skip.connections.add(i);
      if (!skip.connectionFields.has(i)) skip.connectionFields.set(i, new Set());
      skip.connectionFields.get(i)!.add(m[2] ?? '');
    }
    else if ((m = /^\/spec\/ingress\/routes\/(\d+)(\/|$)/.exec(pointer))) skip.ingressRoutes.add(Number(m[1]));
    else if (pointer.startsWith('/spec/ingress')) skip.ingress = true;
    // anything else (apiVersion, kind, an unknown field under spec) does not affect the rules
  }
  return skip;
}

/** Defaults the schema cannot express: they depend on other fields or on configuration. */
function applyDependentDefaults(service: MeshService, options: ValidateOptions, skip: Skip): Set<Port> {
  const istioVersion = options.istioVersion ?? DEFAULT_ISTIO_VERSION;
  const defaultedTargetPorts = new Set<Port>();
  for (const [i, ms] of service.spec.microservices.entries()) {
    if (skip.microservices.has(i)) continue;
    ms.serviceAccount ??= ms.name;
    for (const p of ms.ports) {
      if (p.targetPort === undefined) {
        p.targetPort = p.port;
        defaultedTargetPorts.add(p); // so a problem points at the field the user wrote
      }
    }
    if (ms.vm) ms.vm.sidecar.istioVersion ??= istioVersion;
  }
  // connection and ingress ports are filled in by rules 3 and 8, which know `to`'s ports
  return defaultedTargetPorts;
}

interface Known {
  /** microservice name -> its versions, in declaration order */
  versions: Map<string, Microservice[]>;
  /** name -> ports of its first version (rule 1 makes them agree) */
  ports: Map<string, Port[]>;
  names: string[];
  /** names with a version that failed the schema: nothing is concluded about them */
  opaque: Set<string>;
  /** a failed microservice's name itself is broken, so "unknown name" may be a false alarm */
  namesUncertain: boolean;
}

const ptr = {
  ms: (i: number, ...rest: (string | number)[]) => joinPointer('/spec/microservices', i, ...rest),
  conn: (i: number, ...rest: (string | number)[]) => joinPointer('/spec/connections', i, ...rest),
  ingressRoute: (i: number, ...rest: (string | number)[]) => joinPointer('/spec/ingress/routes', i, ...rest),
};

function listNames(names: readonly string[], max = 20): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown}, … (${names.length} in all)` : shown;
}

function portSignature(ports: readonly Port[]): string {
  return ports
    .map((p) => `${p.name}:${p.port}/${p.protocol}`)
    .sort()
    .join(', ');
}

function checkRules(service: MeshService, defaultedTargetPorts: ReadonlySet<Port>, skip: Skip): Problem[] {
  const problems: Problem[] = [];
  const add = (pointer: string, message: string) => problems.push({ pointer, message });
  const known = checkMicroservices(service, defaultedTargetPorts, skip, add);
  const resolvedPorts = skip.allConnections ? [] : checkConnections(service, known, skip, add);
  if (!skip.allConnections) checkDestinationSettings(service, known, resolvedPorts, add);
  if (!skip.ingress) checkIngress(service, known, skip, add);
  if (!skip.mesh) checkMesh(service, add);
  if (!skip.metadata) checkLabels(service, add);
  return problems;
}

type Add = (pointer: string, message: string) => void;

/** Rules 1, 2 (reserved names), 9, and the probe/port sanity checks. */
function checkMicroservices(service: MeshService, defaultedTargetPorts: ReadonlySet<Port>, skip: Skip, add: Add): Known {
  const versions = new Map<string, Microservice[]>();
  const firstIndex = new Map<string, number>();
  const byKey = new Map<string, number>();
  const byJoined = new Map<string, number>();
  const opaque = new Set<string>();
  let namesUncertain = false;
  const serviceName: unknown = (service.metadata as Partial<MeshService['metadata']> | undefined)?.name;
  const reservedIngress = !skip.metadata && typeof serviceName === 'string' ? `${serviceName}-ingress` : undefined;
  service.spec.microservices.forEach((ms, i) => {
    if (skip.microservices.has(i)) {
      const name: unknown = ms !== null && typeof ms === 'object' ? (ms as { name?: unknown }).name : undefined;
      if (typeof name === 'string' && new RegExp(PATTERNS.dns1035Label).test(name)) opaque.add(name);
      else namesUncertain = true;
      return;
    }
    if (ms.name === 'ingress') add(ptr.ms(i, 'name'), '"ingress" is reserved: it names the ingress gateway as a caller');
    if (ms.name === reservedIngress) add(ptr.ms(i, 'name'), `${show(ms.name)} is reserved: it is the name of the service's ingress Gateway and VirtualService`);
    const key = `${ms.name}\u0000${ms.version}`;
    const joined = `${ms.name}-${ms.version}`;
    const earlier = byKey.get(key);
    if (earlier !== undefined) {
      add(ptr.ms(i, 'version'), `${ms.name} version ${show(ms.version)} is already declared at ${ptr.ms(earlier)} ((name, version) must be unique)`);
    } else {
      byKey.set(key, i);
      const clash = byJoined.get(joined);
      if (clash !== undefined) {
        add(ptr.ms(i, 'name'), `${show(joined)} (name-version) is also the name-version of ${ptr.ms(clash)}; <name>-<version> must be unique`);
      } else byJoined.set(joined, i);
    }
    const list = versions.get(ms.name);
    if (list === undefined) {
      versions.set(ms.name, [ms]);
      firstIndex.set(ms.name, i);
    } else {
      const first = list[0]!;
      if (portSignature(first.ports) !== portSignature(ms.ports)) {
        add(
          ptr.ms(i, 'ports'),
          `${ms.name} ${ms.version} declares ports ${portSignature(ms.ports)}, but ${ms.name} ${first.version} (${ptr.ms(firstIndex.get(ms.name)!)}) declares ${portSignature(first.ports)}; all versions must declare the same ports (name, port, protocol)`,
        );
      }
      list.push(ms);
    }
    checkPorts(ms, i, add);
    checkProbe(ms, i, add);
    if (ms.vm) checkVm(ms, ms.vm, i, defaultedTargetPorts, add);
    if (ms.container) checkContainer(ms.container, i, add);
    checkBackup(ms, i, add);
  });
  const names = [...new Set([...versions.keys(), ...opaque])].sort();
  const ports = new Map<string, Port[]>();
  for (const [name, list] of versions) ports.set(name, list[0]!.ports);
  return { versions, ports, names, opaque, namesUncertain };
}

function checkPorts(ms: Microservice, i: number, add: Add): void {
  const seenName = new Map<string, number>();
  const seenPort = new Map<number, number>();
  const seenTarget = new Map<number, number>();
  ms.ports.forEach((p, j) => {
    const a = seenName.get(p.name);
    if (a !== undefined) add(ptr.ms(i, 'ports', j, 'name'), `${show(p.name)} is already the name of ${ptr.ms(i, 'ports', a)} (port names must be unique)`);
    else seenName.set(p.name, j);
    const b = seenPort.get(p.port);
    if (b !== undefined) add(ptr.ms(i, 'ports', j, 'port'), `${p.port} is already the port of ${ptr.ms(i, 'ports', b)} (ports must be unique)`);
    else seenPort.set(p.port, j);
    const c = seenTarget.get(p.targetPort);
    if (c !== undefined) add(ptr.ms(i, 'ports', j, 'targetPort'), `${p.targetPort} is already the targetPort of ${ptr.ms(i, 'ports', c)} (targetPorts must be unique)`);
    else seenTarget.set(p.targetPort, j);
  });
}

/** A probe's port is one of this version's port names or targetPort numbers. */
function checkProbe(ms: Microservice, i: number, add: Add): void {
  const probe = ms.readinessProbe;
  if (probe === undefined) return;
  const [kind, port] = 'httpGet' in probe ? ['httpGet', probe.httpGet.port] : ['tcpSocket', probe.tcpSocket.port];
  const pointer = ptr.ms(i, 'readinessProbe', kind, 'port');
  if (typeof port === 'string' && !ms.ports.some((p) => p.name === port)) {
    add(pointer, `${show(port)} is not a port of ${ms.name} ${ms.version} (ports: ${ms.ports.map((p) => p.name).join(', ')})`);
  }
  if (typeof port === 'number' && !ms.ports.some((p) => p.targetPort === port)) {
    add(pointer, `${port} is not a targetPort of ${ms.name} ${ms.version} (targetPorts: ${ms.ports.map((p) => p.targetPort).join(', ')})`);
  }
}

/**
 * Where mixmesh writes `fixedAddresses: [<fixedIp>]` (rule 9): the single ipAddresses item of the
 * single cpConfig of the single extCps entry, or a reason why there is none.
 */
export function fixedIpTarget(vm: Pick<VmSpec, 'extVirtualLinks'>): { ok: true; ipAddress: Record<string, unknown>; pointer: string } | { ok: false; reason: string } {
  const links = vm.extVirtualLinks ?? [];
  const extCps: { cp: unknown; pointer: string }[] = [];
  links.forEach((link, l) => {
    const cps = (link as { extCps?: unknown }).extCps;
    if (Array.isArray(cps)) cps.forEach((cp, c) => extCps.push({ cp, pointer: `/extVirtualLinks/${l}/extCps/${c}` }));
  });
  if (extCps.length !== 1) return { ok: false, reason: `found ${extCps.length} extCps entries` };
  const { cp, pointer } = extCps[0]!;
  const cpConfig = cp !== null && typeof cp === 'object' ? (cp as { cpConfig?: unknown }).cpConfig : undefined;
  // Tacker v2 keys cpConfig by id; v1 used a list
  const configs: [string, unknown][] = Array.isArray(cpConfig)
    ? cpConfig.map((c, k) => [String(k), c])
    : cpConfig !== null && typeof cpConfig === 'object'
      ? Object.entries(cpConfig)
      : [];
  if (configs.length !== 1) return { ok: false, reason: `its extCps entry has ${configs.length} cpConfig entries` };
  const [configKey, config] = configs[0]!;
  const items: { item: unknown; pointer: string }[] = [];
  const protocolData = config !== null && typeof config === 'object' ? (config as { cpProtocolData?: unknown }).cpProtocolData : undefined;
  if (Array.isArray(protocolData)) {
    protocolData.forEach((pd, d) => {
      const ips = pd !== null && typeof pd === 'object' ? (pd as { ipOverEthernet?: { ipAddresses?: unknown } }).ipOverEthernet?.ipAddresses : undefined;
      if (Array.isArray(ips)) ips.forEach((item, k) => items.push({ item, pointer: `${pointer}/cpConfig/${configKey}/cpProtocolData/${d}/ipOverEthernet/ipAddresses/${k}` }));
    });
  }
  if (items.length !== 1 || items[0]!.item === null || typeof items[0]!.item !== 'object') {
    return { ok: false, reason: `its cpConfig has ${items.length} ipAddresses items` };
  }
  return { ok: true, ipAddress: items[0]!.item as Record<string, unknown>, pointer: items[0]!.pointer };
}

/** backup.md: the state method needs what it acts on; data dirs are distinct. */
function checkBackup(ms: Microservice, i: number, add: Add): void {
  const b = ms.backup;
  if (b?.state === 'checkpoint' && ms.vm && !ms.vm.checkpoint) {
    add(ptr.ms(i, 'backup', 'state'), 'checkpoint on a VM needs vm.checkpoint ({unit: NAME} or {pidFile: PATH}): the process CRIU dumps');
  }
  if (b?.state === 'hooks' && !(b.hooks?.pre?.length || b.hooks?.post?.length)) {
    add(ptr.ms(i, 'backup', 'hooks'), 'state: hooks needs at least one command in hooks.pre or hooks.post');
  }
  const dirs = ms.vm?.dataDirs ?? [];
  const norm = dirs.map((d) => d.replace(/\/+$/, ''));
  norm.forEach((d, j) => {
    if (d === '') add(ptr.ms(i, 'vm', 'dataDirs', j), 'the root directory cannot be a data dir');
    const k = norm.findIndex((o, m) => m !== j && (o === d ? m < j : d.startsWith(`${o}/`)));
    if (k >= 0) add(ptr.ms(i, 'vm', 'dataDirs', j), `${dirs[j]} is ${norm[k] === d ? 'listed twice' : `inside ${dirs[k]}`}; list each data dir once`);
  });
}

/**
 * A container's volumes: names and mount paths unique; with the hardened defaults the name `tmp`
 * belongs to the writable /tmp mixmesh mounts (a volume mounted at /tmp replaces it). Node
 * selector keys and values are Kubernetes label keys and values.
 */
function checkContainer(c: ContainerSpec, i: number, add: Add): void {
  const volumes = c.volumes ?? [];
  const names = new Map<string, number>();
  const paths = new Map<string, number>();
  volumes.forEach((v, j) => {
    const sameName = names.get(v.name);
    if (sameName !== undefined) add(ptr.ms(i, 'container', 'volumes', j, 'name'), `${show(v.name)} is already the name of ${ptr.ms(i, 'container', 'volumes', sameName)} (volume names must be unique)`);
    else names.set(v.name, j);
    const path = v.mountPath.replace(/\/+$/, '');
    const samePath = paths.get(path);
    if (samePath !== undefined) add(ptr.ms(i, 'container', 'volumes', j, 'mountPath'), `${show(v.mountPath)} is already the mountPath of ${ptr.ms(i, 'container', 'volumes', samePath)} (mount paths must be unique)`);
    else paths.set(path, j);
    if (c.securityContext === undefined && v.name === 'tmp' && path !== '/tmp') {
      add(
        ptr.ms(i, 'container', 'volumes', j, 'name'),
        '"tmp" is reserved without a securityContext: the hardened defaults mount a writable emptyDir named tmp at /tmp (use another name, or mount this volume at /tmp to replace it)',
      );
    }
  });
  for (const [key, value] of Object.entries(c.nodeSelector ?? {})) {
    const pointer = ptr.ms(i, 'container', 'nodeSelector', key);
    const keyProblem = labelKeyProblem(key);
    if (keyProblem !== undefined) add(pointer, keyProblem);
    if (value.length > 63 || (value !== '' && !LABEL_NAME.test(value))) {
      add(pointer, `value ${show(value)} is not a valid label value (at most 63 letters, digits, "-", "_", ".", starting and ending with a letter or digit, or empty)`);
    }
  }
}

/** Rule 9. */
function checkVm(ms: Microservice, vm: VmSpec, i: number, defaultedTargetPorts: ReadonlySet<Port>, add: Add): void {
  if (vm.fixedIp !== undefined) {
    if (vm.instances !== 1) add(ptr.ms(i, 'vm', 'fixedIp'), `needs instances: 1 (instances is ${vm.instances}): one fixed address fits one VM`);
    // The spec's own example (docs/descriptor.md, "valid") pairs fixedIp with `extVirtualLinks: []`,
    // so the shape rule applies only once links are given; with none, there is no cpConfig to
    // carry the address (see descriptor/README.md, "fixedIp").
    const target = fixedIpTarget(vm);
    if ((vm.extVirtualLinks ?? []).length > 0 && !target.ok) {
      add(
        ptr.ms(i, 'vm', 'extVirtualLinks'),
        `fixedIp needs extVirtualLinks with exactly one extCps entry holding exactly one cpConfig with one cpProtocolData[].ipOverEthernet.ipAddresses item (${target.reason})`,
      );
    }
  }
  ms.ports.forEach((p, j) => {
    if (p.targetPort === vm.ssh.port) {
      const defaulted = defaultedTargetPorts.has(p);
      add(
        ptr.ms(i, 'ports', j, defaulted ? 'port' : 'targetPort'),
        `${p.targetPort} is this VM's ssh.port${defaulted ? ' (and targetPort defaults to port)' : ''}; a VM version's targetPort must differ from ssh.port`,
      );
    }
  });
}

/** Rules 2, 3, 4, 5, 6 and the connection half of 8. Returns each connection's resolved port. */
function checkConnections(service: MeshService, known: Known, skip: Skip, add: Add): (Port | undefined)[] {
  const seen = new Map<string, number>();
  const resolved: (Port | undefined)[] = [];
  const ingressRoutes = service.spec.ingress?.routes ?? [];
  // with a broken ingress block, "no ingress route for this connection" could be a false alarm
  const ingressKnown = !skip.ingress && skip.ingressRoutes.size === 0;
  const isKnown = (name: string) => known.versions.has(name) || known.opaque.has(name);
  service.spec.connections.forEach((c, i) => {
    resolved.push(undefined);
    if (skip.connections.has(i)) {
      // the rest of this connection failed the schema, but well-formed references are still
      // checked, so one run reports every problem (a bad timeout does not hide an unknown `to`)
      const broken = skip.connectionFields.get(i) ?? new Set(['']);
      if (broken.has('') || known.namesUncertain) return;
      if (!broken.has('from') && typeof c.from === 'string' && c.from !== 'ingress' && !isKnown(c.from)) {
        add(ptr.conn(i, 'from'), `${show(c.from)} is not a microservice or "ingress" (known: ${listNames(known.names)})`);
      }
      if (!broken.has('to') && typeof c.to === 'string' && !isKnown(c.to)) add(ptr.conn(i, 'to'), `${show(c.to)} is not a microservice (known: ${listNames(known.names)})`);
      return;
    }
    if (c.from !== 'ingress' && !isKnown(c.from) && !known.namesUncertain) {
      add(ptr.conn(i, 'from'), `${show(c.from)} is not a microservice or "ingress" (known: ${listNames(known.names)})`);
    }
    if (!isKnown(c.to) && !known.namesUncertain) {
      add(ptr.conn(i, 'to'), `${show(c.to)} is not a microservice (known: ${listNames(known.names)})`);
      return;
    }
    const toVersions = known.versions.get(c.to);
    if (c.from === c.to) add(ptr.conn(i, 'to'), `${show(c.to)} is also the caller (from and to must differ)`);
    checkDurations(c, i, add);
    // a version of `to` failed the schema: its ports and versions are not known for certain
    if (toVersions === undefined || known.opaque.has(c.to)) return;
    const port = resolvePort(c.to, c.port as string | undefined, known, ptr.conn(i, 'port'), add);
    if (port === undefined) return;
    c.port = port.name;
    resolved[i] = port;
    const key = `${c.from}\u0000${c.to}\u0000${port.name}`;
    const dup = seen.get(key);
    if (dup !== undefined) {
      add(ptr.conn(i), `duplicates ${ptr.conn(dup)} (from ${c.from} to ${c.to} port ${port.name}); at most one connection per (from, to, port)`);
    } else seen.set(key, i);
    checkHttpOnly(c, port, i, add);
    checkRoutes(c, toVersions, i, add);
    if (c.from === 'ingress') {
      if (ingressKnown && !ingressRoutes.some((r) => r.to === c.to && (r.port ?? onlyPortName(known, r.to)) === port.name)) {
        add(
          ptr.conn(i, 'from'),
          service.spec.ingress === undefined
            ? `a connection from "ingress" needs spec.ingress with a route to ${c.to} port ${port.name}, and there is no spec.ingress`
            : `a connection from "ingress" needs an ingress route to ${c.to} port ${port.name} in /spec/ingress/routes`,
        );
      }
      c.routes?.forEach((r, k) => {
        if (r.match?.pathPrefix !== undefined) {
          add(ptr.conn(i, 'routes', k, 'match', 'pathPrefix'), 'is not allowed on a connection from "ingress": the ingress route\'s pathPrefix decides which requests arrive');
        }
      });
    }
  });
  return resolved;
}

function onlyPortName(known: Known, to: string): string | undefined {
  const ports = known.ports.get(to);
  return ports !== undefined && ports.length === 1 ? ports[0]!.name : undefined;
}

/** Rule 3: the named port of `to`, or its only port. */
function resolvePort(to: string, name: string | undefined, known: Known, pointer: string, add: Add): Port | undefined {
  const ports = known.ports.get(to) ?? [];
  if (name === undefined) {
    if (ports.length === 1) return ports[0];
    add(pointer, `is required because ${to} has several ports (${ports.map((p) => p.name).join(', ')})`);
    return undefined;
  }
  const port = ports.find((p) => p.name === name);
  if (port === undefined) add(pointer, `${show(name)} is not a port of ${to} (ports: ${ports.map((p) => p.name).join(', ')})`);
  return port;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a schema-valid duration such as 250ms, 3s, 5m, 1h. */
export function durationMs(text: string): number {
  const m = /^([0-9]+)(ms|s|m|h)$/.exec(text);
  if (!m) throw new Error(`not a duration: ${text}`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** Durations the mesh would refuse: zero, or (for timeouts) over an hour. */
function checkDurations(c: Connection, i: number, add: Add): void {
  // the pointer is built only for a problem: five per connection add up over thousands
  const check = (value: string | undefined, at: string[], max?: number) => {
    if (value === undefined) return;
    const ms = durationMs(value);
    if (ms < 1 || (max !== undefined && ms > max)) add(ptr.conn(i, ...at), `${show(value)} is out of range (allowed: ${max === undefined ? '1ms or more' : '1ms..1h'})`);
  };
  check(c.timeout, ['timeout'], UNIT_MS.h);
  check(c.retries?.perTryTimeout, ['retries', 'perTryTimeout'], UNIT_MS.h);
  check(c.fault?.delay?.fixed, ['fault', 'delay', 'fixed']);
  check(c.circuitBreaker?.interval, ['circuitBreaker', 'interval']);
  check(c.circuitBreaker?.baseEjectionTime, ['circuitBreaker', 'baseEjectionTime']);
}

/** Rule 5. */
function checkHttpOnly(c: Connection, port: Port, i: number, add: Add): void {
  if (isHttpFamily(port.protocol)) return;
  const why = `is for HTTP, HTTP2 and GRPC ports only; port ${port.name} of ${c.to} is ${port.protocol}`;
  for (const field of ['timeout', 'retries', 'fault', 'routes'] as const) {
    if (c[field] !== undefined) add(ptr.conn(i, field), `${field} ${why}`);
  }
  const lb = c.loadBalancer;
  if (lb !== undefined && typeof lb === 'object') {
    const hash = lb.consistentHash as Record<string, unknown>;
    for (const field of ['header', 'cookie']) {
      if (hash[field] !== undefined) add(ptr.conn(i, 'loadBalancer', 'consistentHash', field), `consistentHash.${field} ${why}`);
    }
  }
  for (const field of ['maxPendingRequests', 'maxRequestsPerConnection'] as const) {
    if (c.connectionPool?.[field] !== undefined) add(ptr.conn(i, 'connectionPool', field), `connectionPool.${field} ${why}`);
  }
}

/** Rule 6. */
function checkRoutes(c: Connection, toVersions: Microservice[], i: number, add: Add): void {
  const routes = c.routes ?? [];
  if (routes.length === 0) return;
  const versionNames = [...new Set(toVersions.map((m) => m.version))];
  routes.forEach((r, k) => {
    if (r.match === undefined && k !== routes.length - 1) {
      add(ptr.conn(i, 'routes', k), `route ${k} has no match but is not the last route (only the last route may lack match; later routes could never be reached)`);
    }
    let sum = 0;
    const seen = new Set<string>();
    r.split.forEach((s, j) => {
      sum += s.weight;
      if (!versionNames.includes(s.version)) {
        add(ptr.conn(i, 'routes', k, 'split', j, 'version'), `${show(s.version)} is not a version of ${c.to} (versions: ${versionNames.join(', ')})`);
      }
      if (seen.has(s.version)) add(ptr.conn(i, 'routes', k, 'split', j, 'version'), `${show(s.version)} appears twice in this split`);
      seen.add(s.version);
    });
    if (sum !== 100) add(ptr.conn(i, 'routes', k, 'split'), `weights sum to ${sum}, must sum to 100`);
  });
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  if (ka.length !== kb.length || ka.some((k, n) => k !== kb[n])) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Rule 7. */
function checkDestinationSettings(service: MeshService, known: Known, resolved: (Port | undefined)[], add: Add): void {
  const first = new Map<string, number>();
  service.spec.connections.forEach((c, i) => {
    const port = resolved[i];
    if (port === undefined) return;
    for (const field of ['loadBalancer', 'connectionPool', 'circuitBreaker'] as const) {
      if (c[field] === undefined) continue;
      const key = `${c.to}\u0000${port.name}\u0000${field}`;
      const j = first.get(key);
      if (j === undefined) first.set(key, i);
      else if (!deepEqual(service.spec.connections[j]![field], c[field])) {
        add(ptr.conn(i, field), `differs from ${ptr.conn(j, field)}; every connection into ${c.to} port ${port.name} must set the same ${field} (or omit it)`);
      }
    }
    if (c.loadBalancer === 'PASSTHROUGH') {
      const vmVersions = (known.versions.get(c.to) ?? []).filter((m) => m.runtime === 'vm').map((m) => m.version);
      if (vmVersions.length > 0) {
        add(ptr.conn(i, 'loadBalancer'), `"PASSTHROUGH" is not allowed because ${c.to} has a VM version (${vmVersions.join(', ')}): it would bypass the WorkloadEntries (allowed: ROUND_ROBIN, LEAST_REQUEST, RANDOM, consistentHash)`);
      }
    }
  });
}

/** Rule 8, the ingress half. */
function checkIngress(service: MeshService, known: Known, skip: Skip, add: Add): void {
  const routes = service.spec.ingress?.routes ?? [];
  routes.forEach((r, i) => {
    if (skip.ingressRoutes.has(i)) return;
    for (let j = 0; j < i; j += 1) {
      if (skip.ingressRoutes.has(j)) continue;
      const earlier = routes[j]!.pathPrefix;
      if (r.pathPrefix.startsWith(earlier)) {
        add(ptr.ingressRoute(i, 'pathPrefix'), `${show(r.pathPrefix)} can never match: it starts with ${show(earlier)}, the pathPrefix of the earlier route ${ptr.ingressRoute(j)} (put the longer prefix first)`);
        break;
      }
    }
    if (known.opaque.has(r.to)) return;
    if (!known.versions.has(r.to)) {
      if (!known.namesUncertain) add(ptr.ingressRoute(i, 'to'), `${show(r.to)} is not a microservice (known: ${listNames(known.names)})`);
      return;
    }
    const given = r.port as string | undefined;
    const port = resolvePort(r.to, given, known, ptr.ingressRoute(i, 'port'), add);
    if (port === undefined) return;
    r.port = port.name;
    if (!isHttpFamily(port.protocol)) {
      add(ptr.ingressRoute(i, given === undefined ? 'to' : 'port'), `port ${port.name} of ${r.to} is ${port.protocol}; the ingress gateway routes HTTP, HTTP2 and GRPC ports only`);
    }
  });
}

/** Rule 11. */
function checkMesh(service: MeshService, add: Add): void {
  if (service.spec.mesh.mtls === 'DISABLE' && service.spec.mesh.authorization === 'connections') {
    add('/spec/mesh/mtls', '"DISABLE" is not allowed with authorization: connections (caller principals need mTLS); use STRICT or PERMISSIVE, or authorization: open');
  }
}

const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const RESERVED_KEYS = new Set(['app', 'version', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/part-of']);

/** Why a label key is not a valid Kubernetes label key, or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return `key ${show(key)} has prefix ${show(prefix)}, which is not a DNS-1123 subdomain of at most 253 characters`;
  }
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) {
    return `key ${show(key)} is not a valid label key (a name of at most 63 letters, digits, "-", "_", ".", starting and ending with a letter or digit, optionally after "prefix/")`;
  }
  return undefined;
}

/** Rule 12. */
function checkLabels(service: MeshService, add: Add): void {
  for (const [key, value] of Object.entries(service.metadata.labels)) {
    const pointer = joinPointer('/metadata/labels', key);
    const keyProblem = labelKeyProblem(key);
    if (keyProblem !== undefined) add(pointer, keyProblem);
    const prefix = key.includes('/') ? key.slice(0, key.indexOf('/')) : '';
    if (RESERVED_KEYS.has(key) || prefix === 'mixmesh.io' || prefix === 'istio.io' || prefix.endsWith('.istio.io')) {
      add(pointer, `key ${show(key)} is reserved (mixmesh sets app, version, app.kubernetes.io/managed-by, app.kubernetes.io/part-of and mixmesh.io/*; istio.io/* and *.istio.io/* belong to Istio)`);
    }
    if (value.length > 63 || (value !== '' && !LABEL_NAME.test(value))) {
      add(pointer, `value ${show(value)} is not a valid label value (at most 63 letters, digits, "-", "_", ".", starting and ending with a letter or digit, or empty)`);
    }
  }
}

/** Parse (safely) and validate a descriptor file's text. */
export function parseAndValidate(
  text: string | Uint8Array,
  fileName = '<input>',
  options: ValidateOptions & ParseOptions = {},
): ValidationResult & { file: string } {
  const parsed = parseDescriptorText(text, options);
  if (!parsed.ok) return { ok: false, problems: parsed.problems, file: fileName };
  const value = parsed.value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ...validateDescriptor(value, options), file: fileName };
  // the parsed value is ours alone, so no defensive copy (~15 ms for 1000 microservices); a schema
  // failure's messages read the document as written, so that rare path parses the text again
  const reparse = () => (parseDescriptorText(text, options) as { ok: true; value: unknown }).value;
  return { ...validateCopy(value as Record<string, unknown>, reparse, options), file: fileName };
}

/** The CLI's lines: `FILE: valid`, or `FILE:POINTER: message` per problem. */
export function formatResult(fileName: string, result: ValidationResult): string[] {
  if (result.ok) return [`${fileName}: valid`];
  return result.problems.map((p) => `${fileName}:${p.pointer}: ${p.message}`);
}
