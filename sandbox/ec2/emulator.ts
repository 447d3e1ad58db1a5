/**
 * The EC2 Query API emulator (API version 2016-11-15): RunInstances, DescribeInstances,
 * TerminateInstances, DescribeImages, CreateTags, DescribeKeyPairs, ImportKeyPair,
 * DescribeSecurityGroups, DescribeInstanceStatus and GetConsoleOutput, answered in EC2's XML with
 * EC2's error XML, every request checked with Signature V4. Instances are sandbox VMs (the image
 * decides which VmProvider makes them), so @aws-sdk/client-ec2 provisions real SSH hosts.
 * Faults: `setCapacity(instanceType, n)` — RunInstances beyond n running instances of that type
 * answers `InsufficientInstanceCapacity` (HTTP 500, as AWS does).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger, type Logger } from '../../common/logger.js';
import type { SandboxVm, VmProvider } from '../vms/index.js';
import { verifySigV4 } from './sigv4.js';

export interface Ec2Image { name: string; imageId: string; vms: VmProvider }

export interface Ec2Emulator {
  url: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  setCapacity(instanceType: string, n: number | undefined): void;
  /** instances not terminated */
  liveInstances(): { instanceId: string; state: string; name?: string }[];
  requests(): Record<string, number>;
  stop(): Promise<void>;
}

interface Instance {
  id: string; reservationId: string; imageId: string; type: string; keyName?: string; clientToken?: string;
  state: 'pending' | 'running' | 'shutting-down' | 'terminated'; stateReason?: string; launchTime: string;
  tags: Map<string, string>; securityGroups: string[]; vm?: SandboxVm; vms: VmProvider;
}

const STATE_CODE: Record<Instance['state'], number> = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48 };
const OWNER = '123456789012';
const NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const el = (name: string, value: string | number | boolean | undefined): string => (value === undefined ? '' : `<${name}>${esc(String(value))}</${name}>`);
const hex = (n: number): string => randomBytes(n).toString('hex');

class Ec2Error extends Error {
  constructor(readonly code: string, message: string, readonly status = 400) {
    super(message);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => { size += c.length; if (size > 1 << 20) { reject(new Ec2Error('RequestEntityTooLarge', 'too large', 413)); req.destroy(); } else chunks.push(c); });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** `Name.N` lists and `Name.N.Sub` structures from the flat query parameters */
function list(p: URLSearchParams, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 1; p.has(`${prefix}.${i}`); i++) out.push(p.get(`${prefix}.${i}`)!);
  return out;
}

function filters(p: URLSearchParams): { name: string; values: string[] }[] {
  const out: { name: string; values: string[] }[] = [];
  for (let i = 1; p.has(`Filter.${i}.Name`); i++) out.push({ name: p.get(`Filter.${i}.Name`)!, values: list(p, `Filter.${i}.Value`) });
  return out;
}

function globMatch(pattern: string, value: string): boolean {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(value);
}

export async function startEc2Emulator(o: { images: Ec2Image[]; region?: string; pendingMs?: number; log?: Logger }): Promise<Ec2Emulator> {
  const log = (o.log ?? silentLogger).child({ part: 'sandbox/ec2' });
  const region = o.region ?? 'us-east-1';
  const credentials = { accessKeyId: `AKIA${hex(8).toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64') };
  const instances = new Map<string, Instance>();
  const byToken = new Map<string, string>();
  const keyPairs = new Map<string, { id: string; fingerprint: string; material: string }>();
  const securityGroups = [{ id: 'sg-0a11a11a11a11a110', name: 'default', description: 'default VPC security group' }];
  const capacity = new Map<string, number>();
  const counts: Record<string, number> = {};
  const pendingMs = o.pendingMs ?? 200;
  const pending = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    pending.add(p);
    void p.finally(() => pending.delete(p)).catch(() => undefined);
    return p;
  };

  const instanceXml = (i: Instance): string => `<item>${el('instanceId', i.id)}${el('imageId', i.imageId)}<instanceState>${el('code', STATE_CODE[i.state])}${el('name', i.state)}</instanceState>`
    + `${el('privateDnsName', i.vm ? `ip-${i.vm.address.replace(/\./g, '-')}.ec2.internal` : '')}${el('dnsName', '')}${el('keyName', i.keyName)}${el('amiLaunchIndex', 0)}${el('instanceType', i.type)}${el('launchTime', i.launchTime)}`
    + `<placement>${el('availabilityZone', `${region}a`)}${el('tenancy', 'default')}</placement><monitoring>${el('state', 'disabled')}</monitoring>`
    + `${i.vm && i.state === 'running' ? `${el('privateIpAddress', i.vm.address)}${el('ipAddress', i.vm.address)}` : ''}`
    + `<groupSet>${i.securityGroups.map((g) => `<item>${el('groupId', g)}${el('groupName', securityGroups.find((s) => s.id === g)?.name ?? g)}</item>`).join('')}</groupSet>`
    + `${i.stateReason ? `<stateReason>${el('code', 'Server.InternalError')}${el('message', i.stateReason)}</stateReason>` : ''}`
    + `${el('architecture', 'x86_64')}${el('rootDeviceType', 'ebs')}${el('clientToken', i.clientToken ?? '')}`
    + `<tagSet>${[...i.tags].map(([k, v]) => `<item>${el('key', k)}${el('value', v)}</item>`).join('')}</tagSet>${el('hypervisor', 'xen')}</item>`;

  const matches = (i: Instance, f: { name: string; values: string[] }): boolean => {
    const any = (v: string | undefined) => v !== undefined && f.values.some((p) => globMatch(p, v));
    if (f.name === 'instance-state-name') return any(i.state);
    if (f.name === 'instance-id') return any(i.id);
    if (f.name === 'image-id') return any(i.imageId);
    if (f.name === 'instance-type') return any(i.type);
    if (f.name === 'key-name') return any(i.keyName);
    if (f.name === 'tag-key') return f.values.some((p) => [...i.tags.keys()].some((k) => globMatch(p, k)));
    if (f.name.startsWith('tag:')) return any(i.tags.get(f.name.slice(4)));
    throw new Ec2Error('InvalidParameterValue', `The filter '${f.name}' is invalid`);
  };

  async function boot(i: Instance): Promise<void> {
    try {
      i.vm = await i.vms.create({ serverId: i.id, name: i.tags.get('Name') ?? i.id });
      await new Promise((r) => setTimeout(r, pendingMs));
      if (i.state === 'pending') i.state = 'running';
      else await i.vms.remove(i.id);
    } catch (e) {
      log.warn({ err: e, instance: i.id }, 'instance failed to boot');
      i.state = 'terminated';
      i.stateReason = `Server.InternalError: ${(e as Error).message}`;
    }
  }

  async function terminate(i: Instance): Promise<void> {
    if (i.state === 'terminated' || i.state === 'shutting-down') return;
    const wasPending = i.state === 'pending';
    i.state = 'shutting-down';
    if (!wasPending) await i.vms.remove(i.id).catch((e: unknown) => log.warn({ err: e, instance: i.id }, 'VM removal failed'));
    else await new Promise((r) => setTimeout(r, 10));
    i.state = 'terminated';
  }

  function instanceIds(p: URLSearchParams): Instance[] {
    const ids = list(p, 'InstanceId');
    const missing = ids.filter((id) => !instances.has(id));
    if (missing.length) throw new Ec2Error('InvalidInstanceID.NotFound', `The instance IDs '${missing.join(', ')}' do not exist`);
    return ids.map((id) => instances.get(id)!);
  }

  function act(action: string, p: URLSearchParams): string {
    switch (action) {
      case 'DescribeImages': {
        const ids = list(p, 'ImageId');
        const fs = filters(p);
        const imgs = o.images.filter((img) => (!ids.length || ids.includes(img.imageId)) && fs.every((f) => f.name === 'name' ? f.values.some((v) => globMatch(v, img.name)) : f.name === 'image-id' ? f.values.includes(img.imageId) : f.name === 'state' ? f.values.includes('available') : true));
        const unknown = ids.filter((id) => !o.images.some((img) => img.imageId === id));
        if (unknown.length) throw new Ec2Error('InvalidAMIID.NotFound', `The image id '[${unknown.join(', ')}]' does not exist`);
        return `<imagesSet>${imgs.map((img) => `<item>${el('imageId', img.imageId)}${el('imageLocation', `${OWNER}/${img.name}`)}${el('imageState', 'available')}${el('imageOwnerId', OWNER)}${el('creationDate', '2026-01-01T00:00:00.000Z')}${el('isPublic', false)}${el('architecture', 'x86_64')}${el('imageType', 'machine')}${el('name', img.name)}${el('rootDeviceType', 'ebs')}${el('virtualizationType', 'hvm')}${el('hypervisor', 'xen')}</item>`).join('')}</imagesSet>`;
      }
      case 'DescribeKeyPairs': {
        const names = list(p, 'KeyName');
        const missing = names.filter((n) => !keyPairs.has(n));
        if (missing.length) throw new Ec2Error('InvalidKeyPair.NotFound', `The key pair '${missing[0]}' does not exist`);
        const items = [...keyPairs].filter(([n]) => !names.length || names.includes(n));
        return `<keySet>${items.map(([n, k]) => `<item>${el('keyPairId', k.id)}${el('keyName', n)}${el('keyFingerprint', k.fingerprint)}${el('keyType', k.material.startsWith('ssh-ed25519') ? 'ed25519' : 'rsa')}</item>`).join('')}</keySet>`;
      }
      case 'ImportKeyPair': {
        const name = p.get('KeyName') ?? '';
        const material = Buffer.from(p.get('PublicKeyMaterial') ?? '', 'base64').toString('utf8').trim();
        if (!name) throw new Ec2Error('MissingParameter', 'The request must contain the parameter KeyName');
        if (!/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-\S+) [A-Za-z0-9+/=]+/.test(material)) throw new Ec2Error('InvalidKey.Format', 'Key is not in valid OpenSSH public key format');
        if (keyPairs.has(name)) throw new Ec2Error('InvalidKeyPair.Duplicate', `The keypair '${name}' already exists.`);
        const blob = Buffer.from(material.split(' ')[1]!, 'base64');
        const k = { id: `key-${hex(8)}`, fingerprint: createHash('sha256').update(blob).digest('base64').replace(/=+$/, ''), material };
        keyPairs.set(name, k);
        return `${el('keyName', name)}${el('keyFingerprint', k.fingerprint)}${el('keyPairId', k.id)}`;
      }
      case 'DescribeSecurityGroups': {
        const ids = list(p, 'GroupId');
        const missing = ids.filter((id) => !securityGroups.some((g) => g.id === id));
        if (missing.length) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${missing[0]}' does not exist`);
        return `<securityGroupInfo>${securityGroups.filter((g) => !ids.length || ids.includes(g.id)).map((g) => `<item>${el('ownerId', OWNER)}${el('groupId', g.id)}${el('groupName', g.name)}${el('groupDescription', g.description)}${el('vpcId', 'vpc-0a11a11a11a11a110')}<ipPermissions/><ipPermissionsEgress/></item>`).join('')}</securityGroupInfo>`;
      }
      case 'DescribeInstances': {
        const ids = list(p, 'InstanceId');
        const selected = ids.length ? instanceIds(p) : [...instances.values()];
        const fs = filters(p);
        const found = selected.filter((i) => fs.every((f) => matches(i, f)));
        const byRes = new Map<string, Instance[]>();
        for (const i of found) byRes.set(i.reservationId, [...(byRes.get(i.reservationId) ?? []), i]);
        return `<reservationSet>${[...byRes].map(([r, is]) => `<item>${el('reservationId', r)}${el('ownerId', OWNER)}<groupSet/><instancesSet>${is.map(instanceXml).join('')}</instancesSet></item>`).join('')}</reservationSet>`;
      }
      case 'DescribeInstanceStatus': {
        const all = p.get('IncludeAllInstances') === 'true';
        const selected = list(p, 'InstanceId').length ? instanceIds(p) : [...instances.values()];
        const shown = selected.filter((i) => all || i.state === 'running');
        const st = (i: Instance) => (i.state === 'running' ? 'ok' : 'not-applicable');
        return `<instanceStatusSet>${shown.map((i) => `<item>${el('instanceId', i.id)}${el('availabilityZone', `${region}a`)}<instanceState>${el('code', STATE_CODE[i.state])}${el('name', i.state)}</instanceState><systemStatus>${el('status', st(i))}</systemStatus><instanceStatus>${el('status', st(i))}</instanceStatus></item>`).join('')}</instanceStatusSet>`;
      }
      case 'GetConsoleOutput': {
        const id = p.get('InstanceId') ?? '';
        const i = instances.get(id);
        if (!i) throw new Ec2Error('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
        const text = i.vm && i.state === 'running' ? i.vm.consoleOutput() : '';
        return `${el('instanceId', id)}${el('timestamp', new Date().toISOString())}${text ? el('output', Buffer.from(text).toString('base64')) : ''}`;
      }
      case 'CreateTags': {
        const ids = list(p, 'ResourceId');
        const missing = ids.filter((id) => !instances.has(id));
        if (missing.length) throw new Ec2Error('InvalidID', `The ID '${missing[0]}' is not valid`);
        for (let t = 1; p.has(`Tag.${t}.Key`); t++) for (const id of ids) instances.get(id)!.tags.set(p.get(`Tag.${t}.Key`)!, p.get(`Tag.${t}.Value`) ?? '');
        return el('return', true);
      }
      case 'TerminateInstances': {
        const targets = instanceIds(p);
        const prev = targets.map((i) => i.state);
        for (const i of targets) void track(terminate(i));
        return `<instancesSet>${targets.map((i, n) => `<item>${el('instanceId', i.id)}<currentState>${el('code', STATE_CODE[i.state])}${el('name', i.state)}</currentState><previousState>${el('code', STATE_CODE[prev[n]!])}${el('name', prev[n])}</previousState></item>`).join('')}</instancesSet>`;
      }
      case 'RunInstances': {
        const imageId = p.get('ImageId') ?? '';
        const type = p.get('InstanceType') ?? 'm1.small';
        const min = Number(p.get('MinCount') ?? 1);
        const max = Number(p.get('MaxCount') ?? min);
        if (!imageId) throw new Ec2Error('MissingParameter', 'The request must contain the parameter ImageId');
        const image = o.images.find((img) => img.imageId === imageId);
        if (!image) throw new Ec2Error('InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`);
        if (!(Number.isInteger(min) && Number.isInteger(max) && min >= 1 && max >= min && max <= 20)) throw new Ec2Error('InvalidParameterValue', 'MinCount and MaxCount must be 1 … 20 with MinCount ≤ MaxCount');
        const keyName = p.get('KeyName') ?? undefined;
        if (keyName && !keyPairs.has(keyName)) throw new Ec2Error('InvalidKeyPair.NotFound', `The key pair '${keyName}' does not exist`);
        const groups = list(p, 'SecurityGroupId');
        const badGroup = groups.find((g) => !securityGroups.some((s) => s.id === g));
        if (badGroup) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${badGroup}' does not exist`);
        const token = p.get('ClientToken') ?? undefined;
        if (token && byToken.has(token)) {
          const r = byToken.get(token)!;
          const is = [...instances.values()].filter((i) => i.reservationId === r);
          return `${el('reservationId', r)}${el('ownerId', OWNER)}<groupSet/><instancesSet>${is.map(instanceXml).join('')}</instancesSet>`;
        }
        const cap = capacity.get(type);
        const live = [...instances.values()].filter((i) => i.type === type && (i.state === 'pending' || i.state === 'running')).length;
        if (cap !== undefined && live + min > cap) throw new Ec2Error('InsufficientInstanceCapacity', `We currently do not have sufficient ${type} capacity in the Availability Zone you requested (${region}a). Our system will be working on provisioning additional capacity.`, 500);
        const tags = new Map<string, string>();
        for (let s = 1; p.has(`TagSpecification.${s}.ResourceType`); s++) {
          if (p.get(`TagSpecification.${s}.ResourceType`) !== 'instance') continue;
          for (let t = 1; p.has(`TagSpecification.${s}.Tag.${t}.Key`); t++) tags.set(p.get(`TagSpecification.${s}.Tag.${t}.Key`)!, p.get(`TagSpecification.${s}.Tag.${t}.Value`) ?? '');
        }
        const reservationId = `r-${hex(8)}`;
        const made: Instance[] = [];
        const n = cap === undefined ? max : Math.max(min, Math.min(max, cap - live));
        for (let k = 0; k < n; k++) {
          const i: Instance = {
            id: `i-${hex(8)}`, reservationId, imageId, type, ...(keyName ? { keyName } : {}), ...(token ? { clientToken: token } : {}),
            state: 'pending', launchTime: new Date().toISOString(), tags: new Map(tags), securityGroups: groups.length ? groups : [securityGroups[0]!.id], vms: image.vms,
          };
          instances.set(i.id, i);
          made.push(i);
          void track(boot(i));
        }
        if (token) byToken.set(token, reservationId);
        return `${el('reservationId', reservationId)}${el('ownerId', OWNER)}<groupSet/><instancesSet>${made.map(instanceXml).join('')}</instancesSet>`;
      }
      default:
        throw new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`);
    }
  }

  const server: Server = createServer((req, res) => {
    void (async () => {
      const requestId = `${hex(4)}-${hex(2)}-${hex(2)}-${hex(2)}-${hex(6)}`;
      const fail = (e: Ec2Error): void => {
        res.writeHead(e.status, { 'Content-Type': 'text/xml;charset=UTF-8' }).end(`<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>${el('Code', e.code)}${el('Message', e.message)}</Error></Errors>${el('RequestID', requestId)}</Response>`);
      };
      try {
        const body = await readBody(req);
        const url = new URL(req.url ?? '/', 'http://x');
        const sig = verifySigV4({ method: req.method ?? 'GET', path: url.pathname, query: url.search.slice(1), headers: req.headers, body, secrets: (id) => (id === credentials.accessKeyId ? credentials.secretAccessKey : undefined), service: 'ec2' });
        if (!sig.ok) throw new Ec2Error(sig.code!, sig.message!, sig.code === 'MissingAuthenticationToken' ? 401 : 401);
        const params = new URLSearchParams(req.method === 'POST' ? body.toString('utf8') : url.search);
        const action = params.get('Action') ?? '';
        counts[action] = (counts[action] ?? 0) + 1;
        const inner = act(action, params);
        res.writeHead(200, { 'Content-Type': 'text/xml;charset=UTF-8' }).end(`<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${NS}">${el('requestId', requestId)}${inner}</${action}Response>`);
      } catch (e) {
        if (e instanceof Ec2Error) fail(e);
        else {
          log.error({ err: e }, 'EC2 request failed');
          fail(new Ec2Error('InternalError', 'An internal error has occurred', 500));
        }
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url, region, credentials,
    setCapacity: (type, n) => { if (n === undefined) capacity.delete(type); else capacity.set(type, n); },
    liveInstances: () => [...instances.values()].filter((i) => i.state !== 'terminated').map((i) => ({ instanceId: i.id, state: i.state, ...(i.tags.get('Name') ? { name: i.tags.get('Name')! } : {}) })),
    requests: () => ({ ...counts }),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await Promise.allSettled([...pending]);
      await Promise.all([...instances.values()].map((i) => terminate(i)));
    },
  };
}
