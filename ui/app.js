// The window: four views (Search, Activity, Not in a ticket, Settings), the worker switch, and the profile
// chooser. The tray's menu picks a view through the "navigate" event.

import { invoke, listen, $, el, current } from './ipc.js';
import * as search from './search.js';
import * as activity from './activity.js';
import * as settings from './settings.js';
import * as unlinked from './unlinked.js';

const views = { search, activity, unlinked, settings };
let shown = null;

function show(view) {
  if (!views[view]) return;
  shown = view;
  for (const name of Object.keys(views)) {
    $(`#view-${name}`).hidden = name !== view;
    $(`#tab-${name}`).classList.toggle('active', name === view);
  }
  views[view].enter();
  // When the view was on the screen with its search focused, by the page's clock: the benchmark
  // reads it (one mark, replaced at each opening).
  performance.clearMarks('bta-shown');
  performance.mark('bta-shown');
}

async function refreshStatus() {
  const status = await invoke('worker_status');
  const button = $('#worker');
  button.textContent = status.desk_writes ? "The desk's worker writes"
    : status.paused ? 'Worker paused — resume' : status.running ? 'Worker running' : 'Worker off';
  button.disabled = status.desk_writes;
  button.className = `pill ${status.paused ? 'paused' : status.running ? 'running' : ''}`;
  button.dataset.paused = status.paused;
  const chooser = $('#profile');
  chooser.replaceChildren(...status.profiles.map((p) => el('option', { value: p, textContent: p })));
  chooser.hidden = status.profiles.length < 2;
  if (!status.profiles.includes(current.profile)) current.profile = status.profiles[0] ?? null;
  current.deskSearched = status.desk_searched;
  chooser.value = current.profile ?? '';
  return status;
}

document.addEventListener('DOMContentLoaded', async () => {
  for (const name of Object.keys(views)) {
    views[name].init();
    $(`#tab-${name}`).addEventListener('click', () => show(name));
  }
  $('#worker').addEventListener('click', async () => {
    await invoke('set_paused', { paused: $('#worker').dataset.paused !== 'true' });
  });
  $('#profile').addEventListener('change', (e) => {
    current.profile = e.target.value;
    if (shown === 'search') search.enter();
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') invoke('hide_window');
  });
  await listen('navigate', show);
  await listen('worker', refreshStatus);
  await listen('activity', () => {
    if (shown === 'activity') activity.enter();
    if (shown === 'unlinked') unlinked.enter();
    else unlinked.count();
  });
  window.addEventListener('settings-saved', refreshStatus);
  const status = await refreshStatus();
  unlinked.count();
  // The window shows once the page is ready; one made anew opens where it was asked to, with the
  // last search (and its results while fresh) as the rep left it.
  const opening = await invoke('window_ready');
  search.pauseAfterTyping(opening.typing_pause_ms);
  if (opening.search) search.restore(opening.search);
  // A tab clicked while the page was loading is the newer wish.
  if (!shown) show(opening.view ?? (status.profiles.length === 0 ? 'settings' : 'search'));
});
