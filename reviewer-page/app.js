// embedgate reviewer page: sign in with OIDC authorization code + PKCE (a public client), list the
// approvals this reviewer may see, approve or deny with a reason. Plain ES module, no dependencies.
// The access token lives in this module's memory only: never in storage, never in the URL. Only the
// PKCE verifier and the state of a sign-in in progress are kept in sessionStorage across the
// redirect, and removed as soon as the code is exchanged. Everything shown is set as text
// (textContent), never parsed as HTML: the preview is the requester's text.

const $ = (id) => document.getElementById(id);
const PENDING_KEY = 'embedgate.review.signin';
const STATUS_TEXT = {
  pending: 'pending',
  approved: 'approved',
  denied: 'denied',
  expired: 'expired',
  used: 'approved and used',
};
const ERROR_TEXT = {
  self_approval: 'You requested this yourself: the requester of an approval cannot decide on it. Another reviewer must.',
  not_a_reviewer: 'You are not a reviewer of this approval (not in its reviewer groups).',
  already_decided: 'You have decided on this approval already; another reviewer must decide.',
  approval_not_pending: 'This approval has been decided already; it cannot be decided again.',
  approval_expired: 'This approval expired before it was decided.',
  approval_not_found: 'No such approval, or it is not yours to see.',
};

const state = { settings: null, discovery: null, token: null, claims: null, apiBase: null };

main().catch((e) => showStatus(`The page could not start: ${e.message}`, true));

async function main() {
  state.settings = await getJson(new URL('config.json', import.meta.url));
  state.apiBase = new URL(`..${state.settings.apiPath}`, import.meta.url).href.replace(/\/$/, '');
  $('sign-in').addEventListener('click', () => void signIn().catch((e) => showStatus(`Sign-in failed: ${e.message}`, true)));
  $('sign-out').addEventListener('click', signOut);
  $('refresh').addEventListener('click', () => void refresh());
  $('filter').addEventListener('change', () => void refresh());
  window.addEventListener('hashchange', () => void refresh());

  const params = new URLSearchParams(location.search);
  if (params.has('code') || params.has('error')) await finishSignIn(params);
  if (!state.token) {
    $('signed-out').hidden = false;
    return;
  }
  showSignedIn();
  await refresh();
}

// ---- sign-in (RFC 6749 code flow, RFC 7636 PKCE S256) ------------------------------------------

async function discover() {
  if (state.discovery) return state.discovery;
  const s = state.settings;
  let d = {};
  if (!s.authorizationEndpoint || !s.tokenEndpoint) {
    d = await getJson(`${s.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
    if (d.issuer !== s.issuer && d.issuer !== `${s.issuer}/`) throw new Error('the issuer discovery document names another issuer');
  }
  state.discovery = {
    authorization_endpoint: s.authorizationEndpoint ?? d.authorization_endpoint,
    token_endpoint: s.tokenEndpoint ?? d.token_endpoint,
  };
  return state.discovery;
}

async function signIn() {
  const d = await discover();
  const verifier = randomString(48);
  const stateValue = randomString(24);
  const nonce = randomString(24);
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ state: stateValue, verifier, nonce, hash: location.hash }));
  const url = new URL(d.authorization_endpoint);
  const q = {
    ...(state.settings.authorizationParams ?? {}),
    response_type: 'code',
    client_id: state.settings.clientId,
    redirect_uri: redirectUri(),
    scope: state.settings.scopes.join(' '),
    state: stateValue,
    nonce,
    code_challenge: await s256(verifier),
    code_challenge_method: 'S256',
  };
  for (const [k, v] of Object.entries(q)) url.searchParams.set(k, v);
  location.assign(url.href);
}

async function finishSignIn(params) {
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? 'null');
  sessionStorage.removeItem(PENDING_KEY);
  // The code and state leave the address bar (and the history) at once.
  history.replaceState(null, '', `${location.pathname}${pending?.hash ?? ''}`);
  if (params.has('error')) {
    showStatus(
      `Sign-in was refused: ${params.get('error')}${params.get('error_description') ? ` (${params.get('error_description')})` : ''}`,
      true,
    );
    return;
  }
  if (!pending || params.get('state') !== pending.state) {
    showStatus('Sign-in failed: the answer does not belong to a sign-in started here (state mismatch). Sign in again.', true);
    return;
  }
  const d = await discover();
  const res = await fetch(d.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: params.get('code'),
      redirect_uri: redirectUri(),
      client_id: state.settings.clientId,
      code_verifier: pending.verifier,
    }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok || typeof body.access_token !== 'string') {
    showStatus(`Sign-in failed: the token request was refused (${body.error ?? `HTTP ${res.status}`}).`, true);
    return;
  }
  const claims = decodeJwt(body.id_token) ?? decodeJwt(body.access_token) ?? {};
  if (body.id_token && claims.nonce !== pending.nonce) {
    showStatus('Sign-in failed: the ID token was not issued for this sign-in (nonce mismatch).', true);
    return;
  }
  state.token = body.access_token;
  state.claims = claims;
}

function signOut() {
  state.token = null;
  state.claims = null;
  $('signed-in').hidden = true;
  $('who').hidden = true;
  $('signed-out').hidden = false;
  showStatus('Signed out.');
}

function showSignedIn() {
  $('signed-out').hidden = true;
  $('signed-in').hidden = false;
  $('who').hidden = false;
  const c = state.claims ?? {};
  $('who-name').textContent = `Signed in as ${c.preferred_username ?? c.email ?? c.name ?? c.sub ?? 'a reviewer'}`;
}

const redirectUri = () => `${location.origin}${location.pathname}`;

function randomString(bytes) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function s256(text) {
  return base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))));
}

function base64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The claims of a JWT, unverified: only to tell who is signed in (the gateway verifies the token). */
function decodeJwt(jwt) {
  if (typeof jwt !== 'string' || jwt.split('.').length !== 3) return null;
  try {
    const b64 = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, '='));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (ch) => ch.charCodeAt(0))));
  } catch {
    return null;
  }
}

// ---- the approval API ----------------------------------------------------------------------------

async function api(path, init = {}) {
  const res = await fetch(`${state.apiBase}${path}`, {
    ...init,
    headers: { ...(init.headers ?? {}), authorization: `Bearer ${state.token}`, accept: 'application/json' },
  });
  const body = await res.json().catch(() => ({}));
  if (res.status === 401) {
    signOut();
    showStatus('Your sign-in has ended (the token expired or was refused). Sign in again.', true);
  }
  return { ok: res.ok, status: res.status, body };
}

async function refresh() {
  if (!state.token) return;
  const filter = $('filter').value;
  $('list-title').textContent = filter ? `${filter[0].toUpperCase()}${filter.slice(1)} approvals` : 'All approvals';
  const focusId = new URLSearchParams(location.hash.slice(1)).get('approval');
  const [list, focus] = await Promise.all([
    api(`/approvals${filter ? `?status=${encodeURIComponent(filter)}` : ''}`),
    focusId ? api(`/approvals/${encodeURIComponent(focusId)}`) : null,
  ]);
  if (!state.token) return;
  const focusBox = $('focus');
  focusBox.replaceChildren();
  if (focus) {
    const h = document.createElement('h2');
    h.textContent = 'Linked approval';
    focusBox.append(h);
    if (focus.ok) focusBox.append(card(focus.body, 'focus'));
    else {
      const p = document.createElement('p');
      p.className = 'note';
      p.textContent = errorText(focus);
      focusBox.append(p);
    }
  }
  const ul = $('list');
  ul.replaceChildren();
  if (!list.ok) {
    showStatus(`The approvals could not be listed: ${errorText(list)}`, true);
    return;
  }
  const items = list.body.data ?? [];
  for (const a of items) {
    if (focus?.ok && a.id === focus.body.id) continue;
    const li = document.createElement('li');
    li.append(card(a, 'list'));
    ul.append(li);
  }
  $('empty').hidden = ul.children.length > 0;
  $('empty').textContent = focus?.ok ? 'Nothing else here.' : 'Nothing here.';
  showStatus(`${items.length} ${filter || ''} approval(s) as of ${new Date().toLocaleTimeString()}.`.replace('  ', ' '));
}

// ---- rendering -------------------------------------------------------------------------------------

function isMe(ref) {
  const c = state.claims;
  return !!c && ref.subject === c.sub && (!c.iss || ref.issuer === c.iss || ref.issuer === `${c.iss}/` || `${ref.issuer}/` === c.iss);
}

function card(a, where) {
  const node = $('card').content.firstElementChild.cloneNode(true);
  const q = (sel) => node.querySelector(sel);
  const uid = `${where}-${a.id}`;
  node.id = `approval-${uid}`;
  node.dataset.approvalId = a.id;
  node.dataset.status = a.status;
  q('.model').textContent = a.model;
  q('.badge').textContent = STATUS_TEXT[a.status] ?? a.status;
  q('.badge').classList.add(a.status);
  q('.id').textContent = a.id;
  const r = a.requester ?? {};
  q('.requester').textContent = `${r.subject}${r.client_id && r.client_id !== r.subject ? ` (client ${r.client_id})` : ''} at ${r.issuer}`;
  q('.rule').textContent = `${a.rule_id} (policy ${String(a.policy_version).slice(0, 12)})`;
  q('.why').textContent = (a.triggers ?? []).map(describeTrigger).join('; ') || 'always';
  q('.deadline').textContent = deadlineText(a);
  q('.count').textContent = `${a.approvals} of ${a.required_approvals} needed`;
  q('.scope').textContent = a.grant_until
    ? `A time-boxed grant of model ${a.model} (until ${fmt(a.grant_until)})`
    : 'This request (by the hash of its masked payload), once';
  q('.preview').textContent = a.preview;
  q('.preview').setAttribute('aria-label', `Masked preview of approval ${a.id}`);
  for (const d of a.decisions ?? []) {
    const li = document.createElement('li');
    li.textContent = `${d.decision === 'approve' ? 'Approved' : 'Denied'} by ${d.reviewer.subject} at ${fmt(d.at)}: ${d.reason}`;
    q('.decisions').append(li);
  }
  const note = q('.note');
  const mine = isMe(r);
  const decidedByMe = (a.decisions ?? []).some((d) => isMe(d.reviewer));
  if (a.status !== 'pending') {
    note.hidden = false;
    note.textContent =
      a.status === 'expired'
        ? `Expired: nobody decided before ${fmt(a.expires_at)}. The requester must send the request again to ask anew.`
        : a.status === 'used'
          ? `Already decided and used at ${fmt(a.used_at)}. Nothing to do.`
          : `Already decided: ${a.status} at ${fmt(a.decided_at)}. Nothing to do.`;
  } else if (mine) {
    note.hidden = false;
    note.textContent = 'You requested this: the requester of an approval cannot approve or deny it. Another reviewer must decide.';
  } else if (decidedByMe) {
    note.hidden = false;
    note.textContent = 'You have approved this already; it waits for another reviewer.';
  } else {
    wireForm(q('.decide'), a, uid, node);
  }
  return node;
}

function wireForm(form, a, uid, node) {
  form.hidden = false;
  const reason = form.querySelector('.reason');
  reason.id = `reason-${uid}`;
  form.querySelector('.reason-label').htmlFor = reason.id;
  const result = form.querySelector('.result');
  reason.addEventListener('input', () => (result.textContent = ''));
  form.querySelector('.approve').setAttribute('aria-label', `Approve ${a.model} for ${a.requester.subject}`);
  form.querySelector('.deny').setAttribute('aria-label', `Deny ${a.model} for ${a.requester.subject}`);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const decision = ev.submitter?.value === 'deny' ? 'deny' : 'approve';
    const text = reason.value.trim();
    if (!text) {
      result.textContent = 'Give a reason: it is kept with the decision in the audit record.';
      reason.focus();
      return;
    }
    for (const b of form.querySelectorAll('button')) b.disabled = true;
    void api(`/approvals/${encodeURIComponent(a.id)}/decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ decision, reason: text }),
    }).then(
      (res) => {
        if (res.ok) {
          const fresh = card(res.body, uid.startsWith('focus') ? 'focus' : 'list');
          node.replaceWith(fresh);
          showStatus(
            `${decision === 'approve' ? 'Approved' : 'Denied'}: ${a.model} for ${a.requester.subject} (now ${STATUS_TEXT[res.body.status] ?? res.body.status}).`,
          );
          return;
        }
        for (const b of form.querySelectorAll('button')) b.disabled = false;
        result.textContent = errorText(res);
      },
      (e) => {
        for (const b of form.querySelectorAll('button')) b.disabled = false;
        result.textContent = `The decision could not be sent: ${e.message}`;
      },
    );
  });
}

function errorText(res) {
  const e = res.body?.error ?? {};
  return ERROR_TEXT[e.code] ?? `${e.message ?? `HTTP ${res.status}`}${e.code ? ` (${e.code})` : ''}`;
}

function describeTrigger(t) {
  if (t === 'always') return 'the rule always asks for approval';
  if (t === 'principal_outside_groups') return 'the requester is outside the trusted groups';
  if (t === 'input_unscannable') return 'the input is token ids and cannot be read';
  const [kind, arg] = t.split(/:(.*)/s);
  if (kind === 'batch_over') return `more than ${arg} items in one request`;
  if (kind === 'input_matches') return `the text matches ${arg}`;
  if (kind === 'masking_found') return `masking found ${arg}`;
  return t;
}

function deadlineText(a) {
  const left = Date.parse(a.expires_at) - Date.now();
  if (a.status !== 'pending') return fmt(a.expires_at);
  if (left <= 0) return `${fmt(a.expires_at)} (passed)`;
  const mins = Math.round(left / 60000);
  return `${fmt(a.expires_at)} (in ${mins >= 120 ? `${Math.round(mins / 60)} hours` : `${mins} minute(s)`})`;
}

function fmt(iso) {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '-';
}

function showStatus(text, error = false) {
  const s = $('status');
  s.textContent = text;
  s.classList.toggle('error', error);
}

async function getJson(url) {
  const res = await fetch(url, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}
