/**
 * What a session record keeps of the input (the `recording` section of the configuration), as the
 * Lambdas read it: values only, no schema (zod) on their start path. The schema of the section is
 * in shared/config-schema-recording.ts; `loadConfig` always writes the resolved section into the
 * normalised document, so `recordingOf` only falls back for a document written before it existed.
 *
 * - `inputText: "keep"` (the default): the record keeps the input exactly as it left for the
 *   model (the masked items when masking is on; token ids as ids), within `maxTextBytes`.
 * - `inputText: "omit"`: the record keeps counts and findings only, and says so (`input.kept`).
 *
 * `masking.storeInputText` (older configurations) still counts: `false` said "no text in records"
 * and keeps meaning it (omit), `true` means keep. It may not contradict an explicit `inputText`.
 */

export type InputTextMode = 'keep' | 'omit';

/** The resolved `recording` section. */
export interface RecordingConfig {
  readonly inputText: InputTextMode;
  /**
   * Budget of the kept input in one record, bytes of its JSON (the kept items and the digests of
   * the items cut): items past it are kept as a SHA-256 and a length (`input.cut`).
   */
  readonly maxTextBytes: number;
}

/** Default budget of the kept input: 256 KiB. */
export const DEFAULT_MAX_TEXT_BYTES = 262_144;
/**
 * Largest budget: 300 KiB. The journal keeps a record as one DynamoDB item (400 KB in all,
 * attribute names included, the record gzip-compressed); the rest of the record (principal,
 * masking findings, approval) keeps at least 100 KB. The budget counts the record's JSON before
 * compression, so it holds for text that does not compress.
 */
export const MAX_MAX_TEXT_BYTES = 307_200;
/** Smallest budget: 1 KiB, room for a few digests of cut items. */
export const MIN_MAX_TEXT_BYTES = 1024;

export const RECORDING_DEFAULTS: RecordingConfig = { inputText: 'keep', maxTextBytes: DEFAULT_MAX_TEXT_BYTES };

/** The parts of a configuration that decide what records keep. */
export interface RecordingSource {
  readonly recording?: { readonly inputText?: InputTextMode; readonly maxTextBytes?: number } | undefined;
  readonly masking?: { readonly storeInputText?: boolean } | undefined;
}

/**
 * What records keep under this configuration: `recording.inputText` when given, else
 * `masking.storeInputText` when given (false: omit), else keep; the default budget when none is given.
 */
export function recordingOf(config: RecordingSource): RecordingConfig {
  const legacy = config.masking?.storeInputText;
  const inputText = config.recording?.inputText ?? (legacy === undefined ? RECORDING_DEFAULTS.inputText : legacy ? 'keep' : 'omit');
  return { inputText, maxTextBytes: config.recording?.maxTextBytes ?? DEFAULT_MAX_TEXT_BYTES };
}
