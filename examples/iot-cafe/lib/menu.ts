/**
 * The café's menu: what the seed migration stores and what the order parser recognises. One list,
 * so a drink the kitchen can make is a drink a customer can say.
 *
 * `ko` / `en` are the names said most often; `aliases` are the other ways people (and speech
 * engines) say them — synonyms, spacing variants, loanword spellings and common misrecognitions.
 * Korean aliases are matched with spaces removed, English ones word by word.
 */
export type Category = 'coffee' | 'tea' | 'drink' | 'food';

export interface MenuItem {
  id: string;
  ko: string;
  en: string;
  category: Category;
  priceWon: number;
  /** drinks can be hot or iced; food cannot */
  temperatures: readonly ('hot' | 'iced')[];
  /** the temperature when the customer says none */
  defaultTemperature?: 'hot' | 'iced';
  koAliases: readonly string[];
  enAliases: readonly string[];
  /** a temperature implied by the alias itself (아아 = iced americano) */
  impliedTemperature?: Readonly<Record<string, 'hot' | 'iced'>>;
}

const BOTH = ['hot', 'iced'] as const;
const NONE = [] as const;

export const MENU: readonly MenuItem[] = [
  {
    id: 'americano', ko: '아메리카노', en: 'Americano', category: 'coffee', priceWon: 4500, temperatures: BOTH, defaultTemperature: 'hot',
    koAliases: ['아메리카노', '아메리까노', '어메리카노', '아멜리카노', '아메리칸노', '아메리카누', '아메리카로', '아메리카나노', '아아', '뜨아', '아이스아메리카노', '따뜻한아메리카노'],
    enAliases: ['americano', 'americanos', 'americana', 'america no', 'a merry kano', 'americano coffee', 'long black'],
    impliedTemperature: { 아아: 'iced', 뜨아: 'hot', 아이스아메리카노: 'iced', 따뜻한아메리카노: 'hot', 'long black': 'hot' },
  },
  {
    id: 'latte', ko: '카페라떼', en: 'Latte', category: 'coffee', priceWon: 5000, temperatures: BOTH, defaultTemperature: 'hot',
    koAliases: ['카페라떼', '카페라테', '까페라떼', '카페라뗴', '카페라때', '라떼', '라테', '라때', '밀크커피'],
    enAliases: ['latte', 'lattes', 'cafe latte', 'caffe latte', 'cafe lattes', 'caffe lattes', 'lotte', 'lottie', 'latter', 'lah tay'],
  },
  {
    id: 'cappuccino', ko: '카푸치노', en: 'Cappuccino', category: 'coffee', priceWon: 5000, temperatures: BOTH, defaultTemperature: 'hot',
    koAliases: ['카푸치노', '카프치노', '카뿌치노', '카푸찌노', '카부치노'],
    enAliases: ['cappuccino', 'cappuccinos', 'capuccino', 'cappucino', 'cap a chino', 'cappa chino', 'kappa cino'],
  },
  {
    id: 'vanilla-latte', ko: '바닐라라떼', en: 'Vanilla latte', category: 'coffee', priceWon: 5500, temperatures: BOTH, defaultTemperature: 'hot',
    koAliases: ['바닐라라떼', '바닐라라테', '바닐라카페라떼', '바닐라라때', '바닐라'],
    enAliases: ['vanilla latte', 'vanilla lattes', 'vanilla lotte', 'vanilla'],
  },
  {
    id: 'caramel-macchiato', ko: '카라멜마끼아또', en: 'Caramel macchiato', category: 'coffee', priceWon: 5800, temperatures: BOTH, defaultTemperature: 'hot',
    koAliases: ['카라멜마끼아또', '카라멜마키아토', '캐러멜마키아토', '캬라멜마끼아또', '카라멜마끼아토', '마끼아또', '마키아토'],
    enAliases: ['caramel macchiato', 'caramel macchiatos', 'caramel machiato', 'caramel mocha auto', 'macchiato', 'macchiatos', 'carmel macchiato'],
  },
  {
    id: 'espresso', ko: '에스프레소', en: 'Espresso', category: 'coffee', priceWon: 4000, temperatures: ['hot'], defaultTemperature: 'hot',
    koAliases: ['에스프레소', '에스프레쏘', '에쓰프레소', '에스프레스', '익스프레소'],
    enAliases: ['espresso', 'espressos', 'expresso', 'expressos', 'espresso shot'],
  },
  {
    id: 'cold-brew', ko: '콜드브루', en: 'Cold brew', category: 'coffee', priceWon: 5000, temperatures: ['iced'], defaultTemperature: 'iced',
    koAliases: ['콜드브루', '콜드브류', '콜드부르', '골드브루', '더치커피', '더치'],
    enAliases: ['cold brew', 'cold brews', 'coldbrew', 'cold brew coffee', 'gold brew', 'cold brute', 'dutch coffee'],
  },
  {
    id: 'green-tea-latte', ko: '녹차라떼', en: 'Green tea latte', category: 'tea', priceWon: 5500, temperatures: BOTH, defaultTemperature: 'hot',
    koAliases: ['녹차라떼', '녹차라테', '그린티라떼', '말차라떼', '말차라테', '녹차'],
    enAliases: ['green tea latte', 'green tea lattes', 'matcha latte', 'matcha lattes', 'macha latte', 'green tea'],
  },
  {
    id: 'hot-chocolate', ko: '핫초코', en: 'Hot chocolate', category: 'drink', priceWon: 5000, temperatures: BOTH, defaultTemperature: 'hot',
    koAliases: ['핫초코', '핫쵸코', '핫초콜릿', '핫초콜렛', '초코라떼', '코코아'],
    enAliases: ['hot chocolate', 'hot chocolates', 'hot cocoa', 'cocoa', 'chocolate', 'hot choc'],
  },
  {
    id: 'lemonade', ko: '레몬에이드', en: 'Lemonade', category: 'drink', priceWon: 5500, temperatures: ['iced'], defaultTemperature: 'iced',
    koAliases: ['레몬에이드', '레모네이드', '레몬에이드', '레몬에이디', '레몬에이트'],
    enAliases: ['lemonade', 'lemonades', 'lemon aid', 'lemon ade', 'lemon nade'],
  },
  {
    id: 'orange-juice', ko: '오렌지주스', en: 'Orange juice', category: 'drink', priceWon: 4500, temperatures: ['iced'], defaultTemperature: 'iced',
    koAliases: ['오렌지주스', '오렌지쥬스', '오랜지주스', '오렌지즙', '오렌지'],
    enAliases: ['orange juice', 'orange juices', 'oj', 'o j', 'orange'],
  },
  {
    id: 'sparkling-water', ko: '탄산수', en: 'Sparkling water', category: 'drink', priceWon: 3000, temperatures: ['iced'], defaultTemperature: 'iced',
    koAliases: ['탄산수', '탄산슈', '스파클링워터', '스파클링', '탄산'],
    enAliases: ['sparkling water', 'sparkling waters', 'soda water', 'fizzy water', 'sparkling'],
  },
  {
    id: 'croissant', ko: '크루아상', en: 'Croissant', category: 'food', priceWon: 3800, temperatures: NONE,
    koAliases: ['크루아상', '크로와상', '크로아상', '크라상', '크루와상', '크로상', '크로와쌍'],
    enAliases: ['croissant', 'croissants', 'crescent', 'crescents', 'quasan', 'kwasan', 'croissan', 'cross aunt'],
  },
  {
    id: 'cheesecake', ko: '치즈케이크', en: 'Cheesecake', category: 'food', priceWon: 6000, temperatures: NONE,
    koAliases: ['치즈케이크', '치즈케익', '치즈케잌', '치즈캐이크', '치즈 케이크'],
    enAliases: ['cheesecake', 'cheesecakes', 'cheese cake', 'cheese cakes', 'cheesecake slice'],
  },
  {
    id: 'bagel', ko: '베이글', en: 'Bagel', category: 'food', priceWon: 3500, temperatures: NONE,
    koAliases: ['베이글', '베글', '베이걸', '배이글', '플레인베이글'],
    enAliases: ['bagel', 'bagels', 'bagle', 'bay gull', 'plain bagel'],
  },
];

export const MENU_BY_ID: ReadonlyMap<string, MenuItem> = new Map(MENU.map((m) => [m.id, m]));
