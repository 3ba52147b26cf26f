// The desk console's pages: one module reading the console's JSON API under api/. Every change
// sends the session's CSRF token; an answer of 401 goes back to the login page.

import { el } from './dom.js';
import { renderForm, collect, typedSecrets } from './form.js';

let csrf = '';

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify(body),
  };
  const answer = await fetch(`api/${path}`, options);
  if (answer.status === 401) {
    location.href = 'login';
    throw new Error('logged out');
  }
  const json = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Error(json.error ?? answer.statusText);
  return json;
}

function note(text) {
  document.getElementById('note').textContent = text;
}

const when = (t) => (t ? new Date(t).toLocaleString() : '');

let profileNames = [];

async function test(profile) {
  const report = document.getElementById('report');
  report.hidden = false;
  report.textContent = `Testing ${profile}…`;
  const { lines } = await api(`check?profile=${encodeURIComponent(profile)}`);
  report.textContent = lines.join('\n');
}

/** What a profile's ticket webhook is doing, in a line. */
function webhookLine(w) {
  if (!w.registered) return `${w.profile}: Autotask's ticket webhook is not registered yet; the looks keep the desk's copy.`;
  if (w.active) {
    const again = w.deactivations ? ` Autotask turned it off ${w.deactivations} time(s) since the worker started; it was turned on again.` : '';
    return `${w.profile}: Autotask's ticket webhook is on.${again}`;
  }
  return `${w.profile}: Autotask turned the ticket webhook off at ${new Date(w.off_since).toLocaleString()} (its callouts to this worker failed). The looks keep the desk's copy meanwhile; the worker turns it on again once its URL answers. If this keeps happening, check that Autotask can reach the worker's public URL.`;
}

async function overview() {
  const { profiles, webhooks } = await api('overview');
  profileNames = profiles.map((p) => p.profile);
  document.getElementById('webhooks').replaceChildren(...(webhooks ?? []).map((w) =>
    el('p', { class: w.registered && !w.active ? 'warn' : 'muted' }, webhookLine(w))));
  document.getElementById('profiles').replaceChildren(...profiles.map((p) => el('tr', {},
    el('td', {}, p.profile), el('td', {}, p.queued), el('td', { class: p.failed ? 'bad' : '' }, p.failed),
    el('td', {}, p.written), el('td', { class: p.unlinked ? 'warn' : '' }, p.unlinked),
    el('td', {}, el('button', { class: 'test', onclick: () => test(p.profile).catch((e) => note(e.message)) }, 'Test')))));
  await chart();
}

const COLOURS = ['#1d4ed8', '#059669', '#d97706', '#9ca3af', '#7c3aed'];

/** The last 24 hours' requests as stacked bars, one per hour, the newest on the right. */
async function chart() {
  const { purposes, hours, threshold } = await api('requests');
  document.getElementById('threshold').textContent = threshold
    ? `Autotask's threshold, as last read: ${threshold.used} of ${threshold.limit} requests this hour, by every integration of the database.`
    : 'Autotask\'s threshold has not been read yet.';
  const canvas = document.getElementById('chart');
  const g = canvas.getContext('2d');
  g.clearRect(0, 0, canvas.width, canvas.height);
  const now = Math.floor(Date.now() / 3600000) * 3600;
  const slots = [...Array(24).keys()].map((i) => hours.find((h) => h.start === now - (23 - i) * 3600)?.counts ?? []);
  const most = Math.max(1, ...slots.map((c) => c.reduce((a, b) => a + b, 0)));
  const width = canvas.width / 24;
  slots.forEach((counts, i) => {
    let y = canvas.height;
    counts.forEach((n, p) => {
      const h = (n / most) * (canvas.height - 10);
      g.fillStyle = COLOURS[p];
      g.fillRect(i * width + 2, y - h, width - 4, h);
      y -= h;
    });
  });
  const swatch = (i) => {
    const s = el('span', { class: 'swatch' });
    s.style.background = COLOURS[i];
    return s;
  };
  document.getElementById('legend').replaceChildren(...purposes.map((p, i) => el('span', {}, swatch(i), ` ${p}  `)));
}

function drawQr(rows) {
  const canvas = document.getElementById('invite-qr');
  const g = canvas.getContext('2d');
  const cell = Math.floor(canvas.width / (rows.length + 8));
  g.fillStyle = '#fff';
  g.fillRect(0, 0, canvas.width, canvas.height);
  g.fillStyle = '#000';
  rows.forEach((row, y) => [...row].forEach((bit, x) => {
    if (bit === '1') g.fillRect((x + 4) * cell, (y + 4) * cell, cell, cell);
  }));
}

function options(select, names) {
  const chosen = select.value;
  select.replaceChildren(...names.map((n) => el('option', { value: n }, n)));
  if (names.includes(chosen)) select.value = chosen;
}

async function reps() {
  const { reps: all, profiles } = await api('reps');
  options(document.getElementById('enrol-profile'), profiles);
  document.getElementById('rep-rows').replaceChildren(...all.map((r) => el('tr', { class: r.state },
    el('td', {}, r.username), el('td', {}, r.profile), el('td', {}, r.email), el('td', {}, r.state_in_words),
    el('td', {}, when(r.last_seen)), el('td', {}, r.app_version ?? ''),
    el('td', {}, r.state === 'revoked' ? '' : el('button', { class: 'revoke', onclick: () => revoke(r) }, 'Revoke')))));
}

async function revoke(rep) {
  if (!confirm(`Revoke ${rep.username}? Their app stops working at once.`)) return;
  try {
    note((await api('reps/revoke', { username: rep.username, profile: rep.profile })).said);
  } catch (e) {
    note(e.message);
  }
  await reps();
}

async function enrol(event) {
  event.preventDefault();
  const body = {
    profile: document.getElementById('enrol-profile').value,
    username: document.getElementById('enrol-username').value,
    email: document.getElementById('enrol-email').value,
  };
  try {
    const made = await api('reps/enrol', body);
    document.getElementById('invited').textContent = `${made.username} (${made.email})`;
    document.getElementById('invited-until').textContent = when(made.expires);
    document.getElementById('invite-link').textContent = made.link;
    document.getElementById('invite-code').textContent = made.code;
    drawQr(made.qr);
    document.getElementById('invitation').hidden = false;
    note('');
  } catch (e) {
    note(e.message);
  }
  await reps();
}

// Enrolling many at once: the reps of a department or queue, or pasted usernames, in one list;
// each checked one with a username gets their own link, mailed or in one CSV.

/** Loads the departments and queues of the chosen profile's Autotask, once the panel is opened. */
async function manyGroups() {
  const profile = document.getElementById('enrol-profile').value;
  if (!profile) return;
  const { departments, queues, mail } = await api(`reps/groups?profile=${encodeURIComponent(profile)}`);
  const group = (kind, label) => ([id, name]) => el('option', { value: `${kind}=${id}` }, `${label}: ${name}`);
  document.getElementById('many-group').replaceChildren(
    ...departments.map(group('department', 'Department')), ...queues.map(group('queue', 'Queue')));
  const button = document.getElementById('many-mail');
  button.disabled = !mail;
  button.title = mail ? '' : 'This desk has no mail relay: set smtp_url and smtp_from in the configuration';
}

/** A row of the list: who, and the username they enrol as (typed where Autotask does not tell it). */
function manyRow({ name = '', email = '', username = '' }) {
  const input = el('input', { class: 'many-username', value: username ?? '', placeholder: 'type it', ariaLabel: `BeyondTrust username of ${name || email}` });
  return el('tr', { dataset: { email } },
    el('td', {}, el('input', { type: 'checkbox', class: 'many-pick', checked: true, ariaLabel: `Enrol ${name || email}` })),
    el('td', {}, name), el('td', {}, email), el('td', {}, input), el('td', { class: 'many-outcome' }));
}

async function manyList() {
  const profile = document.getElementById('enrol-profile').value;
  const group = document.getElementById('many-group').value;
  if (!group) return;
  const { candidates } = await api(`reps/candidates?profile=${encodeURIComponent(profile)}&${group}`);
  document.getElementById('many-rows').replaceChildren(...candidates.map(manyRow));
  document.getElementById('many-said').textContent = `${candidates.length} active in Autotask.`;
}

function manyAdd() {
  const pasted = document.getElementById('many-pasted');
  const rows = pasted.value.split('\n').map((line) => line.split(',').map((part) => part.trim())).filter(([username]) => username);
  document.getElementById('many-rows').append(...rows.map(([username, email = '']) => manyRow({ username, email })));
  pasted.value = '';
}

async function manyEnrol(delivery) {
  const picked = [...document.querySelectorAll('#many-rows tr')].filter((row) => row.querySelector('.many-pick').checked);
  const untyped = picked.filter((row) => !row.querySelector('.many-username').value.trim());
  for (const row of untyped) row.querySelector('.many-outcome').textContent = 'Type the BeyondTrust username first.';
  const reps = picked.filter((row) => !untyped.includes(row))
    .map((row) => ({ username: row.querySelector('.many-username').value.trim(), email: row.dataset.email || null }));
  if (!reps.length) return note('Pick the reps to enrol, each with a BeyondTrust username.');
  const said = document.getElementById('many-said');
  said.textContent = `Enrolling ${reps.length} rep(s)…`;
  const { results, csv } = await api('reps/enrol-many', { profile: document.getElementById('enrol-profile').value, reps, delivery });
  for (const row of picked.filter((r) => !untyped.includes(r))) {
    const result = results.find((r) => r.username === row.querySelector('.many-username').value.trim());
    const cell = row.querySelector('.many-outcome');
    cell.textContent = result?.said ?? '';
    cell.className = `many-outcome ${result?.done ? '' : 'bad'}`;
  }
  const done = results.filter((r) => r.done).length;
  said.textContent = `${done} of ${results.length} enrolled${delivery === 'email' ? ' and sent their link' : ''}.`;
  if (csv) {
    const link = el('a', { href: URL.createObjectURL(new Blob([csv], { type: 'text/csv' })), download: `bt-autotask-enrolment-links-${new Date().toISOString().slice(0, 10)}.csv` });
    link.click();
    URL.revokeObjectURL(link.href);
  }
  await reps();
}

async function livelinks() {
  if (!profileNames.length) profileNames = (await api('overview')).profiles.map((p) => p.profile);
  const select = document.getElementById('links-profile');
  options(select, profileNames);
  const { text } = await api(`livelinks?profile=${encodeURIComponent(select.value)}`);
  document.getElementById('links').textContent = text;
}

async function retry(id) {
  try {
    note((await api(`jobs/${id}/retry`, {})).said);
  } catch (e) {
    note(e.message);
  }
  await jobs();
}

async function jobs() {
  const { jobs } = await api('jobs');
  const failed = jobs.filter((j) => j.state === 'failed');
  const all = document.getElementById('retry-all');
  all.hidden = failed.length < 2;
  all.onclick = () => retryAll(failed);
  // Failed for the same reason: once it is fixed, they are retried together.
  const alike = (j) => failed.filter((f) => f.last_error === j.last_error);
  document.getElementById('job-rows').replaceChildren(...jobs.map((j) => el('tr', { class: j.state },
    el('td', {}, j.id), el('td', {}, j.profile), el('td', {}, j.event), el('td', { class: 'id' }, j.lsid ?? ''),
    el('td', {}, j.state), el('td', {}, j.attempts), el('td', { class: 'said' }, j.last_error ?? ''),
    el('td', { class: 'actions' },
      ['failed', 'ignored'].includes(j.state) ? el('button', { class: 'retry', onclick: () => retry(j.id) }, 'Retry') : null,
      j.state === 'failed' && alike(j).length > 1
        ? el('button', { class: 'retry-alike', onclick: () => retryAll(alike(j)) }, `Retry all ${alike(j).length} like it`) : null,
      el('button', { class: 'history', onclick: () => history(j) }, 'History')))));
}

async function retryAll(list) {
  for (const j of list) await api(`jobs/${j.id}/retry`, {}).catch((e) => note(e.message));
  note(`${list.length} job(s) queued again.`);
  await jobs();
}

async function history(job) {
  const { lines } = await api(`jobs/${job.id}/history`);
  document.getElementById('history-of').textContent = `Job ${job.id}: ${job.event} of ${job.lsid ?? 'no session'}`;
  document.getElementById('history-lines').replaceChildren(...lines.map((a) => el('li', { class: a.level },
    `${when(a.at)} — ${a.summary}`)));
  document.getElementById('history').hidden = false;
}

let waiting = [];

async function unlinked() {
  const { sessions, billable_minutes: minutes } = await api('unlinked');
  waiting = sessions;
  document.getElementById('billable').textContent = sessions.length
    ? `${sessions.length} session(s), ${minutes} billable minutes, are not in Autotask yet.`
    : 'Every session of the last 14 days is in its ticket.';
  const reps = [...new Set(sessions.map((s) => s.rep ?? ''))].sort();
  const select = document.getElementById('filter-rep');
  const chosen = select.value;
  select.replaceChildren(el('option', { value: '' }, 'Every rep'), ...reps.map((r) => el('option', { value: r }, r || '(no rep)')));
  select.value = reps.includes(chosen) ? chosen : '';
  showUnlinked();
}

/** The sessions the filters let through. */
function filtered() {
  const rep = document.getElementById('filter-rep').value;
  const company = document.getElementById('filter-company').value.trim().toLowerCase();
  const days = Number(document.getElementById('filter-age').value);
  const before = Date.now() - days * 86400000;
  return waiting.filter((s) => (!rep || (s.rep ?? '') === rep)
    && (!company || (s.company ?? '').toLowerCase().includes(company))
    && (!days || (s.ended_at && new Date(s.ended_at).getTime() < before)));
}

async function act(path, body) {
  try {
    note((await api(path, body)).said);
  } catch (e) {
    note(e.message);
  }
}

function showUnlinked() {
  document.getElementById('select-all').checked = false;
  document.getElementById('unlinked-rows').replaceChildren(...filtered().map((s) => {
    const ticket = el('input', { class: 'ticket', placeholder: 'ticket id or number', value: s.ticket_id ? String(s.ticket_id) : '' });
    const then = async (path, body) => {
      await act(path, body);
      await unlinked();
    };
    const attach = () => then('unlinked/attach', { profile: s.profile, lsid: s.lsid, ticket: ticket.value });
    return el('tr', { dataset: { lsid: s.lsid, profile: s.profile } },
      el('td', {}, el('input', { type: 'checkbox', class: 'pick', ariaLabel: `Select ${s.described}` })),
      el('td', {}, when(s.ended_at)), el('td', {}, s.profile), el('td', {}, s.rep ?? ''),
      el('td', {}, s.described), el('td', { class: 'said' }, s.reason),
      el('td', {}, ticket, el('button', { class: 'attach', onclick: attach }, s.ticket_id ? 'Retry' : 'Attach'),
        s.ticket_id ? null : el('button', { class: 'find', onclick: () => find(s) }, 'Find…'),
        s.can_create && !s.ticket_id
          ? el('button', { class: 'new-ticket', onclick: () => then('unlinked/attach', { profile: s.profile, lsid: s.lsid, ticket: 'new' }) }, 'New ticket')
          : null),
      el('td', {}, el('button', { class: 'dismiss', onclick: () => then('unlinked/dismiss', { profile: s.profile, lsid: s.lsid }) }, 'Dismiss')));
  }));
}

let attaching = null;
let asked = 0;

/** Opens the search for the session's ticket, its customer's company first. */
function find(session) {
  attaching = session;
  document.getElementById('attach').hidden = false;
  document.getElementById('attach-what').textContent = `Attach the session with ${session.described} to:`;
  const box = document.getElementById('attach-search');
  box.value = session.company ?? '';
  box.focus();
  searchTickets();
}

async function searchTickets() {
  if (!attaching) return;
  const mine = ++asked;
  const q = document.getElementById('attach-search').value;
  const { tickets } = await api(`search?profile=${encodeURIComponent(attaching.profile)}&q=${encodeURIComponent(q)}`)
    .catch((e) => { note(e.message); return { tickets: [] }; });
  if (mine !== asked || !attaching) return;
  const session = attaching;
  document.getElementById('attach-results').replaceChildren(...tickets.map((t) => el('li', { class: 'ticket', dataset: { number: t.number } },
    el('strong', {}, t.number), ` ${t.title} `, el('span', { class: 'muted' }, [t.company, t.contact].filter(Boolean).join(' · ')),
    el('button', { class: 'attach-here', onclick: async () => {
      await act('unlinked/attach', { profile: session.profile, lsid: session.lsid, ticket: String(t.id) });
      closeFind();
      await unlinked();
    } }, 'Attach here'))));
}

function closeFind() {
  attaching = null;
  asked++;
  document.getElementById('attach').hidden = true;
}

/** The sessions ticked in the list. */
function picked() {
  return [...document.querySelectorAll('#unlinked-rows tr')]
    .filter((row) => row.querySelector('.pick').checked)
    .map((row) => ({ profile: row.dataset.profile, lsid: row.dataset.lsid }));
}

async function bulk(path, extra) {
  const chosen = picked();
  if (!chosen.length) return note('Tick the sessions first.');
  for (const s of chosen) await act(path, { ...s, ...extra });
  note(`${chosen.length} session(s) done.`);
  await unlinked();
}

let activityLines = [];

async function activity() {
  activityLines = (await api('activity')).lines;
  showActivity();
}

function showActivity() {
  const words = document.getElementById('activity-filter').value.trim().toLowerCase();
  const shown = activityLines.filter((a) => !words
    || [a.summary, a.details, a.rep, a.profile].some((t) => t?.toLowerCase().includes(words)));
  document.getElementById('activity-rows').replaceChildren(...shown.map((a) => el('tr', { class: a.level },
    el('td', {}, when(a.at)), el('td', {}, a.profile), el('td', {}, a.rep ?? ''),
    el('td', {}, a.summary, a.details ? el('div', { class: 'details' }, a.details) : null))));
}

let editing = null;

async function profiles() {
  const view = await api('profiles');
  const select = document.getElementById('profile-name');
  const names = view.profiles.map((p) => p.name);
  if (!names.includes(editing)) editing = names[0] ?? null;
  options(select, names);
  select.value = editing ?? '';
  document.getElementById('config-path').textContent = view.path;
  const values = view.profiles.find((p) => p.name === editing)?.values ?? {};
  renderForm(document.getElementById('profile-form'), view.fields, values, storeSecret);
}

async function storeSecret(f, value) {
  try {
    note((await api('profiles/secret', { profile: editing, setting: f.key, value })).said);
    return true;
  } catch (e) {
    note(e.message);
    return false;
  }
}

async function saveProfile() {
  try {
    const form = document.getElementById('profile-form');
    const values = collect(form);
    // A change of where a secret is sent carries that secret, typed again in this form.
    note((await api('profiles/save', { original: editing, values, secrets: typedSecrets(form) })).said);
    editing = values.name ?? editing;
    await profiles();
  } catch (e) {
    note(e.message);
  }
}

const views = { overview, jobs, unlinked, activity, reps, livelinks, profiles };

async function show(name) {
  for (const tab of document.querySelectorAll('.tab')) tab.classList.toggle('active', tab.dataset.view === name);
  for (const view of document.querySelectorAll('.view')) view.hidden = view.id !== name;
  try {
    await views[name]();
  } catch (e) {
    note(e.message);
  }
}

async function start() {
  const session = await api('session');
  csrf = session.csrf;
  document.getElementById('who').textContent = session.admin;
  document.getElementById('logout').addEventListener('click', async () => {
    await api('logout', {}).catch(() => {});
    location.href = 'login';
  });
  for (const tab of document.querySelectorAll('.tab')) tab.addEventListener('click', () => show(tab.dataset.view));
  document.getElementById('enrol').addEventListener('submit', enrol);
  const failing = (f) => () => f().catch((e) => note(e.message));
  document.getElementById('many').addEventListener('toggle', (e) => { if (e.target.open) failing(manyGroups)(); });
  document.getElementById('enrol-profile').addEventListener('change', () => { if (document.getElementById('many').open) failing(manyGroups)(); });
  document.getElementById('many-list').addEventListener('click', failing(manyList));
  document.getElementById('many-add').addEventListener('click', manyAdd);
  document.getElementById('many-mail').addEventListener('click', failing(() => manyEnrol('email')));
  document.getElementById('many-csv').addEventListener('click', failing(() => manyEnrol('csv')));
  document.getElementById('many-all').addEventListener('change', (e) => {
    for (const box of document.querySelectorAll('#many-rows .many-pick')) box.checked = e.target.checked;
  });
  document.getElementById('profile-name').addEventListener('change', (e) => {
    editing = e.target.value;
    profiles().catch((err) => note(err.message));
  });
  document.getElementById('save-profile').addEventListener('click', saveProfile);
  document.getElementById('activity-filter').addEventListener('input', showActivity);
  for (const id of ['filter-rep', 'filter-age']) document.getElementById(id).addEventListener('change', showUnlinked);
  document.getElementById('filter-company').addEventListener('input', showUnlinked);
  document.getElementById('select-all').addEventListener('change', (e) => {
    for (const box of document.querySelectorAll('#unlinked-rows .pick')) box.checked = e.target.checked;
  });
  document.getElementById('bulk-attach').addEventListener('click', () => bulk('unlinked/attach', { ticket: document.getElementById('bulk-ticket').value }));
  document.getElementById('bulk-dismiss').addEventListener('click', () => bulk('unlinked/dismiss', {}));
  let typing = null;
  document.getElementById('attach-search').addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(searchTickets, 150);
  });
  document.getElementById('attach-cancel').addEventListener('click', closeFind);
  document.getElementById('test-profile').addEventListener('click', () => show('overview').then(() => test(editing)).catch((e) => note(e.message)));
  document.getElementById('links-profile').addEventListener('change', () => livelinks().catch((e) => note(e.message)));
  const copy = (id) => () => navigator.clipboard.writeText(document.getElementById(id).textContent).then(() => note('Copied.'));
  document.getElementById('copy-link').addEventListener('click', copy('invite-link'));
  document.getElementById('copy-links').addEventListener('click', copy('links'));
  await show('overview');
}

start().catch((e) => note(e.message));
