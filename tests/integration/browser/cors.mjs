// A web app on another origin using tessera from Debian's headless Chromium: a page served
// here, on http://127.0.0.1:PORT (origin A), fetch()es presigned URLs of tessera (origin B)
// made by the test with temporary credentials tessera minted (AssumeRole). The browser
// enforces CORS: a PUT is preflighted (OPTIONS), every answer needs Access-Control-Allow-Origin.
//
//   node cors.mjs PORT SCENARIOS_JSON
//
// SCENARIOS_JSON: [{"name": ..., "put": URL|null, "body": TEXT, "get": URL|null}, ...]. Prints
// one JSON object: {name: {put_status, put_etag, put_error, get_status, get_body, get_error}}.
// Used by tests/integration/test_cors.py.
import http from 'node:http';
import { chromium } from 'playwright-core';

const [port, scenariosJson] = process.argv.slice(2);
const scenarios = JSON.parse(scenariosJson);
const app = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end('<!doctype html><html><head><title>app</title></head><body>app</body></html>');
});
await new Promise((resolve) => app.listen(Number(port), '127.0.0.1', resolve));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const out = {};
try {
  const page = await (await browser.newContext()).newPage();
  page.setDefaultTimeout(20000);
  await page.goto(`http://127.0.0.1:${port}/`);
  for (const s of scenarios) {
    out[s.name] = await page.evaluate(async (sc) => {
      const r = {};
      if (sc.put) {
        try {
          const p = await fetch(sc.put, { method: 'PUT', body: sc.body, headers: { 'content-type': 'text/plain' } });
          r.put_status = p.status;
          r.put_etag = p.headers.get('etag');
        } catch (e) {
          r.put_error = String(e);
        }
      }
      if (sc.get) {
        try {
          const g = await fetch(sc.get);
          r.get_status = g.status;
          r.get_body = await g.text();
        } catch (e) {
          r.get_error = String(e);
        }
      }
      return r;
    }, s);
  }
} finally {
  await browser.close();
  app.close();
}
console.log(JSON.stringify(out));
