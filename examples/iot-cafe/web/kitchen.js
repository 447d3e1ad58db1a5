/* global document, fetch, EventSource, setInterval */
// The kitchen's screen: every active order, live, whichever order-api replica took it.
import { staffToken, askForToken, esc } from './staff.js';

const $ = (id) => document.getElementById(id);
const orders = new Map();
const NEXT = { new: '준비 시작', preparing: '준비 완료', ready: '서빙 완료' };
const OPT = { 'extra-shot': '샷 추가', decaf: '디카페인', 'oat-milk': '오트밀크', 'soy-milk': '두유', 'less-ice': '얼음 적게', 'no-syrup': '시럽 빼고' };
let token = staffToken();

function itemHtml(i) {
  const opts = [i.temperature === 'iced' ? 'ICE' : i.temperature === 'hot' ? 'HOT' : '', i.size === 'large' ? '라지' : i.size === 'small' ? '스몰' : '', ...i.options.map((o) => OPT[o] || o)].filter(Boolean);
  return `<li><span class="qty">${i.qty}×</span> ${esc(i.ko)} ${opts.length ? `<span class="muted">(${esc(opts.join(', '))})</span>` : ''}</li>`;
}

function render() {
  for (const col of ['new', 'preparing', 'ready']) {
    const list = [...orders.values()].filter((o) => o.status === col).sort((a, b) => a.id - b.id);
    $(`count-${col}`).textContent = list.length;
    $(`col-${col}`).innerHTML = list.length === 0 ? '<div class="empty">없음</div>' : list.map((o) => `
      <article class="ticket ${o.status}" data-order="${o.id}">
        <div class="head"><span>#${o.id}</span><span>${o.table ? `테이블 ${esc(o.table)}` : '포장'}</span></div>
        <div class="meta">${new Date(o.createdAt).toLocaleTimeString('ko-KR', { hour: '2-digit', minute: '2-digit' })} · ${esc(o.takenBy)}</div>
        <ul>${o.items.map(itemHtml).join('')}</ul>
        <button class="btn ${o.status === 'ready' ? 'ok' : o.status === 'new' ? 'accent' : ''}" data-advance="${o.id}" data-from="${o.status}">${NEXT[o.status]}</button>
      </article>`).join('');
  }
  for (const b of document.querySelectorAll('[data-advance]')) b.addEventListener('click', () => void advance(b.dataset.advance, b.dataset.from, b));
}

async function advance(id, from, button) {
  if (!token) { askForToken($('auth'), $('token'), $('save-token'), () => { token = staffToken(); }); return; }
  button.disabled = true;
  const res = await fetch(`/kitchen/api/orders/${id}/advance`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ from }) });
  if (res.status === 401) { askForToken($('auth'), $('token'), $('save-token'), () => { token = staffToken(); }); button.disabled = false; return; }
  const body = await res.json();
  if (res.ok) upsert(body);
  else button.disabled = false;
}

function upsert(o) {
  if (o.status === 'served') orders.delete(o.id);
  else orders.set(o.id, o);
  render();
}

function connect() {
  const es = new EventSource('/kitchen/api/stream');
  es.addEventListener('snapshot', (e) => { orders.clear(); for (const o of JSON.parse(e.data).orders) orders.set(o.id, o); render(); });
  es.addEventListener('order', (e) => upsert(JSON.parse(e.data)));
  es.onopen = () => { $('live').className = 'dot live'; $('live-text').textContent = '실시간'; };
  es.onerror = () => { $('live').className = 'dot down'; $('live-text').textContent = '다시 연결 중…'; };
}

setInterval(() => { $('clock').textContent = new Date().toLocaleTimeString('ko-KR', { hour: '2-digit', minute: '2-digit' }); }, 1000);
$('clock').textContent = new Date().toLocaleTimeString('ko-KR', { hour: '2-digit', minute: '2-digit' });
if (!token) askForToken($('auth'), $('token'), $('save-token'), () => { token = staffToken(); });
render();
connect();
