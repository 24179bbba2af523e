/** Session ids: UUIDv7 (RFC 9562), time-ordered, with 74 random bits. */
import { uuidv7, uuidv7From } from '../../lambda/core/ids';

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const timeOf = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

it('is a version 7, RFC 9562 variant UUID whose first 48 bits are the time in milliseconds', () => {
  for (const t of [0, 1, 1_764_000_000_000, Date.now(), 2 ** 48 - 1]) {
    const id = uuidv7(t);
    expect(id).toMatch(UUIDV7);
    expect(timeOf(id)).toBe(t);
  }
});

it('sorts by time as text (S3 listings and Athena order records by id)', () => {
  const times = [1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_255, 1_700_000_000_256, 1_800_000_000_000];
  const ids = times.map((t) => uuidv7(t));
  expect([...ids].sort()).toEqual(ids);
});

it('has 74 random bits: ids of the same millisecond differ, and every random bit varies', () => {
  const ids = Array.from({ length: 20_000 }, () => uuidv7(1_764_000_000_000));
  expect(new Set(ids).size).toBe(ids.length);
  const bits = (id: string) => BigInt(`0x${id.replace(/-/g, '')}`);
  let seenOne = 0n;
  let seenZero = 0n;
  const mask = (1n << 128n) - 1n;
  for (const id of ids) {
    seenOne |= bits(id);
    seenZero |= ~bits(id) & mask;
  }
  // Random: 12 bits after the version nibble, 62 after the variant bits.
  const random = (((1n << 12n) - 1n) << 64n) | ((1n << 62n) - 1n);
  expect(seenOne & random).toBe(random);
  expect(seenZero & random).toBe(random);
});

it('refuses a time it cannot hold', () => {
  for (const t of [-1, 2 ** 48, 1.5, NaN]) expect(() => uuidv7(t)).toThrow(RangeError);
});

it('uuidv7From is deterministic for a seed and keeps the layout', () => {
  const a = uuidv7From(1_764_000_000_000, 'event-1');
  expect(a).toMatch(UUIDV7);
  expect(uuidv7From(1_764_000_000_000, 'event-1')).toBe(a);
  expect(uuidv7From(1_764_000_000_000, 'event-2')).not.toBe(a);
  expect(timeOf(a)).toBe(1_764_000_000_000);
});
