/**
 * The manager's device commands, Korean or English, typed or from a speech engine, into device
 * actions. Pure: no I/O.
 *
 * A sentence is cut into clauses (Korean: after each verb, since Korean puts the verb last;
 * English: at "and", "then", commas). Each clause names a device (or inherits the previous
 * clause's: "에어컨 켜고 22도로 맞춰"), maybe zones, a value with its unit, and a verb; the verb's
 * meaning depends on the device ("올려" raises the blinds but turns the volume up). Values are
 * checked against what the device can do; anything out of range or unread is an error with
 * suggestions, and nothing changes.
 */
export type DeviceKind = 'light' | 'aircon' | 'music' | 'blinds' | 'coffee';
export const ZONES = [1, 2, 3, 4] as const;
export const AIRCON_MODES = ['cool', 'heat', 'dry', 'fan', 'auto'] as const;
export const GENRES = ['jazz', 'classical', 'lofi', 'pop', 'bossa-nova'] as const;
export const TEMPERATURE_RANGE = [16, 30] as const;

export interface DeviceAction {
  device: DeviceKind;
  /** lights only: the zones, sorted */
  zones?: number[];
  /** absolute values to set */
  set: Record<string, boolean | number | string>;
  /** relative changes, clamped by the simulator */
  delta?: Record<string, number>;
}

export type CommandResult =
  | { ok: true; lang: 'ko' | 'en'; actions: DeviceAction[]; summary: string }
  | { ok: false; lang: 'ko' | 'en'; message: string; understood: { devices: DeviceKind[]; zones: number[]; values: number[] }; suggestions: string[] };

type Verb = 'on' | 'off' | 'up' | 'down' | 'open' | 'close' | 'set' | 'clean' | 'next' | 'hot' | 'cold';

interface Clause {
  device: DeviceKind | null;
  zones: number[];
  allZones: boolean;
  verb: Verb | null;
  percent: number | null;
  degrees: number | null;
  bare: number | null;
  mode: (typeof AIRCON_MODES)[number] | null;
  genre: (typeof GENRES)[number] | null;
  half: boolean;
}

// ---------------------------------------------------------------- vocabulary (Korean, spaceless)
const KO_DEVICES: [string, DeviceKind][] = [
  ['커피머신', 'coffee'], ['커피머쉰', 'coffee'], ['커피기계', 'coffee'], ['커피메이커', 'coffee'], ['에스프레소머신', 'coffee'], ['머신', 'coffee'],
  ['에어컨디셔너', 'aircon'], ['냉난방기', 'aircon'], ['냉방기', 'aircon'], ['에어컨', 'aircon'], ['에어콘', 'aircon'], ['에이컨', 'aircon'], ['에어켠', 'aircon'], ['온도', 'aircon'],
  ['블라인드', 'blinds'], ['브라인드', 'blinds'], ['블라인더', 'blinds'], ['블라인', 'blinds'], ['커튼', 'blinds'], ['차양', 'blinds'],
  ['음악', 'music'], ['노래', 'music'], ['뮤직', 'music'], ['스피커', 'music'], ['볼륨', 'music'], ['소리', 'music'], ['비지엠', 'music'], ['bgm', 'music'], ['음량', 'music'],
  ['조명', 'light'], ['초명', 'light'], ['좀명', 'light'], ['전등', 'light'], ['라이트', 'light'], ['램프', 'light'], ['밝기', 'light'], ['발기', 'light'], ['불', 'light'],
];
const KO_VERBS: [string, Verb][] = [
  ['일시정지', 'off'], ['정지', 'off'], ['중지', 'off'], ['그만', 'off'], ['멈춰', 'off'], ['멈추', 'off'], ['꺼', 'off'], ['끄', 'off'], ['거줘', 'off'], ['오프', 'off'],
  ['켜', 'on'], ['키고', 'on'], ['켜져', 'on'], ['틀어', 'on'], ['틀고', 'on'], ['재생', 'on'], ['가동', 'on'], ['작동', 'on'], ['돌려', 'on'], ['시작', 'on'], ['예열', 'on'],
  ['열어', 'open'], ['열고', 'open'], ['열기', 'open'], ['걷어', 'open'],
  ['닫아', 'close'], ['닫고', 'close'], ['닫기', 'close'], ['쳐줘', 'close'],
  ['올려', 'up'], ['올리', 'up'], ['높여', 'up'], ['높이', 'up'], ['키워', 'up'], ['키우', 'up'], ['밝게', 'up'], ['세게', 'up'], ['크게', 'up'],
  ['내려', 'down'], ['내리', 'down'], ['낮춰', 'down'], ['낮추', 'down'], ['줄여', 'down'], ['줄이', 'down'], ['어둡게', 'down'], ['약하게', 'down'], ['작게', 'down'],
  ['맞춰', 'set'], ['맞추', 'set'], ['설정', 'set'], ['바꿔', 'set'], ['바꾸', 'set'], ['변경', 'set'], ['해줘', 'set'], ['해주세요', 'set'], ['해', 'set'],
  ['청소', 'clean'], ['세척', 'clean'],
  ['다음곡', 'next'], ['다음노래', 'next'], ['넘겨', 'next'], ['스킵', 'next'],
  ['더워', 'hot'], ['덥다', 'hot'], ['더운', 'hot'], ['추워', 'cold'], ['춥다', 'cold'], ['추운', 'cold'],
];
const KO_MODES: [string, (typeof AIRCON_MODES)[number]][] = [['냉방', 'cool'], ['난방', 'heat'], ['제습', 'dry'], ['송풍', 'fan'], ['자동', 'auto']];
const KO_GENRES: [string, (typeof GENRES)[number]][] = [['재즈', 'jazz'], ['클래식', 'classical'], ['로파이', 'lofi'], ['팝송', 'pop'], ['보사노바', 'bossa-nova']];
const KO_NAMED_ZONES: [string, number][] = [['창가', 1], ['홀', 2], ['테라스', 3], ['카운터', 4]];
const KO_ALL = ['전체', '모든', '모두', '전부', '다'];
const SINO: Record<string, number> = { 일: 1, 이: 2, 삼: 3, 사: 4, 오: 5, 육: 6, 칠: 7, 팔: 8, 구: 9 };
const NATIVE_ORDINAL: Record<string, number> = { 첫: 1, 두: 2, 세: 3, 네: 4 };

function sinoNumber(word: string): number | null {
  if (/^\d+$/.test(word)) return Number(word);
  if (word === '백') return 100;
  const m = /^([이삼사오육칠팔구])?(십)?([일이삼사오육칠팔구])?$/.exec(word);
  if (!m || (!m[2] && !m[3] && !m[1])) return null;
  if (!m[2]) return m[3] ? null : SINO[m[1]!]!;
  return (m[1] ? SINO[m[1]]! : 1) * 10 + (m[3] ? SINO[m[3]]! : 0);
}

function emptyClause(): Clause {
  return { device: null, zones: [], allZones: false, verb: null, percent: null, degrees: null, bare: null, mode: null, genre: null, half: false };
}

function firstOf<T>(text: string, table: readonly [string, T][]): { at: number; len: number; value: T } | null {
  let best: { at: number; len: number; value: T } | null = null;
  for (const [w, v] of table) {
    const at = text.indexOf(w);
    if (at >= 0 && (!best || at < best.at || (at === best.at && w.length > best.len))) best = { at, len: w.length, value: v };
  }
  return best;
}

function parseKoreanCommand(sentence: string): CommandResult {
  const compact = sentence.toLowerCase().replace(/[\s.!?~"]/g, '').replace(/퍼센트|퍼샌트|프로|퍼/g, '%');
  // cut after each verb (and its ending), so "조명 끄고 음악 켜줘" is two clauses
  const verbRe = new RegExp(`(${KO_VERBS.map(([w]) => w).sort((a, b) => b.length - a.length).join('|')})(주세요|줘요|줘|줄래요|줄래|고|라|자|기|요|봐)?`, 'g');
  const pieces: string[] = [];
  let last = 0;
  const standsAlone = (piece: string) => Boolean(firstOf(piece, KO_DEVICES) || firstOf(piece, KO_MODES) || firstOf(piece, KO_GENRES) || /\d|번|구역/.test(piece) || firstOf(piece, KO_NAMED_ZONES));
  const cutAt = (end: number) => {
    const piece = compact.slice(last, end);
    // a piece naming nothing ("해줘" after "청소") finishes the clause before it
    if (pieces.length > 0 && !standsAlone(piece)) pieces[pieces.length - 1] += piece;
    else if (piece) pieces.push(piece);
    last = end;
  };
  for (let m = verbRe.exec(compact); m; m = verbRe.exec(compact)) {
    // "해…" only ends a clause when a value came before it ("22도로 해줘")
    if (m[1]!.startsWith('해') && !/\d|도로|로$/.test(compact.slice(last, m.index))) continue;
    cutAt(m.index + m[0].length);
  }
  if (last < compact.length) cutAt(compact.length);
  const clauses = pieces.map(readKoClause);
  return finish('ko', clauses, sentence);
}

function readKoClause(text: string): Clause {
  const c = emptyClause();
  let rest = text;
  // devices: the first named in the clause; the others only as a hint ("조명 밝기")
  const dev = firstOf(rest, KO_DEVICES);
  if (dev) c.device = dev.value;
  const mode = firstOf(rest.replace(/냉난방기|냉방기/g, ' '), KO_MODES);
  if (mode) { c.mode = mode.value; c.device ??= 'aircon'; }
  const genre = firstOf(rest, KO_GENRES);
  if (genre) { c.genre = genre.value; c.device ??= 'music'; }
  // zones: "2번 구역", "2구역", "두 번째 구역", "구역 2", "1번이랑 2번", named zones
  const zoneRe = /(\d+|[일이삼사])번(?!째)|(\d+|첫|두|세|네)번째|(\d+)(?:구역|존)|(?:구역|존)(\d+)/g;
  for (let m = zoneRe.exec(rest); m; m = zoneRe.exec(rest)) {
    const word = m[1] ?? m[2] ?? m[3] ?? m[4]!;
    const n = /^\d+$/.test(word) ? Number(word) : SINO[word] ?? NATIVE_ORDINAL[word] ?? null;
    if (n !== null) c.zones.push(n);
  }
  rest = rest.replace(zoneRe, ' ');
  for (const [w, z] of KO_NAMED_ZONES) if (rest.includes(w)) { c.zones.push(z); rest = rest.split(w).join(' '); }
  if (c.zones.length > 0 && !c.device) c.device = 'light';
  if (KO_ALL.some((w) => rest.includes(w))) c.allZones = true;
  // values with units
  const pct = /(\d+|[일이삼사오육칠팔구십백]+)%/.exec(rest);
  if (pct) c.percent = sinoNumber(pct[1]!);
  const deg = /(\d+|[일이삼사오육칠팔구십]+)도/.exec(rest);
  if (deg) { c.degrees = sinoNumber(deg[1]!); c.device ??= 'aircon'; }
  const bare = /(밝기|볼륨|음량|소리)(\d+)/.exec(rest) ?? /(\d+)(?:으로|로)/.exec(rest);
  if (bare && c.percent === null && c.degrees === null) c.bare = Number(bare[2] ?? bare[1]);
  if (/반만|반쯤|절반|반으로/.test(rest)) c.half = true;
  if (/최대/.test(rest)) c.percent = 100;
  if (/최소/.test(rest)) c.percent = c.device === 'light' ? 10 : 0;
  // a specific verb wins over a generic "set" ("밝게 해줘")
  const verbText = rest.replace(/밝기|발기/g, ' ');
  const verb = firstOf(verbText, KO_VERBS.filter(([, v]) => v !== 'set')) ?? firstOf(verbText, KO_VERBS);
  if (verb) c.verb = verb.value;
  // "청소 시작": cleaning wins over starting
  if (KO_VERBS.some(([w, v]) => v === 'clean' && rest.includes(w))) c.verb = 'clean';
  if (!c.device && c.verb === 'next') c.device = 'music';
  return c;
}

// ---------------------------------------------------------------- vocabulary (English, words)
const EN_DEVICES: [string, DeviceKind][] = [
  ['coffee machine', 'coffee'], ['coffee maker', 'coffee'], ['espresso machine', 'coffee'], ['coffee machines', 'coffee'], ['machine', 'coffee'],
  ['air conditioner', 'aircon'], ['air conditioning', 'aircon'], ['air con', 'aircon'], ['aircon', 'aircon'], ['a c', 'aircon'], ['ac', 'aircon'], ['a/c', 'aircon'], ['hvac', 'aircon'], ['thermostat', 'aircon'], ['temperature', 'aircon'], ['heater', 'aircon'], ['heating', 'aircon'], ['cooling', 'aircon'],
  ['blinds', 'blinds'], ['blind', 'blinds'], ['blines', 'blinds'], ['shades', 'blinds'], ['shade', 'blinds'], ['curtains', 'blinds'], ['curtain', 'blinds'],
  ['music', 'music'], ['song', 'music'], ['songs', 'music'], ['playlist', 'music'], ['speaker', 'music'], ['speakers', 'music'], ['volume', 'music'], ['radio', 'music'], ['track', 'music'],
  ['lights', 'light'], ['light', 'light'], ['lice', 'light'], ['lamps', 'light'], ['lamp', 'light'], ['lighting', 'light'], ['brightness', 'light'], ['flights', 'light'],
];
const EN_VERBS: [string, Verb][] = [
  ['turn on', 'on'], ['switch on', 'on'], ['turn it on', 'on'], ['on', 'on'], ['start', 'on'], ['play', 'on'], ['resume', 'on'], ['put on', 'on'], ['warm up', 'on'],
  ['turn off', 'off'], ['switch off', 'off'], ['turn of', 'off'], ['turn it off', 'off'], ['off', 'off'], ['stop', 'off'], ['pause', 'off'], ['kill', 'off'], ['shut', 'off'], ['mute', 'off'],
  ['open', 'open'], ['raise', 'open'], ['close', 'close'], ['shut the blinds', 'close'],
  ['dim', 'down'], ['darker', 'down'], ['lower', 'down'], ['turn down', 'down'], ['down', 'down'], ['quieter', 'down'], ['softer', 'down'], ['cooler', 'down'], ['colder', 'down'],
  ['brighten', 'up'], ['brighter', 'up'], ['turn up', 'up'], ['up', 'up'], ['louder', 'up'], ['warmer', 'up'], ['increase', 'up'], ['decrease', 'down'],
  ['set', 'set'], ['make', 'set'], ['change', 'set'], ['adjust', 'set'], ['put', 'set'],
  ['clean', 'clean'], ['cleaning', 'clean'], ['descale', 'clean'], ['rinse', 'clean'],
  ['next', 'next'], ['skip', 'next'],
  ["it's hot", 'hot'], ['too hot', 'hot'], ["it's cold", 'cold'], ['too cold', 'cold'], ['freezing', 'cold'],
];
const EN_MODES: [string, (typeof AIRCON_MODES)[number]][] = [['cool mode', 'cool'], ['cool', 'cool'], ['heat', 'heat'], ['heat mode', 'heat'], ['dry', 'dry'], ['dehumidify', 'dry'], ['fan', 'fan'], ['fan mode', 'fan'], ['auto', 'auto'], ['automatic', 'auto']];
const EN_GENRES: [string, (typeof GENRES)[number]][] = [['jazz', 'jazz'], ['classical', 'classical'], ['lofi', 'lofi'], ['lo fi', 'lofi'], ['pop', 'pop'], ['bossa nova', 'bossa-nova']];
const EN_NAMED_ZONES: [string, number][] = [['window', 1], ['hall', 2], ['terrace', 3], ['counter', 4]];
const EN_NUM: Record<string, number> = {
  zero: 0, one: 1, two: 2, to: 2, too: 2, three: 3, four: 4, for: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, eleven: 11, twelve: 12,
  thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18, nineteen: 19, twenty: 20, thirty: 30, forty: 40, fifty: 50,
  sixty: 60, seventy: 70, eighty: 80, ninety: 90, hundred: 100,
};

/** "twenty two" → 22, "30" → 30, in a word list; returns the numbers with their word positions */
function enNumbers(words: string[], weak: boolean): { at: number; n: number }[] {
  const out: { at: number; n: number }[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (/^\d+$/.test(w)) { out.push({ at: i, n: Number(w) }); continue; }
    if (!(w in EN_NUM) || (!weak && ['to', 'too', 'for'].includes(w))) continue;
    let n = EN_NUM[w]!;
    const next = words[i + 1];
    if (n >= 20 && n % 10 === 0 && n < 100 && next && next in EN_NUM && EN_NUM[next]! < 10 && !['to', 'too', 'for'].includes(next)) { n += EN_NUM[next]!; i++; }
    out.push({ at: i, n });
  }
  return out;
}

function hasPhrase(line: string, phrase: string): number {
  return line.indexOf(` ${phrase} `);
}

function firstPhrase<T>(line: string, table: readonly [string, T][]): { at: number; value: T; phrase: string } | null {
  let best: { at: number; value: T; phrase: string } | null = null;
  for (const [p, v] of table) {
    const at = hasPhrase(line, p);
    if (at >= 0 && (!best || at < best.at || (at === best.at && p.length > best.phrase.length))) best = { at, value: v, phrase: p };
  }
  return best;
}

function parseEnglishCommand(sentence: string): CommandResult {
  const text = sentence.toLowerCase().replace(/[’']/g, "'").replace(/(\d+)\s*%/g, '$1 percent').replace(/(\d+)\s*°c?/g, '$1 degrees')
    .replace(/\ba\.c\.?/g, 'ac').replace(/[^a-z0-9'/, -]/g, ' ').replace(/,/g, ' , ');
  const words = text.split(/\s+/).filter(Boolean);
  // clauses at connectors; a piece with neither device nor verb joins the one before ("zones 1 and 2")
  const raw: string[][] = [[]];
  for (const w of words) {
    if (['and', 'then', ',', 'also', 'plus'].includes(w)) raw.push([]);
    else raw[raw.length - 1]!.push(w);
  }
  const pieces: string[][] = [];
  for (const r of raw.filter((p) => p.length > 0)) {
    const line = ` ${r.join(' ')} `;
    const meaningful = firstPhrase(line, EN_DEVICES) || firstPhrase(line, EN_VERBS) || firstPhrase(line, EN_GENRES);
    if (!meaningful && pieces.length > 0) pieces[pieces.length - 1]!.push(...r);
    else pieces.push(r);
  }
  return finish('en', pieces.map(readEnClause), sentence);
}

function readEnClause(words: string[]): Clause {
  const c = emptyClause();
  let line = ` ${words.join(' ')} `;
  const dev = firstPhrase(line, EN_DEVICES);
  if (dev) c.device = dev.value;
  // zones: "zone 2", "zones 1 and 2", "zone two", "zone to" (heard for "zone two"), "area 3", named zones
  const zoneAt = words.findIndex((w) => /^(zone|zones|zoned|area|areas|section|sections|soon)$/.test(w));
  if (zoneAt >= 0) {
    // the numbers right after "zone"; "zone to" is how a speech engine often writes "zone two"
    let k = zoneAt + 1;
    for (; k < words.length; k++) {
      const w = words[k]!;
      if (/^\d+$/.test(w)) c.zones.push(Number(w));
      else if (w in EN_NUM && (k === zoneAt + 1 || !['to', 'too', 'for'].includes(w))) c.zones.push(EN_NUM[w]!);
      else break;
    }
    line = ` ${words.filter((_, i) => i < zoneAt || i >= k).join(' ')} `;
    if (c.zones.length > 0) c.device ??= 'light';
  }
  for (const [w, z] of EN_NAMED_ZONES) if (hasPhrase(line, w) >= 0) { c.zones.push(z); c.device ??= 'light'; }
  if (/ (all|every|everywhere|whole) /.test(line)) c.allZones = true;
  const genre = firstPhrase(line, EN_GENRES);
  if (genre) { c.genre = genre.value; c.device ??= 'music'; }
  const mode = firstPhrase(line, EN_MODES);
  // "cool" and "dry" are also ordinary words: a mode only for the air conditioner
  if (mode && (c.device === 'aircon' || hasPhrase(line, 'mode') >= 0)) { c.mode = mode.value; c.device ??= 'aircon'; }
  const rest = line.trim().split(/\s+/).filter(Boolean);
  for (const { at, n } of enNumbers(rest, false)) {
    const unit = rest[at + 1];
    if (unit === 'percent' || unit === 'per') c.percent ??= n;
    else if (unit === 'degrees' || unit === 'degree' || unit === 'celsius') { c.degrees ??= n; c.device ??= 'aircon'; }
    else c.bare ??= n;
  }
  if (/ (half|halfway) /.test(line)) c.half = true;
  if (/ (max|maximum|full) /.test(line)) c.percent = 100;
  const verb = firstPhrase(line, EN_VERBS.filter(([, v]) => v !== 'set')) ?? firstPhrase(line, EN_VERBS);
  if (verb) c.verb = verb.value;
  if (EN_VERBS.some(([w, v]) => v === 'clean' && hasPhrase(line, w) >= 0)) c.verb = 'clean';
  if (!c.device && verb && ['dim', 'brighten', 'brighter', 'darker'].includes(verb.phrase)) c.device = 'light';
  if (!c.device && verb && ['louder', 'quieter', 'softer', 'skip', 'next', 'mute', 'play', 'pause'].includes(verb.phrase)) c.device = 'music';
  if (!c.device && verb && ['warmer', 'cooler', 'colder'].includes(verb.phrase)) c.device = 'aircon';
  return c;
}

// ---------------------------------------------------------------- clauses → actions
class CommandError extends Error {}

function finish(lang: 'ko' | 'en', clauses: Clause[], sentence: string): CommandResult {
  const actions: DeviceAction[] = [];
  let prev: Clause | null = null;
  try {
    for (const c of clauses) {
      if (!c.device && (c.verb === 'hot' || c.verb === 'cold')) c.device = 'aircon';
      if (!c.device && prev?.device) c.device = prev.device;
      // "2번 구역 조명 켜고 밝기 50%로": the second clause is about the same zones
      if (prev && c.device === prev.device && c.zones.length === 0) { c.zones = prev.zones; c.allZones = prev.allZones; }
      if (!c.device) {
        if (c.verb || c.percent !== null || c.bare !== null) throw new CommandError(lang === 'ko' ? '어떤 기기인지 모르겠어요.' : 'Which device?');
        continue;
      }
      const action = toAction(lang, c);
      if (action) actions.push(action);
      prev = c;
    }
  } catch (e) {
    if (!(e instanceof CommandError)) throw e;
    return failure(lang, e.message, clauses, sentence);
  }
  if (actions.length === 0) return failure(lang, lang === 'ko' ? '무엇을 할지 알아듣지 못했어요.' : 'I did not understand what to change.', clauses, sentence);
  return { ok: true, lang, actions, summary: describe(lang, actions) };
}

function pct(lang: 'ko' | 'en', n: number, what: string): number {
  if (n < 0 || n > 100) throw new CommandError(lang === 'ko' ? `${what}는 0~100%예요 (${n}).` : `${what} is 0–100% (got ${n}).`);
  return n;
}

function toAction(lang: 'ko' | 'en', c: Clause): DeviceAction | null {
  const value = c.percent ?? c.bare ?? (c.half ? 50 : null);
  switch (c.device!) {
    case 'light': {
      const zones = c.zones.length > 0 ? [...new Set(c.zones)].sort() : [...ZONES];
      const bad = zones.find((z) => !(ZONES as readonly number[]).includes(z));
      if (bad !== undefined) throw new CommandError(lang === 'ko' ? `${bad}번 구역은 없어요 (1~4번 구역).` : `There is no zone ${bad} (zones 1–4).`);
      const a: DeviceAction = { device: 'light', zones, set: {} };
      if (value !== null && c.verb !== 'off') {
        const b = pct(lang, value, lang === 'ko' ? '밝기' : 'Brightness');
        a.set = b === 0 ? { on: false } : { on: true, brightness: b };
      } else if (c.verb === 'on' || c.verb === 'open') a.set = { on: true };
      else if (c.verb === 'off' || c.verb === 'close') a.set = { on: false };
      else if (c.verb === 'up') { a.set = { on: true }; a.delta = { brightness: 20 }; }
      else if (c.verb === 'down') { a.set = { on: true }; a.delta = { brightness: -20 }; }
      else return noVerb(lang, c);
      return a;
    }
    case 'aircon': {
      const a: DeviceAction = { device: 'aircon', set: {} };
      const t = c.degrees ?? (c.verb === 'set' || c.verb === null ? c.bare : null);
      if (t !== null && c.verb !== 'off') {
        if (t < TEMPERATURE_RANGE[0] || t > TEMPERATURE_RANGE[1]) throw new CommandError(lang === 'ko' ? `에어컨 온도는 ${TEMPERATURE_RANGE[0]}~${TEMPERATURE_RANGE[1]}도로 맞출 수 있어요 (${t}도).` : `The air conditioner goes from ${TEMPERATURE_RANGE[0]} to ${TEMPERATURE_RANGE[1]} degrees (got ${t}).`);
        a.set = { on: true, temperature: t };
      }
      if (c.mode) a.set = { ...a.set, on: true, mode: c.mode };
      if (c.verb === 'off') a.set = { on: false };
      else if (c.verb === 'on' && Object.keys(a.set).length === 0) a.set = { on: true };
      else if (c.verb === 'up' && t === null) { a.set = { ...a.set, on: true }; a.delta = { temperature: 1 }; }
      else if (c.verb === 'down' && t === null) { a.set = { ...a.set, on: true }; a.delta = { temperature: -1 }; }
      else if (c.verb === 'hot') { a.set = { on: true, mode: 'cool' }; a.delta = { temperature: -2 }; }
      else if (c.verb === 'cold') { a.set = { on: true, mode: 'heat' }; a.delta = { temperature: 2 }; }
      if (Object.keys(a.set).length === 0 && !a.delta) return noVerb(lang, c);
      return a;
    }
    case 'music': {
      const a: DeviceAction = { device: 'music', set: {} };
      if (c.verb === 'off') a.set = { playing: false };
      else if (c.verb === 'next') { a.set = { playing: true }; a.delta = { track: 1 }; }
      else if (value !== null) a.set = { volume: pct(lang, value, lang === 'ko' ? '볼륨' : 'Volume') };
      else if (c.verb === 'up') a.delta = { volume: 10 };
      else if (c.verb === 'down') a.delta = { volume: -10 };
      else if (c.verb === 'on' || c.genre) a.set = { playing: true };
      else return noVerb(lang, c);
      if (c.genre) a.set = { ...a.set, genre: c.genre, playing: true };
      return a;
    }
    case 'blinds': {
      if (value !== null) return { device: 'blinds', set: { position: pct(lang, value, lang === 'ko' ? '블라인드' : 'Blinds position') } };
      if (c.verb === 'open' || c.verb === 'up' || c.verb === 'on') return { device: 'blinds', set: { position: 100 } };
      if (c.verb === 'close' || c.verb === 'down' || c.verb === 'off') return { device: 'blinds', set: { position: 0 } };
      return noVerb(lang, c);
    }
    case 'coffee': {
      if (c.verb === 'clean') return { device: 'coffee', set: { state: 'cleaning' } };
      if (c.verb === 'on' || c.verb === 'up') return { device: 'coffee', set: { state: 'ready' } };
      if (c.verb === 'off' || c.verb === 'down') return { device: 'coffee', set: { state: 'off' } };
      return noVerb(lang, c);
    }
  }
}

function noVerb(lang: 'ko' | 'en', c: Clause): never {
  throw new CommandError(lang === 'ko' ? `${DEVICE_NAMES[c.device!].ko}을(를) 어떻게 할까요?` : `What should I do with the ${DEVICE_NAMES[c.device!].en}?`);
}

export const DEVICE_NAMES: Record<DeviceKind, { ko: string; en: string }> = {
  light: { ko: '조명', en: 'lights' }, aircon: { ko: '에어컨', en: 'air conditioner' }, music: { ko: '음악', en: 'music' },
  blinds: { ko: '블라인드', en: 'blinds' }, coffee: { ko: '커피 머신', en: 'coffee machine' },
};

const SUGGESTIONS: Record<DeviceKind, { ko: string[]; en: string[] }> = {
  light: { ko: ['2번 구역 조명 꺼줘', '1번 구역 조명 밝기 30%로', '전체 조명 켜줘'], en: ['turn off the lights in zone 2', 'dim the lights in zone 1 to 30%', 'turn on all the lights'] },
  aircon: { ko: ['에어컨 22도로 맞춰', '에어컨 냉방으로 켜줘', '에어컨 꺼줘'], en: ['set the air conditioner to 22 degrees', 'turn on the AC in cool mode', 'turn off the AC'] },
  music: { ko: ['음악 꺼줘', '재즈 틀어줘', '볼륨 30%로'], en: ['turn off the music', 'play some jazz', 'set the volume to 30%'] },
  blinds: { ko: ['블라인드 열어줘', '블라인드 반만 내려줘', '블라인드 닫아줘'], en: ['open the blinds', 'set the blinds to half', 'close the blinds'] },
  coffee: { ko: ['커피 머신 켜줘', '커피 머신 청소해줘', '커피 머신 꺼줘'], en: ['turn on the coffee machine', 'clean the coffee machine', 'turn off the coffee machine'] },
};

function failure(lang: 'ko' | 'en', message: string, clauses: Clause[], _sentence: string): CommandResult {
  const devices = [...new Set(clauses.map((c) => c.device).filter((d): d is DeviceKind => d !== null))];
  const suggestions = devices.length > 0
    ? devices.flatMap((d) => SUGGESTIONS[d][lang]).slice(0, 3)
    : [SUGGESTIONS.light[lang][0]!, SUGGESTIONS.aircon[lang][0]!, SUGGESTIONS.music[lang][0]!];
  return {
    ok: false, lang, message,
    understood: { devices, zones: [...new Set(clauses.flatMap((c) => c.zones))], values: clauses.flatMap((c) => [c.percent, c.degrees, c.bare].filter((v): v is number => v !== null)) },
    suggestions,
  };
}

/** one line per action, in the sentence's language, for the manager's page */
export function describe(lang: 'ko' | 'en', actions: readonly DeviceAction[]): string {
  const ko = lang === 'ko';
  const phrase = (k: string, v: boolean | number | string): string => {
    switch (k) {
      case 'on': return v ? (ko ? '켜짐' : 'on') : (ko ? '꺼짐' : 'off');
      case 'playing': return v ? (ko ? '재생' : 'playing') : (ko ? '정지' : 'stopped');
      case 'brightness': return ko ? `밝기 ${String(v)}%` : `brightness ${String(v)}%`;
      case 'temperature': return `${String(v)}°C`;
      case 'mode': return ko ? ({ cool: '냉방', heat: '난방', dry: '제습', fan: '송풍', auto: '자동' } as Record<string, string>)[String(v)] ?? String(v) : `${String(v)} mode`;
      case 'volume': return ko ? `볼륨 ${String(v)}%` : `volume ${String(v)}%`;
      case 'genre': return String(v);
      case 'position': return v === 0 ? (ko ? '닫힘' : 'closed') : v === 100 ? (ko ? '열림' : 'open') : `${String(v)}%`;
      case 'state': return ko ? ({ off: '꺼짐', ready: '준비', cleaning: '세척' } as Record<string, string>)[String(v)] ?? String(v) : String(v);
      default: return `${k} ${String(v)}`;
    }
  };
  const deltaPhrase = (k: string, d: number): string => {
    const up = d > 0;
    if (k === 'track') return ko ? '다음 곡' : 'next track';
    const what = ko ? ({ brightness: '밝기', temperature: '온도', volume: '볼륨' } as Record<string, string>)[k] ?? k : k;
    return ko ? `${what} ${up ? '올림' : '내림'} (${up ? '+' : ''}${d})` : `${what} ${up ? 'up' : 'down'} (${up ? '+' : ''}${d})`;
  };
  return actions.map((a) => {
    const name = DEVICE_NAMES[a.device][lang];
    const where = a.device === 'light' ? (a.zones!.length === ZONES.length ? (ko ? '전체 ' : 'all ') : ko ? `${a.zones!.join(', ')}번 구역 ` : `zone ${a.zones!.join(', ')} `) : '';
    const parts = [...Object.entries(a.set).map(([k, v]) => phrase(k, v)), ...Object.entries(a.delta ?? {}).map(([k, d]) => deltaPhrase(k, d))];
    return `${where}${name} ${parts.join(', ')}`;
  }).join(' · ');
}

export function parseCommand(sentence: string): CommandResult {
  const text = sentence.normalize('NFC').trim().slice(0, 500);
  return /[가-힣]/.test(text) ? parseKoreanCommand(text) : parseEnglishCommand(text);
}
