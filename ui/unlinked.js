// Not in a ticket: my sessions that ended without a ticket. Attach one to a ticket found with the
// same search as the Search view, or to a new ticket made from the profile's Ticket Default Data
// (the worker then writes its notes and time entry there), or dismiss it as not billable. A
// session in its ticket whose time Autotask refused (a closed timesheet) is listed too: Retry
// writes its time once the timesheet is open again. The tab's badge counts them.

import { invoke, $, el, said } from './ipc.js';

let sessions = [];
let attaching = null;
let found = [];
let asked = 0;
let timer = null;

export function init() {
  $('#attach-search').addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(searchTickets, 120);
  });
  $('#attach-cancel').addEventListener('click', () => showAttach(null));
}

function note(text) {
  $('#unlinked-note').textContent = text;
}

/** Updates the tab's badge. */
export async function count() {
  try {
    showCount((await invoke('unlinked')).length);
  } catch (e) {
    showCount(0);
  }
}

function showCount(n) {
  const badge = $('#unlinked-count');
  badge.hidden = n === 0;
  badge.textContent = String(n);
}

export async function enter() {
  try {
    sessions = await invoke('unlinked');
  } catch (e) {
    note(String(e));
    return;
  }
  showCount(sessions.length);
  if (attaching && !sessions.some((s) => s.lsid === attaching.lsid)) showAttach(null);
  $('#unlinked-empty').hidden = sessions.length > 0;
  $('#unlinked').replaceChildren(...sessions.map(row));
}

function row(s) {
  const what = s.issue ? `${s.described} — ${s.issue}` : s.described;
  // In its ticket with its time refused, the reason is shown: it says what to reopen.
  const line = s.ticket_id
    ? el('span', { class: 'line' }, el('span', { class: 'what' }, what), el('span', { class: 'details held' }, s.reason))
    : el('span', { class: 'what', title: s.reason }, what);
  const actions = s.ticket_id
    ? [el('button', { class: 'retry', title: 'Write its time to its ticket again, once the timesheet is open', onclick: () => attachTo(s, String(s.ticket_id)) }, 'Retry')]
    : [el('button', { class: 'attach', onclick: () => showAttach(s) }, 'Attach…'),
      s.can_create ? el('button', { class: 'new-ticket', title: 'A new ticket from the profile\'s Ticket Default Data', onclick: () => attachTo(s, 'new') }, 'New ticket') : null];
  return el('li', { class: 'level-warning', dataset: { lsid: s.lsid } },
    el('span', { class: 'when', title: s.ended_at ?? '' }, s.ended_at ? new Date(s.ended_at).toLocaleString() : ''),
    line, ...actions,
    el('button', { class: 'dismiss', onclick: () => dismiss(s) }, 'Dismiss'));
}

function showAttach(session) {
  attaching = session;
  // A search still on its way belongs to the session attached before: its answer is dropped.
  asked++;
  $('#attach').hidden = !session;
  if (!session) return;
  $('#attach-what').textContent = `Attach the session with ${session.described} to:`;
  const box = $('#attach-search');
  box.value = '';
  box.focus();
  searchTickets();
}

async function searchTickets() {
  if (!attaching) return;
  const mine = ++asked;
  try {
    const rows = await invoke('search', { profile: attaching.profile, text: $('#attach-search').value });
    if (mine !== asked || !attaching) return;
    // The customer's company first, as the rep most likely means one of its tickets.
    const company = attaching.company?.toLowerCase();
    found = [...rows].sort((a, b) => (company && b.company?.toLowerCase() === company) - (company && a.company?.toLowerCase() === company));
  } catch (e) {
    if (mine !== asked || said(e) === 'cancelled') return;
    found = [];
    note(said(e));
  }
  $('#attach-results').replaceChildren(...found.map((t) => el('li', { class: 'ticket', dataset: { id: t.id, number: t.number } },
    el('div', { class: 'top' },
      el('span', { class: 'number' }, t.number),
      el('span', { class: 'title', title: t.title }, t.title)),
    el('div', { class: 'meta' }, [t.company, t.contact].filter(Boolean).join(' · ')),
    el('div', { class: 'actions' }, el('button', { class: 'attach-here', onclick: () => attach(t) }, 'Attach here')))));
}

function attach(ticket) {
  return attachTo(attaching, String(ticket.id));
}

async function attachTo(session, ticket) {
  try {
    note(await invoke('attach_session', { profile: session.profile, lsid: session.lsid, ticket }));
    showAttach(null);
  } catch (e) {
    note(String(e));
  }
  await enter();
}

async function dismiss(session) {
  try {
    await invoke('dismiss_session', { profile: session.profile, lsid: session.lsid });
    note(`Dismissed the session with ${session.described} as not billable.`);
  } catch (e) {
    note(String(e));
  }
  await enter();
}
