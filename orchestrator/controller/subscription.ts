/**
 * Our Tacker subscription (docs/tacker.md, "What mixmesh does with Tacker"): credentials generated once and
 * kept in Secret `mixmesh-tacker-callback` in the system namespace. On start: with the Secret,
 * reuse the subscription whose callbackUri is ours; without it, delete that subscription and create
 * a new one. Tacker tests the callback with a GET before saving, so the API must already listen.
 */
import type { Logger } from '../../common/logger.js';
import { managedLabels } from '../../common/labels.js';
import { generateCredentials, type CallbackAuthority, type CallbackCredentials } from '../callbacks.js';
import type { KubePort, SubscriptionRequest, TackerPort } from '../ports.js';

export const CALLBACK_SECRET = 'mixmesh-tacker-callback';

export interface SubscriptionOptions {
  systemNamespace: string;
  callbackUrl: string;
  auth: 'basic' | 'oauth2';
}

export function tokenEndpointFor(callbackUrl: string): string {
  return new URL('/v1/tacker/oauth2/token', callbackUrl).toString();
}

export async function ensureSubscription(kube: KubePort, tacker: TackerPort, callbacks: CallbackAuthority, options: SubscriptionOptions, log: Logger): Promise<string> {
  const ref = { apiVersion: 'v1', kind: 'Secret', namespace: options.systemNamespace, name: CALLBACK_SECRET };
  const ours = (await tacker.listSubscriptions()).filter((s) => s.callbackUri === options.callbackUrl);
  const secret = await kube.get(ref);
  const data = (secret?.data ?? {}) as Record<string, string>;
  if (secret && data.user && data.password) {
    const creds: CallbackCredentials = { user: Buffer.from(data.user, 'base64').toString('utf8'), password: Buffer.from(data.password, 'base64').toString('utf8') };
    callbacks.setCredentials(creds);
    if (ours.length) {
      log.info({ subscription: ours[0]!.id }, 'reusing the Tacker subscription');
      return ours[0]!.id;
    }
    return create(creds);
  }
  // no credentials we can prove: whatever subscription points at us is unusable
  for (const s of ours) await tacker.deleteSubscription(s.id);
  const creds = generateCredentials();
  if (!(await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: options.systemNamespace }))) {
    await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: options.systemNamespace, labels: { 'app.kubernetes.io/managed-by': 'mixmesh' } } }).catch(() => undefined);
  }
  const body = {
    apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
    metadata: { name: CALLBACK_SECRET, namespace: options.systemNamespace, labels: { ...managedLabels('mixmesh-system') } },
    data: { user: Buffer.from(creds.user).toString('base64'), password: Buffer.from(creds.password).toString('base64') },
  };
  if (secret) await kube.replace({ ...secret, data: body.data });
  else await kube.create(body);
  callbacks.setCredentials(creds);
  return create(creds);

  async function create(creds: CallbackCredentials): Promise<string> {
    const authentication: SubscriptionRequest['authentication'] = options.auth === 'oauth2'
      ? { authType: ['OAUTH2_CLIENT_CREDENTIALS'], paramsOauth2ClientCredentials: { clientId: creds.user, clientPassword: creds.password, tokenEndpoint: tokenEndpointFor(options.callbackUrl) } }
      : { authType: ['BASIC'], paramsBasic: { userName: creds.user, password: creds.password } };
    const { id } = await tacker.createSubscription({ callbackUri: options.callbackUrl, filter: { notificationTypes: ['VnfLcmOperationOccurrenceNotification'] }, authentication });
    log.info({ subscription: id, callbackUri: options.callbackUrl }, 'subscribed to Tacker notifications');
    return id;
  }
}
