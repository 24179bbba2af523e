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
   * Words one of which must appear shortly before a match (compared case-insensitively).
   * @default - none
   */
  readonly contextWords?: string[];
  /**
   * Characters before a match searched for a context word (at most 1000); needs `contextWords`.
   * @default 50
   */
  readonly contextWindow?: number;
  /**
   * Regular expression flags among `i`, `m`, `s`, `u` (`g` is added by the engine).
   * @default - none (case-sensitive)
   */
  readonly flags?: string;
}

/** A built-in detector, by name (for `disabledDetectors`). */
export enum MaskingDetector {
  EMAIL = 'email',
  PHONE = 'phone',
  US_SSN = 'us_ssn',
  CREDIT_CARD = 'credit_card',
  IBAN = 'iban',
  IPV4 = 'ipv4',
  IPV6 = 'ipv6',
  AWS_ACCESS_KEY_ID = 'aws_access_key_id',
  AWS_SECRET_ACCESS_KEY = 'aws_secret_access_key',
  JWT = 'jwt',
  PRIVATE_KEY = 'private_key',
  API_KEY = 'api_key',
}

/** Language of the texts Amazon Comprehend `DetectPiiEntities` reads (the languages it supports). */
export enum ComprehendLanguage {
  ENGLISH = 'en',
  SPANISH = 'es',
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
   * Language of the texts, for Comprehend.
   * @default ComprehendLanguage.ENGLISH
   */
  readonly comprehendLanguage?: ComprehendLanguage;
  /**
   * Comprehend entities scored below this (0 to 1) are ignored.
   * @default 0.8
   */
  readonly comprehendMinScore?: number;
  /**
   * Comprehend entity types to keep, in Comprehend's names (`NAME`, `ADDRESS`, `BANK_ACCOUNT_NUMBER`, ...).
   * @default - every type but DATE_TIME, AGE and URL
   */
  readonly comprehendEntityTypes?: string[];
  /**
   * Most Comprehend calls in flight for one request (1 to 32).
   * @default 4
   */
  readonly comprehendMaxConcurrency?: number;
  /**
   * Built-in detectors to turn off.
   * @default - every built-in detector runs
   */
  readonly disabledDetectors?: MaskingDetector[];
  /**
   * Regions (ISO 3166-1 alpha-2, e.g. `US`, `GB`) whose national-format phone numbers are
   * recognised; numbers in international form (`+44 ...`) are recognised for every region.
   * @default - US, CA, GB, DE, FR, IN, AU, BR, JP, CN, IL, ES, IT, NL
   */
  readonly phoneRegions?: string[];
  /**
   * Hex characters of the keyed HMAC in a pseudonym (8 to 64). 16 (64 bits) keeps the chance of
   * two values sharing a token at about 2.7 % for a billion distinct values of one type; 8 (32
   * bits) reaches that at 15 000.
   * @default 16
   */
  readonly pseudonymLength?: number;
  /**
   * Longest input item scanned, in characters (at most 1 000 000); a longer item is refused with
   * 413, never passed on unscanned.
   * @default 100000
   */
  readonly maxScanChars?: number;
  /**
   * Let token-id inputs through unscanned (they cannot be scanned).
   * @default false - refused with 400
   */
  readonly allowTokenInputs?: boolean;
  /**
   * Older switch of what records keep, superseded by `recording.inputText`: false keeps no input
   * text in records (as it always did), true keeps it. Leave it unset and use `recording`.
   * @default - as `recording.inputText` says (input kept)
   */
  readonly storeInputText?: boolean;
}
