/**
 * The masking vocabulary: entity types, built-in detector names, strategies, validators and the
 * Amazon Comprehend type mapping. Pure data with no imports, so that the configuration schema
 * (`shared/config.ts`) and the engine share one list.
 */

/** Entity types the built-in detectors report. */
export const BUILTIN_ENTITY_TYPES = [
  'EMAIL',
  'PHONE',
  'US_SSN',
  'CREDIT_CARD',
  'IBAN',
  'IP_ADDRESS',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'JWT',
  'PRIVATE_KEY',
  'API_KEY',
] as const;
export type BuiltinEntityType = (typeof BUILTIN_ENTITY_TYPES)[number];

/**
 * An entity type: a built-in one, the name of a custom detector, or a type reported by an
 * external detector (Comprehend's, mapped by `COMPREHEND_TYPE_MAP` or kept by name).
 * Always upper snake case (`ENTITY_TYPE_PATTERN`).
 */
export type EntityType = string;

/** Upper snake case, 1-64 characters: the shape of every entity type and custom detector name. */
export const ENTITY_TYPE_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;

/** Built-in detectors by name (the names `disabledDetectors` takes) and the type each reports. */
export const BUILTIN_DETECTORS = {
  email: 'EMAIL',
  phone: 'PHONE',
  us_ssn: 'US_SSN',
  credit_card: 'CREDIT_CARD',
  iban: 'IBAN',
  ipv4: 'IP_ADDRESS',
  ipv6: 'IP_ADDRESS',
  aws_access_key_id: 'AWS_ACCESS_KEY_ID',
  aws_secret_access_key: 'AWS_SECRET_ACCESS_KEY',
  jwt: 'JWT',
  private_key: 'PRIVATE_KEY',
  api_key: 'API_KEY',
} as const satisfies Record<string, BuiltinEntityType>;
export type BuiltinDetectorName = keyof typeof BUILTIN_DETECTORS;
export const BUILTIN_DETECTOR_NAMES = Object.keys(BUILTIN_DETECTORS) as BuiltinDetectorName[];

/**
 * What happens to a finding, per entity type:
 * - `redact`: replaced by a typed placeholder, `[EMAIL]`;
 * - `pseudonymize`: replaced by a keyed HMAC token, `<EMAIL_3f9a1c2e>` (same value, same token);
 * - `detect`: left as it is, recorded;
 * - `block`: the request is refused (422 naming the types, never the values).
 */
export const STRATEGIES = ['redact', 'pseudonymize', 'detect', 'block'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** The strategy of a type no configuration mentions. */
export const DEFAULT_STRATEGY: Strategy = 'redact';

/** Validators a custom detector may name. */
export const VALIDATORS = ['luhn', 'mod97'] as const;
export type ValidatorName = (typeof VALIDATORS)[number];

/** Entity types Amazon Comprehend `DetectPiiEntities` reports (English and Spanish). */
export const COMPREHEND_ENTITY_TYPES = [
  'ADDRESS',
  'AGE',
  'AWS_ACCESS_KEY',
  'AWS_SECRET_KEY',
  'BANK_ACCOUNT_NUMBER',
  'BANK_ROUTING',
  'CA_HEALTH_NUMBER',
  'CA_SOCIAL_INSURANCE_NUMBER',
  'CREDIT_DEBIT_CVV',
  'CREDIT_DEBIT_EXPIRY',
  'CREDIT_DEBIT_NUMBER',
  'DATE_TIME',
  'DRIVER_ID',
  'EMAIL',
  'INTERNATIONAL_BANK_ACCOUNT_NUMBER',
  'IN_AADHAAR',
  'IN_NREGA',
  'IN_PERMANENT_ACCOUNT_NUMBER',
  'IN_VOTER_NUMBER',
  'IP_ADDRESS',
  'LICENSE_PLATE',
  'MAC_ADDRESS',
  'NAME',
  'PASSPORT_NUMBER',
  'PASSWORD',
  'PHONE',
  'PIN',
  'SSN',
  'SWIFT_CODE',
  'UK_NATIONAL_HEALTH_SERVICE_NUMBER',
  'UK_NATIONAL_INSURANCE_NUMBER',
  'UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER',
  'URL',
  'USERNAME',
  'US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER',
  'VEHICLE_IDENTIFICATION_NUMBER',
] as const;

/**
 * Comprehend types kept when `comprehend.entityTypes` is not given: all but `DATE_TIME`, `AGE` and
 * `URL`, which are rarely identifying on their own and whose removal changes what a text means.
 */
export const DEFAULT_COMPREHEND_ENTITY_TYPES: readonly string[] = COMPREHEND_ENTITY_TYPES.filter(
  (t) => t !== 'DATE_TIME' && t !== 'AGE' && t !== 'URL',
);

/** Comprehend types reported under a gateway type; any other Comprehend type keeps its own name. */
export const COMPREHEND_TYPE_MAP: Readonly<Record<string, EntityType>> = {
  CREDIT_DEBIT_NUMBER: 'CREDIT_CARD',
  EMAIL: 'EMAIL',
  PHONE: 'PHONE',
  SSN: 'US_SSN',
  IP_ADDRESS: 'IP_ADDRESS',
  NAME: 'PERSON_NAME',
  ADDRESS: 'ADDRESS',
  AWS_ACCESS_KEY: 'AWS_ACCESS_KEY_ID',
  AWS_SECRET_KEY: 'AWS_SECRET_ACCESS_KEY',
  INTERNATIONAL_BANK_ACCOUNT_NUMBER: 'IBAN',
};

/** The gateway entity type of a Comprehend type. */
export function comprehendEntityType(type: string): EntityType {
  return COMPREHEND_TYPE_MAP[type] ?? type;
}

/** Every entity type Comprehend can produce, after mapping. */
export const COMPREHEND_MAPPED_TYPES: readonly EntityType[] = [...new Set(COMPREHEND_ENTITY_TYPES.map(comprehendEntityType))];

/**
 * Tie-break between overlapping findings of equal length: the more specific type wins.
 * Higher is more specific; types not listed (custom, external) rank 0.
 */
export const TYPE_SPECIFICITY: Readonly<Record<string, number>> = {
  PRIVATE_KEY: 110,
  JWT: 100,
  AWS_SECRET_ACCESS_KEY: 95,
  AWS_ACCESS_KEY_ID: 90,
  API_KEY: 85,
  CREDIT_CARD: 80,
  IBAN: 75,
  US_SSN: 70,
  EMAIL: 65,
  IP_ADDRESS: 60,
  PHONE: 50,
};

/** How much a strategy protects; within overlapping findings the most protective applies. */
export const STRATEGY_STRENGTH: Readonly<Record<Strategy, number>> = { detect: 0, pseudonymize: 1, redact: 2, block: 3 };

/**
 * Default and bounds of the pseudonym length, in hex characters of the HMAC. 16 characters are
 * 64 bits: among a billion distinct values of one type the chance that two share a token is about
 * 2.7 % (n² / 2^65); 8 characters (32 bits) reach that at 15 000 values.
 */
export const PSEUDONYM_HEX_DEFAULT = 16;
export const PSEUDONYM_HEX_MIN = 8;
export const PSEUDONYM_HEX_MAX = 64;

/**
 * Regions whose NATIONAL-format phone numbers (`020 7946 0958`, `(415) 555-0132`) the phone
 * detector recognises; numbers in international form (`+44 ...`) are recognised for every region.
 * A national number means something only relative to a region, and every region added makes more
 * digit groups (order numbers, ZIP+4 codes) look like someone's phone number.
 */
export const DEFAULT_PHONE_REGIONS: readonly string[] = [
  'US',
  'CA',
  'GB',
  'DE',
  'FR',
  'IN',
  'AU',
  'BR',
  'JP',
  'CN',
  'IL',
  'ES',
  'IT',
  'NL',
];
