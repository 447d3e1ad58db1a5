/**
 * AWS Signature Version 4 checking for the EC2 emulator: the canonical request is rebuilt from
 * what arrived and signed again with the known secret; the signatures must match and the request
 * must be no older than 15 minutes (AWS's rule).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface SigV4Result {
  ok: boolean;
  /** AWS error code when not ok */
  code?: 'MissingAuthenticationToken' | 'AuthFailure' | 'SignatureDoesNotMatch' | 'RequestExpired';
  message?: string;
  accessKeyId?: string;
  region?: string;
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data).digest();

function encodeRfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function verifySigV4(o: {
  method: string; path: string; query: string; headers: Record<string, string | string[] | undefined>; body: Buffer;
  secrets: (accessKeyId: string) => string | undefined; service: string; now?: Date;
}): SigV4Result {
  const auth = String(o.headers.authorization ?? '');
  const m = /^AWS4-HMAC-SHA256\s+Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { ok: false, code: 'MissingAuthenticationToken', message: 'Request is missing Authentication Token' };
  const [, accessKeyId, date, region, service, signedHeaders, signature] = m as unknown as [string, string, string, string, string, string, string];
  const secret = o.secrets(accessKeyId);
  if (!secret) return { ok: false, code: 'AuthFailure', message: 'AWS was not able to validate the provided access credentials' };
  if (service !== o.service) return { ok: false, code: 'SignatureDoesNotMatch', message: `Credential should be scoped to correct service: '${o.service}'.` };
  const amzDate = String(o.headers['x-amz-date'] ?? '');
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== date) return { ok: false, code: 'SignatureDoesNotMatch', message: 'X-Amz-Date is missing or does not match the credential scope date' };
  const when = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8), +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
  if (Math.abs((o.now ?? new Date()).getTime() - when) > 15 * 60_000) return { ok: false, code: 'RequestExpired', message: `Request has expired. Timestamp date is ${amzDate}` };
  const names = signedHeaders.split(';');
  if (!names.includes('host')) return { ok: false, code: 'SignatureDoesNotMatch', message: 'the host header must be signed' };
  const canonicalHeaders = names.map((n) => {
    const v = o.headers[n];
    const value = (Array.isArray(v) ? v.join(',') : String(v ?? '')).trim().replace(/\s+/g, ' ');
    return `${n}:${value}\n`;
  }).join('');
  const canonicalQuery = o.query
    ? o.query.split('&').filter(Boolean).map((kv) => {
      const [k, v = ''] = kv.split('=');
      return [encodeRfc3986(decodeURIComponent(k!.replace(/\+/g, ' '))), encodeRfc3986(decodeURIComponent(v.replace(/\+/g, ' ')))];
    }).sort(([a, x], [b, y]) => (a! < b! ? -1 : a! > b! ? 1 : x! < y! ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join('&')
    : '';
  const payloadHash = typeof o.headers['x-amz-content-sha256'] === 'string' ? o.headers['x-amz-content-sha256'] : sha256(o.body);
  const canonicalPath = o.path.split('/').map((s) => encodeRfc3986(decodeURIComponent(s))).join('/') || '/';
  const canonicalRequest = [o.method, canonicalPath, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  const expected = hmac(key, stringToSign);
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.' };
  }
  return { ok: true, accessKeyId, region };
}
