import assert from 'node:assert/strict';
import { silentLogger } from '../../common/logger.js';
import { CallbackAuthority } from '../callbacks.js';
import { MemoryKube } from '../../test/helpers/memory-kube.js';
import { MemoryTacker } from '../../test/helpers/memory-tacker.js';
import { CALLBACK_SECRET, ensureSubscription, tokenEndpointFor } from './subscription.js';

describe('Tacker subscription', () => {
  const options = { systemNamespace: 'mixmesh-system', callbackUrl: 'http://10.0.0.1:7070/v1/tacker/notifications', auth: 'basic' as const };
  const secretRef = { apiVersion: 'v1', kind: 'Secret', namespace: 'mixmesh-system', name: CALLBACK_SECRET };

  it('first start: generated credentials in the Secret, one subscription with them', async () => {
    const kube = new MemoryKube();
    const tacker = new MemoryTacker();
    const callbacks = new CallbackAuthority('basic');
    const id = await ensureSubscription(kube, tacker, callbacks, options, silentLogger);
    const sub = tacker.subscriptions.get(id)!;
    assert.equal(sub.callbackUri, options.callbackUrl);
    assert.deepEqual(sub.filter, { notificationTypes: ['VnfLcmOperationOccurrenceNotification'] });
    const secret = await kube.get(secretRef);
    const data = secret!.data as Record<string, string>;
    const basic = sub.authentication as { paramsBasic: { userName: string; password: string } };
    assert.equal(Buffer.from(data.password!, 'base64').toString(), basic.paramsBasic.password);
    assert.ok(basic.paramsBasic.password.length >= 24);
    assert.ok(callbacks.verify(`Basic ${Buffer.from(`${basic.paramsBasic.userName}:${basic.paramsBasic.password}`).toString('base64')}`));
  });

  it('a restart reuses the subscription and the Secret; without the Secret it replaces the subscription', async () => {
    const kube = new MemoryKube();
    const tacker = new MemoryTacker();
    const first = await ensureSubscription(kube, tacker, new CallbackAuthority('basic'), options, silentLogger);
    const again = await ensureSubscription(kube, tacker, new CallbackAuthority('basic'), options, silentLogger);
    assert.equal(again, first);
    assert.equal(tacker.subscriptions.size, 1);
    await kube.delete(secretRef);
    const replaced = await ensureSubscription(kube, tacker, new CallbackAuthority('basic'), options, silentLogger);
    assert.notEqual(replaced, first);
    assert.deepEqual([...tacker.subscriptions.keys()], [replaced]);
    assert.ok(await kube.get(secretRef));
  });

  it('OAuth2: client credentials and our token endpoint', async () => {
    const tacker = new MemoryTacker();
    const id = await ensureSubscription(new MemoryKube(), tacker, new CallbackAuthority('oauth2'), { ...options, auth: 'oauth2' }, silentLogger);
    const auth = tacker.subscriptions.get(id)!.authentication as { authType: string[]; paramsOauth2ClientCredentials: { tokenEndpoint: string } };
    assert.deepEqual(auth.authType, ['OAUTH2_CLIENT_CREDENTIALS']);
    assert.equal(auth.paramsOauth2ClientCredentials.tokenEndpoint, 'http://10.0.0.1:7070/v1/tacker/oauth2/token');
    assert.equal(tokenEndpointFor('https://mm.example.com/v1/tacker/notifications'), 'https://mm.example.com/v1/tacker/oauth2/token');
  });
});
