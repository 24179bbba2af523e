import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

/** What masking does with a detected value. */
export enum MaskingStrategy {
  /** Replace it with a typed placeholder, e.g. `[EMAIL]`. */
  REDACT = 'redact',
  /** Replace it with a keyed HMAC token, e.g. `<EMAIL_3f9a1c2e>`: the same value, the same token. */
  PSEUDONYMIZE = 'pseudonymize',
  /** Leave it, and record the finding. */
  DETECT = 'detect',
  /** Refuse the request (422 naming the entity type, never the value). */
  BLOCK = 'block',
}

/** A detector of your own, for values the built-in ones do not know (employee ids, case numbers, ...). */
export interface CustomMaskingDetector {
  /** Entity type it reports, in upper snake case, e.g. `EMPLOYEE_ID`. */
  readonly name: string;
  /** JavaScript regular expression source. Patterns open to catastrophic backtracking are refused at synth. */
  readonly pattern: string;
  /**
   * Check digit a match must pass: `luhn` or `mod97`.
   * @default - none
   */
  readonly validator?: string;
  /**
   * Words one of which must appear shortly before a match.
   * @default - none
   */
  readonly contextWords?: string[];
}

/**
 * Masking of sensitive data in every input item before it leaves for the model. Built-in
 * validated detectors: EMAIL, PHONE, US_SSN, CREDIT_CARD, IBAN, IP_ADDRESS, AWS keys, JWT,
 * PRIVATE_KEY, API_KEY; optionally Amazon Comprehend as well.
 */
export interface GatewayMasking {
  /**
   * Strategy per entity type (`EMAIL`, `CREDIT_CARD`, a custom detector's name, ...).
   * @default - REDACT for every type not listed
   */
  readonly strategies?: { [entityType: string]: MaskingStrategy };
  /**
   * The secret holding the HMAC key of pseudonyms.
   * @default - a new secret with a generated 64-character value, when any strategy is PSEUDONYMIZE
   */
  readonly pseudonymKey?: secretsmanager.ISecret;
  /** Detectors of your own. @default - none */
  readonly customDetectors?: CustomMaskingDetector[];
  /**
   * Also run Amazon Comprehend `DetectPiiEntities` (names, addresses, ...). Adds a Comprehend VPC
   * endpoint and `comprehend:DetectPiiEntities` to the proxy.
   * @default false
   */
  readonly comprehend?: boolean;
  /**
   * When Comprehend cannot answer, proceed with the built-in detectors only (instead of 503).
   * @default false
   */
  readonly comprehendFailOpen?: boolean;
  /**
   * Let token-id inputs through unscanned (they cannot be scanned).
   * @default false - refused with 400
   */
  readonly allowTokenInputs?: boolean;
  /**
   * Keep the masked input text in session records.
   * @default false - records hold counts and findings, no text
   */
  readonly storeInputText?: boolean;
}
