/**
 * The reviewers' page in a real headless browser (Debian's chromium, driven by playwright-core):
 * `embedgate dev` in process, the embedded dev issuer (a child process) signing reviewers in with
 * the authorization-code flow and PKCE at its login page, service principals sending held requests
 * with client-credentials tokens. Flows: sign in, see the pending approval, approve, the
 * requester's re-send succeeds; deny, the re-send is refused; a requester signed in on the page
 * cannot decide on their own request (the page says so, and the server would refuse it).
 *
 * Skipped, with a message, only where no chromium is installed (`apt-get install -y chromium`;
 * `.ci/run` installs it). EMBEDGATE_SCREENSHOT=<file.png> also writes a screenshot of the page.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startDevServer, type DevServer } from '../../cli/dev-server';
import { fetchClientCredentialsToken } from '../../cli/issuer';
import { loadConfig } from '../../shared/config';
import { startIssuerProcess, type IssuerProcess } from '../support/issuer-process';

const CHROMIUM = process.env.EMBEDGATE_CHROMIUM ?? '/usr/bin/chromium';
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser) {
  console.warn(`reviewer-page browser tests SKIPPED: no chromium at ${CHROMIUM} (apt-get install -y chromium, or set EMBEDGATE_CHROMIUM)`);
}
const maybe = haveBrowser ? describe : describe.skip;

const AUDIENCE = 'https://embedgate.e2e-review';
const PAGE_CLIENT = 'embedgate-review';
const CLIENTS = [
  { clientId: 'indexer', clientSecret: 'indexer-secret-e2e', scopes: ['embeddings'], claims: { groups: ['search-team'] } },
  // A service principal with the same subject as the person "bob" below: bob's own job.
  { clientId: 'bob', clientSecret: 'bob-secret-e2e', scopes: ['embeddings'], claims: { groups: ['search-team', 'reviewers'] } },
];
const USERS = [
  { username: 'alice', password: 'alice-password', claims: { groups: ['reviewers'] } },
  { username: 'bob', password: 'bob-password', claims: { groups: ['reviewers'] } },
];

let issuer: IssuerProcess;
let dev: DevServer;
let browser: Browser;
let dir: string;
const tokens: Record<string, string> = {};
const cspViolations: string[] = [];

maybe('reviewer page in a headless browser', () => {
  beforeAll(async () => {
    issuer = await startIssuerProcess({
      audience: AUDIENCE,
      clients: CLIENTS,
      users: USERS,
      publicClients: [{ clientId: PAGE_CLIENT, redirectUris: ['http://127.0.0.1/review'], scopes: ['embeddings'] }],
    });
    dir = await mkdtemp(join(tmpdir(), 'embedgate-e2e-review-'));
    const config = loadConfig({
      issuers: [{ id: 'dev', issuer: issuer.issuer, audiences: [AUDIENCE], algorithms: ['RS256'], requiredTyp: 'at+jwt' }],
      models: [{ name: 'regulated', provider: 'local', dimensions: 8 }],
      policy: {
        rules: [
          {
            id: 'regulated-needs-approval',
            effect: 'allow',
            match: { issuer: 'dev', groups: 'search-team' },
            models: 'regulated',
            approval: { reviewers: { groups: ['reviewers'] }, requiredApprovals: 1, timeoutSeconds: 3600 },
          },
        ],
      },
      masking: { enabled: true, strategies: { EMAIL: 'redact' } },
      reviewerPage: { issuerId: 'dev', clientId: PAGE_CLIENT, scopes: ['embeddings'] },
    });
    dev = await startDevServer({ config, archiveDir: join(dir, 'archive'), port: 0, notifyApproval: () => undefined });
    for (const c of CLIENTS) tokens[c.clientId] = await fetchClientCredentialsToken(issuer.tokenEndpoint, c);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-sync',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await dev?.close();
    await issuer?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A fresh browser profile (no cookies, no storage) with the page open and the user signed in. */
  async function signedIn(user: string, password: string, hash = ''): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    page.on('console', (m) => {
      if (/Content Security Policy|Trusted Type/i.test(m.text())) cspViolations.push(m.text());
    });
    await page.goto(`${dev.url}/review${hash}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // The dev issuer's login page.
    await page.getByLabel('User name').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname === '/review' && !u.search.includes('code='));
    await page.getByText(`Signed in as ${user}`).waitFor();
    return { context, page };
  }

  async function held(client: string, text: string): Promise<string> {
    const res = await embed(client, text);
    expect(res.status).toBe(202);
    return ((await res.json()) as { approval_id: string }).approval_id;
  }

  function embed(client: string, text: string, approvalId?: string): Promise<Response> {
    return fetch(`${dev.url}/v1/embeddings`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tokens[client]}`,
        'content-type': 'application/json',
        ...(approvalId ? { 'x-embedgate-approval-id': approvalId } : {}),
      },
      body: JSON.stringify({ model: 'regulated', input: [text] }),
    });
  }

  const cardOf = (page: Page, id: string) => page.locator(`article[data-approval-id="${id}"]`).first();

  test('sign in, see the pending approval, approve it; the requester re-sends and gets the embeddings', async () => {
    const id = await held('indexer', 'quarterly report for jane.doe@example.com');
    const { context, page } = await signedIn('alice', 'alice-password', `#approval=${id}`);
    try {
      // The token stays in memory: nothing in storage or cookies of the page's origin.
      expect(await page.evaluate('[localStorage.length, sessionStorage.length, document.cookie]')).toEqual([0, 0, '']);
      const card = cardOf(page, id);
      await expect(card.locator('.badge').textContent()).resolves.toBe('pending');
      await expect(card.locator('.requester').textContent()).resolves.toContain('indexer');
      await expect(card.locator('.rule').textContent()).resolves.toContain('regulated-needs-approval');
      await expect(card.locator('.why').textContent()).resolves.toContain('always');
      await expect(card.locator('.count').textContent()).resolves.toBe('0 of 1 needed');
      const preview = await card.locator('.preview').textContent();
      expect(preview).toContain('[EMAIL]');
      expect(preview).not.toContain('jane.doe@example.com');
      // Deciding without a reason is refused by the page before anything is sent.
      await card.getByRole('button', { name: /^Approve/ }).click();
      await expect(card.locator('.result').textContent()).resolves.toContain('Give a reason');

      await card.getByLabel(/Reason/).fill('quarterly report, checked with the owner');
      if (process.env.EMBEDGATE_SCREENSHOT) await page.screenshot({ path: process.env.EMBEDGATE_SCREENSHOT, fullPage: false });
      await card.getByRole('button', { name: /^Approve/ }).click();
      const decided = cardOf(page, id);
      await page.locator(`article[data-approval-id="${id}"][data-status="approved"]`).first().waitFor();
      await expect(decided.locator('.note').textContent()).resolves.toContain('Already decided: approved');
      await expect(decided.locator('.decisions').textContent()).resolves.toContain('alice');
      expect(await decided.locator('form.decide').isVisible()).toBe(false);
      await expect(page.locator('#status').textContent()).resolves.toContain('Approved');

      const resent = await embed('indexer', 'quarterly report for jane.doe@example.com', id);
      expect(resent.status).toBe(200);
      expect(((await resent.json()) as { data: unknown[] }).data).toHaveLength(1);
      // Used: the page shows it as decided and used, nothing to do.
      await page.getByRole('button', { name: 'Refresh' }).click();
      await page.locator(`article[data-approval-id="${id}"][data-status="used"]`).first().waitFor();
    } finally {
      await context.close();
    }
  }, 60_000);

  test('deny with a reason: the re-send is refused', async () => {
    const { context, page } = await signedIn('alice', 'alice-password');
    try {
      const id = await held('indexer', 'export list for the board');
      await page.getByRole('button', { name: 'Refresh' }).click();
      const card = cardOf(page, id);
      await card.waitFor();
      await card.getByLabel(/Reason/).fill('not for this model');
      // Keyboard only: tab from the reason to Approve, to Deny, and press Enter.
      await card.getByLabel(/Reason/).press('Tab');
      await page.keyboard.press('Tab');
      await page.keyboard.press('Enter');
      await page.locator(`article[data-approval-id="${id}"][data-status="denied"]`).first().waitFor();
      await expect(cardOf(page, id).locator('.badge').textContent()).resolves.toBe('denied');
      await expect(cardOf(page, id).locator('.decisions').textContent()).resolves.toContain('Denied by alice');
      const resent = await embed('indexer', 'export list for the board', id);
      expect(resent.status).toBe(403);
      expect(((await resent.json()) as { error: { code: string } }).error.code).toBe('approval_denied');
    } finally {
      await context.close();
    }
  }, 60_000);

  test('a requester cannot decide on their own request: the page says so, offers no buttons, and the server refuses', async () => {
    const id = await held('bob', 'my own batch');
    const { context, page } = await signedIn('bob', 'bob-password', `#approval=${id}`);
    try {
      const card = cardOf(page, id);
      await card.waitFor();
      await expect(card.locator('.note').textContent()).resolves.toContain('You requested this');
      expect(await card.getByRole('button', { name: /^Approve/ }).count()).toBe(0);
      // The same principal (bob's job, same issuer and subject) through the API: refused.
      const forced = await fetch(`${dev.url}/v1/approvals/${id}/decision`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.bob}`, 'content-type': 'application/json' },
        body: JSON.stringify({ decision: 'approve', reason: 'mine' }),
      });
      expect(forced.status).toBe(403);
      expect(((await forced.json()) as { error: { code: string } }).error.code).toBe('self_approval');
      // Another reviewer decides it.
      const a = await signedIn('alice', 'alice-password', `#approval=${id}`);
      try {
        await cardOf(a.page, id).locator('form.decide').waitFor({ state: 'visible' });
        await expect(cardOf(a.page, id).locator('.note').isVisible()).resolves.toBe(false);
      } finally {
        await a.context.close();
      }
    } finally {
      await context.close();
    }
  }, 60_000);

  test('the page ran without a single Content-Security-Policy or Trusted Types violation', () => {
    expect(cspViolations).toEqual([]);
  });

  test('a mobile viewport shows the whole card without horizontal scrolling', async () => {
    const id = await held('indexer', 'phone check');
    const { context, page } = await signedIn('alice', 'alice-password', `#approval=${id}`);
    try {
      await page.setViewportSize({ width: 375, height: 740 });
      await cardOf(page, id).waitFor();
      const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      expect(overflow).toBeLessThanOrEqual(0);
    } finally {
      await context.close();
    }
  }, 60_000);
});
