/** Canonical JSON: what record seals, configuration versions, approval payload hashes and digests hash. */
import fc from 'fast-check';
import { canonicalJson } from '../../shared/canonical';

/** The first implementation (entries, sort, map, join): the rewrite must give the same text. */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : reference(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(',')}}`;
}

it('gives the same text as the first implementation for any JSON value', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => canonicalJson(v) === reference(v)),
    { numRuns: 2000 },
  );
});

it('gives the same text as the first implementation for values JSON cannot hold (undefined, functions, dates, boxed values)', () => {
  fc.assert(
    fc.property(
      fc.anything({
        withBoxedValues: true,
        withDate: true,
        withNullPrototype: true,
        withObjectString: true,
        withSparseArray: false,
        withTypedArray: true,
        withMap: true,
        withSet: true,
        withBigInt: false,
      }),
      (v) => canonicalJson(v) === reference(v),
    ),
    { numRuns: 2000 },
  );
});

it('is valid JSON that parses back to the same data', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      const text = canonicalJson(v);
      expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(v)));
    }),
  );
});

it('sorts keys by UTF-16 code units at every level, without whitespace', () => {
  expect(canonicalJson({ b: 1, a: { d: [3, { z: null, y: 'x' }], c: true }, '\u{1F600}': 0, '\uFFFF': 0, A: 0, '': 0 })).toBe(
    '{"":0,"A":0,"a":{"c":true,"d":[3,{"y":"x","z":null}]},"b":1,"\u{1F600}":0,"\uFFFF":0}',
  );
});

it('drops undefined members and writes undefined items (and holes) as null', () => {
  expect(canonicalJson({ a: undefined, b: [undefined, 1], c: 2 })).toBe('{"b":[null,1],"c":2}');
  // eslint-disable-next-line no-sparse-arrays
  expect(canonicalJson([, 1])).toBe('[null,1]');
  expect(canonicalJson(undefined)).toBe('null');
  expect(canonicalJson({})).toBe('{}');
  expect(canonicalJson([])).toBe('[]');
});

it('writes numbers and strings as JSON.stringify does', () => {
  expect(canonicalJson({ n: [0, -0, 1.5, 1e21, NaN, Infinity], s: 'a"\\\n\u2028\uD800' })).toBe(
    `{"n":[0,0,1.5,1e+21,null,null],"s":${JSON.stringify('a"\\\n\u2028\uD800')}}`,
  );
});
