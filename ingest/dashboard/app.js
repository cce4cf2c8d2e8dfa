// Podium's live page: no framework, no build step, nothing from another origin.
// The API key lives in this tab's sessionStorage and goes out in the X-API-KEY header, never
// in a URL; a link may carry it in the fragment (#key=…&tenant=…), which browsers never send
// to a server, and the page moves it to sessionStorage and takes it off the address bar.
// Everything read from the server is put on the page as text (textContent), never as HTML.
'use strict';

const KEY = 'podium.key';
const TENANT = 'podium.tenant';
const USER = 'podium.user';
const REFRESH_MS = 5000;
const FEED_LINES = 60;
const $ = (id) => document.getElementById(id);

let feedAbort = null;
let generation = 0; // a new one on every start and stop: the old polls end
let refreshSoon = null;
const shown = new Set();

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === 'class') node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function takeFragment() {
  if (!location.hash) return;
  const given = new URLSearchParams(location.hash.slice(1));
  if (given.get('key')) {
    sessionStorage.setItem(KEY, given.get('key'));
    sessionStorage.setItem(TENANT, given.get('tenant') || '');
  }
  if (given.get('user')) sessionStorage.setItem(USER, given.get('user'));
  history.replaceState(null, '', location.pathname + location.search);
}

function headers() {
  const out = { 'X-API-KEY': sessionStorage.getItem(KEY) || '' };
  const tenant = sessionStorage.getItem(TENANT);
  if (tenant) out['Tenant-ID'] = tenant;
  return out;
}

class Refused extends Error {}

async function read(path) {
  const resp = await fetch(path, { headers: headers(), cache: 'no-store' });
  let body = null;
  try { body = await resp.json(); } catch (e) { body = null; }
  const why = (body && body.error) || `${resp.status} ${resp.statusText}`;
  if (resp.status === 401 || resp.status === 403) throw new Refused(why);
  if (!resp.ok) throw new Error(why);
  return body;
}

function signOut(reason) {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(TENANT);
  stop();
  $('main').hidden = true;
  $('sign-out').hidden = true;
  $('who').textContent = '';
  $('login').hidden = false;
  $('login-error').textContent = reason || '';
  setFeedState('offline', 'off');
}

function stop() {
  generation += 1;
  if (feedAbort) feedAbort.abort();
  feedAbort = null;
}

function failed(err) {
  if (err instanceof Refused) signOut(`Refused: ${err.message}`);
  else $('error').textContent = `Could not read: ${err.message}`;
}

// --- the overview: boards, achievements, points levels ------------------------------------

async function refresh() {
  const user = sessionStorage.getItem(USER) || '';
  const query = user ? `?userId=${encodeURIComponent(user)}` : '';
  try {
    const data = await read(`/dashboard/api/overview${query}`);
    $('error').textContent = '';
    drawBoards(data.boards, user);
    drawAchievements(data.achievements);
    drawPoints(data.points);
    $('user-note').textContent = user && !data.userFound ? `no user ${JSON.stringify(user)} yet` : '';
  } catch (err) { failed(err); }
}

function drawBoards(boards, user) {
  const out = boards.map((board) => {
    const rows = board.top.map((r) => el('tr', { class: r.userId === user ? 'me' : '' },
      el('td', { class: 'num' }, `#${r.rank}`), el('td', {}, r.userName || r.userId),
      el('td', { class: 'num' }, r.value.toLocaleString())));
    const place = !user ? null : el('p', { class: 'place' }, board.user
      ? `${user}: #${board.user.rank} with ${board.user.value.toLocaleString()}`
      : `${user} is not on this board`);
    return el('div', { class: 'board', 'data-key': board.key },
      el('h3', {}, board.name, ' ', el('span', { class: 'muted' }, board.run ? `run of ${board.run}` : '')),
      rows.length ? el('table', {}, el('tbody', {}, ...rows)) : el('p', { class: 'muted' }, board.note || 'nobody yet'),
      place);
  });
  $('boards').replaceChildren(...(out.length ? out : [el('p', { class: 'muted' }, 'no boards in the rules')]));
}

function drawAchievements(list) {
  const rows = list.map((a) => el('tr', { 'data-key': a.id },
    el('td', {}, a.name),
    el('td', { class: 'num' }, a.completions),
    el('td', { class: 'num' }, el('span', { class: 'bar' }, el('i')), `${a.rarity}%`)));
  rows.forEach((row, i) => { row.querySelector('i').style.width = `${Math.min(100, list[i].rarity)}%`; });
  $('achievements').tBodies[0].replaceChildren(...rows);
}

function drawPoints(systems) {
  const out = systems.map((s) => {
    const most = Math.max(1, ...s.levels.map((l) => l.users));
    const rows = s.levels.map((l) => {
      const bar = el('span', { class: 'bar' }, el('i'));
      bar.firstChild.style.width = `${(100 * l.users) / most}%`;
      return el('tr', {}, el('td', {}, l.level.name), el('td', { class: 'num' }, `${l.level.points}+`),
        el('td', { class: 'num' }, bar, `${l.users} ${l.users === 1 ? 'user' : 'users'}`));
    });
    const mine = s.user ? el('p', { class: 'place' }, `${sessionStorage.getItem(USER)}: ${s.user.total} (${s.user.level || 'no level'})`) : null;
    return el('div', { class: 'system', 'data-key': s.key }, el('h3', {}, s.name),
      rows.length ? el('table', {}, el('tbody', {}, ...rows)) : el('p', { class: 'muted' }, 'no levels'), mine);
  });
  $('points').replaceChildren(...out);
}

// --- health ---------------------------------------------------------------------------------

async function health() {
  try {
    const h = await read('/dashboard/api/health');
    const checks = Object.entries(h.gateway).map(([name, ok]) => el('span', { class: `pill ${ok ? 'ok' : 'bad'}` }, name));
    const parts = [el('p', {}, 'gateway: ', ...checks)];
    if (h.pipeline) {
      const rows = h.pipeline.groups.map((g) => el('tr', {},
        el('td', {}, g.process), el('td', { class: `num ${g.members ? '' : 'warn'}` }, `${g.members} running`),
        el('td', { class: 'num' }, g.lag === null ? 'no commit yet' : `lag ${g.lag.toLocaleString()}`)));
      parts.push(el('table', {}, el('tbody', {}, ...rows)));
      parts.push(el('p', { class: h.pipeline.deadLetters ? 'warn' : '' }, `dead letters: ${h.pipeline.deadLetters}`));
    } else if (h.pipelineError) {
      parts.push(el('p', { class: 'warn' }, h.pipelineError));
    }
    parts.push(el('p', { class: 'muted' }, `live feed: ${h.feedPages} page(s) listening. ${h.note}.`));
    $('health').replaceChildren(...parts);
  } catch (err) { failed(err); }
}

// --- the live feed (server-sent events over fetch, so that the key goes in a header) ---------

function setFeedState(text, cls) {
  $('feed-state').textContent = text;
  $('feed-state').className = `pill ${cls}`;
}

function onMessage(event, data) {
  if (event === 'status') setFeedState(data.live ? 'live' : 'connecting', data.live ? 'ok' : 'warn');
  if (event === 'missed') addLine({ kind: 'missed', text: `${data.lines} lines missed (this page fell behind)` });
  if (event === 'facts') {
    data.filter((f) => !shown.has(f.id)).forEach((f) => { shown.add(f.id); addLine(f); });
    clearTimeout(refreshSoon);
    refreshSoon = setTimeout(refresh, 300);
  }
}

function addLine(fact) {
  const when = fact.timeMs ? new Date(fact.timeMs).toLocaleTimeString() : '';
  const who = fact.userId ? el('b', {}, fact.userName || fact.userId) : null;
  $('feed').prepend(el('li', { class: `fact ${fact.kind}` }, el('time', {}, when), ' ', who, who ? ' ' : '', fact.text));
  while ($('feed').children.length > FEED_LINES) $('feed').lastChild.remove();
  $('feed-empty').hidden = true;
}

async function listen() {
  const abort = new AbortController();
  feedAbort = abort;
  setFeedState('connecting', 'warn');
  try {
    const resp = await fetch('/dashboard/api/feed', { headers: headers(), signal: abort.signal, cache: 'no-store' });
    if (resp.status === 401 || resp.status === 403) {
      signOut(`Refused: ${(await resp.json()).error}`);
      return;
    }
    if (!resp.ok) throw new Error(`${resp.status}`);
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (data) onMessage(event, JSON.parse(data));
      }
    }
  } catch (err) {
    if (abort.signal.aborted) return;
  }
  if (feedAbort !== abort) return;
  setFeedState('offline', 'off');
  setTimeout(() => { if (feedAbort === abort) listen(); }, 2000);
}

// Read again REFRESH_MS after the last read ended (never two at once: a slow answer must not
// pile requests up on the browser's few connections to this host).
function poll(read, started) {
  read().finally(() => {
    if (started === generation) setTimeout(() => { if (started === generation) poll(read, started); }, REFRESH_MS);
  });
}

// --- start ------------------------------------------------------------------------------------

function start() {
  if (!sessionStorage.getItem(KEY)) { signOut(''); return; }
  $('login').hidden = true;
  $('main').hidden = false;
  $('sign-out').hidden = false;
  const tenant = sessionStorage.getItem(TENANT);
  $('who').textContent = tenant ? `tenant ${tenant}` : 'default tenant';
  $('user-id').value = sessionStorage.getItem(USER) || '';
  generation += 1;
  poll(refresh, generation);
  poll(health, generation);
  listen();
}

document.addEventListener('DOMContentLoaded', () => {
  takeFragment();
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY, $('login-key').value.trim());
    sessionStorage.setItem(TENANT, $('login-tenant').value.trim());
    $('login-key').value = '';
    start();
  });
  $('user-form').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(USER, $('user-id').value.trim());
    refresh();
  });
  $('sign-out').addEventListener('click', () => signOut(''));
  start();
});
