/**
 * Pseudonyms: HMAC-SHA256(key, type + ":" + normalised value), first `hexChars` hex digits.
 * The same value (after normalisation) gives the same token under one key, so retrieval over
 * embedded documents keeps working; without the key a token reveals nothing about the value.
 *
 * Collisions: with h hex digits (4h bits) and n distinct values of one type, the chance that two
 * share a token is about 1 - exp(-n² / 2^(4h+1)). For the default 16 digits (64 bits): 2.7e-8 at
 * a million values, 0.003 % at ten million, 2.7 % at a billion, 50 % near 5.1 billion. For 8
 * digits (32 bits, the old default): 1.2 % at 10,000 values and 50 % near 77,000, which breaks
 * erasure lineage in any real corpus. Raise `pseudonymLength` beyond 16 for larger ones.
 */
import { createHmac } from 'node:crypto';
import type { EntityType } from '../../../shared/masking/catalog';
import { collapseWhitespace, digitsOf } from './text';
import { alnumUpper } from './validators';

/** Minimum key length, bytes: 128 bits. */
export const MIN_KEY_BYTES = 16;

/** The key as bytes; a string is taken as UTF-8 (a secret's value as stored). */
export function pseudonymKeyBytes(key: Uint8Array | string): Uint8Array {
  const bytes = typeof key === 'string' ? new TextEncoder().encode(key) : key;
  if (bytes.length < MIN_KEY_BYTES)
    throw new Error(`the pseudonym key is ${bytes.length} bytes long; at least ${MIN_KEY_BYTES} bytes (128 bits) are required`);
  return bytes;
}

/**
 * The canonical form of a value, so that spellings of one value share a pseudonym:
 * digits only for numbers (phones keep a leading "+"), upper-case without spaces for IBANs,
 * lower case for e-mail addresses and IPv6, whitespace collapsed (and lower case) for names and
 * addresses; secrets and custom types as they are.
 */
export function normalise(type: EntityType, value: string): string {
  switch (type) {
    case 'CREDIT_CARD':
    case 'US_SSN':
      return digitsOf(value);
    case 'PHONE':
      return (value.trimStart().startsWith('+') ? '+' : '') + digitsOf(value);
    case 'IBAN':
      return alnumUpper(value);
    case 'EMAIL':
    case 'IP_ADDRESS':
      return value.trim().toLowerCase();
    case 'PERSON_NAME':
    case 'ADDRESS':
      return collapseWhitespace(value.normalize('NFKC')).toLowerCase();
    default:
      return value;
  }
}

/** `hexChars` hex digits of HMAC-SHA256(key, type:normalised value). */
export function pseudonymHex(key: Uint8Array, type: EntityType, value: string, hexChars: number): string {
  return createHmac('sha256', key)
    .update(`${type}:${normalise(type, value)}`)
    .digest('hex')
    .slice(0, hexChars);
}
