/**
 * The EC2 emulator with the real @aws-sdk/client-ec2: Signature V4 checked, EC2's XML and error
 * XML, instances that are real SSH test VMs (their console output carries the host key).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTagsCommand, DescribeImagesCommand, DescribeInstanceStatusCommand, DescribeInstancesCommand, DescribeKeyPairsCommand, DescribeSecurityGroupsCommand,
  EC2Client, GetConsoleOutputCommand, ImportKeyPairCommand, RunInstancesCommand, TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { connectSsh, parseConsoleHostKeys } from '../../clients/ssh/index.js';
import { createLocalVmProvider, type LocalVmProvider } from '../vms/index.js';
import { startEc2Emulator, type Ec2Emulator } from './index.js';

describe('sandbox/ec2: the EC2 Query API emulator with the real AWS SDK', function () {
  this.timeout(120_000);
  let dir: string;
  let vms: LocalVmProvider;
  let emu: Ec2Emulator;
  let ec2: EC2Client;
  let privateKey: string;
  let publicKey: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mixmesh-ec2-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
    privateKey = await readFile(join(dir, 'id'), 'utf8');
    publicKey = (await readFile(join(dir, 'id.pub'), 'utf8')).trim();
    vms = await createLocalVmProvider({ dir, authorizedKeys: [publicKey], sshdDelayMs: 0 });
    emu = await startEc2Emulator({ images: [{ name: 'busybox-plain', imageId: 'ami-0123456789abcdef0', vms }], pendingMs: 50 });
    ec2 = new EC2Client({ endpoint: emu.url, region: emu.region, credentials: emu.credentials, maxAttempts: 1 });
  });

  after(async () => {
    ec2?.destroy();
    await emu?.stop();
    await vms?.removeAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs an instance that is a real SSH host, tagged, described, terminated', async () => {
    const images = await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['busybox-*'] }] }));
    assert.deepEqual(images.Images?.map((i) => i.ImageId), ['ami-0123456789abcdef0']);
    await assert.rejects(ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['k'] })), (e: Error) => e.name === 'InvalidKeyPair.NotFound');
    await ec2.send(new ImportKeyPairCommand({ KeyName: 'k', PublicKeyMaterial: Buffer.from(publicKey) }));
    assert.equal((await ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['k'] }))).KeyPairs?.[0]?.KeyName, 'k');
    const sg = await ec2.send(new DescribeSecurityGroupsCommand({}));
    const group = sg.SecurityGroups![0]!.GroupId!;
    const run = await ec2.send(new RunInstancesCommand({
      ImageId: 'ami-0123456789abcdef0', InstanceType: 't3.small', MinCount: 1, MaxCount: 1, KeyName: 'k', SecurityGroupIds: [group], ClientToken: 'tok-1',
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'web-1' }] }],
    }));
    const id = run.Instances![0]!.InstanceId!;
    assert.equal(run.Instances![0]!.State?.Name, 'pending');
    // the same ClientToken answers the same reservation
    const again = await ec2.send(new RunInstancesCommand({ ImageId: 'ami-0123456789abcdef0', InstanceType: 't3.small', MinCount: 1, MaxCount: 1, ClientToken: 'tok-1' }));
    assert.equal(again.Instances![0]!.InstanceId, id);
    let inst;
    for (let i = 0; i < 200; i++) {
      inst = (await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Name', Values: ['web-1'] }] }))).Reservations?.[0]?.Instances?.[0];
      if (inst?.State?.Name === 'running') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(inst?.State?.Name, 'running');
    assert.match(inst!.PublicIpAddress!, /^127\.0\.10\.\d+$/);
    assert.equal(inst!.Tags?.find((t) => t.Key === 'Name')?.Value, 'web-1');
    await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'team', Value: 'cafe' }] }));
    assert.equal((await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:team', Values: ['cafe'] }] }))).Reservations?.length, 1);
    const status = await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id] }));
    assert.equal(status.InstanceStatuses?.[0]?.InstanceStatus?.Status, 'ok');
    const out = await ec2.send(new GetConsoleOutputCommand({ InstanceId: id }));
    const keys = parseConsoleHostKeys(Buffer.from(out.Output!, 'base64').toString('utf8'));
    const shell = await connectSsh({ host: inst!.PublicIpAddress!, username: 'root', privateKey, hostKey: { expected: keys } });
    assert.equal((await shell.exec('cat /etc/hostname')).stdout.trim(), 'web-1');
    await shell.close();
    const term = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    assert.equal(term.TerminatingInstances?.[0]?.PreviousState?.Name, 'running');
    for (let i = 0; i < 200 && emu.liveInstances().length; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(emu.liveInstances(), []);
    assert.equal(vms.list().length, 0);
  });

  it('answers EC2 errors: bad signature, unknown ids, capacity', async () => {
    const forged = new EC2Client({ endpoint: emu.url, region: emu.region, credentials: { accessKeyId: emu.credentials.accessKeyId, secretAccessKey: 'wrong-secret-wrong-secret-wrong' }, maxAttempts: 1 });
    await assert.rejects(forged.send(new DescribeInstancesCommand({})), (e: Error) => e.name === 'SignatureDoesNotMatch');
    forged.destroy();
    const stranger = new EC2Client({ endpoint: emu.url, region: emu.region, credentials: { accessKeyId: 'AKIANOBODY', secretAccessKey: 'x' }, maxAttempts: 1 });
    await assert.rejects(stranger.send(new DescribeInstancesCommand({})), (e: Error) => e.name === 'AuthFailure');
    stranger.destroy();
    await assert.rejects(ec2.send(new TerminateInstancesCommand({ InstanceIds: ['i-00000000'] })), (e: Error) => e.name === 'InvalidInstanceID.NotFound');
    await assert.rejects(ec2.send(new RunInstancesCommand({ ImageId: 'ami-ffffffff', MinCount: 1, MaxCount: 1 })), (e: Error) => e.name === 'InvalidAMIID.NotFound');
    emu.setCapacity('t3.small', 0);
    await assert.rejects(ec2.send(new RunInstancesCommand({ ImageId: 'ami-0123456789abcdef0', InstanceType: 't3.small', MinCount: 1, MaxCount: 1 })), (e: Error & { $metadata?: { httpStatusCode?: number } }) => e.name === 'InsufficientInstanceCapacity' && e.$metadata?.httpStatusCode === 500);
    emu.setCapacity('t3.small', undefined);
    assert.deepEqual(emu.liveInstances(), []);
  });
});
