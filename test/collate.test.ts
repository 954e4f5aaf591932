// shared/collate.ts against ICU: the same sign as an English Intl.Collator for random strings
// of printable ASCII (letters of both cases, digits, punctuation), plain and numeric, and for
// strings it hands to ICU (other characters, very long numbers).
import t from 'tap';
import { collate, collateNumeric } from '../shared/collate.js';
import { mulberry32 } from './helpers/random.js';

const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i)).join('');
// Weighted towards what names and keys are made of, so ties and case differences are common.
const ALPHABETS = [PRINTABLE, 'aAbB01-._', 'abcABC0123456789', 'web-0123456789', 'hostPIDnameIPC'];

function strings(n: number, seed: number, alphabets = ALPHABETS): string[] {
  const r = mulberry32(seed);
  const out: string[] = [];
  for (let k = 0; k < n; k++) {
    const alphabet = alphabets[Math.floor(r() * alphabets.length)];
    const len = Math.floor(r() * 9);
    let s = '';
    for (let i = 0; i < len; i++) s += alphabet[Math.floor(r() * alphabet.length)];
    out.push(s);
  }
  return out;
}

const sign = (x: number) => Math.sign(x);

for (const [name, ours, icu] of [
  ['collate', collate, new Intl.Collator('en')],
  ['collateNumeric', collateNumeric, new Intl.Collator('en', { numeric: true })],
] as const) {
  t.test(`${name} gives ICU's sign for 200,000 random pairs of printable ASCII`, async (t) => {
    const a = strings(200_000, name.length);
    const b = strings(200_000, name.length + 100);
    const wrong: string[] = [];
    for (let i = 0; i < a.length; i++) {
      if (sign(ours(a[i], b[i])) !== sign(icu.compare(a[i], b[i]))) wrong.push(`${JSON.stringify(a[i])} ${JSON.stringify(b[i])}`);
    }
    t.same(wrong.slice(0, 10), [], 'no pair in another order');
    t.equal(wrong.length, 0);
  });

  t.test(`${name} sorts 20,000 strings as ICU does`, async (t) => {
    const list = strings(20_000, 7);
    t.same([...list].sort(ours), [...list].sort(icu.compare));
  });

  t.test(`${name} hands other characters and very long numbers to ICU`, async (t) => {
    const pairs: [string, string][] = [
      ['é', 'f'],
      ['e', 'é'],
      ['a\tb', 'a b'],
      ['ab\u0000', 'ab'],
      ['straße', 'strasse'],
      [`n${'9'.repeat(70)}`, `n${'1'.repeat(71)}`],
      ['Zürich', 'zurich'],
    ];
    for (const [x, y] of pairs) {
      t.equal(sign(ours(x, y)), sign(icu.compare(x, y)), `${JSON.stringify(x)} ${JSON.stringify(y)}`);
      t.equal(sign(ours(y, x)), sign(icu.compare(y, x)), `${JSON.stringify(y)} ${JSON.stringify(x)}`);
    }
  });
}

t.test('names: web-2 before web-10 numerically, after it plainly; leading zeros tie numerically', async (t) => {
  t.same(['web-10', 'web-2', 'web-1'].sort(collateNumeric), ['web-1', 'web-2', 'web-10']);
  t.same(['web-10', 'web-2', 'web-1'].sort(collate), ['web-1', 'web-10', 'web-2']);
  t.equal(collateNumeric('web-01', 'web-1'), 0);
  t.equal(collate('hostname', 'hostPID'), -1, 'letters compare regardless of case first');
  t.equal(collate('aB', 'Ab'), -1, 'then lower case first');
});
