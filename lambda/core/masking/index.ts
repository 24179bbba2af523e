/**
 * Masking: detection of sensitive data in text and its redaction, pseudonymization or blocking.
 * Pure (no AWS SDK, no I/O); the external detector comes in through the `PiiDetector` port.
 *
 * The pipeline needs `createMasker`, `ruleMaskingStrategies` and `MaskingError`; the rest is the
 * engine's parts, exported for tests, benchmarks and other callers.
 */
export {
  createMasker,
  ruleMaskingStrategies,
  type Masker,
  type MaskerDeps,
  type MaskItemsResult,
  type MaskResponseResult,
  type ExternalStatus,
} from './masker';
export { MaskingError, type MaskingErrorCode } from './errors';
export { scan, externalFindings, resolveOverlaps, compareFindings, type Region, type ScanOptions } from './engine';
export { mask, type MaskPolicy, type MaskedText } from './mask';
export { maskText, type MaskTextOptions } from './mask-text';
export { builtinDetectors, customDetector, loadPhoneLibrary, BUILTIN, type CustomDetectorSpec } from './detectors';
export { chunkText, detectExternal, codePointToUtf16 } from './external';
export { pseudonymHex, normalise, pseudonymKeyBytes } from './pseudonym';
export { protectedSpans, redactToken, pseudonymToken, type TokenGrammar } from './placeholders';
export { screenPattern } from '../../../shared/masking/pattern-safety';
export * from '../../../shared/masking/catalog';
export type { Detector, Finding, ItemFinding, StrategyMap, Span } from './types';
