/**
 * The café end to end on one machine: a real MariaDB, the four services as processes (order-api
 * twice), nginx with the Ingress's path rules, and Debian's Chromium for the pages. Waits are
 * conditions with generous deadlines, never sleeps.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { chromium, type Browser } from 'playwright-core';
import { freePort, startCafe, type CafeStack } from './local/stack.js';
import { OrderWriter, type NewOrder, type Order } from './order-api/store.js';
import type { OrderLine } from './order-api/parser.js';
import type { Device } from './device-api/simulator.js';

const SCREENSHOTS = process.env.CAFE_SCREENSHOTS_DIR ?? fileURLToPath(new URL('../../.mixmesh/cafe-screenshots/', import.meta.url));

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, deadlineMs = 30_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  let delay = 25;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 500);
  }
}

/** server-sent events from a URL, collected until closed */
function listen(url: string): { events: { event: string; data: unknown }[]; close: () => void } {
  const events: { event: string; data: unknown }[] = [];
  const ctl = new AbortController();
  void (async () => {
    const res = await fetch(url, { signal: ctl.signal });
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += dec.decode(value, { stream: true });
      let at: number;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, at);
        buf = buf.slice(at + 2);
        const ev = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (ev && data) events.push({ event: ev, data: JSON.parse(data) });
      }
    }
  })().catch(() => undefined);
  return { events, close: () => ctl.abort() };
}

describe('npm run cafe (run.ts)', function () {
  this.timeout(180_000);
  const runTs = fileURLToPath(new URL('./run.ts', import.meta.url));
  const runCafe = (...args: string[]) => new Promise<{ code: number | null; stderr: string }>((ok) => {
    const p = spawn(process.execPath, ['--import', 'tsx', runTs, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('close', (code) => ok({ code, stderr }));
  });

  it('starts the whole café on --port, prints the URLs, and Ctrl-C stops everything', async () => {
    const port = await freePort();
    const p = spawn(process.execPath, ['--import', 'tsx', runTs, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((ok) => p.on('close', (code) => ok(code)));
    try {
      await until('the café to print its URL', async () => out.includes('Ctrl-C stops everything'), 150_000);
      assert.match(out, new RegExp(`IoT café is open: http://127\\.0\\.0\\.1:${port}/`));
      const logs = /logs: (\S+)/.exec(out)![1]!;
      assert.equal((await fetch(`http://127.0.0.1:${port}/order/api/menu`)).status, 200);
      p.kill('SIGINT');
      assert.equal(await exited, 0);
      // the entrance no longer answers and the temporary directory (database included) is gone
      await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
      assert.equal(existsSync(dirname(logs)), false);
    } finally {
      p.kill('SIGKILL');
    }
  });

  it('refuses a bad --port or an unknown argument before starting anything', async () => {
    const bad = await runCafe('--port', '99999');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--port 99999: expected an integer from 1 to 65535/);
    const unknown = await runCafe('--prot', '80');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown argument --prot/);
  });
});

describe('IoT café on a real MariaDB, behind nginx', function () {
  this.timeout(240_000);
  let cafe: CafeStack;
  let db: mysql.Connection;
  const staff = () => ({ 'content-type': 'application/json', authorization: `Bearer ${cafe.staffToken}` });
  const post = (url: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(url, { method: 'POST', headers, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: (await r.json().catch(() => null)) as Record<string, unknown> }));

  before(async () => {
    cafe = await startCafe({ orderApiReplicas: 2, kitchenResyncMs: 1000, logLevel: 'warn' });
    db = await mysql.createConnection({ host: '127.0.0.1', port: cafe.db.port, user: cafe.db.user, password: cafe.db.password, database: cafe.db.database });
  });
  after(async () => {
    await db?.end().catch(() => undefined);
    await cafe?.stop();
  });

  it('answers /healthz and /readyz on every service, and routes by path like the Ingress', async () => {
    for (const [name, ports] of Object.entries(cafe.ports)) {
      for (const p of ports) {
        for (const path of ['/healthz', '/readyz']) assert.equal((await fetch(`http://127.0.0.1:${p}${path}`)).status, 200, `${name}:${p}${path}`);
      }
    }
    assert.match(await (await fetch(`${cafe.url}/`)).text(), /IoT 카페/);
    assert.match(await (await fetch(`${cafe.url}/kitchen/`)).text(), /주방 디스플레이/);
    assert.match(await (await fetch(`${cafe.url}/control/`)).text(), /매장 관리/);
    assert.equal(((await (await fetch(`${cafe.url}/order/api/menu`)).json()) as { items: unknown[] }).items.length, 15);
    // "/orders" is not under the "/order" prefix: it falls to the kiosk, which has no such page
    assert.equal((await fetch(`${cafe.url}/orders`)).status, 404);
  });

  it('shows on the kitchen display every order placed through either order-api replica', async () => {
    const stream = listen(`${cafe.url}/kitchen/api/stream`);
    try {
      await until('the kitchen stream snapshot', async () => stream.events.some((e) => e.event === 'snapshot'));
      const sentences = ['아메리카노 두 잔', 'two large iced lattes and a croissant', '카페라떼 한 잔 아이스로', '크루아상 세 개', 'an americano', '녹차라떼 두 잔이랑 베이글 하나'];
      const placed: Order[] = [];
      for (const [i, sentence] of sentences.entries()) {
        const port = cafe.ports['order-api'][i % 2]!;
        const r = await post(`http://127.0.0.1:${port}/order/api/orders`, { sentence, table: String(i + 1) });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        placed.push(r.body as unknown as Order);
      }
      assert.deepEqual(new Set(placed.map((o) => o.takenBy)), new Set(['order-api-1', 'order-api-2']));
      // live: every order arrives on the kitchen's event stream
      await until('all orders on the kitchen stream', async () => placed.every((o) => stream.events.some((e) => e.event === 'order' && (e.data as Order).id === o.id)));
      const board = (await (await fetch(`${cafe.url}/kitchen/api/orders`)).json()) as { orders: Order[] };
      for (const o of placed) assert.ok(board.orders.some((b) => b.id === o.id && b.status === 'new'), `order ${o.id} on the board`);
      const [rows] = await db.query('SELECT COUNT(*) AS n FROM order_items WHERE order_id IN (?)', [placed.map((o) => o.id)]);
      assert.equal((rows as { n: number }[])[0]!.n, 8);
    } finally {
      stream.close();
    }
  });

  it('moves an order new → preparing → ready → served from the kitchen, refusing stale and unauthenticated moves', async () => {
    const created = await post(`${cafe.url}/order/api/orders`, { sentence: '카푸치노 한 잔', table: '9' });
    const id = (created.body as unknown as Order).id;
    const progress = listen(`${cafe.url}/order/api/orders/${id}/events`);
    try {
      assert.equal((await post(`${cafe.url}/kitchen/api/orders/${id}/advance`, { from: 'new' })).status, 401);
      const seen = (status: string) => progress.events.some((e) => (e.data as { status: string }).status === status);
      await until('the customer stream to say new', async () => seen('new'));
      for (const [from, to] of [['new', 'preparing'], ['preparing', 'ready'], ['ready', 'served']] as const) {
        const r = await post(`${cafe.url}/kitchen/api/orders/${id}/advance`, { from }, staff());
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.status, to);
        // the customer's page hears each step, whichever replica serves its stream
        await until(`the customer stream to say ${to}`, async () => seen(to));
      }
      const stale = await post(`${cafe.url}/kitchen/api/orders/${id}/advance`, { from: 'new' }, staff());
      assert.equal(stale.status, 409);
      assert.deepEqual(progress.events.map((e) => (e.data as { status: string }).status), ['new', 'preparing', 'ready', 'served']);
      const [rows] = await db.query('SELECT status FROM orders WHERE id = ?', [id]);
      assert.equal((rows as { status: string }[])[0]!.status, 'served');
      await until('the served order to leave the board', async () => !((await (await fetch(`${cafe.url}/kitchen/api/orders`)).json()) as { orders: Order[] }).orders.some((o) => o.id === id));
    } finally {
      progress.close();
    }
  });

  it('answers an unparseable order with what it understood and suggestions, storing nothing', async () => {
    const [before] = await db.query('SELECT COUNT(*) AS n FROM orders');
    const r = await post(`${cafe.url}/order/api/orders`, { sentence: '아메리카나 두 잔', table: '3' });
    assert.equal(r.status, 422);
    assert.deepEqual((r.body.understood as { quantities: number[] }).quantities, [2]);
    assert.ok((r.body.suggestions as string[]).some((s) => s.includes('아메리카노')));
    const bad = await post(`${cafe.url}/order/api/orders`, { sentence: 42 });
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.message), /sentence/);
    // the order route runs on node:http ahead of express: the same problem+json answers
    const raw = (body: string, type = 'application/json') => fetch(`${cafe.url}/order/api/orders`, { method: 'POST', headers: { 'content-type': type }, body });
    const broken = await raw('{"sentence": "아메리카노 두 잔"');
    assert.equal(broken.status, 400);
    assert.match(broken.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.deepEqual(await broken.json(), { status: 400, code: 'BAD_REQUEST', message: 'the body is not valid JSON' });
    const big = await raw(JSON.stringify({ sentence: '아메리카노 두 잔', table: '3', pad: 'x'.repeat(20_000) }));
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { code: string }).code, 'PAYLOAD_TOO_LARGE');
    const text = await raw('아메리카노 두 잔', 'text/plain');
    assert.equal(text.status, 400);
    assert.match(((await text.json()) as { message: string }).message, /body\.sentence/);
    const [after] = await db.query('SELECT COUNT(*) AS n FROM orders');
    assert.deepEqual(after, before);
  });

  it('group-commits concurrent orders: one transaction each batch, every caller its own order, a bad order fails alone', async () => {
    const pool = mysql.createPool({ host: '127.0.0.1', port: cafe.db.port, user: cafe.db.user, password: cafe.db.password, database: cafe.db.database, connectionLimit: 1, multipleStatements: true });
    try {
      // one transaction at a time: while the first is on its way, the others queue into the next
      const writer = new OrderWriter(pool, { maxInFlight: 1, maxBatch: 64 });
      const line = (menuId: string, qty: number): OrderLine => ({ menuId, ko: menuId, en: menuId, qty, temperature: null, size: 'regular', options: ['extra-shot'], unitPriceWon: 1000 });
      const orders: NewOrder[] = Array.from({ length: 12 }, (_, i) => ({ table: `g${i}`, sentence: `batch ${i}`, lang: 'en', takenBy: 'writer-test', items: [line('americano', i + 1), line('croissant', 1)] }));
      // a menu id the database does not know: its INSERT fails (foreign key)
      orders.splice(5, 0, { table: 'bad', sentence: 'batch bad', lang: 'en', takenBy: 'writer-test', items: [line('no-such-item', 1)] });
      const results = await Promise.allSettled(orders.map((o) => writer.write(o)));
      assert.equal(results.filter((r) => r.status === 'rejected').length, 1);
      assert.equal(results[5]!.status, 'rejected');
      const written = results.filter((r): r is PromiseFulfilledResult<Order> => r.status === 'fulfilled').map((r) => r.value);
      assert.equal(new Set(written.map((o) => o.id)).size, 12, 'an id each');
      const [rows] = await db.query("SELECT o.id, o.table_no, i.menu_id, i.qty, i.options FROM orders o JOIN order_items i ON i.order_id = o.id WHERE o.taken_by = 'writer-test' ORDER BY o.id, i.id");
      const byId = new Map<number, { table_no: string; menu_id: string; qty: number; options: string }[]>();
      for (const r of rows as { id: number; table_no: string; menu_id: string; qty: number; options: string }[]) byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
      assert.equal(byId.size, 12, 'nothing of the bad order stored');
      for (const o of written) {
        // each caller's id is its own order's row, with its own items
        assert.deepEqual(byId.get(o.id)!.map((r) => [r.table_no, r.menu_id, r.qty, r.options]), [[o.table, 'americano', o.items[0]!.qty, 'extra-shot'], [o.table, 'croissant', 1, 'extra-shot']]);
      }
    } finally {
      await pool.end();
    }
  });

  it('changes the simulated devices on command, audits every change, and refuses the rest without a change', async () => {
    const stream = listen(`${cafe.url}/control/api/stream`);
    try {
      const [[{ n: auditBefore }]] = (await db.query('SELECT COUNT(*) AS n FROM device_events')) as unknown as [[{ n: number }]];
      const cmds = ['2번 구역 조명 꺼줘', '에어컨 22도로 맞춰', 'turn off the music', 'dim the lights in zone 1 to 30%', '블라인드 반만 내려줘', '커피머신 청소해줘'];
      for (const sentence of cmds) {
        const r = await post(`${cafe.url}/control/api/commands`, { sentence }, staff());
        assert.equal(r.status, 200, `${sentence}: ${JSON.stringify(r.body)}`);
      }
      const devices = ((await (await fetch(`${cafe.url}/control/api/devices`)).json()) as { devices: Device[] }).devices;
      const state = (id: string) => devices.find((d) => d.id === id)!.state;
      assert.equal(state('light-2').on, false);
      assert.deepEqual(state('light-1'), { on: true, brightness: 30 });
      assert.deepEqual(state('aircon'), { on: true, mode: 'cool', temperature: 22 });
      assert.equal(state('music').playing, false);
      assert.equal(state('blinds').position, 50);
      assert.equal(state('coffee').state, 'cleaning');
      // one audit row per changed device (music was already off: no row for it)
      const [events] = await db.query('SELECT device_id, command, JSON_EXTRACT(after_state, "$.on") AS after_on FROM device_events WHERE id > (SELECT COALESCE(MAX(id), 0) - 5 FROM device_events) ORDER BY id');
      assert.deepEqual((events as { device_id: string }[]).map((e) => e.device_id), ['light-2', 'aircon', 'light-1', 'blinds', 'coffee']);
      const [[{ n: auditAfter }]] = (await db.query('SELECT COUNT(*) AS n FROM device_events')) as unknown as [[{ n: number }]];
      assert.equal(auditAfter - auditBefore, 5);
      // the manager's page heard about each change live
      await until('device events on the stream', async () => stream.events.filter((e) => e.event === 'devices').length >= 5);
      // refused: out of range, unknown zone, no token — nothing written
      assert.equal((await post(`${cafe.url}/control/api/commands`, { sentence: '에어컨 50도로 맞춰' }, staff())).status, 422);
      assert.equal((await post(`${cafe.url}/control/api/commands`, { sentence: '7번 구역 조명 꺼줘' }, staff())).status, 422);
      assert.equal((await post(`${cafe.url}/control/api/commands`, { sentence: '1번 구역 조명 꺼줘' })).status, 401);
      const [[{ n: auditEnd }]] = (await db.query('SELECT COUNT(*) AS n FROM device_events')) as unknown as [[{ n: number }]];
      assert.equal(auditEnd, auditAfter);
    } finally {
      stream.close();
    }
  });

  it('loses nothing when each service restarts', async () => {
    const order = (await post(`${cafe.url}/order/api/orders`, { sentence: '바닐라라떼 두 잔', table: '5' })).body as unknown as Order;
    await post(`${cafe.url}/control/api/commands`, { sentence: '3번 구역 조명 밝기 40%로' }, staff());
    for (const name of ['order-api', 'device-api', 'kitchen-display', 'kiosk-ui'] as const) await cafe.restart(name);
    const again = (await (await fetch(`${cafe.url}/order/api/orders/${order.id}`)).json()) as Order;
    assert.equal(again.status, 'new');
    assert.deepEqual(again.items.map((i) => [i.menuId, i.qty]), [['vanilla-latte', 2]]);
    // the restarted kitchen display read the active orders back from order-api
    await until('the order back on the restarted kitchen display', async () => ((await (await fetch(`${cafe.url}/kitchen/api/orders`)).json()) as { orders: Order[] }).orders.some((o) => o.id === order.id));
    const devices = ((await (await fetch(`${cafe.url}/control/api/devices`)).json()) as { devices: Device[] }).devices;
    assert.deepEqual(devices.find((d) => d.id === 'light-3')!.state, { on: true, brightness: 40 });
    assert.equal(devices.find((d) => d.id === 'light-2')!.state.on, false);
    // the migrations ran again at each start and changed nothing
    const [m] = await db.query('SELECT version FROM schema_migrations ORDER BY version');
    assert.deepEqual((m as { version: number }[]).map((r) => r.version), [1, 2]);
  });

  describe('in the browser (Debian Chromium, playwright-core)', () => {
    let browser: Browser;
    before(async () => {
      browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--lang=ko-KR'] });
      mkdirSync(SCREENSHOTS, { recursive: true });
    });
    after(async () => { await browser?.close(); });

    it('a customer orders "아메리카노 두 잔" and the kitchen shows it; the manager turns zone 2 off', async () => {
      const ctx = await browser.newContext({ viewport: { width: 1366, height: 860 }, locale: 'ko-KR', deviceScaleFactor: 1 });
      try {
        const kitchen = await ctx.newPage();
        await kitchen.goto(`${cafe.url}/kitchen/#staff=${cafe.staffToken}`);
        await kitchen.locator('#live.live').waitFor({ timeout: 30_000 });

        const kiosk = await ctx.newPage();
        await kiosk.goto(`${cafe.url}/?table=7`);
        await kiosk.locator('.menu-item').first().waitFor({ timeout: 30_000 });
        await kiosk.fill('#sentence', '아메리카노 두 잔');
        await kiosk.click('#parse');
        await kiosk.locator('#confirm:not([hidden])').waitFor({ timeout: 30_000 });
        assert.match(await kiosk.locator('#lines').innerText(), /아메리카노[\s\S]*× 2/);
        assert.match(await kiosk.locator('#total').innerText(), /9,000원/);
        await kiosk.screenshot({ path: join(SCREENSHOTS, 'kiosk-confirm.png') });
        const confirmedAt = Date.now();
        await kiosk.click('#order');
        await kiosk.locator('#order-no').filter({ hasText: /^#\d+$/ }).waitFor({ timeout: 30_000 });
        const orderNo = (await kiosk.locator('#order-no').innerText()).replace('#', '');
        assert.match(orderNo, /^\d+$/);

        // the kitchen page shows the new ticket (live, no reload)
        const ticket = kitchen.locator(`.ticket[data-order="${orderNo}"]`);
        await ticket.waitFor({ timeout: 30_000 });
        const seenMs = Date.now() - confirmedAt;
        assert.match(await ticket.innerText(), /2×\s*아메리카노/);
        assert.match(await ticket.innerText(), /테이블 7/);
        process.stderr.write(`      (kitchen showed order #${orderNo} ${seenMs} ms after the customer confirmed)\n`);
        await kiosk.locator('#order-status[data-status="new"]').waitFor({ timeout: 30_000 });
        await kiosk.screenshot({ path: join(SCREENSHOTS, 'kiosk.png') });

        // the kitchen starts it; the customer's page follows
        await ticket.locator('button[data-from="new"]').click();
        await kitchen.locator(`#col-preparing .ticket[data-order="${orderNo}"]`).waitFor({ timeout: 30_000 });
        await kiosk.locator('#order-status[data-status="preparing"]').waitFor({ timeout: 30_000 });
        await kitchen.evaluate("window.scrollTo(0, 0); for (const c of document.querySelectorAll('.column')) c.scrollTop = 0");
        await kitchen.screenshot({ path: join(SCREENSHOTS, 'kitchen.png') });

        const control = await ctx.newPage();
        await control.goto(`${cafe.url}/control/#staff=${cafe.staffToken}`);
        await control.locator('.zone[data-zone="1"]').waitFor({ timeout: 30_000 });
        await control.fill('#command', '2번 구역 조명 켜줘');
        await control.click('#send');
        await control.locator('.zone[data-zone="2"][data-on="true"]').waitFor({ timeout: 30_000 });
        await control.fill('#command', '2번 구역 조명 꺼줘');
        await control.click('#send');
        await control.locator('.zone[data-zone="2"][data-on="false"]').waitFor({ timeout: 30_000 });
        assert.match(await control.locator('.zone[data-zone="2"]').innerText(), /꺼짐/);
        assert.match(await control.locator('#feedback').innerText(), /2번 구역 조명 꺼짐/);
        await control.screenshot({ path: join(SCREENSHOTS, 'control.png') });
        const [rows] = await db.query("SELECT JSON_EXTRACT(state, '$.on') AS on_ FROM devices WHERE id = 'light-2'");
        assert.equal(String((rows as { on_: unknown }[])[0]!.on_), 'false');
      } finally {
        await ctx.close();
      }
    });
  });
});
