// The profile form shared by the tray app's Settings and the desk console's Profiles page: every
// setting as a labelled field grouped as in the seed's plugin configuration, and the values read
// back from it. Secrets are typed into a field of their own and handed to `storeSecret` at once;
// only their state ("stored", "env:VAR", "missing") ever comes back.

import { el } from './dom.js';

/** Fills `form` with `fields` showing `values`; `storeSecret(field, value)` stores a typed secret. */
export function renderForm(form, fields, values, storeSecret) {
  const groups = new Map();
  for (const f of fields) {
    if (!groups.has(f.group)) groups.set(f.group, el('fieldset', {}, el('legend', {}, f.group)));
    groups.get(f.group).append(field(f, values[f.key], storeSecret));
  }
  form.replaceChildren(...groups.values());
}

/** The values typed in `form`, by setting; an empty field is null (its default). */
export function collect(form) {
  const values = {};
  for (const input of form.querySelectorAll('[data-key]')) {
    const { key, kind } = input.dataset;
    values[key] = kind === 'bool' ? input.checked : input.value.trim() === '' ? null : input.value;
  }
  return values;
}

/** The secrets typed in `form` and not stored yet, by setting (a change of where they are sent carries them). */
export function typedSecrets(form) {
  const typed = {};
  for (const input of form.querySelectorAll('input[data-secret]')) {
    if (input.value !== '') typed[input.dataset.secret] = input.value;
  }
  return typed;
}

function field(f, value, storeSecret) {
  const id = `field-${f.key}`;
  const help = f.help ? el('div', { class: 'help' }, f.help) : null;
  if (f.kind === 'bool') {
    return el('div', { class: 'field bool' },
      el('label', {}, el('input', { id, type: 'checkbox', checked: value === true, dataset: { key: f.key, kind: f.kind } }), f.label), help);
  }
  if (f.kind === 'secret') return secretField(f, value, id, help, storeSecret);
  const text = value === null || value === undefined ? ''
    : f.kind === 'list' ? value.join(', ')
      : f.kind === 'object' ? JSON.stringify(value, null, 1) : String(value);
  const input = f.kind === 'object'
    ? el('textarea', { id, rows: 3, value: text, dataset: { key: f.key, kind: f.kind } })
    : el('input', { id, type: 'text', value: text, dataset: { key: f.key, kind: f.kind } });
  return el('div', { class: 'field' }, el('label', { htmlFor: id }, f.label), input, help);
}

function secretField(f, state, id, help, storeSecret) {
  const said = state === 'stored' ? 'stored in the OS keyring'
    : state?.startsWith('env:') ? `read from the environment variable ${state.slice(4)}` : 'not stored yet';
  const input = el('input', { id, type: 'password', autocomplete: 'off', dataset: { secret: f.key }, placeholder: state === 'stored' ? 'type to replace' : 'type the secret' });
  const status = el('span', { class: 'muted small', id: `${id}-state` }, said);
  const store = el('button', {
    type: 'button',
    id: `${id}-store`,
    onclick: async () => {
      if (await storeSecret(f, input.value)) {
        input.value = '';
        status.textContent = 'stored in the OS keyring';
      }
    },
  }, 'Store in keyring');
  return el('div', { class: 'field' }, el('label', { htmlFor: id }, f.label), el('div', { class: 'secret' }, input, store), status, help);
}
