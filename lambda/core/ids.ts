import { randomBytes } from 'node:crypto';
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
