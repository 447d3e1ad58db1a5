/**
 * The mixmesh console: sign-in (token form or one-time link), the services list, one service's
 * topology with its details, live events, plan and apply, the timeline, backups. Hash routes:
 * `#/`, `#/services/<ns>/<name>[/<tab>]`.
 */
import { html } from 'htm/preact';
import { render, type VNode } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { api, ApiError, followEvents, redeemCode, token, type Who } from './api.js';
import { relativeTime, topologyOf, type ServiceEventLite, type Topology } from './model.js';
import { TopologyView, type Selection } from './topology.js';
import { warmUp } from './layout.js';

type Rec = Record<string, unknown>;
type Route = { view: 'list' } | { view: 'service'; namespace: string; name: string; tab: Tab };
type Tab = 'topology' | 'plan' | 'timeline' | 'backups';
const TABS: { id: Tab; label: string }[] = [{ id: 'topology', label: 'Topology' }, { id: 'plan', label: 'Plan & apply' }, { id: 'timeline', label: 'Operations & events' }, { id: 'backups', label: 'Backups' }];

function parseRoute(hash: string): Route {
  const m = /^#\/services\/([a-z0-9-]+)\/([a-z0-9-]+)(?:\/(topology|plan|timeline|backups))?/.exec(hash);
  return m ? { view: 'service', namespace: m[1]!, name: m[2]!, tab: (m[3] as Tab | undefined) ?? 'topology' } : { view: 'list' };
}

const rec = (v: unknown): Rec => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : {});
const arr = (v: unknown): Rec[] => (Array.isArray(v) ? v.map(rec) : []);
const canWrite = (who: Who | undefined): boolean => who?.role === 'deployer' || who?.role === 'admin';

function Phase(props: { phase: string }): VNode {
  return html`<span class=${`phase ${props.phase.toLowerCase()}`}>${props.phase}</span>`;
}

// ------------------------------------------------------------------ sign-in
function Login(props: { onIn: (who: Who) => void; message?: string }): VNode {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | undefined>(props.message);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const who = await api<Who>('GET', '/v1/whoami', undefined, value.trim());
      token.set(value.trim());
      props.onIn(who);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'This token was refused. Check it and try again.' : String((err as Error).message));
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="login" id="main">
    <form class="card" onSubmit=${submit} aria-labelledby="login-title">
      <h1 id="login-title"><span class="logo" aria-hidden="true">◈</span> mixmesh console</h1>
      <p class="muted">Sign in with an API token of this orchestrator. It is kept in this tab only (sessionStorage).</p>
      <label for="token">API token</label>
      <input id="token" name="token" type="password" autocomplete="off" required value=${value} onInput=${(e: Event) => setValue((e.target as HTMLInputElement).value)} aria-describedby=${error ? 'login-error' : undefined} aria-invalid=${error ? 'true' : 'false'} />
      ${error ? html`<p id="login-error" class="error" role="alert">${error}</p>` : null}
      <button type="submit" class="primary" disabled=${busy || !value.trim()}>${busy ? 'Signing in…' : 'Sign in'}</button>
    </form>
  </main>`;
}

// ------------------------------------------------------------------ services list
function readyCounts(s: Rec): { ready: number; total: number; vms: number } {
  const ms = arr(rec(s.status).microservices);
  const spec = arr(rec(s.spec).microservices);
  return { ready: ms.filter((m) => Number(m.desired) > 0 && Number(m.ready) >= Number(m.desired)).length, total: spec.length, vms: spec.filter((m) => m.runtime === 'vm').length };
}

function lastOperation(s: Rec): Rec | undefined {
  const ops = arr(rec(s.status).operations);
  return ops[ops.length - 1];
}

function opTime(op: Rec | undefined): string | undefined {
  const steps = arr(op?.steps);
  const last = steps[steps.length - 1];
  return (last?.endedAt ?? last?.startedAt) as string | undefined;
}

function ServicesList(): VNode {
  const [items, setItems] = useState<Rec[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    let live = true;
    const load = (): void => { api<{ items: Rec[] }>('GET', '/v1/services').then((r) => { if (live) { setItems(r.items); setError(undefined); } }, (e: unknown) => { if (live) setError(String((e as Error).message)); }); };
    load();
    const timer = setInterval(load, 5000);
    return () => { live = false; clearInterval(timer); };
  }, []);
  return html`<main id="main" class="page">
    <div class="page-head"><h1>Services</h1><p class="muted">${items ? `${items.length} service${items.length === 1 ? '' : 's'}` : ''} · refreshed every 5 s</p></div>
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    ${!items ? html`<p class="muted">Loading…</p>` : items.length === 0 ? html`<div class="empty card"><p>No services yet.</p><p class="muted">Deploy one with <code>mixmesh apply -f descriptor.yaml</code>.</p></div>` : html`
    <table class="services">
      <caption class="sr-only">Services with their phase, generation, readiness and last operation</caption>
      <thead><tr><th scope="col">Service</th><th scope="col">Namespace</th><th scope="col">Phase</th><th scope="col">Generation</th><th scope="col">Ready</th><th scope="col">Last operation</th></tr></thead>
      <tbody>${items.map((s) => {
        const meta = rec(s.metadata);
        const st = rec(s.status);
        const c = readyCounts(s);
        const op = lastOperation(s);
        const href = `#/services/${String(meta.namespace)}/${String(meta.name)}`;
        return html`<tr data-service=${`${String(meta.namespace)}/${String(meta.name)}`}>
          <th scope="row"><a href=${href}>${String(meta.name)}</a></th>
          <td>${String(meta.namespace)}</td>
          <td><${Phase} phase=${String(st.phase ?? 'Pending')} /></td>
          <td>${String(st.observedGeneration ?? '—')} / ${String(meta.generation ?? '—')}</td>
          <td><span class="meter" role="img" aria-label=${`${c.ready} of ${c.total} ready`}><span style=${{ width: `${c.total ? (100 * c.ready) / c.total : 0}%` }}></span></span> ${c.ready}/${c.total} versions <span class="muted">(${c.vms} on VMs)</span></td>
          <td>${op ? html`<span class=${`op ${String(op.state).toLowerCase()}`}>${String(op.state)}</span> <span class="muted">gen ${String(op.id).split('-').pop()} · ${relativeTime(opTime(op))}</span>` : '—'}</td>
        </tr>`;
      })}</tbody>
    </table>`}
  </main>`;
}

// ------------------------------------------------------------------ details panel
function ObjectYaml(props: { o: Rec; open?: boolean }): VNode {
  return html`<details class="object" open=${props.open}><summary><span class="kind">${String(props.o.kind)}</span> ${String(props.o.name)}</summary><pre tabindex="0">${String(props.o.yaml)}</pre></details>`;
}

function Field(props: { k: string; v: unknown }): VNode {
  return html`<div class="field"><dt>${props.k}</dt><dd>${props.v === undefined || props.v === '' ? '—' : (props.v as string)}</dd></div>`;
}

function Details(props: { topology: Topology; selected: Selection; objects: Rec[]; onClose: () => void }): VNode | null {
  const { topology: t, selected, objects } = props;
  const headRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => { headRef.current?.focus(); }, [JSON.stringify(selected)]);
  if (!selected) return null;
  const close = html`<button type="button" class="close" onClick=${props.onClose} aria-label="close details">×</button>`;
  if (selected.kind === 'ingress') {
    const mine = objects.filter((o) => (o.kind === 'Gateway' || o.kind === 'VirtualService') && String(o.name).endsWith('-ingress'));
    return html`<aside class="details" aria-labelledby="details-title">${close}
      <h2 id="details-title" tabindex="-1" ref=${headRef}>Ingress <span class="muted">${t.ingress?.host}</span></h2>
      <ul class="routes">${t.ingress?.routes.map((r) => html`<li><code>${r.pathPrefix}</code> → ${r.to}${r.port ? html` <span class="muted">(${r.port})</span>` : null}</li>`)}</ul>
      <h3>Generated config</h3>${mine.length ? mine.map((o) => html`<${ObjectYaml} o=${o} open=${true} />`) : html`<p class="muted">not applied yet</p>`}
    </aside>`;
  }
  if (selected.kind === 'edge') {
    const e = t.edges.find((x) => x.id === selected.id);
    if (!e) return null;
    const to = e.to.slice(3);
    const from = e.from === 'ingress' ? 'ingress' : e.from.slice(3);
    const kinds = ['VirtualService', 'DestinationRule', 'AuthorizationPolicy'];
    const mine = objects.filter((o) => (kinds.includes(String(o.kind)) && o.name === to) || (from === 'ingress' && ['VirtualService', 'Gateway'].includes(String(o.kind)) && String(o.name).endsWith('-ingress')));
    mine.sort((a, b) => kinds.indexOf(String(a.kind)) - kinds.indexOf(String(b.kind)));
    return html`<aside class="details" aria-labelledby="details-title">${close}
      <h2 id="details-title" tabindex="-1" ref=${headRef}>${from} → ${to}</h2>
      <p class="muted">A declared connection: only declared callers get in${t.authorization === 'connections' ? ' (AuthorizationPolicy per microservice)' : ''}.</p>
      <ul class="chips">${e.labels.map((l) => html`<li>${l}</li>`)}</ul>
      <h3>Generated mesh config</h3>
      ${mine.length ? mine.map((o) => html`<${ObjectYaml} o=${o} open=${true} />`) : html`<p class="muted">not applied yet</p>`}
      <details class="object"><summary>The connection as declared</summary><pre tabindex="0">${toYaml(e.connection)}</pre></details>
    </aside>`;
  }
  const v = t.groups.flatMap((g) => g.versions).find((x) => x.id === selected.id);
  if (!v) return null;
  const wanted = (o: Rec): boolean => {
    const n = String(o.name);
    switch (String(o.kind)) {
      case 'Deployment': case 'WorkloadGroup': return n === `${v.name}-${v.version}`;
      case 'WorkloadEntry': return n.startsWith(`${v.name}-${v.version}-`);
      case 'Gateway': return false;
      default: return n === v.name;
    }
  };
  // the API lists them in the kind table's order (mesh-config/kinds.ts)
  const mine = objects.filter(wanted);
  const vm = v.runtime === 'vm';
  return html`<aside class="details" aria-labelledby="details-title">${close}
    <h2 id="details-title" tabindex="-1" ref=${headRef}>${v.name} <span class="muted">${v.version}</span> <span class=${`tag ${v.runtime}`}>${vm ? 'VM' : 'container'}</span></h2>
    <dl class="fields">
      <${Field} k="ready" v=${v.live ? `${v.ready} of ${v.desired}` : 'not deployed'} />
      <${Field} k="ports" v=${v.ports.join(', ')} />
      ${!vm ? html`<${Field} k="image" v=${v.image} />` : null}
    </dl>
    ${vm ? html`<h3>VM instances</h3>${v.instances.length === 0 ? html`<p class="muted">none yet</p>` : v.instances.map((i) => html`<dl class="fields instance" data-instance=${i.index}>
        <${Field} k="VNF instance" v=${i.vnfInstanceName} />
        <${Field} k="VNF id" v=${i.vnfInstanceId} />
        <${Field} k="server" v=${i.serverId} />
        <${Field} k="address" v=${i.address} />
        <${Field} k="sidecar" v=${i.sidecar} />
        <${Field} k="token expires" v=${i.tokenExpiresAt ? `${relativeTime(i.tokenExpiresAt)} (${i.tokenExpiresAt})` : undefined} />
        <${Field} k="host key" v=${i.hostKey ? `${i.hostKey.slice(0, 28)}…` : undefined} />
        ${i.lastError ? html`<${Field} k="last error" v=${i.lastError} />` : null}
      </dl>`)}` : null}
    <h3>Kubernetes objects</h3>
    ${mine.length ? mine.map((o) => html`<${ObjectYaml} o=${o} />`) : html`<p class="muted">none yet</p>`}
  </aside>`;
}

// ------------------------------------------------------------------ plan & apply
function descriptorYaml(s: Rec): string {
  const meta = rec(s.metadata);
  return toYaml({ apiVersion: s.apiVersion ?? 'mixmesh.io/v1alpha1', kind: s.kind ?? 'MeshService', metadata: { name: meta.name, namespace: meta.namespace, ...(meta.labels ? { labels: meta.labels } : {}) }, spec: s.spec }, { lineWidth: 0 });
}

function PlanView(props: { service: Rec; who: Who | undefined; onApplied: () => void }): VNode {
  const meta = rec(props.service.metadata);
  const path = `/v1/services/${String(meta.namespace)}/${String(meta.name)}`;
  const [text, setText] = useState(() => descriptorYaml(props.service));
  const [plan, setPlan] = useState<Rec | undefined>();
  const [preview, setPreview] = useState<Topology | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState<string | undefined>();
  const [applied, setApplied] = useState<string | undefined>();
  const [showUnchanged, setShowUnchanged] = useState(false);
  const runPreview = (): boolean => {
    try {
      setPreview(topologyOf(rec(parseYaml(text))));
      return true;
    } catch (e) {
      setPreview(undefined);
      setError(`The descriptor is not YAML: ${(e as Error).message}`);
      return false;
    }
  };
  const runPlan = async (): Promise<void> => {
    setError(undefined); setPlan(undefined); setApplied(undefined);
    if (!runPreview()) return;
    setBusy('plan');
    try {
      setPlan(await api('POST', `${path}/plan`, { text, type: 'application/yaml' }));
    } catch (e) { setError((e as Error).message); } finally { setBusy(undefined); }
  };
  const apply = async (): Promise<void> => {
    setError(undefined); setBusy('apply');
    try {
      const r = await api('PUT', path, { text, type: 'application/yaml' });
      setApplied(String(r.operationId));
      props.onApplied();
    } catch (e) { setError((e as Error).message); } finally { setBusy(undefined); }
  };
  const changes = arr(plan?.changes);
  const counts = ['create', 'update', 'delete', 'unchanged'].map((a) => [a, changes.filter((c) => c.action === a).length] as const);
  const shown = changes.filter((c) => showUnchanged || c.action !== 'unchanged');
  return html`<section class="plan" aria-labelledby="plan-title">
    <h2 id="plan-title" class="sr-only">Plan and apply</h2>
    <div class="plan-grid">
      <div class="editor">
        <label for="descriptor">Descriptor (edit, then plan: nothing changes until you apply)</label>
        <textarea id="descriptor" spellcheck="false" value=${text} onInput=${(e: Event) => setText((e.target as HTMLTextAreaElement).value)}></textarea>
        <div class="actions">
          <button type="button" class="primary" onClick=${runPlan} disabled=${busy !== undefined}>${busy === 'plan' ? 'Planning…' : 'Plan'}</button>
          <button type="button" onClick=${() => { setError(undefined); runPreview(); }} title="draw the edited descriptor's topology without asking the orchestrator">Preview</button>
          ${canWrite(props.who)
            ? html`<button type="button" class="danger" data-action="apply" onClick=${apply} disabled=${busy !== undefined || !plan}>${busy === 'apply' ? 'Applying…' : 'Apply'}</button>`
            : html`<span class="muted">Your role (${props.who?.role ?? 'viewer'}) may plan but not apply.</span>`}
          <button type="button" onClick=${() => { setText(descriptorYaml(props.service)); setPlan(undefined); setPreview(undefined); }}>Reset</button>
        </div>
        ${error ? html`<pre class="error" role="alert">${error}</pre>` : null}
        ${applied ? html`<p class="ok" role="status">Accepted: operation <code>${applied}</code>. Follow it on the topology.</p>` : null}
      </div>
      <div class="result" aria-live="polite">
        ${plan ? html`<h3>What would change</h3>
          <ul class="counts">${counts.map(([a, n]) => html`<li class=${`act ${a}`}>${n} ${a}</li>`)}</ul>
          <label class="check"><input type="checkbox" checked=${showUnchanged} onChange=${(e: Event) => setShowUnchanged((e.target as HTMLInputElement).checked)} /> show unchanged</label>
          <table class="changes"><thead><tr><th scope="col">action</th><th scope="col">object</th><th scope="col">fields</th></tr></thead><tbody>
            ${shown.map((c) => html`<tr><td><span class=${`act ${String(c.action)}`}>${String(c.action)}</span></td><td><span class="kind">${String(c.kind)}</span> ${String(c.name)}</td>
              <td>${arr(c.diff).map((d) => html`<div><code>${String(d.path)}</code>: ${JSON.stringify(d.from) ?? '—'} → ${JSON.stringify(d.to) ?? '—'}</div>`)}</td></tr>`)}
          </tbody></table>
          ${arr(plan.tacker).length ? html`<h3>Tacker</h3><ul>${arr(plan.tacker).map((x) => html`<li><span class=${`act ${String(x.action)}`}>${String(x.action)}</span> VNF <code>${String(x.vnfInstanceName)}</code></li>`)}</ul>` : null}`
          : html`<p class="muted">Plan shows the Kubernetes, Istio and Tacker changes the edited descriptor would make, and its topology.</p>`}
        ${preview ? html`<h3>Topology after the change</h3><div class="canvas small"><${TopologyView} topology=${preview} events=${[]} running=${false} selected=${undefined} onSelect=${() => undefined} label="topology of the edited descriptor" /></div>` : null}
      </div>
    </div>
  </section>`;
}

// ------------------------------------------------------------------ timeline
function Timeline(props: { service: Rec; events: Rec[] }): VNode {
  const ops = [...arr(rec(props.service.status).operations)].reverse();
  const ms = (a: unknown, b: unknown): string => (a && b ? `${((Date.parse(String(b)) - Date.parse(String(a))) / 1000).toFixed(2)} s` : '…');
  return html`<section class="timeline" aria-label="operations and events">
    <div class="two">
      <div><h2>Operations</h2>${ops.length === 0 ? html`<p class="muted">none</p>` : ops.map((op) => {
        const steps = arr(op.steps);
        const t0 = Date.parse(String(steps[0]?.startedAt ?? ''));
        const t1 = Math.max(...steps.map((s) => Date.parse(String(s.endedAt ?? s.startedAt))), t0 + 1);
        return html`<article class="operation card" data-operation=${String(op.id)}>
          <header><span class=${`op ${String(op.state).toLowerCase()}`}>${String(op.state)}</span> generation ${String(op.id).split('-').pop()} <span class="muted">${relativeTime(String(steps[0]?.startedAt ?? ''))}</span></header>
          ${op.error ? html`<p class="error">${String(op.error)}</p>` : null}
          <ol class="steps">${steps.map((s) => {
            const a = Date.parse(String(s.startedAt));
            const b = s.endedAt ? Date.parse(String(s.endedAt)) : t1;
            return html`<li class=${s.error ? 'failed' : s.endedAt ? 'done' : 'active'}><span class="step-name">${String(s.name)}</span>
              <span class="bar" aria-hidden="true"><span style=${{ left: `${(100 * (a - t0)) / (t1 - t0)}%`, width: `${Math.max(1, (100 * (b - a)) / (t1 - t0))}%` }}></span></span>
              <span class="muted">${ms(s.startedAt, s.endedAt)}</span>${s.error ? html`<div class="error">${String(s.error)}</div>` : null}</li>`;
          })}</ol>
        </article>`;
      })}</div>
      <div><h2>Events</h2><ol class="events" aria-live="polite">${[...props.events].reverse().map((e) => html`<li class=${String(e.type).toLowerCase()}>
        <time datetime=${String(e.time)}>${String(e.time).slice(11, 19)}</time> <strong>${String(e.reason)}</strong> <span>${String(e.note)}</span></li>`)}</ol></div>
    </div>
  </section>`;
}

// ------------------------------------------------------------------ backups
// BACKUPS: the place for the backups and restores of this service. The /v1/backups API is being
// added by other work; until this orchestrator serves it, the tab says so. When it lands: list
// GET /v1/backups?namespace=&service=, restores, and a "back up now" button for operator roles.
function Backups(props: { namespace: string; name: string }): VNode {
  const [state, setState] = useState<{ items?: Rec[]; missing?: boolean; error?: string }>({});
  useEffect(() => {
    api<{ items?: Rec[] }>('GET', `/v1/backups?namespace=${props.namespace}&service=${props.name}`).then(
      (r) => setState({ items: arr(r.items) }),
      (e: unknown) => setState(e instanceof ApiError && (e.status === 404 || e.status === 405) ? { missing: true } : { error: String((e as Error).message) }),
    );
  }, [props.namespace, props.name]);
  if (state.missing) return html`<section class="card"><h2>Backups</h2><p class="muted">This orchestrator does not serve backups yet (no <code>/v1/backups</code>).</p></section>`;
  if (state.error) return html`<p class="error" role="alert">${state.error}</p>`;
  if (!state.items) return html`<p class="muted">Loading…</p>`;
  return html`<section class="card"><h2>Backups</h2>${state.items.length === 0 ? html`<p class="muted">No backups of this service.</p>` : html`<ul>${state.items.map((b) => html`<li>${String(rec(b.metadata).name ?? b.name ?? '')} <span class="muted">${String(rec(b.status).phase ?? b.phase ?? '')}</span></li>`)}</ul>`}</section>`;
}

// ------------------------------------------------------------------ one service
function ServiceView(props: { namespace: string; name: string; tab: Tab; who: Who | undefined }): VNode {
  const path = `/v1/services/${props.namespace}/${props.name}`;
  const [service, setService] = useState<Rec | undefined>();
  const [objects, setObjects] = useState<Rec[]>([]);
  const [events, setEvents] = useState<Rec[]>([]);
  const [error, setError] = useState<string | undefined>();
  const [stream, setStream] = useState<'connecting' | 'live' | 'reconnecting'>('connecting');
  const [selected, setSelected] = useState<Selection>();
  const timer = useRef<number | undefined>(undefined);
  const load = useCallback(async (): Promise<void> => {
    try {
      const [s, o] = await Promise.all([api(`GET`, path), api<{ items: Rec[] }>('GET', `${path}/objects`)]);
      setService(s); setObjects(o.items); setError(undefined);
    } catch (e) { setError((e as Error).message); }
  }, [path]);
  const soon = useCallback((): void => { clearTimeout(timer.current); timer.current = window.setTimeout(() => { void load(); }, 200); }, [load]);
  useEffect(() => {
    setService(undefined); setEvents([]); setSelected(undefined);
    void load();
    // state changes arrive as events; each one refreshes the picture (and a slow poll covers gaps)
    const stop = followEvents(`${path}/events`, (e) => { setEvents((prev) => (prev.some((p) => p.id === e.id) ? prev : [...prev, e])); soon(); }, setStream);
    const poll = setInterval(() => { void load(); }, 10_000);
    return () => { stop(); clearInterval(poll); clearTimeout(timer.current); };
  }, [path]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => { if (e.key === 'Escape') setSelected(undefined); };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  const topology = useMemo(() => (service ? topologyOf(service) : undefined), [service]);
  if (error && !service) return html`<main id="main" class="page"><p class="error" role="alert">${error}</p><a href="#/">← all services</a></main>`;
  if (!service || !topology) return html`<main id="main" class="page"><p class="muted">Loading ${props.namespace}/${props.name}…</p></main>`;
  const st = rec(service.status);
  const meta = rec(service.metadata);
  const op = lastOperation(service);
  const running = op?.state === 'Running' || op?.state === 'Queued';
  const c = readyCounts(service);
  const ev = events as unknown as ServiceEventLite[];
  const base = `#/services/${props.namespace}/${props.name}`;
  return html`<main id="main" class="page service">
    <div class="page-head">
      <h1><a href="#/" class="crumb">Services</a> <span aria-hidden="true">/</span> ${props.name} <span class="muted ns">${props.namespace}</span></h1>
      <div class="summary">
        <${Phase} phase=${String(st.phase ?? 'Pending')} />
        <span>generation ${String(st.observedGeneration ?? '—')}/${String(meta.generation ?? '—')}</span>
        <span>${c.ready}/${c.total} versions ready · ${c.vms} on VMs</span>
        ${op ? html`<span>last operation <span class=${`op ${String(op.state).toLowerCase()}`}>${String(op.state)}</span></span>` : null}
        <span class=${`stream ${stream}`} role="status" title="events stream">${stream === 'live' ? '● live' : stream === 'connecting' ? '○ connecting' : '○ reconnecting'}</span>
      </div>
    </div>
    <nav class="tabs" aria-label="service views">${TABS.map((t) => html`<a href=${`${base}/${t.id}`} aria-current=${props.tab === t.id ? 'page' : undefined} class=${props.tab === t.id ? 'active' : ''}>${t.label}</a>`)}</nav>
    ${props.tab === 'topology' ? html`<div class=${`topology-layout${selected ? ' with-details' : ''}`}>
        <div class="canvas" data-topology="1">
          <div class="legend" aria-hidden="true"><span class="lg container">container</span><span class="lg vm">VM (Tacker)</span><span class="lg edge">declared connection</span><span>mTLS ${topology.mtls} · authorization: ${topology.authorization}</span>${selected ? null : html`<span class="hint">select a version or a connection (click, or Tab and Enter) for its objects, VM and mesh config</span>`}</div>
          <${TopologyView} topology=${topology} events=${ev} running=${running} selected=${selected} onSelect=${setSelected} label=${`topology of ${props.name}: ${topology.groups.length} microservices, ${topology.edges.length} connections`} />
        </div>
        <${Details} topology=${topology} selected=${selected} objects=${objects} onClose=${() => setSelected(undefined)} />
      </div>` : null}
    ${props.tab === 'plan' ? html`<${PlanView} service=${service} who=${props.who} onApplied=${() => { void load(); }} />` : null}
    ${props.tab === 'timeline' ? html`<${Timeline} service=${service} events=${events} />` : null}
    ${props.tab === 'backups' ? html`<${Backups} namespace=${props.namespace} name=${props.name} />` : null}
  </main>`;
}

// ------------------------------------------------------------------ the app
function App(): VNode {
  const [route, setRoute] = useState<Route>(() => parseRoute(location.hash));
  const [who, setWho] = useState<Who | undefined>();
  const [auth, setAuth] = useState<'checking' | 'in' | 'out'>('checking');
  const [message, setMessage] = useState<string | undefined>();
  useEffect(() => {
    const onHash = (): void => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    const start = async (): Promise<void> => {
      // a one-time login link: #code=… (the fragment never reaches a server log); dropped from the address at once
      const m = /(?:^#|&)code=([A-Za-z0-9_-]+)/.exec(location.hash);
      if (m) {
        history.replaceState(null, '', `${location.pathname}#/`);
        setRoute({ view: 'list' });
        try { token.set(await redeemCode(m[1]!)); } catch (e) { setMessage(`The login link was refused: ${(e as Error).message.replace(/^\w+: /, '')}`); }
      }
      if (!token.get()) { setAuth('out'); return; }
      try { setWho(await api<Who>('GET', '/v1/whoami')); setAuth('in'); } catch { token.clear(); setAuth('out'); }
    };
    void start();
  }, []);
  if (auth === 'checking') return html`<main id="main" class="page"><p class="muted">Signing in…</p></main>`;
  if (auth === 'out') return html`<${Login} message=${message} onIn=${(w: Who) => { setWho(w); setAuth('in'); setMessage(undefined); }} />`;
  return html`<div class="shell">
    <a class="skip" href="#main" onClick=${(e: Event) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
    <header class="top"><a href="#/" class="brand"><span class="logo" aria-hidden="true">◈</span> mixmesh</a>
      <span class="who">${who?.name} · <span class=${`role ${who?.role}`}>${who?.role}</span></span>
      <button type="button" onClick=${() => { token.clear(); setWho(undefined); setAuth('out'); }}>Sign out</button></header>
    ${route.view === 'list' ? html`<${ServicesList} />` : html`<${ServiceView} namespace=${route.namespace} name=${route.name} tab=${route.tab} who=${who} />`}
  </div>`;
}

warmUp();
const root = document.getElementById('app')!;
root.textContent = '';
render(html`<${App} />`, root);
