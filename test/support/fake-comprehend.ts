/**
 * A local stand-in for Amazon Comprehend's `DetectPiiEntities`, speaking the service's JSON 1.1
 * protocol on `node:http`, for the real `ComprehendClient` pointed at its `endpoint`.
 *
 * `POST /` with `x-amz-target: Comprehend_20171127.DetectPiiEntities` and `{Text, LanguageCode}`
 * answers `{Entities: [{Type, Score, BeginOffset, EndOffset}]}`. Entities are found with simple
 * regular expressions ({@link findPii}); offsets count Unicode code points with an exclusive end,
 * as the service documents. Like the service it checks its input:
 * - `Text` over `maxTextBytes` UTF-8 bytes: 400 `TextSizeLimitExceededException`;
 * - `LanguageCode` outside the service's enum: 400 `ValidationException`; a known language other
 *   than `en`/`es`: 400 `UnsupportedLanguageException`;
 * - empty `Text`: 400 `ValidationException`; `Text` with an unpaired surrogate (something the
 *   client cut in the middle of a character): 400 `InvalidRequestException` (a check of this fake).
 * Errors are `{__type, message}`. Per request: queued behaviours, else `script`, else success.
 * Every request is recorded; `maxInFlight` is the most requests it held at once.
 */
import { createAwsJsonServer, closeServer, sendAwsJson } from './aws-json';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { listenLocal } from './listen';

export const DETECT_PII_TARGET = 'Comprehend_20171127.DetectPiiEntities';

/** An entity as {@link findPii} finds it, in UTF-16 offsets of the searched string. */
export interface FakePiiMatch {
  readonly type: string;
  readonly score: number;
  readonly start: number;
  readonly end: number;
}

/** The fake's detection rules: type, pattern, score. */
export const FAKE_PII_RULES: readonly { readonly type: string; readonly pattern: RegExp; readonly score: number }[] = [
  { type: 'EMAIL', pattern: /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g, score: 0.99 },
  { type: 'SSN', pattern: /\b\d{3}-\d{2}-\d{4}\b/g, score: 0.97 },
  { type: 'CREDIT_DEBIT_NUMBER', pattern: /\b\d{4}(?: \d{4}){3}\b/g, score: 0.92 },
  { type: 'PHONE', pattern: /\(\d{3}\) \d{3}-\d{4}/g, score: 0.65 },
];

/** Every entity the fake finds in `text`, sorted by start, UTF-16 offsets (the reference for tests). */
export function findPii(text: string): FakePiiMatch[] {
  const out: FakePiiMatch[] = [];
  for (const rule of FAKE_PII_RULES) {
    const re = new RegExp(rule.pattern.source, rule.pattern.flags);
    for (let m = re.exec(text); m; m = re.exec(text))
      out.push({ type: rule.type, score: rule.score, start: m.index, end: m.index + m[0].length });
  }
  return out.sort((a, b) => a.start - b.start || a.end - b.end);
}

/** A request as the fake received it. */
export interface FakeComprehendRequest {
  /** The `x-amz-target` header. */
  readonly target: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
  /** `body.Text` when it is a string. */
  readonly text: string | undefined;
}

/** What the fake does with one request. */
export type FakeComprehendBehaviour =
  /** Detect (after `latencyMs`). `scores` overrides the score of some types. */
  | { readonly kind: 'success'; readonly latencyMs?: number; readonly scores?: Readonly<Record<string, number>> }
  /** Fail; `echoText` puts the request's Text in the message (as some service validation messages do). */
  | {
      readonly kind: 'error';
      readonly status: number;
      readonly type: string;
      readonly message?: string;
      readonly echoText?: boolean;
      readonly latencyMs?: number;
    }
  /** Answer this JSON body. */
  | { readonly kind: 'json'; readonly status?: number; readonly body: unknown }
  /** Never answer (until the client gives up or the fake closes). */
  | { readonly kind: 'hang' };

/** Shorthands for Comprehend's errors. */
export const COMPREHEND_ERRORS = {
  throttling: {
    kind: 'error',
    status: 400,
    type: 'TooManyRequestsException',
    message: 'The number of requests exceeds the limit. Resubmit your request later.',
  },
  internal: {
    kind: 'error',
    status: 500,
    type: 'InternalServerException',
    message: 'An internal server error occurred. Retry your request.',
  },
  unavailable: { kind: 'error', status: 503, type: 'ServiceUnavailableException', message: 'Service unavailable' },
  accessDenied: {
    kind: 'error',
    status: 400,
    type: 'AccessDeniedException',
    message: 'User is not authorized to perform: comprehend:DetectPiiEntities',
  },
} as const satisfies Record<string, FakeComprehendBehaviour>;

/** A running fake Comprehend. */
export interface FakeComprehend {
  /** `http://127.0.0.1:<port>`: the client's `endpoint`. */
  readonly endpoint: string;
  readonly requests: FakeComprehendRequest[];
  /** Number of `DetectPiiEntities` requests received. */
  readonly detectCount: number;
  /** The `Text` of every `DetectPiiEntities` request, in arrival order. */
  readonly texts: string[];
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** Largest `Text` accepted, UTF-8 bytes. */
  maxTextBytes: number;
  enqueue(...behaviours: FakeComprehendBehaviour[]): void;
  setScript(script: ((req: FakeComprehendRequest, n: number) => FakeComprehendBehaviour | undefined) | undefined): void;
  /** Forget requests, queue and script; restart the in-flight maximum. */
  reset(): void;
  close(): Promise<void>;
}

/** `LanguageCode` values the service's model accepts (others fail validation). */
const LANGUAGE_CODES = new Set(['en', 'es', 'fr', 'de', 'it', 'pt', 'ar', 'hi', 'ja', 'ko', 'zh', 'zh-TW']);
const PII_LANGUAGES = new Set(['en', 'es']);

/** Start a fake Comprehend on a free local port. */
export async function startFakeComprehend(opts: { maxTextBytes?: number } = {}): Promise<FakeComprehend> {
  const requests: FakeComprehendRequest[] = [];
  const queue: FakeComprehendBehaviour[] = [];
  let script: ((req: FakeComprehendRequest, n: number) => FakeComprehendBehaviour | undefined) | undefined;
  let inFlight = 0;
  let maxInFlight = 0;
  const timers = new Set<NodeJS.Timeout>();
  const state = { maxTextBytes: opts.maxTextBytes ?? 100_000 };

  const server = createAwsJsonServer((r, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on('close', () => void inFlight--);
    const body = r.body;
    const target = r.target;
    const b = (body ?? {}) as { Text?: unknown; LanguageCode?: unknown };
    const fake: FakeComprehendRequest = { target, headers: r.headers, body, text: typeof b.Text === 'string' ? b.Text : undefined };
    requests.push(fake);
    const n = requests.length - 1;
    if (!r.isProtocolRoute) return sendError(res, 404, 'UnknownOperationException', `no route for ${r.method} ${r.url}`);
    if (target !== DETECT_PII_TARGET) return sendError(res, 400, 'UnknownOperationException', `unsupported operation ${target}`);
    const behaviour = queue.shift() ?? script?.(fake, n) ?? { kind: 'success' };
    if (behaviour.kind === 'hang') return;
    const act = (): void => respond(res, fake, b.LanguageCode, behaviour, state.maxTextBytes);
    const latency = behaviour.kind === 'json' ? 0 : (behaviour.latencyMs ?? 0);
    if (!latency) return act();
    const timer = setTimeout(() => {
      timers.delete(timer);
      act();
    }, latency);
    timers.add(timer);
  });

  const endpoint = await listenLocal(server);

  return {
    endpoint,
    requests,
    get detectCount() {
      return requests.filter((r) => r.target === DETECT_PII_TARGET).length;
    },
    get texts() {
      return requests.filter((r) => r.target === DETECT_PII_TARGET && r.text !== undefined).map((r) => r.text!);
    },
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    get maxTextBytes() {
      return state.maxTextBytes;
    },
    set maxTextBytes(v: number) {
      state.maxTextBytes = v;
    },
    enqueue: (...b) => void queue.push(...b),
    setScript: (s) => void (script = s),
    reset: () => {
      requests.length = 0;
      queue.length = 0;
      script = undefined;
      maxInFlight = inFlight;
    },
    close: () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return closeServer(server);
    },
  };
}

function respond(
  res: ServerResponse,
  req: FakeComprehendRequest,
  languageCode: unknown,
  b: Exclude<FakeComprehendBehaviour, { kind: 'hang' }>,
  maxTextBytes: number,
): void {
  if (res.destroyed || res.writableEnded) return;
  if (b.kind === 'error') {
    const message =
      b.echoText && req.text !== undefined
        ? `${b.message ?? b.type}: Value '${req.text}' at 'text' failed to satisfy constraint`
        : (b.message ?? b.type);
    return sendError(res, b.status, b.type, message);
  }
  if (b.kind === 'json') return send(res, b.status ?? 200, b.body);
  const text = req.text;
  if (typeof languageCode !== 'string' || !LANGUAGE_CODES.has(languageCode)) {
    return sendError(
      res,
      400,
      'ValidationException',
      `1 validation error detected: Value '${String(languageCode)}' at 'languageCode' failed to satisfy constraint: Member must satisfy enum value set: [${[...LANGUAGE_CODES].join(', ')}]`,
    );
  }
  if (text === undefined || text === '')
    return sendError(
      res,
      400,
      'ValidationException',
      "1 validation error detected: Value at 'text' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxTextBytes) {
    return sendError(
      res,
      400,
      'TextSizeLimitExceededException',
      `Input text size exceeds limit. Max length of request text allowed is ${maxTextBytes} bytes while in this request the text size is ${bytes} bytes`,
    );
  }
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text))
    return sendError(res, 400, 'InvalidRequestException', 'Text is not valid UTF-8');
  if (!PII_LANGUAGES.has(languageCode))
    return sendError(res, 400, 'UnsupportedLanguageException', 'Amazon Comprehend can not process the language in this request.');
  const cp = codePointOffsets(text);
  const entities = findPii(text).map((m) => ({
    Score: b.scores?.[m.type] ?? m.score,
    Type: m.type,
    BeginOffset: cp[m.start],
    EndOffset: cp[m.end],
  }));
  send(res, 200, { Entities: entities });
}

/** For each UTF-16 offset of `text` (and `text.length`), the number of code points before it. */
function codePointOffsets(text: string): number[] {
  const out = new Array<number>(text.length + 1);
  let cp = 0;
  for (let i = 0; i < text.length; i++) {
    out[i] = cp;
    const c = text.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && text.charCodeAt(i + 1) >= 0xdc00 && text.charCodeAt(i + 1) <= 0xdfff;
    if (pair) out[++i] = cp;
    cp++;
  }
  out[text.length] = cp;
  return out;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  sendAwsJson(res, '1.1', status, body);
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  send(res, status, { __type: type, message });
}
