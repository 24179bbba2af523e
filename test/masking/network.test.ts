/** IPv4 and IPv6 detectors. */
import { ipv4Detector, ipv6Detector } from '../../lambda/core/masking/detectors/ip';
import { values } from './helpers';

describe('IPv4', () => {
  it.each(['192.168.1.10', '10.0.0.1', '8.8.8.8', '255.255.255.255', '0.0.0.0', '172.16.254.1'])('finds %s', (ip) => {
    expect(values(ipv4Detector, `host ${ip} is up`)).toEqual([ip]);
  });

  it('leaves a port or prefix length and sentence punctuation out', () => {
    expect(values(ipv4Detector, 'connect to 10.0.0.1:443, route 10.0.0.0/8 and 192.0.2.7.')).toEqual(['10.0.0.1', '10.0.0.0', '192.0.2.7']);
  });

  it.each([
    ['an octet over 255', '256.1.1.1'],
    ['leading zeros', '192.168.001.001'],
    ['five parts', '1.2.3.4.5'],
    ['three parts', '1.2.3'],
    ['a version glued to v', 'v1.2.3.4'],
    ['a version word before it', 'version 1.2.3.4'],
    ['a build number', 'build 10.0.0.1'],
    ['inside a dotted number', '3.1.2.3.4'],
    ['a Windows build', 'Windows 10.0.19045.2965'],
  ])('refuses %s', (_what, text) => {
    expect(values(ipv4Detector, `x ${text} y`)).toEqual([]);
  });

  it('finds addresses at the edges of the text', () => {
    expect(values(ipv4Detector, '1.1.1.1')).toEqual(['1.1.1.1']);
  });
});

describe('IPv6', () => {
  it.each([
    '2001:0db8:85a3:0000:0000:8a2e:0370:7334',
    '2001:db8:85a3::8a2e:370:7334',
    '2001:db8::1',
    'fe80::1ff:fe23:4567:890a',
    '::ffff:192.0.2.128',
    '::10',
    'FE80::ABCD',
  ])('finds %s', (ip) => {
    expect(values(ipv6Detector, `peer ${ip} connected`)).toEqual([ip]);
  });

  it('includes a zone id, and leaves sentence punctuation and brackets out', () => {
    expect(values(ipv6Detector, 'via fe80::1%eth0 and [2001:db8::2]:8080.')).toEqual(['fe80::1%eth0', '2001:db8::2']);
    expect(values(ipv6Detector, 'addr 2001:db8::8a2e:370:7334.')).toEqual(['2001:db8::8a2e:370:7334']);
  });

  it('finds an address after a label and a colon', () => {
    expect(values(ipv6Detector, 'ip:2001:db8::1')).toEqual(['2001:db8::1']);
  });

  it.each([
    ['a time', '12:30:45'],
    ['a MAC address', '00:1A:2B:3C:4D:5E'],
    ['C++ scope', 'std::vector'],
    ['a type signature', 'x :: Int'],
    ['short hex around ::', 'c::f'],
    ['loopback (too short to tell from code)', '::1'],
    ['the unspecified address', '::'],
    ['too many groups', '1:2:3:4:5:6:7:8:9'],
    ['glued to a word', 'g2001:db8::1'],
  ])('refuses %s', (_what, text) => {
    expect(values(ipv6Detector, `x ${text} y`)).toEqual([]);
  });
});
