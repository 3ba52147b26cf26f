// Activity: every session the embedded worker handled — who it was with, which ticket it went to,
// the ids on a details line — and failures with their reason and a Retry button. It refreshes
// itself when the worker records something.

import { invoke, $, el, current } from './ipc.js';

export function init() {
  $('#check-now').addEventListener('click', async () => {
    try {
      await invoke('check_now');
      note('Looking for finished sessions…');
    } catch (e) {
      note(String(e));
    }
  });
}

function note(text) {
  $('#activity-note').textContent = text;
}

export async function enter() {
  let lines;
  try {
    lines = await invoke('activity');
  } catch (e) {
    note(String(e));
    return;
  }
  $('#activity-empty').hidden = lines.length > 0;
  $('#activity').replaceChildren(...lines.map((a) => el('li', { class: `level-${a.level}`, dataset: { job: a.job_id ?? '' } },
    el('span', { class: 'when', title: a.at }, new Date(a.at).toLocaleString()),
    el('div', { class: 'line' },
      el('span', { class: 'what' }, a.summary),
      el('span', { class: 'details' }, a.details ?? (a.lsid ? `session ${a.lsid}` : ''))),
    a.ticket_id ? el('button', { class: 'open', onclick: () => open(a) }, 'Open ticket') : null,
    a.retryable ? el('button', { class: 'retry', onclick: () => retry(a.job_id, a.profile) }, 'Retry') : null)));
}

async function open(a) {
  try {
    await invoke('open_ticket', { profile: a.profile ?? current.profile, ticketId: a.ticket_id });
  } catch (e) {
    note(String(e));
  }
}

async function retry(jobId, profile) {
  try {
    await invoke('retry_job', { jobId, profile });
    note('Queued again.');
    await enter();
  } catch (e) {
    note(String(e));
  }
}
