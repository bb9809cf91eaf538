// @ts-check
/** The form that asks once for the workspace's read key. */
import { saveKey } from '../api.js';
import { h } from '../dom.js';
import { t } from '../i18n.js';

/**
 * @param {HTMLElement} root
 * @param {string | null} problem shown above the form (a rejected key)
 * @param {() => void} done after the key is saved
 */
export function keyView(root, problem, done) {
  const input = h('input', {
    type: 'password',
    name: 'key',
    autocomplete: 'off',
    required: true,
    testid: 'key-input',
  });
  const form = h(
    'form',
    {
      className: 'card key',
      testid: 'key-form',
      onsubmit: (e) => {
        e.preventDefault();
        saveKey(input.value.trim());
        done();
      },
    },
    h('h1', {}, t('keyTitle')),
    h('p', { className: 'muted' }, t('keyHelp')),
    problem ? h('p', { className: 'error', testid: 'key-error' }, problem) : null,
    h('label', {}, t('keyTitle'), input),
    h('button', { type: 'submit', testid: 'key-submit' }, t('keySave')),
  );
  root.replaceChildren(form);
  input.focus();
}
