/* global document, window, location, fetch, EventSource, URLSearchParams */
// The table's page: menu, voice (Web Speech API where the browser has it) or typed sentence,
// confirmation, then the order's progress live.
const $ = (id) => document.getElementById(id);
const table = new URLSearchParams(location.search).get('table') || '1';
$('table-pill').textContent = `테이블 ${table}`;
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const won = (n) => `${n.toLocaleString('ko-KR')}원`;
const EMOJI = { coffee: '☕', tea: '🍵', drink: '🥤', food: '🥐' };
const ITEM_EMOJI = { latte: '🥛', 'vanilla-latte': '🍦', 'caramel-macchiato': '🍮', 'cold-brew': '🧊', 'hot-chocolate': '🍫', lemonade: '🍋', 'orange-juice': '🍊', 'sparkling-water': '💧', cheesecake: '🍰', bagel: '🥯' };
const CAT = { coffee: '커피 · Coffee', tea: '티 · Tea', drink: '음료 · Drinks', food: '베이커리 · Bakery' };
const OPT = { 'extra-shot': '샷 추가', decaf: '디카페인', 'oat-milk': '오트밀크', 'soy-milk': '두유', 'less-ice': '얼음 적게', 'no-syrup': '시럽 빼고' };
let pending = null;

async function api(path, body) {
  const res = await fetch(`/order/api/${path}`, body ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {});
  return { status: res.status, body: await res.json() };
}

async function loadMenu() {
  const body = await (await fetch('/menu')).json();
  const groups = {};
  for (const m of body.items) (groups[m.category] ||= []).push(m);
  $('menu').innerHTML = Object.entries(groups).map(([cat, items]) => `
    <div class="section-title">${CAT[cat]}</div>
    <div class="menu-grid">${items.map((m) => `
      <button class="menu-item" data-ko="${m.ko}" data-food="${cat === 'food'}">
        <div class="emoji">${ITEM_EMOJI[m.id] || EMOJI[cat]}</div><div class="ko">${m.ko}</div><div class="en">${m.en}</div><div class="price">${won(m.priceWon)}</div>
      </button>`).join('')}</div>`).join('');
  for (const b of document.querySelectorAll('.menu-item')) {
    b.addEventListener('click', () => {
      const said = `${b.dataset.ko} 한 ${b.dataset.food === 'true' ? '개' : '잔'}`;
      const box = $('sentence');
      box.value = box.value.trim() ? `${box.value.trim()}이랑 ${said}` : said;
      box.focus();
    });
  }
}

function lineHtml(i) {
  const opts = [i.temperature === 'iced' ? '아이스' : i.temperature === 'hot' ? '따뜻하게' : '', i.size === 'large' ? '라지' : i.size === 'small' ? '스몰' : '', ...i.options.map((o) => OPT[o] || o)].filter(Boolean);
  return `<div class="line"><div><b>${i.ko}</b> × ${i.qty}<div class="opts">${opts.join(' · ')}</div></div><div>${won(i.qty * i.unitPriceWon)}</div></div>`;
}

function showProblem(r) {
  const understood = r.understood && r.understood.items && r.understood.items.length ? `<div class="hint">알아들은 것: ${esc(r.understood.items.map((i) => `${i.ko} ${i.qty}`).join(', '))}</div>` : '';
  $('problem').innerHTML = `<div class="error">${esc(r.message)}${understood}<div class="chips">${(r.suggestions || []).map((s) => `<button class="chip">${esc(s)}</button>`).join('')}</div></div>`;
  for (const c of $('problem').querySelectorAll('.chip')) c.addEventListener('click', () => { $('sentence').value = c.textContent; void parse(); });
}

async function parse() {
  const sentence = $('sentence').value.trim();
  if (!sentence) return;
  $('problem').innerHTML = '';
  const { status, body } = await api('parse', { sentence });
  if (status !== 200) { $('confirm').hidden = true; showProblem(body); return; }
  pending = sentence;
  $('lines').innerHTML = body.items.map(lineHtml).join('');
  $('total').textContent = won(body.totalWon);
  $('confirm').hidden = false;
}

async function placeOrder() {
  if (!pending) return;
  $('order').disabled = true;
  const { status, body } = await api('orders', { sentence: pending, table });
  $('order').disabled = false;
  if (status !== 201) { showProblem(body); return; }
  pending = null;
  $('confirm').hidden = true;
  $('sentence').value = '';
  track(body);
}

let stream = null;
function track(order) {
  $('progress').hidden = false;
  $('order-no').textContent = `#${order.id}`;
  $('order-summary').textContent = order.items.map((i) => `${i.ko} ${i.qty}`).join(', ');
  setStatus(order.status);
  if (stream) stream.close();
  stream = new EventSource(`/order/api/orders/${order.id}/events`);
  stream.addEventListener('status', (e) => { const s = JSON.parse(e.data).status; setStatus(s); if (s === 'served') stream.close(); });
}

function setStatus(s) {
  const order = ['new', 'preparing', 'ready', 'served'];
  $('order-status').dataset.status = s;
  for (const el of document.querySelectorAll('.step')) {
    const i = order.indexOf(el.dataset.step), cur = order.indexOf(s);
    el.className = `step${i < cur ? ' done' : i === cur ? ' current' : ''}`;
  }
}

// voice: the browser's own speech recognition, Korean first (English is understood too)
const Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
if (!Recognition) {
  $('mic').disabled = true;
  $('mic-hint').textContent = '이 브라우저는 음성 인식을 지원하지 않아요. 입력창에 적어 주세요. (Voice input is not available in this browser: please type.)';
} else {
  $('mic-hint').textContent = '마이크를 누르고 말씀하세요 — 한국어 또는 English';
  const rec = new Recognition();
  rec.lang = document.documentElement.lang === 'en' ? 'en-US' : 'ko-KR';
  rec.interimResults = true;
  rec.onresult = (e) => { const r = e.results[e.results.length - 1]; $('sentence').value = r[0].transcript; if (r.isFinal) void parse(); };
  rec.onend = () => $('mic').classList.remove('listening');
  rec.onerror = (e) => { $('mic-hint').textContent = `음성 인식 오류: ${e.error}. 입력창에 적어 주세요.`; };
  $('mic').addEventListener('click', () => { $('mic').classList.add('listening'); rec.start(); });
}

$('parse').addEventListener('click', () => void parse());
$('sentence').addEventListener('keydown', (e) => { if (e.key === 'Enter') void parse(); });
$('order').addEventListener('click', () => void placeOrder());
$('cancel').addEventListener('click', () => { $('confirm').hidden = true; pending = null; $('sentence').focus(); });
void loadMenu();
