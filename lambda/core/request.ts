/**
 * The OpenAI embeddings request: parsing, validation and limits. Every refusal names the `param`.
 *
 * Unknown body fields are ignored and never forwarded: the upstream body is built from the
 * validated fields only.
 */
import type { Limits } from '../../shared/config';
import { invalidRequest, type GatewayError } from './errors';

export type EncodingFormat = 'float' | 'base64';

export interface EmbeddingsRequest {
  readonly model: string;
  /** Text items, or token-id arrays (a single string / token array is normalised to one item). */
  readonly input: TextInput | TokenInput;
  readonly encodingFormat: EncodingFormat;
  readonly dimensions?: number;
  readonly user?: string;
}

export interface TextInput {
  readonly kind: 'text';
  readonly items: readonly string[];
}
export interface TokenInput {
  readonly kind: 'tokens';
  readonly items: readonly (readonly number[])[];
}

/** What the record keeps of a request that could be read at least partly. */
export interface InputSummary {
  readonly kind: 'text' | 'tokens' | null;
  readonly items: number;
  readonly characters: number;
}

const MAX_TOKEN_ID = 2 ** 31 - 1;
const MAX_USER_CHARS = 256;

/** Size of a request body in bytes, as received. */
export function bodyBytes(body: string | undefined, isBase64Encoded: boolean): number {
  if (!body) return 0;
  return Buffer.byteLength(body, isBase64Encoded ? 'base64' : 'utf8');
}

/** Parse and validate a body; throws a 400/413 `GatewayError` naming the param. */
export function parseEmbeddingsRequest(body: string | undefined, isBase64Encoded: boolean, maxBytes: number): EmbeddingsRequest {
  if (bodyBytes(body, isBase64Encoded) > maxBytes) {
    throw invalidRequest(`The request body is larger than ${maxBytes} bytes.`, 'request_too_large', null, 413);
  }
  if (!body) throw invalidRequest('The request body is empty; send a JSON embeddings request.', 'missing_body');
  const text = isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw invalidRequest('The request body is not valid JSON.', 'invalid_json');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw invalidRequest('The request body must be a JSON object.', 'invalid_body');
  }
  const o = doc as Record<string, unknown>;
  const model = o.model;
  if (typeof model !== 'string' || model.length === 0 || model.length > 256) {
    throw invalidRequest('"model" must be a non-empty string naming an embedding model.', 'invalid_model', 'model');
  }
  const input = parseInput(o.input);
  const encodingFormat = o.encoding_format ?? 'float';
  if (encodingFormat !== 'float' && encodingFormat !== 'base64') {
    throw invalidRequest('"encoding_format" must be "float" or "base64".', 'invalid_encoding_format', 'encoding_format');
  }
  const dimensions = o.dimensions;
  if (
    dimensions !== undefined &&
    dimensions !== null &&
    (!Number.isSafeInteger(dimensions) || (dimensions as number) < 1 || (dimensions as number) > 16_384)
  ) {
    throw invalidRequest('"dimensions" must be an integer between 1 and 16384.', 'invalid_dimensions', 'dimensions');
  }
  const user = o.user;
  if (user !== undefined && user !== null && (typeof user !== 'string' || user.length > MAX_USER_CHARS)) {
    throw invalidRequest(`"user" must be a string of at most ${MAX_USER_CHARS} characters.`, 'invalid_user', 'user');
  }
  return {
    model,
    input,
    encodingFormat,
    ...(typeof dimensions === 'number' ? { dimensions } : {}),
    ...(typeof user === 'string' ? { user } : {}),
  };
}

function parseInput(input: unknown): TextInput | TokenInput {
  const bad = (msg: string, code = 'invalid_input'): GatewayError => invalidRequest(msg, code, 'input');
  if (input === undefined || input === null)
    throw bad('"input" is required: a string, an array of strings, or token ids.', 'missing_input');
  if (typeof input === 'string') {
    if (input.length === 0) throw bad('"input" must not be an empty string.', 'empty_input');
    return { kind: 'text', items: [input] };
  }
  if (!Array.isArray(input))
    throw bad('"input" must be a string, an array of strings, an array of token ids, or an array of token-id arrays.');
  if (input.length === 0) throw bad('"input" must not be an empty array.', 'empty_input');
  const first = input[0];
  if (typeof first === 'string') {
    input.forEach((v, i) => {
      if (typeof v !== 'string') throw bad(`"input[${i}]" must be a string like the other items.`);
      if (v.length === 0) throw bad(`"input[${i}]" must not be an empty string.`, 'empty_input');
    });
    return { kind: 'text', items: input as string[] };
  }
  if (typeof first === 'number') {
    checkTokenIds(input, 'input', bad);
    return { kind: 'tokens', items: [input as number[]] };
  }
  if (Array.isArray(first)) {
    input.forEach((v, i) => {
      if (!Array.isArray(v)) throw bad(`"input[${i}]" must be an array of token ids like the other items.`);
      if (v.length === 0) throw bad(`"input[${i}]" must not be an empty array.`, 'empty_input');
      checkTokenIds(v, `input[${i}]`, bad);
    });
    return { kind: 'tokens', items: input as number[][] };
  }
  throw bad('"input" must be a string, an array of strings, an array of token ids, or an array of token-id arrays.');
}

function checkTokenIds(ids: unknown[], where: string, bad: (m: string) => GatewayError): void {
  ids.forEach((v, i) => {
    if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > MAX_TOKEN_ID) {
      throw bad(`"${where}[${i}]" must be a non-negative integer token id.`);
    }
  });
}

export function summarizeInput(input: TextInput | TokenInput): InputSummary {
  let characters = 0;
  for (const item of input.items) characters += item.length;
  return { kind: input.kind, items: input.items.length, characters };
}

/** Enforce the effective limits (model's, tightened by the allowing rule's); throws 422. */
export function enforceLimits(req: EmbeddingsRequest, limits: Limits): void {
  const items = req.input.items;
  const tooMuch = (msg: string, code: string, param: string) => invalidRequest(msg, code, param, 422);
  if (limits.maxInputs !== undefined && items.length > limits.maxInputs) {
    throw tooMuch(`"input" has ${items.length} items; at most ${limits.maxInputs} are allowed per request.`, 'too_many_inputs', 'input');
  }
  let total = 0;
  for (let i = 0; i < items.length; i++) {
    const n = items[i]!.length;
    if (limits.maxInputChars !== undefined && n > limits.maxInputChars) {
      const unit = req.input.kind === 'text' ? 'characters' : 'tokens';
      throw tooMuch(`"input[${i}]" has ${n} ${unit}; at most ${limits.maxInputChars} are allowed per item.`, 'input_too_long', 'input');
    }
    total += n;
  }
  if (limits.maxTotalChars !== undefined && total > limits.maxTotalChars) {
    throw tooMuch(
      `"input" has ${total} characters in all; at most ${limits.maxTotalChars} are allowed per request.`,
      'input_too_long',
      'input',
    );
  }
  if (req.dimensions !== undefined && limits.allowedDimensions && !limits.allowedDimensions.includes(req.dimensions)) {
    throw tooMuch(
      `"dimensions" ${req.dimensions} is not allowed for this model; allowed: ${limits.allowedDimensions.join(', ')}.`,
      'dimensions_not_allowed',
      'dimensions',
    );
  }
}
