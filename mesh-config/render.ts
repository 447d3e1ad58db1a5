/**
 * `renderAll(service, values)`: every object a descriptor becomes at render time, in the output order
 * of docs/cli.md (kind order, then by name), each validated before it leaves.
 */
import type { MeshService } from '../descriptor/types.js';
import { renderDeployment, renderNamespace, renderService, renderServiceAccounts } from './kubernetes.js';
import {
  renderAuthorizationPolicy,
  renderDestinationRule,
  renderIngress,
  renderPeerAuthentication,
  renderVirtualService,
  renderWorkloadGroup,
} from './istio.js';
import { buildContext, type RenderedObject } from './model.js';
import { validateMeshObject } from './validate.js';
import { DEFAULT_MESH_VALUES, type MeshValues } from '../descriptor/index.js';
import { KINDS, kindRank } from './kinds.js';

/** The rendered kinds in output order (the kind table's rows that `renderAll` makes). */
export const KIND_ORDER: readonly string[] = Object.freeze(KINDS.filter((k) => k.rendered).map((k) => k.kind));

/** Kinds that go to `kubernetes.yaml` under `render -o`; the rest go to `mesh.yaml`. */
export const KUBERNETES_KINDS: ReadonlySet<string> = new Set(KINDS.filter((k) => k.file === 'kubernetes').map((k) => k.kind));

const rank = kindRank;

export function compareObjects(a: RenderedObject, b: RenderedObject): number {
  const byKind = rank(a.kind) - rank(b.kind);
  if (byKind !== 0) return byKind;
  const an = a.metadata.name;
  const bn = b.metadata.name;
  return an < bn ? -1 : an > bn ? 1 : 0;
}

export interface RenderOptions {
  /** skip validateMeshObject (only for measuring the generators alone); default false */
  skipValidation?: boolean;
}

export function renderAll(service: MeshService, values: MeshValues = DEFAULT_MESH_VALUES, options: RenderOptions = {}): RenderedObject[] {
  const ctx = buildContext(service, values);
  const out: RenderedObject[] = [renderNamespace(ctx), ...renderServiceAccounts(ctx)];
  const authorize = service.spec.mesh.authorization === 'connections';
  for (const group of ctx.groups) {
    out.push(renderService(ctx, group));
    for (const v of group.versions) {
      if (v.runtime === 'container') out.push(renderDeployment(ctx, v));
      else out.push(renderWorkloadGroup(ctx, v));
    }
    out.push(renderDestinationRule(ctx, group));
    const vs = renderVirtualService(ctx, group);
    if (vs) out.push(vs);
    out.push(renderPeerAuthentication(ctx, group));
    if (authorize) out.push(renderAuthorizationPolicy(ctx, group));
  }
  out.push(...renderIngress(ctx));
  out.sort(compareObjects);
  if (!options.skipValidation) for (const obj of out) validateMeshObject(obj);
  return out;
}
