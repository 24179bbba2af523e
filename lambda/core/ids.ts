import { createHash, randomBytes } from 'node:crypto';
import type { Clock, Ids } from './ports';

/** The system clock. */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * UUIDv7 session ids (RFC 9562): 48-bit Unix milliseconds then 74 random bits, so ids sort by
 * time in S3 listings and Athena results.
 */
export function uuidv7(nowMs: number = Date.now()): string {
  const b = randomBytes(16);
  b.writeUIntBE(nowMs, 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
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
