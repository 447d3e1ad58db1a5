/**
 * Mesh values (docs/configuration.md): what the generators need to know about the mesh
 * they render for. `validate` and `render` read them from `--config`, else these defaults.
 */
import { DEFAULT_ISTIO_VERSION } from './defaults.js';

export interface MeshValues {
  trustDomain: string;
  clusterDomain: string;
  clusterId: string;
  meshId: string;
  istioNamespace: string;
  revision: string;
  ingressGateway: { namespace: string; serviceAccount: string; selector: Record<string, string> };
  eastWestGateway: { namespace: string; name: string };
  istioVersion: string;
  tokenExpirationSeconds: number;
}

export const DEFAULT_MESH_VALUES: Readonly<MeshValues> = Object.freeze({
  trustDomain: 'cluster.local',
  clusterDomain: 'cluster.local',
  clusterId: 'Kubernetes',
  meshId: 'cluster.local',
  istioNamespace: 'istio-system',
  revision: '',
  ingressGateway: Object.freeze({
    namespace: 'istio-system',
    serviceAccount: 'istio-ingressgateway-service-account',
    selector: Object.freeze({ istio: 'ingressgateway' }),
  }),
  eastWestGateway: Object.freeze({ namespace: 'istio-system', name: 'istio-eastwestgateway' }),
  istioVersion: DEFAULT_ISTIO_VERSION,
  tokenExpirationSeconds: 3600,
}) as Readonly<MeshValues>;

/** The principal of the ingress gateway, the caller named `ingress` in connections. */
export function ingressPrincipal(v: MeshValues): string {
  return `${v.trustDomain}/ns/${v.ingressGateway.namespace}/sa/${v.ingressGateway.serviceAccount}`;
}

/** Where a mesh-values problem is and what is allowed. */
export interface MeshValuesProblem {
  pointer: string;
  message: string;
}

const STRING_KEYS = ['trustDomain', 'clusterDomain', 'clusterId', 'meshId', 'istioNamespace', 'istioVersion'] as const;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], at: string, problems: MeshValuesProblem[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) problems.push({ pointer: `${at}/${key}`, message: `unknown key "${key}" (allowed: ${allowed.join(', ')})` });
  }
}

/**
 * Mesh values from a parsed YAML document (`render --config`, `validate --config`): the keys of
 * MeshValues at the top level or under `mesh:`; anything else is an error. Missing keys keep their
 * defaults; `meshId` follows `trustDomain` unless given (docs/configuration.md).
 */
export function parseMeshValues(doc: unknown): { ok: true; value: MeshValues } | { ok: false; problems: MeshValuesProblem[] } {
  const problems: MeshValuesProblem[] = [];
  if (doc === null || doc === undefined) return { ok: true, value: structuredClone(DEFAULT_MESH_VALUES) as MeshValues };
  if (!isPlainObject(doc)) return { ok: false, problems: [{ pointer: '', message: 'must be a YAML mapping of mesh values' }] };
  const meshKeys = Object.keys(DEFAULT_MESH_VALUES);
  checkKeys(doc, [...meshKeys, 'mesh'], '', problems);
  let block: Record<string, unknown> = {};
  if (doc.mesh !== undefined) {
    if (isPlainObject(doc.mesh)) {
      block = doc.mesh;
      checkKeys(block, meshKeys, '/mesh', problems);
    } else {
      problems.push({ pointer: '/mesh', message: 'must be a mapping of mesh values' });
    }
  }
  const given: Record<string, unknown> = { ...Object.fromEntries(Object.entries(doc).filter(([k]) => k !== 'mesh')), ...block };
  const at = (k: string) => (k in block ? `/mesh/${k}` : `/${k}`);
  const value = structuredClone(DEFAULT_MESH_VALUES) as MeshValues;
  for (const key of STRING_KEYS) {
    if (given[key] === undefined) continue;
    if (typeof given[key] !== 'string' || given[key] === '') problems.push({ pointer: at(key), message: `must be a non-empty string, got ${JSON.stringify(given[key])}` });
    else value[key] = given[key];
  }
  if (given.trustDomain !== undefined && given.meshId === undefined && typeof given.trustDomain === 'string') value.meshId = given.trustDomain;
  if (given.revision !== undefined) {
    if (typeof given.revision !== 'string') problems.push({ pointer: at('revision'), message: 'must be a string ("" for the default revision)' });
    else value.revision = given.revision;
  }
  if (given.tokenExpirationSeconds !== undefined) {
    const t = given.tokenExpirationSeconds;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 600) problems.push({ pointer: at('tokenExpirationSeconds'), message: `must be an integer of at least 600 (the API server refuses less), got ${JSON.stringify(t)}` });
    else value.tokenExpirationSeconds = t;
  }
  if (given.ingressGateway !== undefined) {
    const g = given.ingressGateway;
    if (!isPlainObject(g)) problems.push({ pointer: at('ingressGateway'), message: 'must be a mapping {namespace, serviceAccount, selector}' });
    else {
      checkKeys(g, ['namespace', 'serviceAccount', 'selector'], at('ingressGateway'), problems);
      for (const k of ['namespace', 'serviceAccount'] as const) {
        if (g[k] === undefined) continue;
        if (typeof g[k] !== 'string' || g[k] === '') problems.push({ pointer: `${at('ingressGateway')}/${k}`, message: 'must be a non-empty string' });
        else value.ingressGateway[k] = g[k];
      }
      if (g.selector !== undefined) {
        const sel = g.selector;
        if (!isPlainObject(sel) || Object.keys(sel).length === 0 || Object.values(sel).some((v) => typeof v !== 'string')) {
          problems.push({ pointer: `${at('ingressGateway')}/selector`, message: 'must be a non-empty mapping of label keys to string values' });
        } else value.ingressGateway.selector = { ...(sel as Record<string, string>) };
      }
    }
  }
  if (given.eastWestGateway !== undefined) {
    const g = given.eastWestGateway;
    if (!isPlainObject(g)) problems.push({ pointer: at('eastWestGateway'), message: 'must be a mapping {namespace, name}' });
    else {
      checkKeys(g, ['namespace', 'name'], at('eastWestGateway'), problems);
      for (const k of ['namespace', 'name'] as const) {
        if (g[k] === undefined) continue;
        if (typeof g[k] !== 'string' || g[k] === '') problems.push({ pointer: `${at('eastWestGateway')}/${k}`, message: 'must be a non-empty string' });
        else value.eastWestGateway[k] = g[k];
      }
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value };
}
