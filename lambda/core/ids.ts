import { createHash, randomUUID } from 'node:crypto';
import type { Clock, Ids } from './ports';

/** The system clock. */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * UUIDv7 session ids (RFC 9562): 48-bit Unix milliseconds then 74 random bits, so ids sort by
 * time in S3 listings and Athena results.
 */
export function uuidv7(nowMs: number = Date.now()): string {
  if (!Number.isSafeInteger(nowMs) || nowMs < 0 || nowMs >= 2 ** 48)
    throw new RangeError(`uuidv7: the time must be whole milliseconds in [0, 2^48): ${nowMs}`);
  // randomUUID draws from a pooled buffer of random bytes (a tenth of the cost of randomBytes(16)
  // per id). Its version 4 layout keeps 74 random bits after the first 48: the RFC 9562 variant
  // bits are already in place, the version nibble becomes 7 and the first 48 bits the time.
  const r = randomUUID();
  const t = nowMs.toString(16).padStart(12, '0');
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${r.slice(15)}`;
}

export const uuidv7Ids = (clock: Clock = systemClock): Ids => ({ sessionId: () => uuidv7(clock.now()) });

/**
 * A deterministic UUIDv7-shaped id: `nowMs` in the time field, the rest from SHA-256 of `seed`.
 * Used where one event may be delivered twice (API Gateway access-log records): the same event
 * always gets the same session id, so the archive's write-once key makes redelivery harmless.
 */
export function uuidv7From(nowMs: number, seed: string): string {
  const b = createHash('sha256').update(seed).digest().subarray(0, 16);
  b.writeUIntBE(Math.max(0, Math.min(nowMs, 2 ** 48 - 1)), 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
