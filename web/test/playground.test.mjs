// Browser tests of the playground: Debian's chromium, headless, driven by puppeteer-core, on the
// site built by `cargo xtask web` (target/web) served from loopback. Run by `cargo xtask test`
// (step "browser playground"); screenshots go to target/web-screenshots/.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import puppeteer from "puppeteer-core";
import { serve } from "../serve.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const site = join(root, "target", "web");
const shots = join(root, "target", "web-screenshots");
const SEED = "tr(Y'*M*Y) where Y = sigmoid(W*X)";

let server, browser, profile, base;

before(async () => {
  mkdirSync(shots, { recursive: true });
  server = await serve(site);
  base = `http://127.0.0.1:${server.address().port}/`;
  profile = mkdtempSync(join(tmpdir(), "matdiff-chromium-"));
  browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    userDataDir: profile,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** A fresh page at `hash`, ready (the engine loaded and the first state derived). */
async function open(hash = "", scheme = "light") {
  const page = await browser.newPage();
  await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: scheme }]);
  await page.setViewport({ width: 1000, height: 900 });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // Nothing may leave loopback: the page works offline.
  await page.setRequestInterception(true);
  page.on("request", (r) => (r.url().startsWith(base) ? r.continue() : (errors.push(`request to ${r.url()}`), r.abort())));
  await page.goto(base + hash);
  await page.waitForSelector("body[data-ready=true]", { timeout: 20000 });
  page.errors = errors;
  return page;
}

async function typeExpression(page, text) {
  await page.click("#expr", { clickCount: 3 });
  await page.keyboard.press("Backspace");
  await page.type("#expr", text);
}

const text = (page, sel) => page.$eval(sel, (e) => e.textContent);

test("the seed's example typed in: typeset gradient and number of steps", async () => {
  const page = await open("#expr=&wrt=&let=");
  await typeExpression(page, SEED);
  // Declare M symmetric in its row, as a reader would.
  await page.click('.decl[data-name="M"] input[type=checkbox]');
  await page.select("#wrt", "X");
  await page.waitForSelector("#steps[data-steps]");
  assert.equal(await page.$eval("#gradient", (e) => e.dataset.plain), "2*W'*((M*Y) .* sigmoid'(W*X)) where Y = sigmoid(W*X)");
  // KaTeX typeset it: the rendered annotation carries the LaTeX.
  const tex = await page.$eval("#gradient annotation", (e) => e.textContent);
  assert.match(tex, /\\frac\{\\partial f\}\{\\partial X\} = 2 *W\^\{?T\}?/);
  assert.ok(await page.$("#gradient .katex-display"));
  assert.equal(await page.$eval("#steps", (e) => e.dataset.steps), "12");
  assert.equal(await page.$$eval("#steps tr", (rows) => rows.length), 12);
  // A rule opens its identity from the catalog, from the keyboard.
  const [t4] = await page.$$("xpath/.//td[@class='rules']/button[text()='T4']");
  await t4.focus();
  await page.keyboard.press("Enter");
  assert.match(await text(page, "#rule h3"), /^T4 cyclic property/);
  assert.ok(await page.$("#rule .katex"));
  await page.screenshot({ path: join(shots, "seed-example.png"), fullPage: true });
  await page.keyboard.press("Escape");
  assert.equal(await page.$eval("#rule", (e) => e.hidden), true);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("a bad input shows its error at the right place", async () => {
  const page = await open();
  // The product of a 3x4 by a 3x4: the error points at the '*' (column 2).
  await page.goto(`${base}#expr=${encodeURIComponent("A*B + C")}&wrt=A&let=${encodeURIComponent("A: 3x4;B: 3x4")}`);
  await page.waitForFunction(() => document.querySelector("#mirror mark"));
  const mark = await page.$eval("#mirror mark", (m) => [m.dataset.start, m.dataset.end, m.textContent]);
  assert.deepEqual(mark, ["1", "2", "*"]);
  assert.match(await text(page, "#error"), /^error at column 2: cannot multiply 3x4 by 3x4/);
  assert.equal(await page.$("#steps[data-steps]"), null);
  await page.screenshot({ path: join(shots, "shape-error.png"), clip: { x: 0, y: 0, width: 1000, height: 200 } });
  // A syntax error as one types: the span is where the input ends.
  await typeExpression(page, "tr(X*(A + ");
  const at = await page.$eval("#mirror mark", (m) => Number(m.dataset.start));
  assert.equal(at, "tr(X*(A + ".length);
  assert.match(await text(page, "#error"), /^error at column 11: /);
  await page.screenshot({ path: join(shots, "error.png") });
  // Fifty nested layers derive, but their steps would print in 100 MB: refused, and the page
  // goes on working.
  const deep = `sum(${"tanh(W*".repeat(50)}x${")".repeat(50)})`;
  await page.goto(`${base}#expr=${encodeURIComponent(deep)}&wrt=W&let=`);
  await page.waitForFunction(() => document.querySelector("#error").textContent !== "");
  assert.match(await text(page, "#error"), /^error: the derivation is too large to show/);
  // A gradient whose text could not name a size is refused, not shown as text that does not
  // evaluate; with the size written it shows.
  await page.goto(`${base}#expr=${encodeURIComponent("alpha*sum(ones)")}&wrt=alpha&let=`);
  await page.waitForFunction(() => /no variable of the expression names/.test(document.querySelector("#error").textContent));
  assert.equal(await page.$("#steps[data-steps]"), null);
  await page.goto(`${base}#expr=${encodeURIComponent("alpha*sum(ones(3))")}&wrt=alpha&let=`);
  await page.waitForSelector("#steps[data-steps]");
  assert.equal(await page.$eval("#gradient", (e) => e.dataset.plain), "3");
  assert.equal(await text(page, "#error"), "");
  await typeExpression(page, "a'*X*b");
  await page.select("#wrt", "X");
  await page.waitForSelector("#steps[data-steps]");
  assert.equal(await page.$eval("#gradient", (e) => e.dataset.plain), "a*b'");
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("a shared URL restores the state", async () => {
  const hash = `#expr=${encodeURIComponent("logdet(X'*A*X)")}&wrt=X&let=${encodeURIComponent("A: symmetric;X: 5x3")}`;
  const page = await open(hash, "dark");
  assert.equal(await page.$eval("#expr", (e) => e.value), "logdet(X'*A*X)");
  assert.equal(await page.$eval("#wrt", (e) => e.value), "X");
  assert.equal(await page.$eval('.decl[data-name="A"] input[type=checkbox]', (e) => e.checked), true);
  assert.equal(await page.$eval('.decl[data-name="X"] input[type=text]', (e) => e.value), "5x3");
  assert.equal(await page.$eval("#gradient", (e) => e.dataset.plain), "2*A*X*inv(X'*A*X)");
  // The address it keeps is the one it was given.
  assert.equal(await page.evaluate(() => location.hash), hash);
  await page.screenshot({ path: join(shots, "shared-url-dark.png") });
  await page.close();
});

test("the check button shows agreement", async () => {
  const page = await open(`#expr=${encodeURIComponent(SEED)}&wrt=X&let=${encodeURIComponent("M: symmetric")}`);
  await page.click("#check");
  await page.waitForFunction(() => document.querySelector("#check-result").textContent !== "");
  const result = await text(page, "#check-result");
  assert.match(result, /^agrees: max relative error \d\.\de-\d+ against the complex step \(tolerance 1\.0e-8\)/);
  assert.equal(await page.$eval("#check-result", (e) => e.className), "ok");
  await page.close();
});

test("every example of the menu derives", async () => {
  const page = await open();
  const labels = await page.$$eval("#examples option", (os) => os.map((o) => o.value).filter(Boolean));
  assert.equal(labels.length, 10);
  for (const label of labels) {
    await page.select("#examples", label);
    assert.equal(await text(page, "#error"), "", label);
    const steps = Number(await page.$eval("#steps", (e) => e.dataset.steps ?? "0"));
    assert.ok(steps >= 3, `${label}: ${steps} steps`);
  }
  await page.close();
});

test("budgets: wasm size, first derivation after load, the seed's derivation", async () => {
  const gz = gzipSync(readFileSync(join(site, "matdiff_web_bg.wasm")), { level: 9 }).length;
  const page = await open(`#expr=${encodeURIComponent(SEED)}&wrt=X&let=${encodeURIComponent("M: symmetric")}`);
  const first = await page.evaluate(() => window.matdiff.timings.firstDerivation);
  // The engine's call alone (parse, derive, print, JSON), the mean of 200 in the page: the
  // page's clock ticks in 0.1 ms, so one call is not timed alone.
  const perCall = await page.evaluate((seed) => {
    const derive = () => window.matdiff.engine.derivation(seed, "X", "M: symmetric");
    for (let i = 0; i < 20; i++) derive(); // warm-up
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) derive();
    return (performance.now() - t0) / 200;
  }, SEED);
  console.log(`budget: .wasm gzipped ${(gz / 1024).toFixed(0)} KiB (at most 1024 KiB)`);
  console.log(`budget: first derivation visible ${first.toFixed(0)} ms after navigation start (at most 300 ms)`);
  console.log(`budget: the seed's example derived in ${perCall.toFixed(3)} ms in the page, mean of 200 after 20 (at most 1 ms)`);
  assert.ok(gz <= 1024 * 1024, `.wasm gzipped is ${gz} bytes`);
  await page.close();
});
