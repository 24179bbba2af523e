/** US SSN, payment card and IBAN detectors: validation, near misses, boundaries. */
import { cardBrand, cardDetector } from '../../lambda/core/masking/detectors/card';
import { ibanDetector, IBAN_LENGTHS, validIban } from '../../lambda/core/masking/detectors/iban';
import { ssnDetector, validSsn } from '../../lambda/core/masking/detectors/ssn';
import { luhn, mod97 } from '../../lambda/core/masking/validators';
import { breakLuhn, values, withLuhn } from './helpers';

describe('US SSN', () => {
  it.each(['123-45-6789', '123 45 6789', '001-01-0001', '899-99-9999', '665-12-3456'])('finds %s', (ssn) => {
    expect(values(ssnDetector, `SSN on file: ${ssn}.`)).toEqual([ssn]);
  });

  it.each([
    ['area 000', '000-12-3456'],
    ['area 666', '666-12-3456'],
    ['area 9xx', '912-34-5678'],
    ['group 00', '123-00-4567'],
    ['serial 0000', '123-45-0000'],
    ['mixed separators', '123-45 6789'],
    ['a longer number', '123-45-67890'],
    ['inside a dashed id', 'X-123-45-6789'],
    ['a ZIP+4', '12345-6789'],
  ])('refuses %s: %s', (_what, text) => {
    expect(values(ssnDetector, `ssn ${text}`)).toEqual([]);
  });

  it('accepts nine bare digits only after an SSN word', () => {
    expect(values(ssnDetector, 'SSN: 123456789')).toEqual(['123456789']);
    expect(values(ssnDetector, 'Social Security number 123456789')).toEqual(['123456789']);
    expect(values(ssnDetector, 'routing 123456789')).toEqual([]);
    expect(values(ssnDetector, 'lessn 123456789')).toEqual([]);
  });

  it('a placeholder is not an SSN word', () => {
    expect(values(ssnDetector, '[US_SSN] 123456789')).toEqual([]);
  });

  it('validSsn follows the SSA rules', () => {
    expect(validSsn('123456789')).toBe(true);
    expect(['000123456', '666123456', '900123456', '123006789', '123450000'].map(validSsn)).toEqual([false, false, false, false, false]);
  });
});

describe('payment cards', () => {
  const cards: Array<[string, string]> = [
    ['visa 16', '4111111111111111'],
    ['visa 13', '4222222222222'],
    ['visa 19', withLuhn('4', 19)],
    ['mastercard 51-55', '5555555555554444'],
    ['mastercard 2-series', '2223003122003222'],
    ['amex 34', withLuhn('34', 15)],
    ['amex 37', '378282246310005'],
    ['discover 6011', '6011111111111117'],
    ['discover 644-649', withLuhn('645', 16)],
    ['discover 65', withLuhn('65', 19)],
    ['jcb', '3530111333300000'],
    ['diners 300-305', '30569309025904'],
    ['diners 36', withLuhn('36', 14)],
    ['diners 38', withLuhn('38', 16)],
    ['unionpay 16', '6200000000000005'],
    ['unionpay 19', withLuhn('62', 19)],
    ['maestro 6759', withLuhn('6759', 16)],
    ['maestro 5018, 13 digits', withLuhn('5018', 13)],
    ['mir', withLuhn('2200', 16)],
  ];
  it.each(cards)('finds %s', (_brand, digits) => {
    expect(cardBrand(digits)).not.toBeNull();
    expect(values(cardDetector, `card ${digits}.`)).toEqual([digits]);
  });

  it.each([
    ['fours with spaces', '4111 1111 1111 1111'],
    ['fours with dashes', '5555-5555-5555-4444'],
    ['amex 4-6-5', '3782 822463 10005'],
    ['diners 4-6-4', '3056 930902 5904'],
    [
      '19 digits, 4-4-4-4-3',
      (() => {
        const d = withLuhn('4', 19);
        return `${d.slice(0, 4)} ${d.slice(4, 8)} ${d.slice(8, 12)} ${d.slice(12, 16)} ${d.slice(16)}`;
      })(),
    ],
  ])('finds printed groupings: %s', (_what, card) => {
    expect(values(cardDetector, `paid with ${card} yesterday`)).toEqual([card]);
  });

  it.each([
    ['Luhn failure, 16 digits', breakLuhn('4111111111111111')],
    ['Luhn failure, grouped', '4111 1111 1111 1112'],
    ['unknown issuer (Luhn-valid)', withLuhn('9', 16)],
    ['wrong length for the brand (amex with 16)', withLuhn('37', 16)],
    ['mixed separators', '4111 1111-1111 1111'],
    ['odd grouping', '41 1111 1111 1111 11'],
    ['12 digits', withLuhn('4', 12)],
    ['20 digits', withLuhn('4', 20)],
    ['inside a longer number', `9${'4111111111111111'}9`],
    ['glued to letters', 'ID4111111111111111'],
    ['a dotted number', '4111.1111.1111.1111'],
    ['a UUID', '4111e4567-e89b-12d3-a456-426614174000'],
    ['an epoch in milliseconds', '1705314645123'],
  ])('refuses %s', (_what, text) => {
    expect(values(cardDetector, `number ${text} end`)).toEqual([]);
  });

  it('finds the card inside a grouped run with a year after it or a short number before it', () => {
    expect(values(cardDetector, 'card 4111 1111 1111 1111 2027')).toEqual(['4111 1111 1111 1111']);
    expect(values(cardDetector, 'qty 12 4111 1111 1111 1111')).toEqual(['4111 1111 1111 1111']);
  });

  it('finds a card right after a dotted or dashed number (an IP address, a version)', () => {
    expect(values(cardDetector, 'from 10.0.0.1 4111 1111 1111 1111 today')).toEqual(['4111 1111 1111 1111']);
    expect(values(cardDetector, 'v1.2 4111111111111111')).toEqual(['4111111111111111']);
    expect(values(cardDetector, 'ref-12 4111111111111111')).toEqual(['4111111111111111']);
  });

  it('finds cards at the edges of the text and next to CJK text', () => {
    expect(values(cardDetector, '4111111111111111')).toEqual(['4111111111111111']);
    expect(values(cardDetector, '卡号4111111111111111。')).toEqual(['4111111111111111']);
  });

  it('luhn', () => {
    expect(luhn('79927398713')).toBe(true);
    expect(luhn('79927398710')).toBe(false);
    expect(luhn('0')).toBe(false);
    expect(luhn('12a4')).toBe(false);
  });
});

describe('IBAN', () => {
  const ibans = [
    'DE89370400440532013000',
    'GB82WEST12345698765432',
    'FR1420041010050500013M02606',
    'NL91ABNA0417164300',
    'BE68539007547034',
    'NO9386011117947',
    'CH9300762011623852957',
    'MT84MALT011000012345MTLCAST001S',
  ];
  it.each(ibans)('finds %s compact and in groups of four', (iban) => {
    const spaced = iban.replace(/(.{4})(?=.)/g, '$1 ');
    expect(values(ibanDetector, `IBAN ${iban}, thanks`)).toEqual([iban]);
    expect(values(ibanDetector, `IBAN ${spaced}, thanks`)).toEqual([spaced]);
  });

  it.each([
    ['a check-digit failure', 'DE89370400440532013001'],
    ['a wrong length for the country', 'DE8937040044053201300'],
    ['an unknown country', 'ZZ89370400440532013000'],
    ['glued to letters', 'XDE89370400440532013000'],
    ['spaces inside a group of four', 'DE89 370 40044 0532013000'],
    ['lower case', 'de89370400440532013000'],
  ])('refuses %s', (_what, text) => {
    expect(values(ibanDetector, `acct ${text} end`)).toEqual([]);
  });

  it('accepts spaces between some groups of four only (a paste that lost a few spaces)', () => {
    expect(values(ibanDetector, 'IBAN DE89 37040044 0532013000')).toEqual(['DE89 37040044 0532013000']);
  });

  it('stops a spaced IBAN before a number that follows it', () => {
    expect(values(ibanDetector, 'BE68 5390 0754 7034 2024')).toEqual(['BE68 5390 0754 7034']);
  });

  it('validates by length table and mod 97', () => {
    expect(Object.keys(IBAN_LENGTHS).length).toBeGreaterThan(80);
    expect(validIban('GB82WEST12345698765432')).toBe(true);
    expect(validIban('GB82WEST1234569876543')).toBe(false);
    expect(mod97('GB82WEST12345698765432')).toBe(true);
    expect(mod97('GB83WEST12345698765432')).toBe(false);
    expect(mod97('GB82-WEST')).toBe(false);
  });
});
