// Drives Debian's headless Chromium through tessera's browser login, like a person would,
// and prints what the final page shows as one JSON object on stdout.
//
//   node login.mjs oidc   BASE_URL USER            /login -> provider link -> the provider's
//                                                  login + consent forms -> credentials page
//   node login.mjs ldap   BASE_URL USER PASSWORD   /login -> the LDAP form -> credentials page
//   node login.mjs tamper BASE_URL                 /login -> provider link, then the callback
//                                                  with a forged state (and a made-up code)
//
// Used by tests/integration/test_browser_login.py.
import { chromium } from 'playwright-core';

const [mode, base, user, password] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const out = { mode };
class Done extends Error {}
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  const responses = {};
  out.csp_violations = [];
  page.on('console', (m) => {
    if (/Content.Security.Policy/i.test(m.text())) out.csp_violations.push(m.text());
  });
  page.on('response', (r) => {
    if (r.request().isNavigationRequest() && r.url().startsWith(base)) {
      responses[new URL(r.url()).pathname] = { status: r.status(), headers: r.headers() };
    }
  });

  const index = await page.goto(base + '/login');
  out.index_status = index.status();
  if (mode === 'ldap') {
    await page.fill('#ldap input[name=username]', user);
    await page.fill('#ldap input[name=password]', password);
    await Promise.all([page.waitForNavigation(), page.click('#ldap button[type=submit]')]);
  } else {
    await Promise.all([page.waitForNavigation(), page.click('#providers a.provider')]);
    if (mode === 'tamper') {
      await page.waitForSelector('input[name=login]'); // at the provider's login page
      out.cookies = (await context.cookies(base + '/login/callback')).map((c) => ({ name: c.name, path: c.path,
        httpOnly: c.httpOnly, sameSite: c.sameSite, secure: c.secure }));
      const r = await page.goto(base + '/login/callback?code=made-up&state=forged');
      out.status = r.status();
      out.text = await page.textContent('body');
      out.has_credentials = (await page.$('#secret_key')) !== null;
      out.cookies_after = (await context.cookies(base + '/login/callback')).map((c) => c.name);
      throw new Done();
    }
    // The provider's own pages: the login form, then consent, until we are back at tessera.
    for (let i = 0; i < 10 && !page.url().startsWith(base + '/login/callback'); i++) {
      if (await page.$('input[name=login]')) {
        await page.fill('input[name=login]', user);
        await page.fill('input[name=password]', 'any-password');
      }
      await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    }
  }
  out.url = page.url();
  const final = responses[new URL(page.url()).pathname] || {};
  out.status = final.status;
  out.headers = final.headers;
  const text = async (sel) => ((await page.$(sel)) ? (await page.textContent(sel)).trim() : null);
  out.access_key = await text('#access_key');
  out.secret_key = await text('#secret_key');
  out.session_token = await text('#session_token');
  out.expiration = await text('#expiration');
  out.who = await text('#who');
  out.snippet_env = await text('#snippet-env');
  out.snippet_profile = await text('#snippet-profile');
  out.snippet_cp = await text('#snippet-credential-process-json');
  out.buckets = await page.$$eval('#buckets li', (li) => li.map((x) => x.textContent));
  // The copy button works (its script runs under the page's CSP hash).
  if (await page.$('button[data-copy=snippet-env]')) {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await page.click('button[data-copy=snippet-env]');
    await page.waitForFunction(() => document.querySelector('button[data-copy=snippet-env]')
      .textContent === 'Copied', null, { timeout: 5000 }).catch(() => {});
    out.copy_button = await text('button[data-copy=snippet-env]');
  }
  out.message = await text('#message');
  out.cookies_after = (await context.cookies(base + '/login/callback')).map((c) => c.name);
} catch (e) {
  if (!(e instanceof Done)) out.error = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
