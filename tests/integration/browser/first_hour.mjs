// The first-hour checks of the browser login (tests/integration/test_first_hour_login.py):
// drives Debian's headless Chromium like a person and prints one JSON object on stdout.
//
//   node first_hour.mjs ldap  BASE USER PASSWORD  /login (its text, provider buttons, callback
//                                                 help) -> the LDAP form -> the credentials
//                                                 page's snippets, as shown
//   node first_hour.mjs oidc  BASE USER           /login -> provider button -> the provider's
//                                                 forms -> the credentials page's snippets
//   node first_hour.mjs index BASE                /login only: its buttons and callback help
//   node first_hour.mjs error BASE                an error page (a callback nobody started),
//                                                 then its "Back to sign in" link
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
  const page = await (await browser.newContext()).newPage();
  page.setDefaultTimeout(20000);
  const text = async (sel) => ((await page.$(sel)) ? (await page.innerText(sel)) : null);
  if (mode === 'error') {
    const r = await page.goto(base + '/login/callback?code=x&state=y');
    out.status = r.status();
    out.message = await text('#message');
    out.back = await page.$eval('a#back', (a) => ({ text: a.textContent, href: a.href }))
      .catch(() => null);
    if (out.back) {
      await Promise.all([page.waitForNavigation(), page.click('a#back')]);
      out.after_url = page.url();
      out.after_title = await text('h1');
    }
  } else {
    const index = await page.goto(base + '/login');
    out.index_status = index.status();
    out.buttons = await page.$$eval('#providers a.provider', (a) => a.map((x) => x.textContent));
    out.callback_help = await text('#callback-help');
    out.callback_url = await text('#callback-url');
    if (mode === 'index') throw new Done();
    if (mode === 'ldap') {
      await page.fill('#ldap input[name=username]', user);
      await page.fill('#ldap input[name=password]', password);
      await Promise.all([page.waitForNavigation(), page.click('#ldap button[type=submit]')]);
    } else {
      await Promise.all([page.waitForNavigation(), page.click('#providers a.provider')]);
      for (let i = 0; i < 10 && !page.url().startsWith(base + '/login/callback'); i++) {
        if (await page.$('input[name=login]')) {
          await page.fill('input[name=login]', user);
          await page.fill('input[name=password]', 'any-password');
        }
        await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
      }
    }
    out.url = page.url();
    out.title = await text('h1');
    out.endpoint_help = await text('#endpoint-help');
    // every snippet box, as the page shows it (what "Copy" copies: the <pre>'s text)
    out.snippets = await page.$$eval('pre[id]', (p) => Object.fromEntries(
      p.map((x) => [x.id, x.textContent])));
    out.titles = await page.$$eval('h3', (h) => h.map((x) => x.textContent));
  }
} catch (e) {
  if (!(e instanceof Done)) out.error = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
