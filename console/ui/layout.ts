/**
 * Lays the topology out with elkjs (layered, left to right, microservices as compound nodes
 * holding their versions). Sizes come from the text each box holds; elk places nodes, routes
 * the edges and places their labels. Returns absolute coordinates for the SVG.
 */
import ELK from 'elkjs/lib/elk.bundled.js';
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';
import { INGRESS_ID, type Edge, type Topology, type VersionNode } from './model.js';

export interface Box { x: number; y: number; width: number; height: number }
export interface PlacedNode extends Box { node: VersionNode }
export interface PlacedGroup extends Box { id: string; name: string }
export interface PlacedEdge { edge: Edge; points: { x: number; y: number }[]; label: Box }
export interface Layout {
  width: number;
  height: number;
  groups: PlacedGroup[];
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  ingress?: Box;
}

const CHAR = 6.9; // px per character at the 12 px label font
export const NODE_W = 200;
export const NODE_H = { container: 62, vm: 84 };
const LINE = 15;

export const ingressSize = (t: Topology): { width: number; height: number } => {
  const lines = [t.ingress?.host ?? '', ...(t.ingress?.routes ?? []).map((r) => `${r.pathPrefix} → ${r.to}`)];
  return { width: Math.max(150, Math.max(...lines.map((l) => l.length)) * CHAR + 28), height: 34 + (t.ingress?.routes.length ?? 0) * LINE + 8 };
};

const labelSize = (labels: string[]): { width: number; height: number } => ({ width: Math.max(...labels.map((l) => l.length)) * CHAR + 12, height: labels.length * LINE + 6 });

let elk: InstanceType<typeof ELK> | undefined;

export async function layoutTopology(t: Topology): Promise<Layout> {
  elk ??= new ELK();
  const children: ElkNode[] = t.groups.map((g) => ({
    id: g.id,
    layoutOptions: { 'elk.padding': '[top=28,left=10,bottom=10,right=10]', 'elk.direction': 'DOWN', 'elk.spacing.nodeNode': '10' },
    children: g.versions.map((v) => ({ id: v.id, width: NODE_W, height: NODE_H[v.runtime] })),
  }));
  if (t.ingress) children.unshift({ id: INGRESS_ID, ...ingressSize(t) });
  const known = new Set(children.map((c) => c.id));
  const edges: ElkExtendedEdge[] = t.edges.filter((e) => known.has(e.from) && known.has(e.to)).map((e) => ({
    id: e.id, sources: [e.from], targets: [e.to],
    labels: [{ id: `${e.id}:label`, text: e.labels.join('\n'), ...labelSize(e.labels) }],
  }));
  const graph: ElkNode = {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered', 'elk.direction': 'RIGHT', 'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.edgeRouting': 'ORTHOGONAL', 'elk.layered.spacing.nodeNodeBetweenLayers': '48', 'elk.spacing.nodeNode': '28',
      'elk.spacing.edgeLabel': '4', 'elk.layered.spacing.edgeNodeBetweenLayers': '20', 'elk.edgeLabels.inline': 'false',
      'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX', 'elk.padding': '[top=16,left=16,bottom=16,right=16]',
    },
    children, edges,
  };
  const out = await elk.layout(graph);
  const layout: Layout = { width: out.width ?? 0, height: out.height ?? 0, groups: [], nodes: [], edges: [] };
  const byId = new Map(t.groups.flatMap((g) => g.versions.map((v) => [v.id, v] as const)));
  for (const c of out.children ?? []) {
    const box = { x: c.x ?? 0, y: c.y ?? 0, width: c.width ?? 0, height: c.height ?? 0 };
    if (c.id === INGRESS_ID) { layout.ingress = box; continue; }
    layout.groups.push({ id: c.id, name: c.id.slice(3), ...box });
    for (const v of c.children ?? []) layout.nodes.push({ node: byId.get(v.id)!, x: box.x + (v.x ?? 0), y: box.y + (v.y ?? 0), width: v.width ?? 0, height: v.height ?? 0 });
  }
  const edgeById = new Map(t.edges.map((e) => [e.id, e]));
  for (const e of (out.edges ?? []) as ElkExtendedEdge[]) {
    const s = e.sections?.[0];
    if (!s) continue;
    const l = e.labels?.[0];
    layout.edges.push({
      edge: edgeById.get(e.id)!,
      points: [s.startPoint, ...(s.bendPoints ?? []), s.endPoint].map((p) => ({ x: p.x, y: p.y })),
      label: { x: l?.x ?? s.startPoint.x, y: l?.y ?? s.startPoint.y, width: l?.width ?? 0, height: l?.height ?? 0 },
    });
  }
  return layout;
}
