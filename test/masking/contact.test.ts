/** E-mail and phone detectors: positives, near misses, boundaries. */
import { emailDetector } from '../../lambda/core/masking/detectors/email';
import { createPhoneDetector, phoneDetector } from '../../lambda/core/masking/detectors/phone';
import { values } from './helpers';

describe('email', () => {
  it.each([
    'john.doe@example.com',
    'JOHN.DOE@EXAMPLE.COM',
    'first.last+tag@sub.mail.example.co.uk',
    'a_b-c%d@x-y.io',
    'u@xn--bcher-kva.example',
    'x@a.museum',
  ])('finds %s', (email) => {
    expect(values(emailDetector, `write to ${email} today`)).toEqual([email]);
  });

  it.each([
    ['no TLD', 'user@localhost'],
    ['one-letter TLD', 'user@example.c'],
    ['numeric TLD', 'price@2.50 each'],
    ['label starting with a hyphen', 'user@-example.com'],
    ['double dot in the local part', 'john..doe@example.com'],
    ['a mention', 'ping @alice about it'],
    ['spelled out', 'john at example dot com'],
    ['underscore after the domain', 'user@example.com_old'],
  ])('ignores %s (%s)', (_what, text) => {
    expect(values(emailDetector, text)).toEqual([]);
  });

  it('keeps sentence punctuation and brackets out, and finds addresses at both ends of the text', () => {
    expect(values(emailDetector, 'a@example.com, <b@example.org>; (c@example.net). d@example.io.')).toEqual([
      'a@example.com',
      'b@example.org',
      'c@example.net',
      'd@example.io',
    ]);
    expect(values(emailDetector, 'z@example.com')).toEqual(['z@example.com']);
  });

  it('trims leading dots and refuses local parts over 64 characters', () => {
    expect(values(emailDetector, '...jo@example.com')).toEqual(['jo@example.com']);
    expect(values(emailDetector, `${'a'.repeat(65)}@example.com`)).toEqual([]);
    expect(values(emailDetector, `${'a'.repeat(64)}@example.com`)).toEqual([`${'a'.repeat(64)}@example.com`]);
  });

  it('is delimited by non-ASCII text (CJK) but not by word characters', () => {
    expect(values(emailDetector, '邮箱li.wei@example.cn谢谢')).toEqual(['li.wei@example.cn']);
  });
});

describe('phone', () => {
  it.each([
    ['US parentheses', '(555) 234-5678'],
    ['US dashes', '555-234-5678'],
    ['US dots', '555.234.5678'],
    ['US with country prefix', '1-800-555-0199'],
    ['E.164', '+14155552671'],
    ['international, spaced', '+44 20 7946 0958'],
    ['international, trunk in parentheses', '+44 (0)20 7946 0958'],
    ['international, US', '+1 (555) 234-5678'],
    ['international, French', '+33 1 23 45 67 89'],
    ['international, German dashes', '+49-30-12345678'],
    ['German national', '030 123456 78'],
    ['German national, area in parentheses', '(030) 1234567'],
    ['UK national', '020 7946 0958'],
    ['UK mobile', '07911 123456'],
    ['French national', '06 12 34 56 78'],
    ['French, compact', '0612345678'],
  ])('finds %s: %s', (_what, phone) => {
    expect(values(phoneDetector, `Numbers: ${phone} (office)`)).toEqual([phone]);
  });

  it.each([
    ['an order number', 'Order 12345678 shipped'],
    ['a long bare number', 'reference 4155552671 attached'],
    ['an ISO timestamp', 'at 2024-01-15 10:30:45 UTC'],
    ['a German date and time', 'am 06.12.2023 14 Uhr'],
    ['a version', 'release 10.2.3.4567'],
    ['an ISBN-13', 'ISBN 978-3-16-148410-0'],
    ['an ISBN-10', 'ISBN 0-306-40615-2'],
    ['a UUID', 'id 123e4567-e89b-12d3-a456-426614174000'],
    ['an SSN shape', 'file 123-45-6789'],
    ['a card number', 'card 4111 1111 1111 1111'],
    ['a NANP area code starting with 1', 'see (155) 234-5678'],
    ['a product code (SKU)', 'SKU 555-234-5678 restocked'],
    ['a part number', 'Part no. 555-234-5678'],
    ['a ZIP+4 code', 'ZIP 02980-9661'],
    ['three groups of three', 'Shipment 062 187 927 arrived'],
    ['an IPv4 address', 'host 192.168.100.200'],
    ['a decimal', 'pi is 3.14159265358'],
    ['a price list', '1,234,567 and 2,345,678'],
    ['digits glued to letters', 'A555-234-5678'],
    ['part of a longer dashed number', '555-234-5678-9'],
  ])('ignores %s', (_what, text) => {
    expect(values(phoneDetector, text)).toEqual([]);
  });

  it('accepts bare digits and local numbers only after a phone word', () => {
    expect(values(phoneDetector, 'call me at 5552345678')).toEqual(['5552345678']);
    expect(values(phoneDetector, 'Tel: 555-2345')).toEqual(['555-2345']);
    expect(values(phoneDetector, 'room 555-2345')).toEqual([]);
    expect(values(phoneDetector, 'hotel 5552345678')).toEqual([]);
  });

  it('a placeholder is not a phone word: "[PHONE]" does not make bare digits a phone number', () => {
    expect(values(phoneDetector, '[PHONE] 5552345678')).toEqual([]);
    expect(values(phoneDetector, '<PHONE_0123abcd> 5552345678')).toEqual([]);
  });

  it('a phone word overrides a product word, and product words do not reach across sentences', () => {
    expect(values(phoneDetector, 'Order questions? Call 555-234-5678')).toEqual(['555-234-5678']);
    expect(values(phoneDetector, 'Thanks for your order. Also 555-234-5678')).toEqual(['555-234-5678']);
  });

  it('stops before an extension and sentence punctuation, at both ends of the text', () => {
    expect(values(phoneDetector, '555-234-5678 x123')).toEqual(['555-234-5678']);
    expect(values(phoneDetector, 'Call +44 20 7946 0958.')).toEqual(['+44 20 7946 0958']);
    expect(values(phoneDetector, '电话+8613812345678谢谢')).toEqual(['+8613812345678']);
  });

  it('refuses mixed separators in national numbers and too many digits', () => {
    expect(values(phoneDetector, 'see 030 1234-5678')).toEqual([]);
    expect(values(phoneDetector, 'see +1234567890123456')).toEqual([]);
  });
});

describe('phone: national numbers of the configured regions, as the region writes them (libphonenumber)', () => {
  const israel = createPhoneDetector(['IL']);
  const china = createPhoneDetector(['CN']);

  it('finds a national number written with the separators of its national format, or some of them (the area code set apart)', () => {
    // Israel's format for 09 numbers is 09-762-5400; Presidio's test writes 09-7625400.
    expect(values(israel, 'see 09-762-5400 today')).toEqual(['09-762-5400']);
    expect(values(israel, 'see 09-7625400 today')).toEqual(['09-7625400']);
    expect(values(israel, 'My Israeli number is 09-7625400')).toEqual(['09-7625400']);
    expect(values(phoneDetector, 'My Israeli number is 09-7625400')).toEqual(['09-7625400']);
  });

  it.each([
    ['a separator inside a group of the format', 'see 0976-25400 today'],
    ['the area code not set apart while a later group is', 'see 09762-5400 today'],
    ['a separator inside the subscriber number only', 'see 097625-400 today'],
    ['the right grouping without the national prefix', 'see 9-762-5400 today'],
    ['an invalid number in the right grouping (no 06 area in Israel)', 'see 06-762-5400 today'],
  ])('refuses %s (%s)', (_what, text) => {
    expect(values(israel, text)).toEqual([]);
  });

  it('"number" after a possessive makes bare digits a phone number when they are valid as written in a configured region', () => {
    expect(values(phoneDetector, 'My CN number is 13812345678')).toEqual(['13812345678']);
    expect(values(china, 'my number: 13812345678')).toEqual(['13812345678']);
    expect(values(china, 'Her new number was 13812345678.')).toEqual(['13812345678']);
    expect(values(china, 'our office number 13812345678')).toEqual(['13812345678']);
  });

  it.each([
    ['"number" without a possessive', 'The number 13812345678 appeared 12 times in the log.'],
    ['"number of"', 'my number of 13812345678 items'],
    ['a product word between', 'my order number is 13812345678'],
    ['another product word between', 'my account number: 13812345678'],
    ['a possessive inside a longer word', 'the dummy number is 13812345678'],
    ['a possessive cut by the context window', `tummy number is${' '.repeat(20)}13812345678`],
    ['more than two words between', 'my very old work number is 13812345678'],
    ['digits not valid in the region', 'my number is 23812345678'],
    ['digits valid only with the national prefix the region writes', 'my number is 2436302930'],
  ])('does not take bare digits after %s', (_what, text) => {
    expect(values(china, text)).toEqual([]);
  });

  it('keeps "The number 2436302930 appeared" a negative with the default regions (valid in Brazil as written, but "number" alone is no phone word)', () => {
    expect(values(phoneDetector, 'The number 2436302930 appeared 12 times in the log.')).toEqual([]);
    expect(values(createPhoneDetector(['BR']), 'My number is 2436302930')).toEqual(['2436302930']);
  });
});
