// @ts-check
/** A modal question before anything that changes a live journey. */
import { h } from './dom.js';
import { t } from './i18n.js';

/**
 * Asks, and resolves to the value of the button chosen, or null when cancelled.
 * @param {string} question
 * @param {string} detail
 * @param {{ value: string, label: string }[]} choices
 * @returns {Promise<string | null>}
 */
export function ask(question, detail, choices) {
  return new Promise((resolve) => {
    /** @param {string | null} value */
    const close = (value) => {
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    const dialog = h(
      'dialog',
      { className: 'card', testid: 'confirm' },
      h('h2', {}, question),
      h('p', {}, detail),
      h(
        'div',
        { className: 'actions' },
        ...choices.map((c) =>
          h(
            'button',
            { type: 'button', testid: `confirm-${c.value}`, onclick: () => close(c.value) },
            c.label,
          ),
        ),
        h(
          'button',
          { type: 'button', className: 'link', testid: 'confirm-cancel', onclick: () => close(null) },
          t('cancel'),
        ),
      ),
    );
    dialog.addEventListener('cancel', () => close(null));
    document.body.append(dialog);
    dialog.showModal();
  });
}
