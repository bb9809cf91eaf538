// @ts-check
/**
 * The API's own values (journey and enrollment states, step types, reasons, channels, lifecycle
 * stages, message statuses, event types) in the marketer's words. A value not listed shows as sent
 * by the API, so a new reason is never hidden; test/console/i18n.test.ts lists the engine's
 * vocabularies and fails when one has no words here.
 */
import { lang } from './i18n.js';

/** @typedef {'journeyState' | 'enrollmentState' | 'stepType' | 'reason' | 'channel' | 'lifecycle' | 'messageStatus' | 'eventType' | 'internalEvent' | 'trigger'} Kind */

/** @type {Record<'en' | 'zh', Record<Kind, Record<string, string>>>} */
export const TERMS = {
  en: {
    journeyState: { running: 'running', paused: 'paused', stopped: 'stopped', draft: 'draft' },
    enrollmentState: { active: 'active', exited: 'exited', waiting: 'waiting', ended: 'ended' },
    stepType: {
      wait: 'wait',
      waitFor: 'wait for event',
      branch: 'branch',
      split: 'split',
      send: 'send',
      tag: 'tag',
      update: 'update profile',
      webhook: 'webhook',
      exit: 'exit',
      unknown: 'removed step',
    },
    reason: {
      completed: 'completed',
      stopped: 'journey stopped',
      reentered: 'entered again',
      merged: 'profile merged',
      global_control: 'global control group',
      event: 'exit event',
      segment_entered: 'entered segment',
      segment_exited: 'left segment',
      no_consent: 'no consent',
      no_address: 'no address',
      opt_out: 'opted out',
      suppressed: 'suppressed',
      frequency_capped: 'frequency cap',
      quiet_hours: 'quiet hours',
      promotional_sms_hours: 'outside promotional SMS hours',
      channel_paused: 'channel paused',
      awaiting_contact: 'waiting for a contact',
      no_subscription_credit: 'no subscription credit',
      render_failed: 'template failed to render',
      recipient_rejected: 'recipient rejected',
      message_rejected: 'message rejected',
      provider_config: 'provider misconfigured',
      provider_error: 'provider error',
      provider_rate_limit: 'provider rate limit',
      unknown_outcome: 'outcome unknown',
      reconcile_failed: 'reconciliation failed',
      skipped: 'skipped',
      failed: 'failed',
    },
    channel: {
      sms: 'SMS',
      email: 'Email',
      push: 'Push',
      wechat: 'WeChat',
      miniprogram: 'Mini Program',
      sandbox: 'Sandbox',
    },
    lifecycle: {
      new: 'new',
      active: 'active',
      dormant: 'dormant',
      churned: 'churned',
      reactivated: 'reactivated',
    },
    messageStatus: {
      sent: 'sent',
      sandbox: 'sent (sandbox)',
      delivered: 'delivered',
      clicked: 'clicked',
      failed: 'failed',
      unknown: 'outcome unknown',
      skipped: 'skipped',
      deferred: 'deferred',
      retry: 'retrying',
      accepted: 'accepted',
      pending: 'pending',
    },
    eventType: {
      track: 'track',
      identify: 'identify',
      page: 'page',
      screen: 'screen',
      alias: 'alias',
      group: 'group',
      internal: 'internal',
    },
    internalEvent: {
      segment_entered: 'entered segment',
      segment_exited: 'left segment',
      tag_added: 'tag added',
      tag_removed: 'tag removed',
      lifecycle_changed: 'lifecycle changed',
      value_tier: 'value tier',
      rfm_group: 'RFM group',
      journey_entered: 'entered journey',
      journey_exited: 'left journey',
      journey_held: 'held out of journey',
      journey_step: 'journey step',
      journey_scheduled: 'scheduled journey run',
      message_sent: 'message sent',
      message_skipped: 'message skipped',
      message_status: 'message status',
      message_delivered: 'message delivered',
      message_delivery_failed: 'delivery failed',
    },
    trigger: { event: 'event', segment: 'segment', lifecycle: 'lifecycle', schedule: 'schedule' },
  },
  zh: {
    journeyState: { running: '运行中', paused: '已暂停', stopped: '已停止', draft: '草稿' },
    enrollmentState: { active: '进行中', exited: '已退出', waiting: '等待中', ended: '已结束' },
    stepType: {
      wait: '等待',
      waitFor: '等待事件',
      branch: '条件分支',
      split: '随机分流',
      send: '发送',
      tag: '打标签',
      update: '更新画像',
      webhook: 'Webhook',
      exit: '退出',
      unknown: '已删除的步骤',
    },
    reason: {
      completed: '走完旅程',
      stopped: '旅程已停止',
      reentered: '再次进入',
      merged: '画像已合并',
      global_control: '全局对照组',
      event: '退出事件',
      segment_entered: '进入分群',
      segment_exited: '离开分群',
      no_consent: '未授权',
      no_address: '无联系方式',
      opt_out: '已退订',
      suppressed: '已屏蔽',
      frequency_capped: '频次上限',
      quiet_hours: '免打扰时段',
      promotional_sms_hours: '不在营销短信时段',
      channel_paused: '渠道已暂停',
      awaiting_contact: '等待联系方式',
      no_subscription_credit: '无订阅额度',
      render_failed: '模板渲染失败',
      recipient_rejected: '收件人被拒',
      message_rejected: '消息被拒',
      provider_config: '服务商配置错误',
      provider_error: '服务商错误',
      provider_rate_limit: '服务商限流',
      unknown_outcome: '结果未知',
      reconcile_failed: '核对失败',
      skipped: '跳过',
      failed: '失败',
    },
    channel: {
      sms: '短信',
      email: '邮件',
      push: 'App 推送',
      wechat: '微信公众号',
      miniprogram: '微信小程序',
      sandbox: '沙箱',
    },
    lifecycle: {
      new: '新用户',
      active: '活跃',
      dormant: '沉睡',
      churned: '流失',
      reactivated: '回流',
    },
    messageStatus: {
      sent: '已发送',
      sandbox: '已发送（沙箱）',
      delivered: '已送达',
      clicked: '已点击',
      failed: '失败',
      unknown: '结果未知',
      skipped: '跳过',
      deferred: '延后',
      retry: '重试中',
      accepted: '已接受',
      pending: '待发送',
    },
    eventType: {
      track: '行为',
      identify: '识别',
      page: '页面',
      screen: '屏幕',
      alias: '关联',
      group: '群组',
      internal: '内部',
    },
    internalEvent: {
      segment_entered: '进入分群',
      segment_exited: '离开分群',
      tag_added: '添加标签',
      tag_removed: '移除标签',
      lifecycle_changed: '生命周期变化',
      value_tier: '价值分层',
      rfm_group: 'RFM 分组',
      journey_entered: '进入旅程',
      journey_exited: '退出旅程',
      journey_held: '未进入旅程（对照）',
      journey_step: '旅程步骤',
      journey_scheduled: '定时旅程运行',
      message_sent: '消息已发送',
      message_skipped: '消息已跳过',
      message_status: '消息状态',
      message_delivered: '消息已送达',
      message_delivery_failed: '送达失败',
    },
    trigger: { event: '事件', segment: '分群', lifecycle: '生命周期', schedule: '定时' },
  },
};

/**
 * A value of the API in the chosen language. Reasons may carry a detail after a colon
 * (`event:order_paid`, `provider_error: 503`): the head is translated, the detail kept.
 * @param {Kind} kind
 * @param {string | null | undefined} value
 */
export function term(kind, value) {
  if (value === null || value === undefined) return '—';
  const words = TERMS[lang()][kind];
  if (Object.hasOwn(words, value)) return words[value];
  const cut = value.indexOf(':');
  if (cut > 0) {
    const head = value.slice(0, cut);
    if (Object.hasOwn(words, head)) return `${words[head]}: ${value.slice(cut + 1).trim()}`;
  }
  return value;
}
