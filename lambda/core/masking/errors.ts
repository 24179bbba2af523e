/**
 * Why masking refused to produce output. Masking never passes text it was asked to protect
 * unscanned: every such case is one of these errors, and the caller refuses the request.
 * Messages name limits and detectors, never a value.
 */

export type MaskingErrorCode =
  /** An item is longer than `maxScanChars` (answer 413). */
  | 'too_large'
  /** The external detector failed and its fail mode is "closed" (answer 503). */
  | 'detector_unavailable';

const STATUS: Readonly<Record<MaskingErrorCode, number>> = { too_large: 413, detector_unavailable: 503 };

export class MaskingError extends Error {
  /** The HTTP status the gateway answers with. */
  readonly status: number;

  constructor(
    readonly code: MaskingErrorCode,
    message: string,
    readonly details: { readonly itemIndex?: number; readonly chars?: number; readonly limit?: number; readonly detector?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MaskingError';
    this.status = STATUS[code];
  }
}

/** The error for an item longer than the scan limit. */
export function tooLarge(chars: number, limit: number, itemIndex?: number): MaskingError {
  const which = itemIndex === undefined ? 'The text' : `Input item ${itemIndex}`;
  return new MaskingError(
    'too_large',
    `${which} is ${chars} characters long; masking scans at most ${limit} characters per item. Split it into smaller items.`,
    {
      ...(itemIndex === undefined ? {} : { itemIndex }),
      chars,
      limit,
    },
  );
}
