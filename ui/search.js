// Search: results as the rep types (stale answers ignored, the app cancels them), arrows to
// choose, Enter for a session key, Ctrl+J to Jump, Ctrl+O to open the ticket in Autotask. Where
// the desk's worker answers from its copy of the tickets, "Search all of Autotask" at the end of
// the list asks Autotask itself (older tickets), and rows Autotask gave say so.

import { invoke, $, el, current, said } from './ipc.js';

let rows = [];
let selected = 0;
let asked = 0;
let timer = null;
// How long typing pauses before a search is asked (the app's, from window_ready).
let typingPause = 250;

export function init() {
  const box = $('#search');
  box.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(run, typingPause);
  });
  box.addEventListener('keydown', onKey);
  $('#key-copy').addEventListener('click', () => act(() => invoke('copy_key', { key: $('#key-code').textContent })
    .then(() => { $('#key-copied').textContent = 'Copied to the clipboard'; })));
  $('#search-all').addEventListener('click', () => run(true));
  $('#key-invite').addEventListener('click', () => act(() => invoke('send_invitation', { ticketId: Number($('#key').dataset.ticket) })));
}

let restored = false;

export function pauseAfterTyping(ms) {
  typingPause = ms;
}

export function enter() {
  $('#search').focus();
  if (restored) {
    restored = false;
    return;
  }
  run();
}

// The last search of a window made anew: its text, and its results when still fresh.
export function restore(last) {
  if (last.profile !== current.profile) return;
  $('#search').value = last.text;
  if (!last.rows) return;
  rows = last.rows;
  selected = 0;
  restored = true;
  render();
}

function onKey(e) {
  const ctrl = e.ctrlKey || e.metaKey;
  if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
    e.preventDefault();
    choose(selected + (e.key === 'ArrowDown' ? 1 : -1));
  } else if (e.key === 'Enter') {
    e.preventDefault();
    sessionKey();
  } else if (ctrl && e.key.toLowerCase() === 'j') {
    e.preventDefault();
    jump();
  } else if (ctrl && e.key.toLowerCase() === 'o') {
    e.preventDefault();
    openTicket();
  } else if (e.key === 'Escape') {
    // Esc hides the window (the page's handler still sees it); a search box would also empty
    // itself, and the rep would come back to find their search gone.
    e.preventDefault();
  }
}

async function run(everywhere = false) {
  if (!current.profile) return showError('No profile is set up yet — add one in Settings.');
  const mine = ++asked;
  const text = $('#search').value;
  try {
    const found = await invoke('search', { profile: current.profile, text, everywhere });
    if (mine !== asked) return;
    showError(null);
    rows = found;
    selected = 0;
    render();
  } catch (e) {
    if (mine !== asked || said(e) === 'cancelled') return;
    rows = [];
    render();
    showError(said(e), e?.details);
    offerByNumber(text);
  }
}

// A search that failed for a whole ticket number still opens the ticket: Autotask's web UI
// finds it by its number (no search needed, as when the desk's worker cannot be reached).
function offerByNumber(text) {
  const number = text.trim().toUpperCase();
  const button = $('#open-number');
  button.hidden = !/^T\d{8}\.\d{4}$/.test(number);
  button.textContent = `Open ${number} in Autotask`;
  button.onclick = () => act(() => invoke('open_ticket_number', { profile: current.profile, number }));
}

function render() {
  $('#search-empty').hidden = rows.length > 0 || !$('#search-error').hidden;
  const typed = $('#search').value.trim() !== '';
  $('#search-all').hidden = !(typed && current.deskSearched.includes(current.profile) && !rows.some((t) => t.asked_autotask));
  $('#results').replaceChildren(...rows.map((t, i) => el('li', {
    class: `ticket${i === selected ? ' selected' : ''}`,
    role: 'option',
    dataset: { id: t.id, number: t.number },
    onclick: () => choose(i),
    ondblclick: sessionKey,
  },
  el('div', { class: 'top' },
    el('span', { class: 'number' }, t.number),
    el('span', { class: 'title', title: t.title }, t.title),
    t.recent ? el('span', { class: 'recent', title: 'You made a key for it or Jumped from it lately' }, 'recent') : null,
    t.asked_autotask ? el('span', { class: 'asked', title: "Not in the desk's copy of the tickets: found by asking Autotask" }, 'from Autotask') : null,
    el('span', { class: 'status' }, t.status)),
  el('div', { class: 'meta' }, [t.company, t.contact, t.device ? `CI ${t.device}` : 'no configuration item'].filter(Boolean).join(' · ')),
  el('div', { class: 'actions' },
    el('button', { class: 'do-key', onclick: (e) => { e.stopPropagation(); choose(i); sessionKey(); } }, 'Session key'),
    el('button', { class: 'do-jump', onclick: (e) => { e.stopPropagation(); choose(i); jump(); } }, 'Jump'),
    el('button', { class: 'do-open', onclick: (e) => { e.stopPropagation(); choose(i); openTicket(); } }, 'Open ticket')))));
}

function choose(i) {
  if (rows.length === 0) return;
  selected = Math.max(0, Math.min(rows.length - 1, i));
  render();
  $('#results').children[selected]?.scrollIntoView({ block: 'nearest' });
  $('#search').focus();
}

const ticket = () => rows[selected];

function showError(message, details = null) {
  const box = $('#search-error');
  box.hidden = !message;
  box.textContent = message ?? '';
  const why = $('#search-error-details');
  why.hidden = !message || !details;
  why.textContent = details ? `Details: ${details}` : '';
  if (!message) $('#open-number').hidden = true;
}

async function act(action) {
  try {
    showError(null);
    await action();
  } catch (e) {
    showError(String(e));
  }
}

function sessionKey() {
  const t = ticket();
  if (!t) return;
  act(async () => {
    const key = await invoke('session_key', { profile: current.profile, ticketId: t.id });
    const panel = $('#key');
    panel.hidden = false;
    panel.dataset.ticket = t.id;
    const isKey = key.kind === 'key';
    $('#key-console').hidden = isKey;
    $('#key-code').textContent = isKey ? key.short_key : '';
    $('#key-url').textContent = isKey ? key.key_url : '';
    $('#key-copied').textContent = isKey ? (key.copied ? `for ${t.number} · copied to the clipboard` : `for ${t.number}`) : '';
    $('#key-copy').hidden = !isKey;
    $('#key-invite').hidden = !(isKey && key.has_invitation);
  });
}

function jump() {
  const t = ticket();
  if (t) act(() => invoke('jump', { profile: current.profile, ticketId: t.id }));
}

function openTicket() {
  const t = ticket();
  if (t) act(() => invoke('open_ticket', { profile: current.profile, ticketId: t.id }));
}
