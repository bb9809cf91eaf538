import { createHash } from 'node:crypto';
/**
 * The channels' public and admin routes: click redirects (`/c/<token>`), unsubscribe links
 * (`/u/<token>`, RFC 8058 one-click included), message records, channel alerts (a provider that
 * refused its configuration pauses a journey's channel), Mini Program subscription reports, and the
 * providers' inbound pushes (delivery receipts, replies, WeChat events; api/inbound.ts).
 */
import { jsonBody } from './body.ts';
import express, { type Router } from 'express';
import { canonicalEmail, canonicalPhone, maskAddress } from '../channels/addresses.ts';
import { applyInbound, idsOf, inboundMessageId, type InboundFact, placeOf } from '../channels/inbound.ts';
import type { LinkSigner } from '../channels/links.ts';
import type { ChannelState } from '../ports/channel-state.ts';
import { type KeyRing, requireScope } from './auth.ts';
import { InputError } from '../model/input-error.ts';
import type { Ingestor } from './ingest/routes.ts';

export interface ChannelRouteDeps {
  keys: KeyRing;
  state: ChannelState;
  links: LinkSigner;
  ingestor: Ingestor;
  now: () => number;
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const page = (title: string, body: string): string =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
  `<title>${escapeHtml(title)}</title></head><body style="font-family:sans-serif;max-width:32rem;margin:3rem auto">` +
  `${body}</body></html>`;

export function channelRoutes(deps: ChannelRouteDeps): Router {
  const { keys, state, links, ingestor, now } = deps;
  const router = express.Router();

  // A tracked link: the first click of a message is recorded and becomes a `message_clicked` event.
  router.get('/c/:token', async (req, res) => {
    const link = links.click(String(req.params.token));
    if (!link) throw new InputError(404, 'not_found', 'this link is not valid');
    const at = now();
    const record = await state.record(link.messageId);
    if (record) {
      if (record.clickedAt === undefined) await state.update(link.messageId, { clickedAt: at });
      const dedupeKey = `click:${link.messageId}`;
      const call = {
        type: 'track' as const,
        messageId: inboundMessageId(dedupeKey, 'click'),
        ...idsOf(record.profileKey),
        event: 'message_clicked',
        properties: {
          messageId: record.messageId,
          journeyId: record.journeyId,
          ...placeOf(record),
          channel: record.channel,
          url: link.url,
        },
        timestamp: at,
      };
      await applyInbound([{ kind: 'call', dedupeKey, call }], { state, ingestor, now });
    }
    res.redirect(302, link.url);
  });

  const unsubscribeLink = (token: string) => {
    const link = links.unsubscribe(token);
    if (!link) throw new InputError(404, 'not_found', 'this unsubscribe link is not valid');
    return link;
  };

  router.get('/u/:token', (req, res) => {
    const link = unsubscribeLink(String(req.params.token));
    res
      .type('html')
      .send(
        page(
          'Unsubscribe / 退订',
          `<p>Stop ${link.channel} messages to <b>${escapeHtml(maskAddress(link.address))}</b>?</p>` +
            `<p>不再接收发往此地址的消息？</p><form method="post"><button type="submit">Unsubscribe / 退订</button></form>`,
        ),
      );
  });

  // The form above, and mail providers' one-click POST (body `List-Unsubscribe=One-Click`, no cookies).
  router.post('/u/:token', express.urlencoded({ extended: false, limit: '4kb' }), async (req, res) => {
    const link = unsubscribeLink(String(req.params.token));
    // Deduplicated on what the link says, however its token was spelt.
    const token = createHash('sha256')
      .update(JSON.stringify([link.profileKey, link.channel, link.address, link.messageId ?? '']))
      .digest('base64url');
    const at = now();
    await applyInbound(
      [
        {
          kind: 'optout',
          channel: link.channel,
          address: link.address,
          at,
          dedupeKey: `unsubscribe:${token}`,
        },
        {
          kind: 'call',
          dedupeKey: `unsubscribe-consent:${token}`,
          call: {
            type: 'identify',
            messageId: inboundMessageId(`unsubscribe:${token}`, 'identify'),
            ...idsOf(link.profileKey),
            traits: { consent: { [link.channel]: false } },
            context: {
              channel: 'unsubscribe_link',
              ...(link.messageId ? { messageId: link.messageId } : {}),
            },
            timestamp: at,
          },
        },
      ] satisfies InboundFact[],
      { state, ingestor, now },
    );
    res.type('html').send(page('Unsubscribed / 已退订', '<p>You are unsubscribed. 您已成功退订。</p>'));
  });

  router.get('/v1/messages/:id', requireScope(keys, 'read'), async (req, res) => {
    const record = await state.record(String(req.params.id));
    if (!record) throw new InputError(404, 'not_found', `no message '${String(req.params.id)}'`);
    const { caps: _caps, ...view } = record;
    res.json(view);
  });

  // The suppression list: addresses nothing is sent to (opt-outs, hard bounces, refused numbers).
  const suppression = (req: express.Request) => {
    const channel = String(req.params.channel);
    if (!['sms', 'email', 'push', 'wechat'].includes(channel)) {
      throw InputError.invalid([
        { pointer: '/path/channel', message: 'must be one of sms, email, push, wechat' },
      ]);
    }
    const raw = String(req.params.address);
    const address = channel === 'sms' ? canonicalPhone(raw) : channel === 'email' ? canonicalEmail(raw) : raw;
    return { channel, address };
  };
  router.get('/v1/suppressions/:channel/:address', requireScope(keys, 'read'), async (req, res) => {
    const { channel, address } = suppression(req);
    const found = await state.suppressed(channel, address);
    if (!found)
      throw new InputError(404, 'not_found', `${channel} ${maskAddress(address)} is not suppressed`);
    res.json({
      channel,
      address: maskAddress(address),
      reason: found.reason,
      at: new Date(found.at).toISOString(),
    });
  });
  router.delete('/v1/suppressions/:channel/:address', requireScope(keys, 'manage'), async (req, res) => {
    const { channel, address } = suppression(req);
    await state.unsuppress(channel, address);
    res.status(204).end();
  });

  router.get('/v1/channels/alerts', requireScope(keys, 'read'), async (_req, res) => {
    res.json({ alerts: await state.alerts() });
  });

  // Resolving an alert resumes the journey's sends on that channel (held messages go within minutes).
  router.delete('/v1/channels/alerts/:id', requireScope(keys, 'manage'), async (req, res) => {
    const id = String(req.params.id);
    if (!(await state.resolveAlert(id))) throw new InputError(404, 'not_found', `no alert '${id}'`);
    res.status(204).end();
  });

  // What the Mini Program's wx.requestSubscribeMessage answered: each accept is one send credit.
  router.post(
    '/v1/wechat/subscriptions',
    requireScope(keys, 'ingest'),
    jsonBody({ limit: '32kb' }),
    async (req, res) => {
      const body: unknown = req.body;
      const faults: { pointer: string; message: string }[] = [];
      const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
      for (const field of ['messageId', 'appId', 'openId'])
        if (typeof b[field] !== 'string' || b[field] === '')
          faults.push({ pointer: `/${field}`, message: 'is required (a string)' });
      const results = b.results;
      if (
        !results ||
        typeof results !== 'object' ||
        Array.isArray(results) ||
        Object.keys(results).length === 0
      ) {
        faults.push({ pointer: '/results', message: 'is required: { "<templateId>": "accept" | "reject" }' });
      } else {
        for (const [templateId, status] of Object.entries(results))
          if (status !== 'accept' && status !== 'reject')
            faults.push({ pointer: `/results/${templateId}`, message: 'must be "accept" or "reject"' });
      }
      if (faults.length > 0) throw InputError.invalid(faults);
      const at = now();
      const facts: InboundFact[] = Object.entries(results as Record<string, 'accept' | 'reject'>).map(
        ([templateId, status]) => ({
          kind: 'subscription',
          appId: b.appId as string,
          openId: b.openId as string,
          templateId,
          status,
          at,
          dedupeKey: `subscription:${b.messageId as string}:${templateId}`,
        }),
      );
      const summary = await applyInbound(facts, { state, ingestor, now });
      res.json(summary);
    },
  );

  return router;
}
