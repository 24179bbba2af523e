/**
 * The `recording` section of the configuration schema (zod): what a session record keeps of the
 * input. Resolved values and their meaning: shared/recording.ts.
 */
import * as z from 'zod';
import { MAX_MAX_TEXT_BYTES, MIN_MAX_TEXT_BYTES, type RecordingSource } from './recording';

export const recordingSchema = z.strictObject({
  /** "keep" (default): the input as it left for the model (masked when masking is on); "omit": counts and findings only. */
  inputText: z.enum(['keep', 'omit'], { error: 'recording.inputText must be "keep" or "omit"' }).optional(),
  /** Budget of the kept input per record, bytes of JSON (default 262144); items past it are kept as SHA-256 and length. */
  maxTextBytes: z
    .number({ error: 'recording.maxTextBytes must be a whole number of bytes' })
    .int({ error: 'recording.maxTextBytes must be a whole number of bytes' })
    .min(MIN_MAX_TEXT_BYTES, { error: `recording.maxTextBytes must be at least ${MIN_MAX_TEXT_BYTES} bytes` })
    .max(MAX_MAX_TEXT_BYTES, {
      error: `recording.maxTextBytes must be at most ${MAX_MAX_TEXT_BYTES} bytes (300 KiB): a record is one journal item, and DynamoDB items hold 400 KB in all, the rest of the record included`,
    })
    .optional(),
});

/** An explicit `recording.inputText` that contradicts an explicit `masking.storeInputText`, as an issue message. */
export function recordingConflict(c: RecordingSource): string | undefined {
  const legacy = c.masking?.storeInputText;
  const mode = c.recording?.inputText;
  if (legacy === undefined || mode === undefined) return undefined;
  if (legacy && mode === 'omit')
    return 'recording.inputText is "omit" but masking.storeInputText is true: remove masking.storeInputText (recording.inputText decides)';
  if (!legacy && mode === 'keep')
    return 'recording.inputText is "keep" but masking.storeInputText is false: remove masking.storeInputText (recording.inputText decides)';
  return undefined;
}
