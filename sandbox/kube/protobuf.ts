/**
 * `kubectl create namespace|configmap|secret|serviceaccount|token` send their bodies as Kubernetes
 * protobuf (`application/vnd.kubernetes.protobuf`) and do not fall back to JSON on a 415. This
 * decodes those kinds (and the fields `kubectl create deployment|service` set) (the `k8s\0` envelope, runtime.Unknown, the field numbers of
 * k8s.io/api's generated.proto) into the JSON objects the emulator handles; answers stay JSON,
 * which the client accepts.
 */
import type { Obj } from './resources.js';

type Scalar = 'string' | 'bytes' | 'int' | 'bool';
type Field = [name: string, type: Scalar | 'strings' | 'map' | 'bytesMap' | Message | ['repeated', Message]];
interface Message { [fieldNumber: number]: Field }

const OBJECT_META: Message = {
  1: ['name', 'string'], 2: ['generateName', 'string'], 3: ['namespace', 'string'], 5: ['uid', 'string'], 6: ['resourceVersion', 'string'],
  7: ['generation', 'int'], 11: ['labels', 'map'], 12: ['annotations', 'map'], 14: ['finalizers', 'strings'],
};
const OBJECT_REFERENCE: Message = { 1: ['kind', 'string'], 2: ['namespace', 'string'], 3: ['name', 'string'], 4: ['uid', 'string'], 5: ['apiVersion', 'string'] };

/** IntOrString: {type 0 → intVal, 1 → strVal}; turned into a plain value after decoding. */
const INT_OR_STRING: Message = { 1: ['type', 'int'], 2: ['intVal', 'int'], 3: ['strVal', 'string'] };
const LABEL_SELECTOR: Message = { 1: ['matchLabels', 'map'] };
const CONTAINER: Message = {
  1: ['name', 'string'], 2: ['image', 'string'], 3: ['command', 'strings'], 4: ['args', 'strings'], 5: ['workingDir', 'string'],
  6: ['ports', ['repeated', { 1: ['name', 'string'], 2: ['hostPort', 'int'], 3: ['containerPort', 'int'], 4: ['protocol', 'string'] }]],
  7: ['env', ['repeated', { 1: ['name', 'string'], 2: ['value', 'string'] }]], 8: ['resources', {}], 14: ['imagePullPolicy', 'string'],
};
const POD_TEMPLATE: Message = {
  1: ['metadata', OBJECT_META],
  2: ['spec', { 2: ['containers', ['repeated', CONTAINER]], 3: ['restartPolicy', 'string'], 8: ['serviceAccountName', 'string'] }],
};

const KINDS: Record<string, Message> = {
  'apps/v1/Deployment': {
    1: ['metadata', OBJECT_META],
    2: ['spec', { 1: ['replicas', 'int'], 2: ['selector', LABEL_SELECTOR], 3: ['template', POD_TEMPLATE], 4: ['strategy', { 1: ['type', 'string'] }], 5: ['minReadySeconds', 'int'] }],
  },
  'v1/Service': {
    1: ['metadata', OBJECT_META],
    2: ['spec', {
      1: ['ports', ['repeated', { 1: ['name', 'string'], 2: ['protocol', 'string'], 3: ['port', 'int'], 4: ['targetPort', INT_OR_STRING], 5: ['nodePort', 'int'] }]],
      2: ['selector', 'map'], 3: ['clusterIP', 'string'], 4: ['type', 'string'], 11: ['externalName', 'string'],
    }],
  },
  'v1/Namespace': { 1: ['metadata', OBJECT_META], 2: ['spec', { 1: ['finalizers', 'strings'] }] },
  'v1/ConfigMap': { 1: ['metadata', OBJECT_META], 2: ['data', 'map'], 3: ['binaryData', 'bytesMap'], 4: ['immutable', 'bool'] },
  'v1/Secret': { 1: ['metadata', OBJECT_META], 2: ['data', 'bytesMap'], 3: ['type', 'string'], 4: ['stringData', 'map'], 5: ['immutable', 'bool'] },
  'v1/ServiceAccount': { 1: ['metadata', OBJECT_META], 2: ['secrets', ['repeated', OBJECT_REFERENCE]], 3: ['imagePullSecrets', ['repeated', { 1: ['name', 'string'] }]], 4: ['automountServiceAccountToken', 'bool'] },
  'authentication.k8s.io/v1/TokenReview': { 1: ['metadata', OBJECT_META], 2: ['spec', { 1: ['token', 'string'], 2: ['audiences', 'strings'] }] },
  'authentication.k8s.io/v1/SelfSubjectReview': { 1: ['metadata', OBJECT_META] },
  'authorization.k8s.io/v1/SelfSubjectAccessReview': {
    1: ['metadata', OBJECT_META],
    2: ['spec', {
      1: ['resourceAttributes', { 1: ['namespace', 'string'], 2: ['verb', 'string'], 3: ['group', 'string'], 4: ['version', 'string'], 5: ['resource', 'string'], 6: ['subresource', 'string'], 7: ['name', 'string'] }],
      2: ['nonResourceAttributes', { 1: ['path', 'string'], 2: ['verb', 'string'] }],
    }],
  },
  'authentication.k8s.io/v1/TokenRequest': {
    1: ['metadata', OBJECT_META],
    2: ['spec', { 1: ['audiences', 'strings'], 3: ['boundObjectRef', { 1: ['kind', 'string'], 2: ['apiVersion', 'string'], 3: ['name', 'string'], 4: ['uid', 'string'] }], 4: ['expirationSeconds', 'int'] }],
  },
};

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

export class ProtobufError extends Error {}

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  done(): boolean { return this.pos >= this.buf.length; }
  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.buf.length) throw new ProtobufError('truncated varint');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new ProtobufError('varint too long');
    }
  }
  bytes(): Buffer {
    const n = this.varint();
    if (this.pos + n > this.buf.length) throw new ProtobufError('truncated field');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new ProtobufError(`unsupported wire type ${wire}`);
  }
}

function decode(buf: Buffer, message: Message): Obj {
  const out: Obj = {};
  const r = new Reader(buf);
  while (!r.done()) {
    const tag = r.varint();
    const field = message[Math.floor(tag / 8)];
    const wire = tag % 8;
    if (!field) { r.skip(wire); continue; }
    const [name, type] = field;
    if (type === 'int') out[name] = r.varint();
    else if (type === 'bool') out[name] = r.varint() !== 0;
    else if (type === 'string') out[name] = r.bytes().toString('utf8');
    else if (type === 'bytes') out[name] = r.bytes().toString('base64');
    else if (type === 'strings') ((out[name] ??= []) as string[]).push(r.bytes().toString('utf8'));
    else if (type === 'map' || type === 'bytesMap') {
      const entry = decode(r.bytes(), { 1: ['key', 'string'], 2: ['value', type === 'map' ? 'string' : 'bytes'] });
      ((out[name] ??= {}) as Obj)[String(entry.key ?? '')] = entry.value ?? '';
    } else if (Array.isArray(type)) ((out[name] ??= []) as Obj[]).push(decode(r.bytes(), type[1]));
    else out[name] = decode(r.bytes(), type);
  }
  if (message === INT_OR_STRING) return (out.type === 1 ? out.strVal ?? '' : out.intVal ?? 0) as unknown as Obj;
  // gogo-protobuf writes every non-pointer field, zero or not; JSON omits them (omitempty)
  for (const [k, v] of Object.entries(out)) {
    if (v === '' || (v === 0 && !POINTER_FIELDS.has(k)) || (v === false && !POINTER_FIELDS.has(k))) delete out[k];
  }
  return out;
}

/** Optional (pointer) fields, written only when set: their zero is meaningful. */
const POINTER_FIELDS = new Set(['replicas', 'expirationSeconds', 'immutable', 'automountServiceAccountToken']);

/** A protobuf request body as JSON; undefined when its kind is not one this decoder knows. */
export function decodeKubernetesProtobuf(body: Buffer): Obj | undefined {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) throw new ProtobufError('not a Kubernetes protobuf body (no k8s magic)');
  const unknown = decode(body.subarray(4), { 1: ['typeMeta', { 1: ['apiVersion', 'string'], 2: ['kind', 'string'] }], 2: ['raw', 'bytes'] });
  const typeMeta = (unknown.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
  const message = KINDS[`${typeMeta.apiVersion}/${typeMeta.kind}`];
  if (!message) return undefined;
  const obj = decode(Buffer.from(String(unknown.raw ?? ''), 'base64'), message);
  return { apiVersion: typeMeta.apiVersion, kind: typeMeta.kind, ...obj };
}
