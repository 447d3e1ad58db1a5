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

/** over 40 microservices or 80 connections */
export const isBig = (t: Topology): boolean => t.groups.length > 40 || t.edges.length > 80;

/** a label beside the middle of the longest segment of a routed edge (big graphs: drawn when selected) */
function midLabel(points: { x: number; y: number }[], size: { width: number; height: number }): Box {
  let best = 0;
  let at = { x: points[0]!.x, y: points[0]!.y };
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    const len = Math.abs(a.x - b.x) + Math.abs(a.y - b.y);
    if (len > best) { best = len; at = { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 }; }
  }
  return { x: at.x - size.width / 2, y: at.y + 4, ...size };
}

/** elk's first layout compiles its code: done once while the user signs in or reads the list */
export function warmUp(): void {
  elk ??= new ELK();
  void elk.layout({ id: 'warm', children: [{ id: 'a', width: 10, height: 10 }, { id: 'b', width: 10, height: 10 }], edges: [{ id: 'e', sources: ['a'], targets: ['b'] }] }).catch(() => undefined);
}

const labelSize = (labels: string[]): { width: number; height: number } => ({ width: Math.max(...labels.map((l) => l.length)) * CHAR + 12, height: labels.length * LINE + 6 });

let elk: InstanceType<typeof ELK> | undefined;

const GROUP_PAD = { top: 28, side: 10, bottom: 10, gap: 10 };

/** a microservice's box: its versions stacked (elk places the boxes; inside a box it is a list) */
function groupSize(versions: VersionNode[]): { width: number; height: number } {
  return { width: NODE_W + 2 * GROUP_PAD.side, height: GROUP_PAD.top + versions.reduce((h, v) => h + NODE_H[v.runtime], 0) + GROUP_PAD.gap * (versions.length - 1) + GROUP_PAD.bottom };
}

export async function layoutTopology(t: Topology): Promise<Layout> {
  elk ??= new ELK();
  // microservices are atomic boxes for elk: a flat graph lays out far faster than a compound one.
  // A big graph is laid out without its edge labels (each label is one more node for elk, and
  // they make up most of the time); its labels show on the selected edge and in the details.
  const big = isBig(t);
  const children: ElkNode[] = t.groups.map((g) => ({ id: g.id, ...groupSize(g.versions) }));
  if (t.ingress) children.unshift({ id: INGRESS_ID, ...ingressSize(t) });
  const known = new Set(children.map((c) => c.id));
  const edges: ElkExtendedEdge[] = t.edges.filter((e) => known.has(e.from) && known.has(e.to)).map((e) => ({
    id: e.id, sources: [e.from], targets: [e.to],
    ...(big ? {} : { labels: [{ id: `${e.id}:label`, text: e.labels.join('\n'), ...labelSize(e.labels) }] }),
  }));
  const graph: ElkNode = {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered', 'elk.direction': 'RIGHT',
      'elk.edgeRouting': 'ORTHOGONAL', 'elk.layered.spacing.nodeNodeBetweenLayers': '48', 'elk.spacing.nodeNode': '28',
      'elk.spacing.edgeLabel': '4', 'elk.layered.spacing.edgeNodeBetweenLayers': '20', 'elk.edgeLabels.inline': 'false',
      // big graphs: fewer crossing-minimisation passes and the linear-time node placement
      'elk.layered.thoroughness': big ? '1' : '7',
      'elk.layered.nodePlacement.strategy': big ? 'BRANDES_KOEPF' : 'NETWORK_SIMPLEX', 'elk.padding': '[top=16,left=16,bottom=16,right=16]',
    },
    children, edges,
  };
  const out = await elk.layout(graph);
  const layout: Layout = { width: out.width ?? 0, height: out.height ?? 0, groups: [], nodes: [], edges: [] };
  const groups = new Map(t.groups.map((g) => [g.id, g]));
  for (const c of out.children ?? []) {
    const box = { x: c.x ?? 0, y: c.y ?? 0, width: c.width ?? 0, height: c.height ?? 0 };
    if (c.id === INGRESS_ID) { layout.ingress = box; continue; }
    const g = groups.get(c.id)!;
    layout.groups.push({ id: c.id, name: g.name, ...box });
    let y = box.y + GROUP_PAD.top;
    for (const v of g.versions) {
      layout.nodes.push({ node: v, x: box.x + GROUP_PAD.side, y, width: NODE_W, height: NODE_H[v.runtime] });
      y += NODE_H[v.runtime] + GROUP_PAD.gap;
    }
  }
  const edgeById = new Map(t.edges.map((e) => [e.id, e]));
  for (const e of (out.edges ?? []) as ElkExtendedEdge[]) {
    const s = e.sections?.[0];
    if (!s) continue;
    const l = e.labels?.[0] ?? midLabel([s.startPoint, ...(s.bendPoints ?? []), s.endPoint], labelSize(edgeById.get(e.id)!.labels));
    layout.edges.push({
      edge: edgeById.get(e.id)!,
      points: [s.startPoint, ...(s.bendPoints ?? []), s.endPoint].map((p) => ({ x: p.x, y: p.y })),
      label: { x: l?.x ?? s.startPoint.x, y: l?.y ?? s.startPoint.y, width: l?.width ?? 0, height: l?.height ?? 0 },
    });
  }
  return layout;
}
