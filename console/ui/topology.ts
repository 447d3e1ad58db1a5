/**
 * The topology picture: microservices as boxes holding their versions (a container version as a
 * rounded card, a VM version as a server with its Tacker chain), connections as arrows with their
 * policies, the ingress with its routes. Every node and edge is a keyboard-reachable button.
 */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { VNode } from 'preact';
import { isBig, layoutTopology, type Layout } from './layout.js';
import { CHAIN_STEPS, chainState, type Edge, type ServiceEventLite, type Topology, type VersionNode } from './model.js';

export type Selection = { kind: 'node'; id: string } | { kind: 'edge'; id: string } | { kind: 'ingress' } | undefined;

const STEP_LABEL: Record<string, string> = { create: 'create', instantiate: 'inst.', ssh: 'SSH', inject: 'inject', register: 'reg.' };
const STEP_NAME: Record<string, string> = { create: 'create VNF', instantiate: 'instantiate', ssh: 'SSH', inject: 'inject sidecar', register: 'register' };

/** a key of what the layout depends on: names, versions, runtimes, connections and their labels */
function structureKey(t: Topology): string {
  return JSON.stringify([t.groups.map((g) => [g.id, g.versions.map((v) => `${v.id}/${v.runtime}`)]), t.edges.map((e) => [e.id, e.labels]), t.ingress]);
}

function readiness(v: VersionNode): { cls: string; text: string } {
  if (!v.live) return { cls: 'unknown', text: v.runtime === 'vm' ? `${v.desired} VM${v.desired === 1 ? '' : 's'}` : `${v.desired} replica${v.desired === 1 ? '' : 's'}` };
  const cls = v.desired > 0 && v.ready >= v.desired ? 'ok' : v.ready > 0 ? 'partial' : 'down';
  return { cls, text: `${v.ready}/${v.desired} ${v.runtime === 'vm' ? `VM${v.desired === 1 ? '' : 's'}` : 'replicas'} ready` };
}

const keyActivate = (fn: () => void) => (e: KeyboardEvent): void => {
  if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); fn(); }
};

function pathOf(points: { x: number; y: number }[]): string {
  return points.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
}

export function TopologyView(props: { topology: Topology; events: readonly ServiceEventLite[]; running: boolean; selected: Selection; onSelect: (s: Selection) => void; label: string }): VNode {
  const { topology: t, selected, onSelect } = props;
  const key = structureKey(t);
  const [layout, setLayout] = useState<{ key: string; layout: Layout } | undefined>();
  const [error, setError] = useState<string | undefined>();
  const svgRef = useRef<SVGSVGElement>(null);
  const [fit, setFit] = useState(true);
  useEffect(() => {
    let live = true;
    performance.mark(`mixmesh:topology:start:${key.length}`);
    layoutTopology(t).then((l) => { if (live) setLayout({ key, layout: l }); }, (e: unknown) => { if (live) setError(String(e)); });
    return () => { live = false; };
    // the layout depends on the structure only; readiness changes redraw without a new layout
  }, [key]);
  useEffect(() => {
    if (!layout || layout.key !== key) return;
    // measured once drawn: from the layout's start to the committed SVG
    const start = `mixmesh:topology:start:${key.length}`;
    if (performance.getEntriesByName(start).length) {
      performance.mark('mixmesh:topology:end');
      const m = performance.measure('mixmesh:topology', start, 'mixmesh:topology:end');
      performance.clearMarks(start);
      svgRef.current?.setAttribute('data-render-ms', m.duration.toFixed(1));
    }
  }, [layout]);
  if (error) return html`<p class="error" role="alert">The layout failed: ${error}</p>`;
  if (!layout) return html`<p class="muted" aria-live="polite">Laying out ${t.groups.length} microservices…</p>`;
  const l = layout.layout;
  const nodesById = new Map(t.groups.flatMap((g) => g.versions.map((v) => [v.id, v] as const)));
  const edgesById = new Map(t.edges.map((e) => [e.id, e]));
  const isSel = (kind: string, id?: string): boolean => selected?.kind === kind && (kind === 'ingress' || (selected as { id?: string }).id === id);

  const big = isBig(t);
  const edgeEl = (pe: Layout['edges'][number]): VNode => {
    const e: Edge = edgesById.get(pe.edge.id) ?? pe.edge;
    const from = e.from === 'ingress' ? 'ingress' : e.from.slice(3);
    const to = e.to.slice(3);
    const sel = isSel('edge', e.id);
    const showLabel = !big || sel;
    return html`<g class=${`edge${sel ? ' selected' : ''}`} data-edge=${e.id} data-from=${from} data-to=${to} role="button" tabindex="0"
        aria-pressed=${sel} aria-label=${`connection ${from} to ${to}: ${e.labels.join(', ')}`}
        onClick=${() => onSelect({ kind: 'edge', id: e.id })} onKeyDown=${keyActivate(() => onSelect({ kind: 'edge', id: e.id }))}>
      <path class="hit" d=${pathOf(pe.points)} />
      <path class="line" d=${pathOf(pe.points)} marker-end="url(#arrow)" />
      ${showLabel ? html`<g class="edge-label" transform=${`translate(${pe.label.x},${pe.label.y})`}>
        <rect width=${pe.label.width} height=${pe.label.height} rx="4" />
        ${e.labels.map((text, i) => html`<text x="6" y=${15 + i * 15} class=${text.startsWith('split') ? 'split' : text.startsWith('mTLS') ? 'mtls' : ''}>${text}</text>`)}
      </g>` : null}
    </g>`;
  };

  const nodeEl = (pn: Layout['nodes'][number]): VNode => {
    const v = nodesById.get(pn.node.id) ?? pn.node;
    const r = readiness(v);
    const sel = isSel('node', v.id);
    const vm = v.runtime === 'vm';
    const select = (): void => onSelect({ kind: 'node', id: v.id });
    const inst = v.instances[0];
    const steps = vm ? chainState(inst, inst?.vnfInstanceName ?? `${t.namespace}.${t.name}.${v.name}.${v.version}.0`, props.events, props.running) : undefined;
    const stepW = (pn.width - 20) / CHAIN_STEPS.length;
    return html`<g class=${`node ${v.runtime}${sel ? ' selected' : ''}`} data-node=${v.id} data-runtime=${v.runtime} role="button" tabindex="0" aria-pressed=${sel}
        aria-label=${`${v.name} ${v.version}, ${vm ? 'virtual machine' : 'container'}, ${r.text}`}
        transform=${`translate(${pn.x},${pn.y})`} onClick=${select} onKeyDown=${keyActivate(select)}>
      <title>${v.name} ${v.version} (${vm ? 'VM through Tacker' : 'container on Kubernetes'})</title>
      ${vm
        ? html`<rect class="box" width=${pn.width} height=${pn.height} rx="2" />
               <rect class="rack" x="0" y="0" width="8" height=${pn.height} />
               <line class="rack-line" x1="2" x2="6" y1="12" y2="12" /><line class="rack-line" x1="2" x2="6" y1="20" y2="20" /><line class="rack-line" x1="2" x2="6" y1="28" y2="28" />`
        : html`<rect class="box" width=${pn.width} height=${pn.height} rx="12" />`}
      <text x="16" y="20" class="title">${v.version}</text>
      <g class="badge" transform=${`translate(${pn.width - 64},7)`}><rect width="56" height="17" rx="8" /><text x="28" y="12.5" text-anchor="middle">${vm ? 'VM' : 'container'}</text></g>
      <text x="16" y="37" class="sub">${vm ? `Tacker VNF${inst?.address ? ` · ${inst.address}` : ''}` : (v.image ?? '').replace(/^.*\//, '').slice(0, 28)}</text>
      <circle class=${`dot ${r.cls}`} cx="20" cy="50" r="4.5" /><text x="30" y="54" class="ready">${r.text}</text>
      ${steps ? html`<g class="chain" transform="translate(10,62)" aria-hidden="true">
        ${CHAIN_STEPS.map((s, i) => html`<g class=${`step ${steps[s]}`} transform=${`translate(${i * stepW},0)`}><title>${STEP_NAME[s]}: ${steps[s]}</title>
          <rect width=${stepW - 3} height="16" rx="3" /><text x=${(stepW - 3) / 2} y="11.5" text-anchor="middle">${STEP_LABEL[s]}</text></g>`)}
      </g>` : null}
    </g>`;
  };

  const ing = l.ingress && t.ingress ? html`<g class=${`ingress${isSel('ingress') ? ' selected' : ''}`} data-ingress="1" role="button" tabindex="0"
      aria-label=${`ingress ${t.ingress.host}: ${t.ingress.routes.map((r) => `${r.pathPrefix} to ${r.to}`).join(', ')}`}
      transform=${`translate(${l.ingress.x},${l.ingress.y})`} onClick=${() => onSelect({ kind: 'ingress' })} onKeyDown=${keyActivate(() => onSelect({ kind: 'ingress' }))}>
    <rect class="box" width=${l.ingress.width} height=${l.ingress.height} rx="6" />
    <text x="12" y="20" class="title">⇥ ${t.ingress.host}</text>
    ${t.ingress.routes.map((r, i) => html`<text x="12" y=${40 + i * 15} class="route">${r.pathPrefix} → ${r.to}</text>`)}
  </g>` : null;

  // fitted to the width, but never below 80 % for a normal graph (the text stays readable; the canvas scrolls)
  const zoom = html`<button type="button" class="zoom" aria-pressed=${!fit} onClick=${() => setFit(!fit)}>${fit ? 'Actual size' : 'Fit to width'}</button>`;
  return html`${l.width > 900 ? zoom : null}<svg ref=${svgRef} class=${`topology${fit ? ' fit' : ''}`} style=${fit && !big ? { minWidth: `${Math.round(l.width * 0.8)}px` } : undefined} role="group" aria-label=${props.label} width=${l.width} height=${l.height} viewBox=${`0 0 ${l.width} ${l.height}`}
      data-nodes=${l.nodes.length} data-edges=${l.edges.length}>
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead" /></marker></defs>
    ${l.groups.map((g) => html`<g class="group" data-group=${g.name}><rect width=${g.width} height=${g.height} x=${g.x} y=${g.y} rx="10" /><text x=${g.x + 12} y=${g.y + 19}>${g.name}</text></g>`)}
    ${ing}
    ${l.nodes.map(nodeEl)}
    ${l.edges.filter((pe) => !isSel('edge', pe.edge.id)).map(edgeEl)}
    ${l.edges.filter((pe) => isSel('edge', pe.edge.id)).map(edgeEl)}
  </svg>`;
}
