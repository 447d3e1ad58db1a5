/**
 * Just enough X.509 to run the admission webhook without a certificate from anyone: a self-signed
 * CA and a serving certificate it signs, both ECDSA P-256 / SHA-256, DER written by hand
 * (node:crypto signs and parses certificates but cannot issue them, and the image carries no
 * openssl binary). Checked by node's own X509Certificate and TLS stack in `x509.test.ts`.
 */
import { X509Certificate, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, ...content: Buffer[]): Buffer => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};
const seq = (...c: Buffer[]): Buffer => tlv(0x30, ...c);
const set = (...c: Buffer[]): Buffer => tlv(0x31, ...c);
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const bits = (b: Buffer, unused = 0): Buffer => tlv(0x03, Buffer.from([unused]), b);
const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
function integer(b: Buffer): Buffer {
  let v = b;
  while (v.length > 1 && v[0] === 0 && v[1]! < 0x80) v = v.subarray(1);
  if (v[0]! >= 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return tlv(0x02, v);
}
function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [];
    let v = p;
    do { chunk.unshift(v & 0x7f); v = Math.floor(v / 128); } while (v > 0);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i]! |= 0x80;
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}
function time(d: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, '0');
  const y = d.getUTCFullYear();
  const body = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return y < 2050 ? tlv(0x17, Buffer.from(`${p(y % 100)}${body}`)) : tlv(0x18, Buffer.from(`${y}${body}`));
}
const name = (cn: string): Buffer => seq(set(seq(oid('2.5.4.3'), utf8(cn))));
const ext = (id: string, critical: boolean, value: Buffer): Buffer => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

function keyId(publicKey: KeyObject): Buffer {
  // the SHA-1 of the subjectPublicKey BIT STRING contents, as RFC 5280 4.2.1.2 method (1)
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha1').update(spki.subarray(spki.length - 65)).digest();
}

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function issue(o: { subject: string; issuer: string; publicKey: KeyObject; signer: KeyObject; issuerKeyId: Buffer; days: number; now: Date; extensions: Buffer[] }): Buffer {
  const notBefore = new Date(o.now.getTime() - 5 * 60_000); // clock skew
  const notAfter = new Date(o.now.getTime() + o.days * 86_400_000);
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(serial),
    ECDSA_SHA256,
    name(o.issuer),
    seq(time(notBefore), time(notAfter)),
    name(o.subject),
    o.publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...o.extensions, ext('2.5.29.14', false, octets(keyId(o.publicKey))), ext('2.5.29.35', false, seq(tlv(0x80, o.issuerKeyId))))),
  );
  const signature = sign('sha256', tbs, { key: o.signer, dsaEncoding: 'der' });
  return seq(tbs, ECDSA_SHA256, bits(signature));
}

/** A self-signed CA (ECDSA P-256), valid `days` from `now`. */
export function createCa(commonName: string, days = 3650, now = new Date()): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const id = keyId(publicKey);
  const der = issue({
    subject: commonName, issuer: commonName, publicKey, signer: privateKey, issuerKeyId: id, days, now,
    extensions: [
      ext('2.5.29.19', true, seq(bool(true))),
      ext('2.5.29.15', true, bits(Buffer.from([0x86]), 1)), // digitalSignature, keyCertSign, cRLSign
    ],
  });
  return { certPem: pem('CERTIFICATE', der), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** A TLS server certificate for `hosts` (DNS names and IP addresses), signed by `ca`. */
export function issueServerCert(ca: KeyPairPem, hosts: readonly string[], days = 365, now = new Date()): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const caKey = createPublicKey(ca.keyPem);
  const caCn = /CN=([^\n,]+)/.exec(new X509Certificate(ca.certPem).subject)?.[1] ?? 'mixmesh';
  const san = hosts.map((h) => {
    const v = isIP(h);
    if (v === 4) return tlv(0x87, Buffer.from(h.split('.').map(Number)));
    if (v === 6) return tlv(0x87, ipv6Bytes(h));
    return tlv(0x82, Buffer.from(h, 'ascii'));
  });
  const der = issue({
    subject: hosts[0] ?? 'mixmesh', issuer: caCn, publicKey, signer: createPrivateKey(ca.keyPem), issuerKeyId: keyId(caKey), days, now,
    extensions: [
      ext('2.5.29.19', true, seq()),
      ext('2.5.29.15', true, bits(Buffer.from([0x80]), 7)), // digitalSignature
      ext('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))), // serverAuth
      ext('2.5.29.17', false, seq(...san)),
    ],
  });
  return { certPem: pem('CERTIFICATE', der), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

function ipv6Bytes(ip: string): Buffer {
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.from(groups.flatMap((g) => { const n = parseInt(g, 16); return [n >> 8, n & 0xff]; }));
}

/** When `certPem` stops being valid. */
export function notAfter(certPem: string): Date {
  return new Date(new X509Certificate(certPem).validTo);
}
