/**
 * libphonenumber-js (the JavaScript port of Google's libphonenumber, with its full metadata),
 * loaded on first use with `import()`: in the proxy bundle it is a chunk of its own (about 200 KB
 * with the metadata), outside what the function loads at start. `createMasker(...).maskItems`
 * loads it before the first scan; code that calls the phone detector directly (`scan`, tests,
 * benchmarks) awaits `loadPhoneLibrary()` first. Until it is loaded, the phone detector throws
 * rather than scan with less than it promises.
 */
import type { CountryCode, PhoneNumber } from 'libphonenumber-js/max';

/** What the phone detector uses of the library. */
export interface PhoneLibrary {
  parsePhoneNumberFromString(text: string, defaultCountry?: CountryCode): PhoneNumber | undefined;
  /** The metadata (libphonenumber-js's compact JSON: per region, calling code, patterns, national formats). */
  readonly metadata: PhoneMetadata;
}

/** What the phone detector reads of the metadata: per region, `[4]` its national formats, `[5]` its national prefix. */
export interface PhoneMetadata {
  readonly countries: Readonly<Record<string, readonly unknown[]>>;
}

let loaded: PhoneLibrary | undefined;
let loading: Promise<PhoneLibrary> | undefined;

/** Load the library (once; a failed load is retried on the next call). */
export function loadPhoneLibrary(): Promise<PhoneLibrary> {
  loading ??= Promise.all([import('libphonenumber-js/max'), import('libphonenumber-js/max/metadata')]).then(
    ([m, md]) =>
      (loaded = {
        parsePhoneNumberFromString: m.parsePhoneNumberFromString,
        metadata: ((md as { default?: unknown }).default ?? md) as PhoneMetadata,
      }),
    (e: unknown) => {
      loading = undefined;
      throw e;
    },
  );
  return loading;
}

/** The library, loaded; throws when `loadPhoneLibrary()` has not completed. */
export function phoneLibrary(): PhoneLibrary {
  if (loaded === undefined) {
    throw new Error('the phone-number library is not loaded yet: await loadPhoneLibrary() before scanning (createMasker does it for you)');
  }
  return loaded;
}
