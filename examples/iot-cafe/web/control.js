/* global document, window, fetch, EventSource */
// The manager's page: device state live (SSE), commands by voice or text, the audit trail.
import { staffToken, askForToken, esc } from './staff.js';

const $ = (id) => document.getElementById(id);
const devices = new Map();
const ZONE_NAMES = { 1: '창가', 2: '홀', 3: '테라스', 4: '카운터' };
const MODES = { cool: '냉방', heat: '난방', dry: '제습', fan: '송풍', auto: '자동' };
const COFFEE = { off: '꺼짐', ready: '준비됨', cleaning: '세척 중' };
const GENRES = { jazz: '재즈', classical: '클래식', lofi: '로파이', pop: '팝', 'bossa-nova': '보사노바' };
let token = staffToken();

function render() {
  const lights = [...devices.values()].filter((d) => d.kind === 'light').sort((a, b) => a.zone - b.zone);
  $('zones').innerHTML = lights.map((d) => `
    <div class="zone" data-zone="${d.zone}" data-on="${d.state.on}">
      <div class="bulb">${d.state.on ? '💡' : '🌑'}</div>
      <div class="name">${d.zone}번 구역 · ${ZONE_NAMES[d.zone] || ''}</div>
      <div class="state">${d.state.on ? `켜짐 · ${d.state.brightness}%` : '꺼짐'}</div>
      <div class="bar"><div style="width:${d.state.on ? d.state.brightness : 0}%"></div></div>
    </div>`).join('');
  const ac = devices.get('aircon'), music = devices.get('music'), blinds = devices.get('blinds'), coffee = devices.get('coffee');
  const card = (id, icon, title, big, label, on) => `
    <div class="device" data-device="${id}"><div class="label"><span class="emoji">${icon}</span> ${title} <span class="badge ${on ? 'on' : ''}">${on ? 'ON' : 'OFF'}</span></div>
    <div class="big">${big}</div><div class="label">${label}</div></div>`;
  $('devices').innerHTML = [
    ac && card('aircon', '❄️', '에어컨', `${ac.state.temperature}°C`, MODES[ac.state.mode] || ac.state.mode, ac.state.on),
    music && card('music', '🎵', '음악', `${GENRES[music.state.genre] || esc(music.state.genre)}`, `볼륨 ${music.state.volume}% · ${music.state.track}번째 곡`, music.state.playing),
    blinds && card('blinds', '🪟', '블라인드', `${blinds.state.position}%`, blinds.state.position === 0 ? '닫힘' : blinds.state.position === 100 ? '열림' : '일부 열림', blinds.state.position > 0),
    coffee && card('coffee', '☕', '커피 머신', COFFEE[coffee.state.state] || esc(coffee.state.state), '에스프레소 머신', coffee.state.state !== 'off'),
  ].filter(Boolean).join('');
}

function renderLog(events) {
  $('log').innerHTML = events.map((e) => `<li><div>${esc(e.command)}</div><div class="when">${new Date(e.at).toLocaleTimeString('ko-KR')} · ${esc(e.deviceId)} · ${esc(e.actor)}</div></li>`).join('') || '<li class="muted">아직 변경이 없어요</li>';
}

async function send() {
  const sentence = $('command').value.trim();
  if (!sentence) return;
  if (!token) { askForToken($('auth'), $('token'), $('save-token'), () => { token = staffToken(); void send(); }); return; }
  $('send').disabled = true;
  const res = await fetch('/control/api/commands', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ sentence }) });
  $('send').disabled = false;
  if (res.status === 401) { askForToken($('auth'), $('token'), $('save-token'), () => { token = staffToken(); void send(); }); return; }
  const body = await res.json();
  if (res.ok) {
    for (const d of body.changed) devices.set(d.id, d);
    render();
    $('feedback').innerHTML = `<div class="result">✔ ${esc(body.summary)}</div>`;
    $('command').value = '';
  } else {
    $('feedback').innerHTML = `<div class="error">${esc(body.message)}<div class="chips">${(body.suggestions || []).map((s) => `<button class="chip">${esc(s)}</button>`).join('')}</div></div>`;
    for (const c of $('feedback').querySelectorAll('.chip')) c.addEventListener('click', () => { $('command').value = c.textContent; void send(); });
  }
}

function connect() {
  const es = new EventSource('/control/api/stream');
  es.addEventListener('snapshot', (e) => { const b = JSON.parse(e.data); devices.clear(); for (const d of b.devices) devices.set(d.id, d); render(); renderLog(b.events); });
  es.addEventListener('devices', (e) => { const b = JSON.parse(e.data); for (const d of b.devices) devices.set(d.id, d); render(); renderLog(b.events); });
  es.onopen = () => { $('live').className = 'dot live'; $('live-text').textContent = '실시간'; };
  es.onerror = () => { $('live').className = 'dot down'; $('live-text').textContent = '다시 연결 중…'; };
}

const Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
if (!Recognition) {
  $('mic').disabled = true;
  $('mic-hint').textContent = '이 브라우저는 음성 인식을 지원하지 않아요. 명령을 적어 주세요. (Voice input is not available here: please type.)';
} else {
  $('mic-hint').textContent = '마이크를 누르고 말씀하세요 — 한국어 또는 English';
  const rec = new Recognition();
  rec.lang = 'ko-KR';
  rec.onresult = (e) => { $('command').value = e.results[0][0].transcript; void send(); };
  rec.onend = () => $('mic').classList.remove('listening');
  $('mic').addEventListener('click', () => { $('mic').classList.add('listening'); rec.start(); });
}
$('send').addEventListener('click', () => void send());
$('command').addEventListener('keydown', (e) => { if (e.key === 'Enter') void send(); });
connect();
