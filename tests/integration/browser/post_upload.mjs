// A browser upload (tests/integration/test_post_upload.py): Debian's headless Chromium opens a
// page of another origin holding an HTML form built from a presigned POST (boto3's
// generate_presigned_post), picks a file in its <input type=file> and submits the form to
// tessera, as a person would. Prints one JSON object on stdout: the status and text of the
// page the form navigated to.
//
//   node post_upload.mjs SPEC.json   SPEC: {"url": ..., "fields": {...}, "file": path}
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const out = {};
try {
  const page = await (await browser.newContext()).newPage();
  page.setDefaultTimeout(20000);
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  const inputs = Object.entries(spec.fields)
    .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('\n');
  // The page's origin is not tessera's: a form post is a navigation, it needs no CORS.
  await page.setContent(`<!doctype html><html><body>
    <form id="up" action="${esc(spec.url)}" method="post" enctype="multipart/form-data">
    ${inputs}
    <input type="file" name="file" id="file">
    <button type="submit" id="go">Upload</button>
    </form></body></html>`);
  out.origin = await page.evaluate(() => window.location.origin);
  await page.setInputFiles('#file', spec.file);
  const [resp] = await Promise.all([page.waitForNavigation(), page.click('#go')]);
  out.status = resp.status();
  out.url = page.url();
  out.text = await resp.text();
} catch (e) {
  out.error = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
