import assert from 'node:assert/strict';
import { parseOrder, type OrderLine } from './parser.js';
import { ORDER_SENTENCES } from './sentences.table.js';
import { MENU_BY_ID } from '../lib/menu.js';

function show(items: readonly OrderLine[]): string {
  return items.map((i) => [`${i.menuId}*${i.qty}`, i.temperature, i.size === 'regular' ? null : i.size, ...i.options].filter(Boolean).join(':')).join(' + ');
}

describe('café order parser', () => {
  it('has a table of at least 150 sentences, Korean and English', () => {
    assert.ok(ORDER_SENTENCES.length >= 150, `${ORDER_SENTENCES.length} sentences`);
    assert.ok(ORDER_SENTENCES.filter(([s]) => /[가-힣]/.test(s)).length >= 75);
    assert.ok(ORDER_SENTENCES.filter(([s]) => !/[가-힣]/.test(s)).length >= 75);
  });

  for (const [sentence, expected] of ORDER_SENTENCES) {
    it(`${sentence} → ${expected}`, () => {
      const r = parseOrder(sentence);
      if (expected.startsWith('?')) {
        assert.equal(r.ok, false, `parsed as ${r.ok ? show(r.items) : ''}`);
        if (r.ok) return;
        assert.ok(r.message.length > 0);
        assert.ok(r.suggestions.length > 0, 'suggestions');
        for (const id of expected.slice(1).trim().split(/\s+/).filter(Boolean)) {
          const m = MENU_BY_ID.get(id)!;
          assert.ok(r.suggestions.some((s) => s.includes(m.ko) || s.toLowerCase().includes(m.en.toLowerCase())), `${id} in ${JSON.stringify(r.suggestions)}`);
        }
        // every suggestion is itself an order the parser takes
        for (const s of r.suggestions) assert.equal(parseOrder(s).ok, true, s);
      } else {
        assert.equal(r.ok, true, r.ok ? '' : `${r.message} ${JSON.stringify(r.understood)}`);
        if (!r.ok) return;
        assert.equal(show(r.items), expected);
      }
    });
  }

  it('reports what it understood of an unparseable sentence', () => {
    const r = parseOrder('아이스 피자 두 잔');
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(r.understood.quantities, [2]);
    assert.deepEqual(r.understood.options, ['iced']);
    assert.deepEqual(r.understood.unknown, ['피자']);
  });

  it('answers the same every time and prices each line from the menu', () => {
    const a = parseOrder('아메리카노 두 잔이랑 카페라떼 한 잔 아이스로');
    assert.deepEqual(a, parseOrder('아메리카노 두 잔이랑 카페라떼 한 잔 아이스로'));
    assert.ok(a.ok);
    if (a.ok) assert.deepEqual(a.items.map((i) => i.unitPriceWon), [4500, 5000]);
  });
});
