import type { Size } from 'aws-cdk-lib';

/** What session records keep of the input itself. */
export enum RecordedInputText {
  /**
   * The input exactly as it left for the model: the masked items when masking is on, the input as
   * sent when it is off, token ids as ids (values found under a `detect` strategy are shown as
   * `[TYPE]`). Within `maxTextSize`.
   */
  KEEP = 'keep',
  /** No input text or token ids: counts and findings only; each record says the input was omitted. */
  OMIT = 'omit',
}

/** What the gateway's session records keep (see docs/session-record.md). */
export interface GatewayRecording {
  /**
   * Whether records keep the input. `masking.storeInputText: false` (an older setting) still means
   * OMIT; it may not contradict this prop.
   * @default RecordedInputText.KEEP
   */
  readonly inputText?: RecordedInputText;
  /**
   * Budget of the kept input in one record (bytes of its JSON, at most 300 KiB: a record is one
   * DynamoDB journal item, 400 KB in all). Items past it are kept as a SHA-256 and a length, and
   * the record lists them.
   * @default Size.kibibytes(256)
   */
  readonly maxTextSize?: Size;
}
