// @ts-check
/**
 * Journeys to start from: the shapes marketers build most, written against the demo workspace's
 * segments and templates (in another workspace the editor names what is missing).
 */

/** @typedef {'blank' | 'welcome' | 'cart' | 'winBack'} Starter */

/** @type {Record<Starter, Record<string, unknown>>} */
const STARTERS = {
  blank: {
    trigger: { type: 'event', event: 'signed_up' },
    steps: [
      { id: 'wait_a_day', type: 'wait', duration: 'P1D' },
      { id: 'done', type: 'exit' },
    ],
  },
  welcome: {
    trigger: { type: 'segment', segment: 'new_users', on: 'entered' },
    exit: [{ segment: 'new_users', on: 'exited' }],
    goal: { event: 'order_paid', within: 'P7D', revenue: 'amount' },
    steps: [
      { id: 'welcome_email', type: 'send', channel: 'email', template: 'welcome_email' },
      { id: 'wait_2_days', type: 'wait', duration: 'P2D' },
      {
        id: 'ordered_yet',
        type: 'branch',
        branches: [
          {
            condition: {
              fact: 'aggregate',
              params: { event: 'order_paid', fn: 'count' },
              operator: 'equal',
              value: 0,
            },
            next: 'first_order_push',
          },
        ],
        else: 'done',
      },
      { id: 'first_order_push', type: 'send', channel: 'push', template: 'first_order_push' },
      { id: 'done', type: 'exit' },
    ],
  },
  cart: {
    trigger: { type: 'event', event: 'cart_add' },
    audience: { condition: { fact: 'profile', path: '$.userId', operator: 'notEqual', value: null } },
    entry: { reentry: 'afterExit', minInterval: 'P1D' },
    exit: [{ event: 'order_paid' }],
    goal: { event: 'order_paid', within: 'P7D', revenue: 'amount' },
    steps: [
      {
        id: 'wait_for_payment',
        type: 'waitFor',
        event: 'order_paid',
        match: 'properties.cartId',
        timeout: 'PT1H',
        onEvent: 'paid',
      },
      { id: 'reminder_sms', type: 'send', channel: 'sms', template: 'cart_reminder_sms' },
      { id: 'reminded', type: 'exit', reason: 'reminded' },
      { id: 'paid', type: 'exit', reason: 'paid within the hour' },
    ],
  },
  winBack: {
    trigger: { type: 'lifecycle', to: 'dormant' },
    entry: { reentry: 'afterExit', minInterval: 'P90D' },
    goal: { event: 'order_paid', within: 'P7D', revenue: 'amount' },
    holdout: { percent: 10 },
    steps: [
      { id: 'coupon_sms', type: 'send', channel: 'sms', template: 'winback_coupon_sms' },
      { id: 'mark_contacted', type: 'tag', add: ['winback_contacted'] },
    ],
  },
};

/** @type {Starter[]} */
export const STARTER_NAMES = ['blank', 'welcome', 'cart', 'winBack'];

/**
 * A new journey's text: the starter under the chosen id and name, formatted as the editor shows it.
 * @param {Starter} starter
 * @param {string} id
 * @param {string} name
 */
export const starterText = (starter, id, name) =>
  `${JSON.stringify({ id, name, ...STARTERS[starter] }, null, 2)}\n`;
