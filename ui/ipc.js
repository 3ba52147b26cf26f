// The one door to the app: Tauri's invoke and events, and small DOM helpers shared by the views.

const tauri = window.__TAURI__;

export function invoke(command, args = {}) {
  return tauri.core.invoke(command, args);
}

export function listen(event, handler) {
  return tauri.event.listen(event, (e) => handler(e.payload));
}

export const $ = (selector) => document.querySelector(selector);

/** Makes an element with text content only (never HTML), so nothing from the network runs as markup. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node[key] = value;
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** The profile the window works on (chosen in the header when there are several). */
export const current = { profile: null };
