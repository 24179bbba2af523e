// The labelled evaluation set of the masking benchmark (bench/masking.mjs), generated with a
// seeded @faker-js/faker: realistic sentences with entities (each labelled with its type and
// offsets), hard negatives that look like entities but are not (order numbers, timestamps,
// versions, UUIDs, ISBNs, 16-digit numbers failing Luhn, phone-like product codes...), and clean
// prose. Same seed, same corpus.
import { Faker, base, de, en, en_GB, en_US, fr } from '@faker-js/faker';

const LOCALES = { us: [en_US, en, base], gb: [en_GB, en, base], de: [de, en, base], fr: [fr, en, base] };

/** A sentence builder: strings and `{ type, value }` parts; entities get offsets. */
function sentence(parts) {
  let text = '';
  const entities = [];
  for (const p of parts) {
    if (typeof p === 'string') {
      text += p;
    } else {
      entities.push({ type: p.type, start: text.length, end: text.length + p.value.length, kind: p.kind ?? p.type });
      text += p.value;
    }
  }
  return { text, entities };
}

export function createCorpus({ seed = 20261129, positives = 3000, hardNegatives = 2000, unseenNegatives = 1000, clean = 1000 } = {}) {
  const fakers = Object.fromEntries(Object.entries(LOCALES).map(([k, l]) => [k, new Faker({ locale: l })]));
  Object.values(fakers).forEach((f, i) => f.seed(seed + i));
  const f = fakers.us;
  const pick = (xs) => xs[f.number.int({ min: 0, max: xs.length - 1 })];
  const chance = (p) => f.number.float({ min: 0, max: 1 }) < p;
  const digits = (n) => f.string.numeric({ length: n, allowLeadingZeros: true });
  const alnum = (n, casing = 'mixed') => f.string.alphanumeric({ length: n, casing });
  const b64url = (s) => Buffer.from(s).toString('base64url');
  const name = () => f.person.fullName();

  // ---- entity values -------------------------------------------------------------------------
  const gen = {
    EMAIL: () => {
      const first = f.person.firstName().replace(/[^A-Za-z]/g, '') || 'alex';
      const last = f.person.lastName().replace(/[^A-Za-z]/g, '') || 'smith';
      return pick([
        () => f.internet.email({ firstName: first, lastName: last }),
        () => f.internet.exampleEmail({ firstName: first, lastName: last }),
        () => `${first.toLowerCase()}.${last.toLowerCase()}+${f.word.noun().replace(/[^a-z]/gi, '')}@${f.internet.domainName()}`,
        () => `${first[0].toLowerCase()}${last.toLowerCase()}@mail.${f.internet.domainWord()}.co.uk`,
        () => `${last.toUpperCase()}_${digits(2)}@${f.internet.domainName().toUpperCase()}`,
      ])();
    },
    PHONE: () => {
      const loc = pick(['us', 'us', 'gb', 'de', 'fr']);
      const style = pick(['human', 'national', 'international']);
      const full = fakers[loc].phone.number({ style });
      const [number, ext] = full.split(' x');
      return { value: number, kind: `PHONE/${loc}-${style}`, suffix: ext ? ` x${ext}` : '' };
    },
    US_SSN: () => {
      let area;
      do area = f.number.int({ min: 1, max: 899 });
      while (area === 666);
      const a = String(area).padStart(3, '0');
      const g = String(f.number.int({ min: 1, max: 99 })).padStart(2, '0');
      const s = String(f.number.int({ min: 1, max: 9999 })).padStart(4, '0');
      const form = pick(['dash', 'dash', 'dash', 'space', 'bare']);
      if (form === 'bare')
        return { value: `${a}${g}${s}`, kind: 'US_SSN/bare', prefix: pick(['SSN ', 'SSN: ', 'social security number ', 'SS# ']) };
      return { value: form === 'dash' ? `${a}-${g}-${s}` : `${a} ${g} ${s}`, kind: `US_SSN/${form}` };
    },
    CREDIT_CARD: () => {
      const raw = f.finance.creditCardNumber(pick(['visa', 'mastercard', 'amex', 'discover', 'jcb', 'diners_club']));
      const form = pick(['dash', 'space', 'bare']);
      return {
        value: form === 'dash' ? raw : form === 'space' ? raw.replace(/-/g, ' ') : raw.replace(/-/g, ''),
        kind: `CREDIT_CARD/${form}`,
      };
    },
    IBAN: () => {
      const formatted = chance(0.5);
      return { value: f.finance.iban({ formatted }), kind: `IBAN/${formatted ? 'spaced' : 'compact'}` };
    },
    IP_ADDRESS: () => {
      const form = pick(['v4', 'v4', 'v6-full', 'v6-compressed']);
      if (form === 'v4') return { value: f.internet.ipv4(), kind: 'IP_ADDRESS/v4' };
      const groups = f.internet.ipv6().split(':');
      if (form === 'v6-full') return { value: groups.join(':'), kind: 'IP_ADDRESS/v6-full' };
      const zeroFrom = f.number.int({ min: 1, max: 5 });
      const zeroTo = f.number.int({ min: zeroFrom + 1, max: 7 });
      const left = groups.slice(0, zeroFrom).map((g) => g.replace(/^0+(?=.)/, ''));
      const right = groups.slice(zeroTo).map((g) => g.replace(/^0+(?=.)/, ''));
      return { value: `${left.join(':')}::${right.join(':')}`, kind: 'IP_ADDRESS/v6-compressed' };
    },
    AWS_ACCESS_KEY_ID: () => ({ value: `${pick(['AKIA', 'ASIA'])}${f.string.fromCharacters('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}` }),
    AWS_SECRET_ACCESS_KEY: () => {
      let v;
      do v = randomBytesFrom(f, 30).toString('base64');
      while (!/[A-Z]/.test(v) || !/[a-z]/.test(v) || !/[0-9+/]/.test(v));
      return {
        value: v.slice(0, 40),
        prefix: pick(['aws_secret_access_key = ', 'AWS secret access key: ', '"SecretAccessKey": "', 'export AWS_SECRET_ACCESS_KEY=']),
      };
    },
    JWT: () => {
      const header = b64url(JSON.stringify({ alg: pick(['HS256', 'RS256', 'ES256']), typ: 'JWT' }));
      const payload = b64url(JSON.stringify({ sub: f.string.uuid(), name: name(), iat: f.number.int({ min: 1.6e9, max: 1.8e9 }) }));
      return { value: `${header}.${payload}.${randomBytesFrom(f, 32).toString('base64url')}` };
    },
    PRIVATE_KEY: () => {
      const label = pick(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'OPENSSH PRIVATE KEY']);
      const lines = Array.from({ length: f.number.int({ min: 3, max: 8 }) }, () => randomBytesFrom(f, 48).toString('base64'));
      return { value: `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----` };
    },
    API_KEY: () =>
      pick([
        () => ({ value: `sk-proj-${alnum(48)}`, kind: 'API_KEY/openai' }),
        () => ({ value: `sk-ant-api03-${alnum(80)}-${alnum(6)}AA`, kind: 'API_KEY/anthropic' }),
        () => ({ value: `ghp_${alnum(36)}`, kind: 'API_KEY/github' }),
        () => ({ value: `github_pat_${alnum(22)}_${alnum(59)}`, kind: 'API_KEY/github' }),
        () => ({ value: `xoxb-${digits(12)}-${digits(13)}-${alnum(24)}`, kind: 'API_KEY/slack' }),
        () => ({ value: `sk_live_${alnum(24)}`, kind: 'API_KEY/stripe' }),
        () => ({ value: `AIza${alnum(35)}`, kind: 'API_KEY/google' }),
      ])(),
  };
  const entity = (type) => {
    const g = gen[type]();
    const v = typeof g === 'string' ? { value: g } : g;
    return { type, value: v.value, kind: v.kind ?? type, prefix: v.prefix ?? '', suffix: v.suffix ?? '' };
  };

  // ---- sentences -----------------------------------------------------------------------------
  const filler = () =>
    pick([() => f.company.catchPhrase(), () => f.hacker.phrase(), () => f.lorem.sentence(), () => f.commerce.productDescription()])();
  const TEMPLATES = [
    (e) => [`Please contact ${name()} at `, e, ` regarding the ${f.commerce.productName()} order.`],
    (e) => [`${name()} (`, e, `) updated the record on ${f.date.recent().toDateString()}.`],
    (e) => [`Note from ${name()}: `, e, `. ${filler()}`],
    (e) => [`${filler()} Details: `, e, '.'],
    (e) => [e, ` was added to the ${f.commerce.department()} ticket by ${f.person.firstName()}.`],
    (e) => [`Customer ${name()}, ${f.location.city()}, `, e, `, requested a refund of $${f.commerce.price()}.`],
    (e) => [`"${f.person.firstName()}": "`, e, '",'],
    (e) => [`Summary: ${filler()}\nValue: `, e, `\nOwner: ${name()}`],
  ];
  const TYPE_TEMPLATES = {
    EMAIL: [(e) => [`Send the invoice to `, e, ' before Friday.'], (e) => [`From: ${name()} <`, e, '>']],
    PHONE: [(e) => [`You can reach me on `, e, ' after 5pm.'], (e) => [`Tel. `, e, ` (${f.location.city()} office)`]],
    CREDIT_CARD: [(e) => [`Charged card `, e, ` for $${f.commerce.price()}.`]],
    IBAN: [(e) => [`Wire the deposit to IBAN `, e, ` by ${f.date.soon().toDateString()}.`]],
    IP_ADDRESS: [(e) => [`Login from `, e, ` blocked after 5 attempts.`], (e) => [`upstream=`, e, ` status=502`]],
    AWS_ACCESS_KEY_ID: [(e) => [`aws_access_key_id = `, e]],
    JWT: [(e) => [`Authorization: Bearer `, e]],
    API_KEY: [(e) => [`OPENAI_API_KEY=`, e], (e) => [`token: `, e, ' # rotate monthly']],
  };
  const TYPES = Object.keys(gen);
  const items = [];

  for (let i = 0; i < positives; i++) {
    const type = TYPES[i % TYPES.length];
    const e = entity(type);
    const tpls = [...TEMPLATES, ...(TYPE_TEMPLATES[type] ?? [])];
    const parts = pick(tpls)(null).flatMap((p) =>
      p === null ? [e.prefix, { type: e.type, value: e.value, kind: e.kind }, e.suffix] : [p],
    );
    // A second entity in a quarter of the sentences.
    if (chance(0.25)) {
      const e2 = entity(pick(['EMAIL', 'PHONE', 'IP_ADDRESS', 'CREDIT_CARD']));
      parts.push(' Also ', e2.prefix, { type: e2.type, value: e2.value, kind: e2.kind }, e2.suffix, '.');
    }
    items.push({ group: 'positive', ...sentence(parts) });
  }

  const luhnFail = (n) => {
    const d = digits(n - 1).replace(/^0/, '4');
    for (let c = 0; c < 10; c++) if (!luhn(d + c)) return d + c;
    return d;
  };
  const NEGATIVES = [
    () => `Order #${digits(8)} shipped on ${f.date.recent().toISOString().slice(0, 10)}.`,
    () => `Order ${digits(10)} is ready for pickup at store ${digits(4)}.`,
    () => `Invoice INV-${digits(6)} due ${f.date.soon().toLocaleDateString('en-US')}.`,
    () => `Last login ${f.date.recent().toISOString()} from the mobile app.`,
    () => `Backup finished at ${f.date.recent().toISOString().replace('T', ' ').slice(0, 19)} (took ${f.number.int(500)}s).`,
    () => `Meeting on ${f.date.soon().toLocaleDateString('de-DE')} um 10:30 Uhr.`,
    () => `Epoch ${f.number.int({ min: 1.6e9, max: 1.8e9 })} and millis ${f.number.int({ min: 1.6e12, max: 1.8e12 })} logged.`,
    () => `Upgrade to v${f.system.semver()} (previous ${f.system.semver()}).`,
    () => `Running version ${f.number.int(20)}.${f.number.int(9)}.${f.number.int(30)}.${f.number.int(200)} of the agent.`,
    () =>
      `Windows ${f.number.int({ min: 6, max: 10 })}.0.${f.number.int({ min: 10000, max: 22000 })}.${f.number.int({ min: 100, max: 3000 })} patched.`,
    () => `Dotted build id ${f.number.int(9)}.${f.number.int(9)}.${f.number.int(9)}.${f.number.int(9)}.${f.number.int(9)} released.`,
    () => `Request id ${f.string.uuid()} failed.`,
    () => `Trace ${f.string.uuid().toUpperCase()} correlated with span ${f.string.hexadecimal({ length: 16, prefix: '' })}.`,
    () => `Reference number ${luhnFail(16)} does not match.`,
    () => `Account ${luhnFail(16).replace(/(\d{4})(?=\d)/g, '$1 ')} was closed.`,
    () => `SKU ${digits(3)}-${digits(3)}-${digits(4)} is out of stock.`,
    () => `Part no. ${f.number.int({ min: 200, max: 999 })}-${f.number.int({ min: 200, max: 999 })}-${digits(4)} replaced.`,
    () => `Model ${f.string.alpha({ length: 2, casing: 'upper' })}-${digits(4)}-${digits(3)} discontinued.`,
    () => `ISBN ${f.commerce.isbn(13)} and ISBN-10 ${f.commerce.isbn(10)} are in the catalogue.`,
    () =>
      `Total: $${f.finance.amount({ min: 1000, max: 999999 })} (${f.number.int({ min: 1000000, max: 99999999 }).toLocaleString('en-US')} units).`,
    () => `Coordinates ${f.location.latitude()}, ${f.location.longitude()}.`,
    () => `Commit ${f.git.commitSha()} fixed colour ${f.color.rgb()}.`,
    () => `Tracking 1Z${alnum(6, 'upper')}${digits(10)} via UPS.`,
    () => `ZIP ${f.location.zipCode('#####-####')}, routing ${f.finance.routingNumber()}.`,
    () =>
      `MAC ${f.internet.mac()} seen at ${String(f.number.int(23)).padStart(2, '0')}:${String(f.number.int(59)).padStart(2, '0')}:${String(f.number.int(59)).padStart(2, '0')}.`,
    () => `Pi is ${Math.PI.toFixed(12)} and e is ${Math.E.toFixed(10)}.`,
    () =>
      `Invalid address ${f.number.int({ min: 256, max: 999 })}.${f.number.int(255)}.${f.number.int(255)}.${f.number.int(255)} rejected.`,
    () => `Mention @${f.internet.username()} or write to support at example dot com.`,
    () => `Use scikit-learn (sk-learn-style-names-are-common) and ${f.word.noun()}-${f.word.noun()}-${f.word.noun()}.`,
    () => `Checksum sha1 ${f.string.hexadecimal({ length: 40, casing: 'lower', prefix: '' })} verified.`,
    () => `Room ${f.number.int({ min: 100, max: 999 })}, floor ${f.number.int(40)}, extension ${digits(4)}.`,
    () => `Scores: ${Array.from({ length: 6 }, () => f.number.int(99)).join(', ')}.`,
    () => `Shipment ${digits(3)} ${digits(3)} ${digits(3)} arrived.`,
    () => `${f.location.streetAddress()}, ${f.location.city()} ${f.location.zipCode()}`,
    () => `Bank code ${f.finance.bic()} and account ${f.finance.accountNumber()}.`,
  ];
  for (let i = 0; i < hardNegatives; i++) items.push({ group: 'hard-negative', text: NEGATIVES[i % NEGATIVES.length](), entities: [] });

  // Written after the detectors were tuned on the set above, and kept separate in the report:
  // precision on text the detectors were not adjusted to.
  const UNSEEN = [
    () => `Call 1-800-FLOWERS or visit aisle ${f.number.int(40)}.`,
    () =>
      `See pages ${f.number.int({ min: 100, max: 900 })}-${f.number.int({ min: 901, max: 999 })} and ${f.number.int({ min: 2000, max: 2010 })}-${f.number.int({ min: 2011, max: 2024 })}.`,
    () =>
      `Final score ${f.number.int(9)}-${f.number.int(9)} in the ${f.number.int({ min: 2000, max: 2023 })}-${f.number.int({ min: 24, max: 25 })} season.`,
    () => `Open ${String(f.number.int({ min: 6, max: 10 })).padStart(2, '0')}:00-17:30, Mon-Fri.`,
    () => `Certified ISO 9001:2015 and IEC 62443-3-3; see RFC ${f.number.int({ min: 1000, max: 9999 })}.`,
    () => `Flight LH ${f.number.int({ min: 100, max: 999 })} boards at gate B${f.number.int(40)}, seat ${f.number.int(40)}C.`,
    () => `S/N ${digits(4)}-${digits(4)}-${alnum(4, 'upper')} registered.`,
    () => `Total EUR ${f.number.int({ min: 1, max: 999 })}.${digits(3)}.${digits(3)},${digits(2)} booked.`,
    () =>
      `Ubuntu ${f.number.int({ min: 18, max: 24 })}.04.${f.number.int(6)} LTS with kernel ${f.number.int({ min: 4, max: 6 })}.${f.number.int(19)}.${f.number.int(200)}-${f.number.int(100)}-generic.`,
    () => `The number ${digits(10)} appeared ${f.number.int(99)} times in the log.`,
    () => `Batch ${digits(3)}.${digits(3)}.${digits(4)} passed QA.`,
    () => `Grid reference ${digits(3)} ${digits(3)} ${digits(4)} on sheet ${f.number.int(99)}.`,
    () => `Population ${f.number.int({ min: 1e6, max: 9e8 }).toLocaleString('en-US')} (${f.number.int(99)}.${f.number.int(9)}%).`,
    () =>
      `Patch ${f.string.hexadecimal({ length: 8, prefix: '' })}:${f.string.hexadecimal({ length: 4, prefix: '' })} applied to ${f.system.filePath()}.`,
    () => `Key fingerprint SHA256:${Buffer.from(f.string.alphanumeric(32)).toString('base64').slice(0, 43)}.`,
    () => `Token budget ${f.number.int({ min: 1000, max: 128000 })}, temperature 0.${f.number.int(9)}, top_p 0.${f.number.int(99)}.`,
    () => `Image sha256:${f.string.hexadecimal({ length: 64, casing: 'lower', prefix: '' })} pushed.`,
    () =>
      `Customer since ${f.date.past({ years: 10 }).getFullYear()}, ${f.number.int({ min: 2, max: 40 })} orders, NPS ${f.number.int(10)}.`,
    () => `Lat/long ${f.location.latitude({ precision: 6 })}, ${f.location.longitude({ precision: 6 })}; altitude ${f.number.int(4000)} m.`,
    () =>
      `Ticket ${f.string.alpha({ length: 3, casing: 'upper' })}-${f.number.int({ min: 100, max: 99999 })} moved to ${f.word.adjective()} by ${f.person.firstName()}.`,
  ];
  for (let i = 0; i < unseenNegatives; i++) items.push({ group: 'unseen-negative', text: UNSEEN[i % UNSEEN.length](), entities: [] });

  const CLEAN = [
    () => f.lorem.paragraph(),
    () => `${f.company.catchPhrase()}. ${f.hacker.phrase()}`,
    () => `${name()} from ${f.company.name()} met ${name()} in ${f.location.city()} on ${f.date.recent().toDateString()}.`,
    () => f.commerce.productDescription(),
    () => `The ${f.commerce.productName()} costs $${f.commerce.price()} and ships in ${f.number.int({ min: 1, max: 14 })} days.`,
  ];
  for (let i = 0; i < clean; i++) items.push({ group: 'clean', text: CLEAN[i % CLEAN.length](), entities: [] });
  return items;
}

function randomBytesFrom(f, n) {
  return Buffer.from(Array.from({ length: n }, () => f.number.int(255)));
}

export function luhn(d) {
  let sum = 0;
  let dbl = false;
  for (let i = d.length - 1; i >= 0; i--) {
    let x = d.charCodeAt(i) - 48;
    if (dbl) x = x * 2 > 9 ? x * 2 - 9 : x * 2;
    sum += x;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}
