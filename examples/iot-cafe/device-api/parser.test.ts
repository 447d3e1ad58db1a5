import assert from 'node:assert/strict';
import { parseCommand, type DeviceAction } from './parser.js';
import { DEVICE_COMMANDS } from './commands.table.js';

function show(actions: readonly DeviceAction[]): string {
  return actions.map((a) => {
    const zones = a.device === 'light' ? (a.zones!.length === 4 ? '[*]' : `[${a.zones!.join(',')}]`) : '';
    const parts = [
      ...Object.entries(a.set).map(([k, v]) => `${k}=${String(v)}`),
      ...Object.entries(a.delta ?? {}).map(([k, v]) => `${k}${v > 0 ? '+' : ''}${v}`),
    ].sort();
    return `${a.device}${zones} ${parts.join(' ')}`;
  }).join(' ; ');
}

describe('café device command parser', () => {
  it('has a table of at least 150 commands, Korean and English', () => {
    assert.ok(DEVICE_COMMANDS.length >= 150, `${DEVICE_COMMANDS.length} commands`);
    assert.ok(DEVICE_COMMANDS.filter(([s]) => /[가-힣]/.test(s)).length >= 75);
    assert.ok(DEVICE_COMMANDS.filter(([s]) => !/[가-힣]/.test(s)).length >= 75);
  });

  for (const [sentence, expected] of DEVICE_COMMANDS) {
    it(`${sentence} → ${expected}`, () => {
      const r = parseCommand(sentence);
      if (expected === '?') {
        assert.equal(r.ok, false, r.ok ? `parsed as ${show(r.actions)}` : '');
        if (r.ok) return;
        assert.ok(r.message.length > 0);
        assert.ok(r.suggestions.length > 0);
        for (const s of r.suggestions) assert.equal(parseCommand(s).ok, true, `suggestion ${s}`);
      } else {
        assert.equal(r.ok, true, r.ok ? '' : `${r.message} ${JSON.stringify(r.understood)}`);
        if (r.ok) assert.equal(show(r.actions), expected);
      }
    });
  }
});
