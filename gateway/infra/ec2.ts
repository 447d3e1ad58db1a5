/**
 * EC2: RunInstances per host through @aws-sdk/client-ec2, idempotent twice over — the host is
 * looked up by its tags first (Name = host, mixmesh.io/gateway-cluster = cluster), and
 * RunInstances carries a ClientToken derived from both, so a retried call never makes a second
 * instance. It waits for `running` and an address; the host key comes from GetConsoleOutput
 * (cloud-init's block). The key pair is imported when missing. Release = TerminateInstances.
 */
import { createHash } from 'node:crypto';
import {
  DescribeImagesCommand, DescribeInstancesCommand, DescribeKeyPairsCommand, EC2Client, GetConsoleOutputCommand, ImportKeyPairCommand,
  RunInstancesCommand, TerminateInstancesCommand, type Instance,
} from '@aws-sdk/client-ec2';
import { MixmeshError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { parseConsoleHostKeys } from '../../clients/ssh/index.js';
import { pickImage, type Ec2Settings } from '../config.js';
import type { HostRecord, InfraDriver, ProvisionedHost } from '../types.js';

export const CLUSTER_TAG = 'mixmesh.io/gateway-cluster';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function awsError(what: string, e: unknown): MixmeshError {
  const name = (e as { name?: string; Code?: string }).Code ?? (e as { name?: string }).name ?? 'Error';
  const message = (e as Error).message ?? String(e);
  const code = name === 'InsufficientInstanceCapacity' || name === 'InstanceLimitExceeded' ? 'GATEWAY_PROVISION_FAILED' : 'EC2_REQUEST_FAILED';
  return new MixmeshError(code, `EC2 ${what}: ${name}: ${message}`, { cause: e, details: { awsCode: name } });
}

export function ec2Driver(o: { settings: Ec2Settings; privateKey: string; publicKey?: string | undefined; log: Logger }): InfraDriver {
  const s = o.settings;
  const ec2 = new EC2Client({
    region: s.region,
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    ...(s.credentials ? { credentials: s.credentials } : {}),
    maxAttempts: 3,
  });
  const call = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw awsError(what, e);
    }
  };
  const imageIds = new Map<string, Promise<string>>();
  const resolveImage = (name: string): Promise<string> => {
    let p = imageIds.get(name);
    if (p) return p;
    p = (async () => {
      if (/^ami-[0-9a-f]+$/.test(name)) return name;
      const r = await call('DescribeImages', () => ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: [name] }] })));
      const img = (r.Images ?? []).sort((a, b) => String(b.CreationDate).localeCompare(String(a.CreationDate)))[0];
      if (!img?.ImageId) throw new MixmeshError('GATEWAY_PROVISION_FAILED', `EC2: no image named ${name}`);
      return img.ImageId;
    })();
    imageIds.set(name, p);
    p.catch(() => { imageIds.delete(name); });
    return p;
  };
  let keyReady: Promise<void> | undefined;
  const ensureKey = (): Promise<void> => {
    keyReady ??= (async () => {
      const r = await ec2.send(new DescribeKeyPairsCommand({ KeyNames: [s.keyName] })).catch((e: unknown) => {
        if ((e as { name?: string }).name === 'InvalidKeyPair.NotFound') return { KeyPairs: [] };
        throw awsError('DescribeKeyPairs', e);
      });
      if ((r.KeyPairs ?? []).length) return;
      if (!o.publicKey) throw new MixmeshError('GATEWAY_PROVIDER_NOT_CONFIGURED', `EC2 key pair ${s.keyName} does not exist and no public key (sshKeyFile.pub) was configured to import`);
      await call('ImportKeyPair', () => ec2.send(new ImportKeyPairCommand({ KeyName: s.keyName, PublicKeyMaterial: Buffer.from(o.publicKey!) })));
    })();
    keyReady.catch(() => { keyReady = undefined; });
    return keyReady;
  };
  const find = async (cluster: string, name?: string): Promise<Instance[]> => {
    const r = await call('DescribeInstances', () => ec2.send(new DescribeInstancesCommand({
      Filters: [
        { Name: `tag:${CLUSTER_TAG}`, Values: [cluster] },
        ...(name ? [{ Name: 'tag:Name', Values: [name] }] : []),
        { Name: 'instance-state-name', Values: ['pending', 'running'] },
      ],
    })));
    return (r.Reservations ?? []).flatMap((x) => x.Instances ?? []);
  };
  return {
    provider: 'ec2',
    privateKey: () => Promise.resolve(o.privateKey),
    async provision(cluster, host: HostRecord, { timeoutMs, signal, orchestrator }): Promise<ProvisionedHost> {
      const deadline = Date.now() + timeoutMs;
      let inst: Instance | undefined = (await find(cluster, host.name))[0];
      if (!inst) {
        const [image] = await Promise.all([resolveImage(pickImage(s.images, orchestrator, host.role) ?? s.image), ensureKey()]);
        const token = createHash('sha256').update(`${cluster}/${host.name}/${host.times?.requested ?? ''}`).digest('hex').slice(0, 64);
        const r = await call(`RunInstances ${host.name}`, () => ec2.send(new RunInstancesCommand({
          ImageId: image, InstanceType: s.instanceType as never, MinCount: 1, MaxCount: 1, KeyName: s.keyName, ClientToken: token,
          ...(s.securityGroupIds ? { SecurityGroupIds: s.securityGroupIds } : {}),
          ...(s.subnetId ? { SubnetId: s.subnetId } : {}),
          TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: host.name }, { Key: CLUSTER_TAG, Value: cluster }, { Key: 'mixmesh.io/gateway-role', Value: host.role }] }],
        })));
        const made = r.Instances?.[0];
        if (!made?.InstanceId) throw new MixmeshError('GATEWAY_PROVISION_FAILED', `EC2 RunInstances ${host.name}: no instance in the answer`);
        inst = made;
      }
      const id = inst!.InstanceId!;
      let delay = 200;
      while (inst.State?.Name !== 'running' || !(inst.PublicIpAddress ?? inst.PrivateIpAddress)) {
        if (signal.aborted) throw new MixmeshError('GATEWAY_PROVISION_TIMEOUT', `EC2 ${id}: the gateway stopped while waiting`);
        if (Date.now() > deadline) throw new MixmeshError('GATEWAY_PROVISION_TIMEOUT', `EC2 instance ${id} (${host.name}) was not running within ${Math.round(timeoutMs / 1000)} s (state ${inst.State?.Name ?? 'unknown'})`);
        await sleep(delay);
        delay = Math.min(delay * 2, 3000);
        const r = await call('DescribeInstances', () => ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] })));
        inst = r.Reservations?.[0]?.Instances?.[0] ?? inst;
        if (inst.State?.Name === 'terminated' || inst.State?.Name === 'shutting-down') throw new MixmeshError('GATEWAY_PROVISION_FAILED', `EC2 instance ${id} (${host.name}) went ${inst.State.Name}: ${inst.StateReason?.Message ?? ''}`);
      }
      const address = (inst.PublicIpAddress ?? inst.PrivateIpAddress)!;
      // the console shows cloud-init's host key block once the instance booted
      let hostKeys: string[] = [];
      for (let d = 200; hostKeys.length === 0; d = Math.min(d * 2, 3000)) {
        const out = await call('GetConsoleOutput', () => ec2.send(new GetConsoleOutputCommand({ InstanceId: id })));
        hostKeys = out.Output ? parseConsoleHostKeys(Buffer.from(out.Output, 'base64').toString('utf8')) : [];
        if (hostKeys.length) break;
        if (Date.now() > deadline) throw new MixmeshError('GATEWAY_PROVISION_TIMEOUT', `EC2 instance ${id} (${host.name}): no host key in its console output within ${Math.round(timeoutMs / 1000)} s`);
        await sleep(d);
      }
      return { instanceId: id, address, username: s.username, hostKeys };
    },
    async release(cluster, host) {
      const ids = new Set<string>((await find(cluster, host.name)).map((i) => i.InstanceId!).filter(Boolean));
      if (host.instanceId) ids.add(host.instanceId);
      if (ids.size === 0) return;
      const gone = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [...ids] })).then(() => false, (e: unknown) => {
        if ((e as { name?: string }).name === 'InvalidInstanceID.NotFound') return true;
        throw awsError('TerminateInstances', e);
      });
      if (gone) return;
      // released means terminated: wait for it (bounded), so "nothing left" holds when delete ends
      const deadline = Date.now() + 300_000;
      for (let delay = 200; ; delay = Math.min(delay * 2, 3000)) {
        const r = await call('DescribeInstances', () => ec2.send(new DescribeInstancesCommand({ InstanceIds: [...ids] })));
        const states = (r.Reservations ?? []).flatMap((x) => x.Instances ?? []).map((i) => i.State?.Name);
        if (states.every((st) => st === 'terminated')) return;
        if (Date.now() > deadline) throw new MixmeshError('GATEWAY_PROVISION_FAILED', `EC2: ${[...ids].join(', ')} not terminated after 300 s (${states.join(', ')})`);
        await sleep(delay);
      }
    },
    async list(cluster) {
      if (!cluster) return [];
      return (await find(cluster)).map((i) => ({ instanceId: i.InstanceId ?? '', name: i.Tags?.find((t) => t.Key === 'Name')?.Value ?? '' }));
    },
  };
}
