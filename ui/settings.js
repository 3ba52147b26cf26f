// Settings: each profile's settings grouped as in the seed's plugin configuration, saved into the
// configuration file by the app (which checks everything first); secrets typed here go straight
// to the OS keyring and only "stored" ever comes back; Test connection shows the worker's check.

import { invoke, listen, $, el, said } from './ipc.js';
import { renderForm, collect } from './form.js';

let view = null;
let editing = null; // the profile's saved name; null for a new one
let confirming = null; // the link (or code and desk) whose enrolment waits for the rep's yes

export function init() {
  $('#settings-profile').addEventListener('change', (e) => { editing = e.target.value; render(); });
  $('#add-profile').addEventListener('click', () => { editing = null; render(); });
  $('#remove-profile').addEventListener('click', remove);
  $('#save').addEventListener('click', save);
  $('#test').addEventListener('click', test);
  $('#set-shortcut').addEventListener('click', setShortcut);
  $('#set-release').addEventListener('click', setRelease);
  $('#enrol').addEventListener('click', () => askToEnrol());
  $('#enrol-text').addEventListener('keydown', (e) => { if (e.key === 'Enter') askToEnrol(); });
  $('#enrol-yes').addEventListener('click', enrol);
  $('#enrol-no').addEventListener('click', () => { confirming = null; $('#enrol-confirm').hidden = true; note('Not enrolled.'); });
  listen('enrol-link', takeOpenedLink);
  $('#leave').addEventListener('click', leave);
  $('#shortcut').addEventListener('keydown', (e) => { if (e.key === 'Enter') setShortcut(); });
  $('#autostart').addEventListener('change', async (e) => {
    try { await invoke('set_autostart', { enabled: e.target.checked }); } catch (err) { note(String(err)); }
  });
}

export async function enter() {
  try {
    view = await invoke('settings');
  } catch (e) {
    note(String(e));
    return;
  }
  $('#config-path').textContent = view.path;
  $('#autostart').checked = view.autostart;
  showShortcut(view.shortcut);
  $('#release-minutes').value = view.release_minutes;
  $('#release-note').textContent = view.release_note;
  $('#problems').replaceChildren(...view.problems.map((p) => el('li', {}, p)));
  const names = view.profiles.map((p) => p.name);
  if (editing === null || !names.includes(editing)) editing = names[0] ?? null;
  render();
  offerMachineDesk();
  await takeOpenedLink();
}

/** On a computer whose installation names the desk, a rep not yet enrolled types only the code. */
function offerMachineDesk() {
  const desk = view.machine_desk;
  const waiting = desk && Object.keys(view.enrolled).length === 0;
  $('#machine-desk').hidden = !waiting;
  if (!waiting) return;
  $('#machine-desk').textContent = `This computer's desk is ${desk.url}: type the code from your desk lead, then Enrol.`;
  if (!$('#enrol-desk').value) $('#enrol-desk').value = desk.url;
  $('#enrol-text').placeholder = 'The code from your desk lead';
  $('#enrol-text').focus();
}

/** An enrolment link the OS opened the app with: shown for the rep to confirm, never taken unasked. */
async function takeOpenedLink() {
  const link = await invoke('pending_enrolment');
  if (!link) return;
  $('#enrol-text').value = link;
  $('#enrol-desk').value = '';
  await askToEnrol();
}

function note(text) {
  $('#settings-note').textContent = text;
}

function showShortcut(status) {
  $('#shortcut').value = status.keys;
  $('#shortcut-note').textContent = status.note ?? (status.active ? `Press ${status.keys} anywhere to search.` : '');
}

async function setRelease() {
  try {
    $('#release-note').textContent = await invoke('set_release_window_after', { minutes: Number($('#release-minutes').value) });
  } catch (e) {
    $('#release-note').textContent = String(e);
  }
}

async function setShortcut() {
  try {
    showShortcut(await invoke('set_global_shortcut', { keys: $('#shortcut').value }));
  } catch (e) {
    $('#shortcut-note').textContent = String(e);
  }
}

function render() {
  const names = view.profiles.map((p) => p.name);
  $('#settings-profile').replaceChildren(...names.map((n) => el('option', { value: n, textContent: n })),
    ...(editing === null ? [el('option', { value: '', textContent: '(new profile)' })] : []));
  $('#settings-profile').value = editing ?? '';
  const values = view.profiles.find((p) => p.name === editing)?.values ?? {};
  renderForm($('#settings-form'), view.fields, values, storeSecret);
  // Who writes this profile's sessions, when it follows the desk's worker.
  const writer = view.writers[editing];
  $('#desk-writer').textContent = writer ?? '';
  $('#desk-writer').hidden = !writer;
  // An enrolled profile holds nothing to edit: where it is enrolled, and Leave.
  const enrolled = view.enrolled[editing];
  $('#enrolled').textContent = enrolled ?? '';
  $('#enrolled-bar').hidden = !enrolled;
  $('#settings-form').hidden = Boolean(enrolled);
  $('#save').hidden = Boolean(enrolled);
  $('#remove-profile').hidden = Boolean(enrolled);
  $('#check').hidden = true;
  $('#test').disabled = editing === null;
  $('#remove-profile').disabled = editing === null;
}

/** Says what enrolling would do — the desk, its certificate, what this app follows now — and waits for a yes. */
async function askToEnrol() {
  const text = $('#enrol-text').value;
  const desk = $('#enrol-desk').value.trim() || null;
  let preview;
  try {
    preview = await invoke('enrol_preview', { text, desk });
  } catch (e) {
    note(said(e));
    return;
  }
  confirming = { text, desk };
  $('#enrol-question').textContent = `Enrol this app at the desk's worker at ${preview.host}?`;
  $('#enrol-certificate').textContent = `${preview.desk} — ${preview.certificate}`;
  const same = preview.following.find((f) => f.same_desk);
  $('#enrol-following').textContent = same ? `This app already follows this desk, as "${same.profile}".`
    : preview.following.length ? '' : 'This app follows no desk yet.';
  $('#enrol-warnings').replaceChildren(...preview.warnings.map((w) => el('li', {}, w)));
  // An enrolled profile may be replaced — only when the rep picks it here.
  const replaceable = preview.following.find((f) => f.same_desk && f.enrolled) ?? preview.following.find((f) => f.enrolled);
  $('#enrol-replace-choice').hidden = !replaceable;
  if (replaceable) {
    for (const name of document.querySelectorAll('.enrol-existing')) name.textContent = `"${replaceable.profile}"`;
    $('#enrol-replace').value = replaceable.profile;
    $('#enrol-replace').checked = replaceable.same_desk;
    $('#enrol-keep').checked = !replaceable.same_desk;
  }
  $('#enrol-confirm').hidden = false;
  note('');
  $('#enrol-yes').focus();
}

async function enrol() {
  if (!confirming) return;
  const replace = !$('#enrol-replace-choice').hidden && $('#enrol-replace').checked ? $('#enrol-replace').value : null;
  note('Enrolling…');
  try {
    note(await invoke('enrol', { ...confirming, replace }));
    confirming = null;
    $('#enrol-confirm').hidden = true;
    $('#enrol-text').value = '';
    $('#enrol-desk').value = '';
    editing = null;
    await enter();
    window.dispatchEvent(new Event('settings-saved'));
  } catch (e) {
    note(said(e));
  }
}

async function leave() {
  if (!window.confirm(`Leave the desk? "${editing}" and its rep token are forgotten on this computer.`)) return;
  try {
    await invoke('leave', { name: editing });
    note(`Left: "${editing}" is forgotten.`);
    editing = null;
    await enter();
    window.dispatchEvent(new Event('settings-saved'));
  } catch (e) {
    note(String(e));
  }
}

/** Stores a secret typed in the form; whether it was stored. */
async function storeSecret(f, value) {
  if (editing === null) {
    note('Save the profile first, then store its secrets.');
    return false;
  }
  try {
    await invoke('store_secret', { profile: editing, setting: f.key, value });
    note(`${f.label} stored in the OS keyring.`);
    await enter();
    return true;
  } catch (e) {
    note(String(e));
    return false;
  }
}

async function save() {
  try {
    const values = collect($('#settings-form'));
    await invoke('save_profile', { original: editing, values });
    editing = values.name ?? editing;
    note('Saved.');
    await enter();
    window.dispatchEvent(new Event('settings-saved'));
  } catch (e) {
    note(String(e));
  }
}

async function remove() {
  if (editing === null) return render();
  if (!window.confirm(`Remove the profile "${editing}"? Its secrets stay in the OS keyring.`)) return;
  try {
    await invoke('remove_profile', { name: editing });
    note(`Removed "${editing}".`);
    editing = null;
    await enter();
    window.dispatchEvent(new Event('settings-saved'));
  } catch (e) {
    note(String(e));
  }
}

async function test() {
  const out = $('#check');
  out.hidden = false;
  out.textContent = 'Testing…';
  try {
    const report = await invoke('test_connection', { profile: editing });
    out.textContent = report.lines.join('\n');
  } catch (e) {
    out.textContent = String(e);
  }
}
