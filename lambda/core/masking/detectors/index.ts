/** The built-in detectors, by name. */
import type { BuiltinDetectorName } from '../../../../shared/masking/catalog';
import type { Detector } from '../types';
import { apiKeyDetector } from './api-key';
import { awsAccessKeyIdDetector, awsSecretAccessKeyDetector } from './aws';
import { cardDetector } from './card';
import { emailDetector } from './email';
import { ibanDetector } from './iban';
import { ipv4Detector, ipv6Detector } from './ip';
import { jwtDetector } from './jwt';
import { createPhoneDetector, phoneDetector } from './phone';
import { privateKeyDetector } from './private-key';
import { ssnDetector } from './ssn';

export const BUILTIN: Readonly<Record<BuiltinDetectorName, Detector>> = {
  email: emailDetector,
  phone: phoneDetector,
  us_ssn: ssnDetector,
  credit_card: cardDetector,
  iban: ibanDetector,
  ipv4: ipv4Detector,
  ipv6: ipv6Detector,
  aws_access_key_id: awsAccessKeyIdDetector,
  aws_secret_access_key: awsSecretAccessKeyDetector,
  jwt: jwtDetector,
  private_key: privateKeyDetector,
  api_key: apiKeyDetector,
};

export interface BuiltinOptions {
  /** Regions whose national phone formats are recognised (`masking.phoneRegions`). @default DEFAULT_PHONE_REGIONS */
  readonly phoneRegions?: readonly string[];
}

/** The built-in detectors minus the disabled ones, in a fixed order. */
export function builtinDetectors(disabled: readonly string[] = [], opts: BuiltinOptions = {}): Detector[] {
  return Object.values(BUILTIN)
    .filter((d) => !disabled.includes(d.name))
    .map((d) => (d.name === 'phone' && opts.phoneRegions ? createPhoneDetector(opts.phoneRegions) : d));
}

export { loadPhoneLibrary } from './phone-library';

export { customDetector, type CustomDetectorSpec } from './custom';
