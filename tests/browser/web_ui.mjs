// Drives the daemon's web UI in Debian's headless chromium (never a downloaded browser)
// and checks the three screens against the running daemon's API. Run by
// src/server/e2e/web_ui_test.cpp, which starts the daemon and records a dictation first.
//
// Environment: THOTH_API (http://127.0.0.1:PORT), THOTH_TOKEN, THOTH_SCREENSHOT_DIR,
// THOTH_SEARCH_WORD (a word of the recorded dictation), THOTH_SPEECH_FILE, CHROMIUM (default
// /usr/bin/chromium); PULSE_SERVER points paplay at the test's audio server.
// Exits 0 with a JSON summary on stdout, or 1 with the reason on stderr.
import fs from 'node:fs/promises';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
const api = env('THOTH_API');
const token = env('THOTH_TOKEN');
const shots = env('THOTH_SCREENSHOT_DIR');
const word = env('THOTH_SEARCH_WORD');
const speech = env('THOTH_SPEECH_FILE');  // played into the PulseAudio sink "virt" while recording
const executablePath = env('CHROMIUM', '/usr/bin/chromium');
const W = 1280, H = 800;
const T = 60000;  // generous: a loaded 2-core machine; only hangs should hit it

function check(cond, message) {
  if (!cond) throw new Error(message);
}

async function apiGet(route) {
  const res = await fetch(api + route, { headers: { Authorization: `Bearer ${token}` } });
  check(res.ok, `GET ${route}: ${res.status}`);
  return res.json();
}

const problems = [];
const summary = { screenshots: {} };
let current = null;  // the page under test, for the failure report

async function screenshot(page, name) {
  const file = path.join(shots, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  summary.screenshots[name] = file;
  return file;
}

// Decodes a screenshot in the browser and measures it: a blank or half-drawn page has few
// colours, or one colour almost everywhere.
async function measure(page, file) {
  const b64 = (await fs.readFile(file)).toString('base64');
  return page.evaluate(async (src) => {
    const img = new Image();
    img.src = src;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    const counts = new Map();
    for (let i = 0; i < d.length; i += 4) {
      const k = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
      counts.set(k, (counts.get(k) || 0) + 1);
    }
    const dominant = Math.max(...counts.values());
    return { width: c.width, height: c.height, colours: counts.size, dominantShare: dominant / (c.width * c.height) };
  }, `data:image/png;base64,${b64}`);
}

async function run() {
  await fs.mkdir(shots, { recursive: true });
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    timeout: T,
  });
  try {
    const context = await browser.newContext({ viewport: { width: W, height: H }, deviceScaleFactor: 1, acceptDownloads: true, colorScheme: 'light' });
    context.setDefaultTimeout(T);
    const page = await context.newPage();
    current = page;
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    // An API answer with an error status is logged by chromium itself; the UI shows those.
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console error: ${m.text()}`);
    });

    // ---- Status: the token hand-off, the daemon's state, the latest result with timings
    await page.goto(`${api}/#token=${token}`);
    await page.waitForSelector('#state[data-state="idle"]');
    check(await page.evaluate(() => location.hash) === '', 'the token stayed in the address bar');
    check(await page.evaluate(() => sessionStorage.getItem('thoth.token')) === token, 'the token is not in sessionStorage');
    await page.waitForSelector('#connection[data-live="true"]');
    await page.waitForFunction((w) => document.getElementById('latest-text').textContent.toLowerCase().includes(w), word.toLowerCase());
    await page.waitForSelector('#latest-timings tr[data-stage="transcribe_ms"]');
    const status = await apiGet('/api/status');
    check(await page.textContent('#fact-pid') === String(status.pid), 'the status screen shows another pid than /api/status');
    check(await page.isEnabled('#btn-start') && !(await page.isEnabled('#btn-stop')), 'idle: Start should be enabled, Stop not');
    summary.status = await measure(page, await screenshot(page, 'status'));

    // ---- Hands-free mode: shown, and turned on and off from the page
    check(await page.textContent('#hands-free') === 'off', 'hands-free should start off');
    await page.click('#btn-hands-free');
    await page.waitForSelector('#hands-free[data-on="true"]');
    check((await apiGet('/api/status')).hands_free === true, 'the page turned hands-free on but /api/status disagrees');
    summary['hands-free'] = await measure(page, await screenshot(page, 'hands-free'));
    await page.click('#btn-hands-free');
    await page.waitForSelector('#hands-free[data-on="false"]');
    check((await apiGet('/api/status')).hands_free === false, 'the page turned hands-free off but /api/status disagrees');

    // ---- Live: a recording started from the UI; speech played into the test's audio server
    // moves the level meter; cancel ends it
    await page.click('#btn-start');
    await page.waitForSelector('#state[data-state="recording"]');
    const player = spawn('paplay', ['--device=virt', speech], { stdio: 'ignore' });
    try {
      await page.waitForFunction(() => Number(document.getElementById('meter').getAttribute('aria-valuenow')) > -40);
      summary.recording = await measure(page, await screenshot(page, 'recording'));
    } finally {
      player.kill();
    }
    check(Number(await page.getAttribute('#meter', 'data-updates')) > 2, 'the meter saw too few level events');
    await page.click('#btn-cancel');
    await page.waitForSelector('#state[data-state="idle"]');
    await page.waitForFunction(() => document.getElementById('state-message').textContent === 'Cancelled');
    summary.level_updates = Number(await page.getAttribute('#meter', 'data-updates'));

    // ---- History: two rows (the dictation and the cancelled run), search, play, export
    await page.click('#tab-history');
    await page.waitForFunction(() => document.querySelectorAll('#history-list li.entry').length === 2);
    await page.fill('#search', word);
    await page.waitForFunction((w) => {
      const list = document.getElementById('history-list');
      return list.dataset.query === w && list.querySelectorAll('li.entry').length === 1;
    }, word);
    const shown = await page.textContent('#history-list li.entry .entry-text');
    check(shown.toLowerCase().includes(word.toLowerCase()), `search shows "${shown}"`);
    await page.click('#history-list li.entry [data-action="play"]');
    await page.waitForFunction(() => {
      const p = document.getElementById('player');
      return p.src.startsWith('blob:') && p.readyState >= 1 && p.duration > 5;
    });
    summary.played_seconds = await page.evaluate(() => document.getElementById('player').duration);
    summary.history = await measure(page, await screenshot(page, 'history'));

    await page.fill('#search', 'zzzqqq');
    await page.waitForFunction(() => document.getElementById('history-list').dataset.query === 'zzzqqq');
    check(await page.locator('#history-list li.entry').count() === 0, 'a search for a word never said lists rows');

    for (const format of ['json', 'csv', 'txt']) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(`[data-export="${format}"]`)]);
      check(download.suggestedFilename() === `thoth-history.${format}`, `export name ${download.suggestedFilename()}`);
      const text = await fs.readFile(await download.path(), 'utf8');
      if (format === 'json') check(JSON.parse(text).length === 2, 'the JSON export should hold both rows');
      check(text.toLowerCase().includes(word.toLowerCase()), `the ${format} export lacks the dictation`);
    }

    // Delete the cancelled row (after the confirmation dialog).
    await page.fill('#search', '');
    await page.waitForFunction(() => document.getElementById('history-list').dataset.query === '' &&
      document.querySelectorAll('#history-list li.entry').length === 2);
    page.once('dialog', (d) => d.accept());
    await page.click('#history-list li.entry[data-status="cancelled"] [data-action="delete"]');
    await page.waitForFunction(() => document.querySelectorAll('#history-list li.entry').length === 1);
    check((await apiGet('/api/history')).length === 1, 'the deleted row is still in /api/history');

    // ---- Settings: loads the config, shows a validation error inline, saves a change
    await page.click('#tab-settings');
    await page.waitForSelector('#settings-form[data-loaded="true"]');
    const before = await apiGet('/api/config');
    check(await page.inputValue('#f-model') === before.transcription.model, 'the model field does not show the config');
    check(await page.inputValue('#f-out-method') === before.output.method, 'the output method does not show the config');
    check(await page.inputValue('#f-fillers') === before.filters.filler_words.join(', '), 'the filler words do not show the config');
    // The device list comes from the audio server (the test's PulseAudio and its null sink).
    const devices = await page.$$eval('#f-audio-device option', (os) => os.map((o) => o.value));
    check(devices[0] === '' && devices.includes('virt.monitor'), `device choices: ${devices.join(', ')}`);
    check(await page.inputValue('#f-audio-device') === before.audio.device, 'the device does not show the config');

    await page.fill('#f-enh-url', 'not a url');
    await page.click('#settings-save');
    await page.waitForSelector('#settings-status[data-result="error"]');
    check(await page.getAttribute('#f-enh-url', 'aria-invalid') === 'true', 'the bad endpoint is not marked invalid');
    const note = await page.textContent('#err-enhancement-base_url');
    check(note.includes('enhancement.base_url'), `the inline error says "${note}"`);
    check((await apiGet('/api/config')).enhancement.base_url === before.enhancement.base_url, 'an invalid config was saved');
    summary.settings_error = note;
    check(await page.evaluate(() => {
      const r = document.getElementById('err-enhancement-base_url').getBoundingClientRect();
      return r.top > 0 && r.bottom < document.querySelector('.form-actions').getBoundingClientRect().top;
    }), 'the error note is not on screen');
    summary['settings-error'] = await measure(page, await screenshot(page, 'settings-error'));

    await page.fill('#f-enh-url', 'http://127.0.0.1:11500');
    await page.selectOption('#f-out-method', 'clipboard');
    await page.selectOption('#f-audio-device', 'virt.monitor');
    await page.fill('#f-fillers', `${await page.inputValue('#f-fillers')}, basically`);
    await page.click('#dict-add');
    await page.fill('#dict-rows tr:last-child input.from', 'thoth');
    await page.fill('#dict-rows tr:last-child input.to', 'Thoth');
    await page.click('#settings-save');
    await page.waitForSelector('#settings-status[data-result="saved"]');
    check(await page.locator('.field-error').count() === 0, 'the error note stayed after a good save');
    const after = await apiGet('/api/config');
    check(after.output.method === 'clipboard', `output.method is ${after.output.method}`);
    check(after.audio.device === 'virt.monitor', `audio.device is ${after.audio.device}`);
    check(after.enhancement.base_url === 'http://127.0.0.1:11500', `enhancement.base_url is ${after.enhancement.base_url}`);
    check(after.filters.filler_words.includes('basically'), 'the new filler word did not reach the config');
    check(after.filters.dictionary.some((r) => r.from === 'thoth' && r.to === 'Thoth'), 'the dictionary rule did not reach the config');
    check(after.transcription.model === before.transcription.model, 'an untouched field changed');
    await page.evaluate(() => window.scrollTo(0, 0));
    summary.settings = await measure(page, await screenshot(page, 'settings'));

    // A reload keeps the tab's token (sessionStorage) and shows the saved config.
    await page.reload();
    await page.click('#tab-settings');
    await page.waitForSelector('#settings-form[data-loaded="true"]');
    check(await page.inputValue('#f-out-method') === 'clipboard', 'after a reload the form lost the saved method');

    // A dictation started and stopped from the page: its result (with the stage timings of
    // this run, total included) arrives over the event stream.
    await page.click('#tab-status');
    const lastId = (await apiGet('/api/history?limit=1'))[0].id;
    await page.click('#btn-start');
    await page.waitForSelector('#state[data-state="recording"]');
    await page.waitForTimeout(1500);
    await page.click('#btn-stop');
    await page.waitForFunction((id) => {
      const m = /#(\d+)$/.exec(document.getElementById('latest-meta').textContent);
      return m && Number(m[1]) > id;
    }, lastId, { timeout: 180000 });
    await page.waitForSelector('#latest-timings tr[data-stage="total_ms"]');
    await page.waitForSelector('#state[data-state="idle"]');

    // Without the token the page says how to get in, and reads nothing.
    const stranger = await browser.newContext({ viewport: { width: W, height: H } });
    const bare = await stranger.newPage();
    await bare.goto(`${api}/`);
    await bare.waitForSelector('#auth-error:not([hidden])');
    await stranger.close();

    for (const name of ['status', 'recording', 'history', 'settings', 'settings-error']) {
      const m = summary[name];
      check(m.width === W && m.height === H, `${name}.png is ${m.width}x${m.height}, not ${W}x${H}`);
      check(m.colours >= 40 && m.dominantShare < 0.97, `${name}.png looks blank: ${JSON.stringify(m)}`);
    }
    check(problems.length === 0, `the page reported: ${problems.join('; ')}`);
  } catch (e) {
    // What the page showed when it went wrong: its text and a screenshot.
    if (current) {
      try {
        e.message += `\npage text:\n${(await current.evaluate(() => document.body.innerText)).slice(0, 3000)}`;
        await current.screenshot({ path: path.join(shots, 'failure.png') });
        e.message += `\nscreenshot: ${path.join(shots, 'failure.png')}`;
      } catch { /* the page is gone */ }
    }
    throw e;
  } finally {
    await browser.close();
  }
}

try {
  await run();
  console.log(JSON.stringify(summary));
} catch (e) {
  console.error(`web UI check failed: ${e.message}`);
  if (problems.length) console.error(problems.join('\n'));
  console.log(JSON.stringify(summary));
  process.exit(1);
}
