/**
 * Order sentences, Korean or English, typed or from a speech engine, into items, quantities and
 * options. Pure: no I/O, same answer every time.
 *
 * How it reads a sentence: find every menu item it names (aliases include the usual
 * misrecognitions), then give each item the words around it. Korean says the quantity after the
 * item ("아메리카노 두 잔"), English before it ("two lattes"); options may sit on either side
 * ("아이스 라떼", "라떼 한 잔 아이스로"). The words between two items are cut at the last
 * connector (이랑, 하고, and, with, …): the part before belongs to the first item, the part after
 * to the second. Words that are not menu, number, option or polite filler make the sentence
 * unparseable, answered with what was understood and suggestions.
 */
import { MENU, type MenuItem } from '../lib/menu.js';

export type Temperature = 'hot' | 'iced';
export type Size = 'small' | 'regular' | 'large';

export interface OrderLine {
  menuId: string;
  ko: string;
  en: string;
  qty: number;
  temperature: Temperature | null;
  size: Size;
  /** sorted: decaf, extra-shot, oat-milk, soy-milk, less-ice, no-syrup… */
  options: string[];
  unitPriceWon: number;
}

export type ParseResult =
  | { ok: true; lang: 'ko' | 'en'; items: OrderLine[]; summary: string }
  | { ok: false; lang: 'ko' | 'en'; understood: { items: OrderLine[]; quantities: number[]; options: string[]; unknown: string[] }; message: string; suggestions: string[] };

const MAX_QTY = 50;

// ---------------------------------------------------------------- Korean
const KO_COUNTERS = ['조각', '인분', '잔', '개', '병', '컵', '장', '짠', '게', '판', '캔'];
const KO_NATIVE_UNITS: Record<string, number> = {
  하나: 1, 한: 1, 두: 2, 둘: 2, 세: 3, 셋: 3, 석: 3, 서: 3, 새: 3, 네: 4, 넷: 4, 넉: 4, 너: 4,
  다섯: 5, 여섯: 6, 일곱: 7, 여덟: 8, 여덜: 8, 아홉: 9,
};
const KO_SINO_UNITS: Record<string, number> = { 일: 1, 이: 2, 삼: 3, 사: 4, 오: 5, 육: 6, 륙: 6, 칠: 7, 팔: 8, 구: 9 };
/** words that stand alone as a quantity without a counter ("아메리카노 하나") */
const KO_STANDALONE = new Set(['하나', '둘', '셋', '넷', '다섯', '여섯', '일곱', '여덟', '아홉', '열']);

/** the words longest first, sorted once per list (the parser runs on every order) */
const sortedLists = new WeakMap<readonly string[], readonly string[]>();
function longestFirst(words: readonly string[]): readonly string[] {
  let sorted = sortedLists.get(words);
  if (!sorted) { sorted = [...words].sort((a, b) => b.length - a.length); sortedLists.set(words, sorted); }
  return sorted;
}
const alt = (words: Iterable<string>) => [...words].sort((a, b) => b.length - a.length).map(escapeRe).join('|');
function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const KO_NATIVE = `(?:스물|스무|열)?(?:${alt(Object.keys(KO_NATIVE_UNITS))})|스물|스무|열`;
const KO_SINO = `(?:[이삼사오육칠팔구]?십)?(?:${alt(Object.keys(KO_SINO_UNITS))})|[이삼사오육칠팔구]?십`;
const KO_QTY_RE = new RegExp(`(\\d+|${KO_NATIVE}|${KO_SINO})(${alt(KO_COUNTERS)})?`, 'g');

function koNumber(word: string): number | null {
  if (/^\d+$/.test(word)) return Number(word);
  let rest = word;
  let n = 0;
  if (rest.startsWith('스물') || rest.startsWith('스무')) { n += 20; rest = rest.slice(2); }
  else if (rest.startsWith('열')) { n += 10; rest = rest.slice(1); }
  if (rest === '' ) return n || null;
  if (rest in KO_NATIVE_UNITS) return n + KO_NATIVE_UNITS[rest]!;
  if (word in KO_SINO_UNITS) return KO_SINO_UNITS[word]!;
  // Sino-Korean: [d]십[d]
  const m = /^([이삼사오육칠팔구])?(십)?([일이삼사오육륙칠팔구])?$/.exec(word);
  if (m && (m[2] || m[3])) {
    const tens = m[2] ? (m[1] ? KO_SINO_UNITS[m[1]]! : 1) : 0;
    const ones = m[3] ? KO_SINO_UNITS[m[3]]! : 0;
    return tens * 10 + ones;
  }
  return null;
}

interface KoOption { words: string[]; apply: (l: Draft) => void }
interface Draft { item: MenuItem; qty: number | null; temperature: Temperature | null; size: Size | null; options: Set<string>; each: boolean }

const KO_OPTIONS: KoOption[] = [
  { words: ['얼음적게', '얼음조금', '얼음은조금'], apply: (d) => { d.options.add('less-ice'); d.temperature = 'iced'; } },
  { words: ['아이스', '아이쓰', '차가운', '차갑게', '시원한', '시원하게', '얼음', '콜드'], apply: (d) => { d.temperature = 'iced'; } },
  { words: ['따뜻한', '따뜻하게', '따듯한', '따듯하게', '따뜻', '뜨거운', '뜨겁게', '뜨뜻한', '핫'], apply: (d) => { d.temperature = 'hot'; } },
  { words: ['라지사이즈', '큰사이즈', '사이즈업', '라지', '라아지', '큰걸로', '큰거', '크게', '큰', '그란데', '벤티', '점보'], apply: (d) => { d.size = 'large'; } },
  { words: ['스몰사이즈', '작은사이즈', '스몰', '작은걸로', '작은거', '작게', '작은', '숏', '톨'], apply: (d) => { d.size = 'small'; } },
  { words: ['레귤러', '보통사이즈', '미디움', '미디엄', '보통'], apply: (d) => { d.size = 'regular'; } },
  { words: ['샷추가', '샷하나추가', '투샷', '더블샷', '진하게', '샷'], apply: (d) => { d.options.add('extra-shot'); } },
  { words: ['디카페인', '디카프', '디카'], apply: (d) => { d.options.add('decaf'); } },
  { words: ['오트밀크', '귀리우유', '오트'], apply: (d) => { d.options.add('oat-milk'); } },
  { words: ['두유'], apply: (d) => { d.options.add('soy-milk'); } },
  { words: ['시럽빼고', '시럽없이', '덜달게'], apply: (d) => { d.options.add('no-syrup'); } },
  { words: ['각각', '씩'], apply: (d) => { d.each = true; } },
];
const KO_CONNECTORS = ['그리고', '이랑', '하고', '랑', '와', '과', '에', ','];
/** polite endings, fillers and request verbs: allowed, meaning nothing for the order */
const KO_FILLER = [
  '주문할게요', '주문할께요', '주문하겠습니다', '주문이요', '주문요', '주문할게', '주문', '부탁드립니다', '부탁드려요', '부탁합니다', '부탁해요', '부탁해',
  '주시겠어요', '주실래요', '주세요', '주셔요', '줄래요', '줄래', '주라', '줘요', '줘', '할게요', '할께요', '할게', '해주세요', '해줘', '해요', '해서', '넣어서', '넣어', '빼서',
  '마실게요', '먹을게요', '먹고갈게요', '가져갈게요', '포장해주세요', '포장이요', '포장', '테이크아웃', '매장에서', '매장',
  '있어요', '있나요', '있죠', '되나요', '돼요', '될까요', '가능해요', '사이즈', '싸이즈', '잔씩', '개씩', '사이즈로',
  '저기요', '저기', '여기요', '여기', '그냥', '음', '어', '아', '네', '예', '좀', '도', '로요', '으로요', '으로', '로', '요', '은', '는', '을', '를', '이', '가', '만', '것', '거', '걸', '걸로', '추가', '더', '다', '같이', '우리', '저는', '저', '나', '제',
];

function parseKorean(text: string): ParseResult {
  const compact = text.toLowerCase().replace(/\s+/g, '');
  const mentions = findMentions(compact, koAliasIndex);
  if (mentions.length === 0) return unparseable('ko', compact, [], text);
  const drafts: Draft[] = mentions.map((m) => ({ item: m.item, qty: null, temperature: m.implied ?? null, size: null, options: new Set(), each: false }));
  const unknown: string[] = [];
  for (let i = 0; i <= mentions.length; i++) {
    const from = i === 0 ? 0 : mentions[i - 1]!.end;
    const to = i === mentions.length ? compact.length : mentions[i]!.start;
    const region = compact.slice(from, to);
    const prev = i > 0 ? drafts[i - 1]! : null;
    const next = i < drafts.length ? drafts[i]! : null;
    // the part before the last connector (or after the first quantity) belongs to the previous item
    let cut = lastConnectorCut(region, KO_CONNECTORS);
    if (!prev) cut = { before: '', after: region };
    else if (!next) cut = { before: region, after: '' };
    else if (!cut) cut = cutAfterFirstQuantity(region);
    if (prev) unknown.push(...readKoWords(cut.before, prev, 'after'));
    if (next) unknown.push(...readKoWords(cut.after, next, 'before'));
  }
  return finish('ko', drafts, unknown, text);
}

/** a Korean postfix like "아이스로" belongs to the item before; "아이스" alone before an item to that item */
function cutAfterFirstQuantity(region: string): { before: string; after: string } {
  KO_QTY_RE.lastIndex = 0;
  for (let m = KO_QTY_RE.exec(region); m; m = KO_QTY_RE.exec(region)) {
    if (isKoQuantity(m[1]!, m[2])) return { before: region.slice(0, m.index + m[0].length), after: region.slice(m.index + m[0].length) };
  }
  return { before: '', after: region };
}

function isKoQuantity(num: string, counter: string | undefined): boolean {
  if (koNumber(num) === null) return false;
  return Boolean(counter) || /^\d+$/.test(num) || KO_STANDALONE.has(num);
}

function lastConnectorCut(region: string, connectors: readonly string[]): { before: string; after: string } | null {
  let best = -1;
  let len = 0;
  for (const c of connectors) {
    const at = region.lastIndexOf(c);
    if (at > best) { best = at; len = c.length; }
  }
  if (best < 0) return null;
  return { before: region.slice(0, best), after: region.slice(best + len) };
}

/** read options, a quantity and filler from a piece of compact Korean; returns unknown leftovers */
function readKoWords(piece: string, draft: Draft, _side: 'before' | 'after'): string[] {
  let rest = piece;
  for (const opt of KO_OPTIONS) {
    for (const w of longestFirst(opt.words)) {
      if (rest.includes(w)) { opt.apply(draft); rest = rest.split(w).join(' '); }
    }
  }
  KO_QTY_RE.lastIndex = 0;
  rest = rest.replace(KO_QTY_RE, (all, num: string, counter: string | undefined) => {
    if (!isKoQuantity(num, counter)) return all;
    const n = koNumber(num);
    if (n !== null && draft.qty === null) draft.qty = n;
    return ' ';
  });
  for (const c of KO_CONNECTORS) rest = rest.split(c).join(' ');
  return leftovers(rest, KO_FILLER);
}

function leftovers(rest: string, filler: readonly string[]): string[] {
  const sortedFiller = longestFirst(filler);
  const out: string[] = [];
  for (let chunk of rest.split(/\s+/)) {
    if (!chunk) continue;
    // strip fillers greedily from both ends until nothing changes
    let changed = true;
    while (chunk && changed) {
      changed = false;
      for (const f of sortedFiller) {
        if (chunk.startsWith(f)) { chunk = chunk.slice(f.length); changed = true; break; }
        if (chunk.endsWith(f)) { chunk = chunk.slice(0, -f.length); changed = true; break; }
      }
    }
    if (chunk && /[가-힣]{2,}|[a-z]{3,}/.test(chunk)) out.push(chunk);
  }
  return out;
}

// ---------------------------------------------------------------- English
const EN_NUMBERS: Record<string, number> = {
  a: 1, an: 1, one: 1, won: 1, single: 1, two: 2, to: 2, too: 2, couple: 2, pair: 2, three: 3, free: 3, tree: 3, four: 4, for: 4, fore: 4,
  five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, eleven: 11, twelve: 12, dozen: 12, fifteen: 15, twenty: 20,
};
/** number words that are also ordinary English: a quantity only right before an item or option */
const EN_WEAK_NUMBERS = new Set(['to', 'too', 'for', 'fore', 'free', 'tree', 'won']);
interface EnOption { words: string[]; apply: (d: Draft) => void }
const EN_OPTIONS: EnOption[] = [
  { words: ['less ice', 'light ice'], apply: (d) => { d.options.add('less-ice'); d.temperature = 'iced'; } },
  { words: ['iced', 'ice', 'icy', 'cold', 'on ice', 'over ice', 'chilled'], apply: (d) => { d.temperature = 'iced'; } },
  { words: ['hot', 'warm', 'heated'], apply: (d) => { d.temperature = 'hot'; } },
  { words: ['large', 'larges', 'big', 'grande', 'venti', 'extra large', 'large size'], apply: (d) => { d.size = 'large'; } },
  { words: ['small', 'smalls', 'short', 'tall', 'little', 'small size'], apply: (d) => { d.size = 'small'; } },
  { words: ['regular', 'medium', 'normal'], apply: (d) => { d.size = 'regular'; } },
  { words: ['extra shot', 'extra shots', 'double shot', 'double', 'strong', 'an extra shot', 'two shots'], apply: (d) => { d.options.add('extra-shot'); } },
  { words: ['decaf', 'decaffeinated', 'the caf', 'decaff'], apply: (d) => { d.options.add('decaf'); } },
  { words: ['oat milk', 'oat', 'oatmilk'], apply: (d) => { d.options.add('oat-milk'); } },
  { words: ['soy milk', 'soy', 'soya'], apply: (d) => { d.options.add('soy-milk'); } },
  { words: ['no syrup', 'without syrup', 'unsweetened'], apply: (d) => { d.options.add('no-syrup'); } },
  { words: ['each', 'apiece'], apply: (d) => { d.each = true; } },
];
const EN_CONNECTORS = ['and', 'plus', 'with', 'also', 'then', '&', ','];
const EN_FILLER = new Set([
  'i', 'id', "i'd", 'ill', "i'll", 'im', "i'm", 'we', "we'd", "we'll", 'us', 'me', 'my', 'our', 'you', 'can', 'could', 'may', 'would', 'will', 'like', 'love',
  'want', 'wanna', 'get', 'got', 'have', 'take', 'give', 'gimme', 'grab', 'need', 'please', 'pls', 'plz', 'thanks', 'thank', 'the', 'of', 'some',
  'order', 'ordering', 'just', 'um', 'uh', 'umm', 'erm', 'hi', 'hello', 'hey', 'yes', 'yeah', 'ok', 'okay', 'so', 'it', 'its', "it's", 'them', 'that', 'those',
  'make', 'made', 'go', 'here', 'stay', 'takeaway', 'size', 'sized', 'cup', 'cups', 'mug', 'mugs', 'glass', 'glasses', 'bottle', 'bottles', 'slice', 'slices',
  'piece', 'pieces', 'of', 'all', 'both', 'in', 'as', 'well', 'one', 'ones', 'more', 'another', 'let', 'lets', "let's", 'shot', 'milk', 'coffee', 'coffees', 'do', 'is', 'are', 'be', 'there', 'what', 'about', 'sure',
]);

function parseEnglish(text: string): ParseResult {
  const words = text.toLowerCase().replace(/[’']/g, "'").replace(/([,&])/g, ' $1 ').replace(/[^a-z0-9'&, -]/g, ' ').replace(/-/g, ' ').split(/\s+/).filter(Boolean);
  const line = ` ${words.join(' ')} `;
  const mentions = findMentions(line, enAliasIndex);
  if (mentions.length === 0) return unparseable('en', line, [], text);
  const drafts: Draft[] = mentions.map((m) => ({ item: m.item, qty: null, temperature: m.implied ?? null, size: null, options: new Set(), each: false }));
  const unknown: string[] = [];
  for (let i = 0; i <= mentions.length; i++) {
    const from = i === 0 ? 0 : mentions[i - 1]!.end;
    const to = i === mentions.length ? line.length : mentions[i]!.start;
    const region = line.slice(from, to).trim().split(/\s+/).filter(Boolean);
    const prev = i > 0 ? drafts[i - 1]! : null;
    const next = i < drafts.length ? drafts[i]! : null;
    let cutAt: number;
    if (!prev) cutAt = 0;
    else if (!next) cutAt = region.length;
    else {
      const conn = lastIndexWhere(region, (w) => EN_CONNECTORS.includes(w));
      if (conn >= 0) cutAt = conn;
      else {
        // no connector: the last number starts the next item ("two lattes three americanos")
        const num = lastIndexWhere(region, (w) => /^\d+$/.test(w) || (w in EN_NUMBERS && !EN_WEAK_NUMBERS.has(w)));
        cutAt = num >= 0 ? num : 0;
      }
    }
    if (prev) unknown.push(...readEnWords(region.slice(0, cutAt), prev, 'after'));
    if (next) unknown.push(...readEnWords(region.slice(cutAt), next, 'before'));
  }
  return finish('en', drafts, unknown, text);
}

function lastIndexWhere<T>(xs: readonly T[], f: (x: T) => boolean): number {
  for (let i = xs.length - 1; i >= 0; i--) if (f(xs[i]!)) return i;
  return -1;
}

function readEnWords(words: string[], draft: Draft, side: 'before' | 'after'): string[] {
  let line = ` ${words.join(' ')} `;
  for (const opt of EN_OPTIONS) {
    for (const w of longestFirst(opt.words)) {
      if (line.includes(` ${w} `)) { opt.apply(draft); line = line.split(` ${w} `).join('  '); }
    }
  }
  const rest = line.trim().split(/\s+/).filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i]!;
    if (EN_CONNECTORS.includes(w)) continue;
    let n: number | null = null;
    if (/^\d+$/.test(w)) n = Number(w);
    else if (/^x\d+$/.test(w)) n = Number(w.slice(1));
    else if (w in EN_NUMBERS) {
      // a weak number ("to", "for") counts only as the last word before the item
      if (!EN_WEAK_NUMBERS.has(w) || (side === 'before' && rest.slice(i + 1).every((x) => EN_FILLER.has(x) && !EN_WEAK_NUMBERS.has(x) && !(x in EN_NUMBERS)))) n = EN_NUMBERS[w]!;
    }
    if (n !== null) {
      // "a couple of", "a dozen": the bigger number wins over the article
      if (draft.qty === null || (draft.qty === 1 && n > 1 && (w === 'couple' || w === 'dozen' || w === 'pair'))) draft.qty = n;
      continue;
    }
    if (EN_FILLER.has(w) || w in EN_NUMBERS) continue;
    if (w.length >= 3) out.push(w);
  }
  return out;
}

// ---------------------------------------------------------------- shared
interface Mention { start: number; end: number; item: MenuItem; implied?: Temperature }
interface AliasEntry { alias: string; item: MenuItem; implied?: Temperature }

// a Korean sentence may carry English names too ("아이스 latte 두 잔"): they are matched spaceless
const koAliasIndex: AliasEntry[] = MENU.flatMap((item) => [...item.koAliases, ...item.enAliases].map((a) => ({ alias: a.replace(/\s+/g, ''), item, implied: item.impliedTemperature?.[a] })))
  .sort((a, b) => b.alias.length - a.alias.length);
const enAliasIndex: AliasEntry[] = MENU.flatMap((item) => item.enAliases.map((a) => ({ alias: ` ${a} `, item, implied: item.impliedTemperature?.[a] })))
  .sort((a, b) => b.alias.length - a.alias.length);

/** longest aliases first, never overlapping, in sentence order */
function findMentions(text: string, index: readonly AliasEntry[]): Mention[] {
  const taken: boolean[] = new Array(text.length).fill(false);
  const found: Mention[] = [];
  for (const e of index) {
    let from = 0;
    for (let at = text.indexOf(e.alias, from); at >= 0; at = text.indexOf(e.alias, from)) {
      // English aliases carry their surrounding spaces; the spaces may be shared with a neighbour
      const core = e.alias.startsWith(' ') ? [at + 1, at + e.alias.length - 1] : [at, at + e.alias.length];
      from = at + 1;
      if (taken.slice(core[0], core[1]).some(Boolean)) continue;
      for (let k = core[0]!; k < core[1]!; k++) taken[k] = true;
      found.push({ start: core[0]!, end: core[1]!, item: e.item, implied: e.implied });
    }
  }
  return found.sort((a, b) => a.start - b.start);
}

function finish(lang: 'ko' | 'en', drafts: Draft[], unknown: string[], original: string): ParseResult {
  // "라떼랑 아메리카노 두 잔씩": the quantity said once with 씩/each applies to every item without one
  const eachQty = drafts.find((d) => d.each && d.qty !== null)?.qty ?? null;
  const items: OrderLine[] = [];
  for (const d of drafts) {
    const qty = d.qty ?? eachQty ?? 1;
    const temperature = d.item.temperatures.length === 0 ? null : d.temperature && d.item.temperatures.includes(d.temperature) ? d.temperature : d.item.defaultTemperature ?? null;
    const line: OrderLine = {
      menuId: d.item.id, ko: d.item.ko, en: d.item.en, qty, temperature, size: d.item.category === 'food' ? 'regular' : d.size ?? 'regular',
      options: d.item.category === 'food' ? [] : [...d.options].sort(), unitPriceWon: d.item.priceWon,
    };
    // the same thing said twice is one line ("라떼 한 잔 그리고 라떼 한 잔")
    const same = items.find((x) => x.menuId === line.menuId && x.temperature === line.temperature && x.size === line.size && x.options.join() === line.options.join());
    if (same) same.qty += line.qty;
    else items.push(line);
  }
  const tooMany = items.find((i) => i.qty < 1 || i.qty > MAX_QTY);
  if (unknown.length > 0 || tooMany) {
    const message = tooMany
      ? (lang === 'ko' ? `${tooMany.ko} ${tooMany.qty}개는 주문할 수 없어요 (1~${MAX_QTY}).` : `${tooMany.qty} × ${tooMany.en} cannot be ordered (1–${MAX_QTY}).`)
      : (lang === 'ko' ? `'${unknown.join(' ')}'은(는) 메뉴에 없어요.` : `"${unknown.join(' ')}" is not on the menu.`);
    return {
      ok: false, lang, message,
      understood: { items, quantities: items.map((i) => i.qty), options: [...new Set(items.flatMap((i) => [i.temperature ?? '', i.size, ...i.options]))].filter(Boolean), unknown },
      suggestions: suggest(lang, unknown.length ? unknown.join('') : original, items),
    };
  }
  return { ok: true, lang, items, summary: summarize(lang, items) };
}

function unparseable(lang: 'ko' | 'en', text: string, items: OrderLine[], original: string): ParseResult {
  // what can still be read: quantities and options, with no item to hang them on
  const probe: Draft = { item: MENU[0]!, qty: null, temperature: null, size: null, options: new Set(), each: false };
  const unknown = lang === 'ko' ? readKoWords(text, probe, 'after') : readEnWords(text.trim().split(/\s+/), probe, 'before');
  const options = [probe.temperature ?? '', probe.size ?? '', ...probe.options].filter(Boolean);
  return {
    ok: false, lang,
    message: lang === 'ko' ? '메뉴 이름을 찾지 못했어요. 이렇게 말해 보세요.' : 'I could not find a menu item. Try saying it like this.',
    understood: { items, quantities: probe.qty === null ? [] : [probe.qty], options, unknown },
    suggestions: suggest(lang, unknown.join('') || original, items, probe.qty ?? 1, probe.temperature),
  };
}

/** menu names nearest to what was heard, as sentences the customer can tap */
function suggest(lang: 'ko' | 'en', heard: string, items: OrderLine[], qty = 1, temperature: Temperature | null = null): string[] {
  const key = heard.toLowerCase().replace(/\s+/g, '');
  const scored = MENU.map((m) => {
    const aliases = lang === 'ko' ? m.koAliases : m.enAliases;
    const d = Math.min(...aliases.map((a) => similarity(key, a.replace(/\s+/g, '').toLowerCase())));
    return { m, d };
  }).sort((a, b) => a.d - b.d || a.m.id.localeCompare(b.m.id));
  const known = items.map((i) => (lang === 'ko' ? `${i.ko} ${koCount(i.qty, i.menuId)}` : `${enCount(i.qty)} ${i.en.toLowerCase()}`));
  return scored.slice(0, 3).map(({ m }) => {
    const temp = temperature && m.temperatures.includes(temperature) ? (lang === 'ko' ? (temperature === 'iced' ? '아이스 ' : '따뜻한 ') : `${temperature} `) : '';
    const said = lang === 'ko' ? `${temp}${m.ko} ${koCount(qty, m.id)}` : `${enCount(qty)} ${temp}${m.en.toLowerCase()}`;
    return [...known, said].join(lang === 'ko' ? '이랑 ' : ' and ');
  });
}

/** edit distance over characters, a prefix match counts as close */
function similarity(a: string, b: string): number {
  if (!a) return b.length;
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      dp[i]![j] = Math.min(dp[i - 1]![j]! + 1, dp[i]![j - 1]! + 1, dp[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  // best alignment of b inside a (the heard text may carry extra words)
  let best = dp[a.length]![b.length]!;
  for (let i = 0; i <= a.length; i++) best = Math.min(best, dp[i]![b.length]! + Math.max(0, a.length - i) * 0.1);
  return best / Math.max(1, b.length);
}

const KO_NATIVE_WORDS = ['', '한', '두', '세', '네', '다섯', '여섯', '일곱', '여덟', '아홉', '열'];
function koCount(n: number, menuId: string): string {
  const counter = MENU.find((m) => m.id === menuId)?.category === 'food' ? '개' : '잔';
  return n <= 10 ? `${KO_NATIVE_WORDS[n]} ${counter}` : `${n}${counter}`;
}
const EN_WORDS = ['', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];
function enCount(n: number): string {
  return n <= 10 ? EN_WORDS[n]! : String(n);
}

export function summarize(lang: 'ko' | 'en', items: readonly OrderLine[]): string {
  return items.map((i) => {
    if (lang === 'ko') {
      const t = i.temperature === 'iced' ? '아이스 ' : i.temperature === 'hot' && MENU.find((m) => m.id === i.menuId)!.temperatures.length > 1 ? '따뜻한 ' : '';
      const s = i.size === 'large' ? ' (라지)' : i.size === 'small' ? ' (스몰)' : '';
      return `${t}${i.ko}${s} ${koCount(i.qty, i.menuId)}`;
    }
    const t = i.temperature === 'iced' ? 'iced ' : i.temperature === 'hot' && MENU.find((m) => m.id === i.menuId)!.temperatures.length > 1 ? 'hot ' : '';
    const s = i.size === 'regular' ? '' : `${i.size} `;
    return `${i.qty} × ${s}${t}${i.en.toLowerCase()}`;
  }).join(lang === 'ko' ? ', ' : ', ');
}

/** the sentence's language: Hangul anywhere means Korean */
export function detectLanguage(sentence: string): 'ko' | 'en' {
  return /[가-힣ㄱ-ㅎ]/.test(sentence) ? 'ko' : 'en';
}

export function parseOrder(sentence: string): ParseResult {
  const text = sentence.normalize('NFC').trim().slice(0, 500);
  return detectLanguage(text) === 'ko' ? parseKorean(text.replace(/[.!?~"“”]/g, ' ')) : parseEnglish(text);
}
