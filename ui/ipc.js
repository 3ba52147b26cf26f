// The one door to the app: Tauri's invoke and events, and small DOM helpers shared by the views.

const tauri = window.__TAURI__;

export function invoke(command, args = {}) {
  return tauri.core.invoke(command, args);
}

export function listen(event, handler) {
  return tauri.event.listen(event, (e) => handler(e.payload));
}

export const $ = (selector) => document.querySelector(selector);

/** What a failed command said: its words (a command may answer them with a details line apart). */
export const said = (e) => (typeof e === 'string' ? e : e?.said ?? String(e));

export { el } from './dom.js';

/** The profile the window works on (chosen in the header when there are several). */
export const current = { profile: null, deskSearched: [] };
