/**
 * Providers' pushes: Aliyun SmsReport (delivery receipts) and SmsUp (replies; R / T / TD / 退订 opt
 * out), and WeChat's callback. Each is parsed by its provider's module into facts, applied once
 * (providers retry: dedupe by their keys) and answered the way the provider expects.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { jsonBody } from './body.ts';
import express, { type Router } from 'express';
import { SMS_PUSH_ANSWER, smsReportFacts, smsUpFacts } from '../channels/aliyun-sms/receipts.ts';
import { applyInbound, type InboundFact } from '../channels/inbound.ts';
import type { ChannelState } from '../ports/channel-state.ts';
import type { Logger } from '../ports/logger.ts';
import type { Ingestor } from './ingest/routes.ts';
import type { WechatCallbackKeys } from '../channels/registry.ts';
import { openMessage, parseMessage, verifyUrl, wechatFacts } from '../channels/wechat/callback.ts';
import { InputError } from '../model/input-error.ts';

export interface InboundRouteDeps {
  state: ChannelState;
  ingestor: Ingestor;
  logger: Logger;
  now: () => number;
  /** Aliyun pushes carry no signature: the push URL must carry `?token=<this>`; unset: the routes refuse. */
  aliyunToken?: string;
  /** The WeChat apps whose pushes are taken, with their Token and EncodingAESKey. */
  wechatCallbacks?: WechatCallbackKeys[];
}

/**
 * How long a WeChat push's timestamp and nonce are remembered: longer than a timestamp is accepted
 * (5 minutes either side of now), so a signed query cannot be used again while it is fresh.
 */
export const WECHAT_NONCE_MS = 11 * 60_000;

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** Constant time, whatever the lengths: the digests are compared, not the strings. */
export function sameSecret(expected: string, given: unknown): boolean {
  return typeof given === 'string' && timingSafeEqual(digest(expected), digest(given));
}

export function inboundRoutes(deps: InboundRouteDeps): Router {
  const { state, ingestor, logger, now } = deps;
  const router = express.Router();
  const apps = deps.wechatCallbacks ?? [];
  logger.info(
    {
      aliyunSms: Boolean(deps.aliyunToken),
      wechat: apps.map((a) => ({ appId: a.appId, safeMode: Boolean(a.encodingAESKey) })),
    },
    `inbound callbacks: Aliyun SMS ${deps.aliyunToken ? 'on' : 'off (no callbackToken)'}; WeChat ${
      apps.length > 0
        ? `on for ${apps.map((a) => `${a.appId}${a.encodingAESKey ? ' (safe mode)' : ' (plaintext only)'}`).join(', ')}`
        : 'off (no app with a callbackToken)'
    }`,
  );

  const aliyun =
    (parse: (body: unknown) => InboundFact[]) => async (req: express.Request, res: express.Response) => {
      // Unsigned pushes: without a token anyone could post an opt-out or a receipt.
      if (!deps.aliyunToken) {
        res.status(403).json({
          code: 403,
          msg: 'Aliyun SMS callbacks are off: set callbackToken on the aliyun-sms provider and add ?token=<it> to the push URLs',
        });
        return;
      }
      if (!sameSecret(deps.aliyunToken, req.query.token)) {
        res.status(401).json({ code: 401, msg: 'bad token' });
        return;
      }
      let facts: InboundFact[];
      try {
        facts = parse(req.body);
      } catch (error) {
        // Aliyun re-pushes what was not accepted; a malformed push would come back the same.
        res.status(400).json({ code: 400, msg: (error as Error).message });
        return;
      }
      const summary = await applyInbound(facts, { state, ingestor, now });
      logger.info({ path: req.path, ...summary }, 'provider push applied');
      res.json(SMS_PUSH_ANSWER);
    };
  const json = jsonBody({ limit: '5mb' });
  router.post('/v1/inbound/aliyun-sms/report', json, aliyun(smsReportFacts));
  router.post('/v1/inbound/aliyun-sms/up', json, aliyun(smsUpFacts));

  // WeChat: the server URL of an Official Account or Mini Program, one per app id.
  const wechatApp = (req: express.Request): WechatCallbackKeys => {
    const app = deps.wechatCallbacks?.find((a) => a.appId === req.params.appId);
    if (!app)
      throw new InputError(404, 'not_found', `no WeChat callback for app '${String(req.params.appId)}'`);
    return app;
  };
  // A signed query is good for one body: the plaintext signature does not cover the body, so a query
  // seen with another body is a replay. The same query and body again is WeChat's retry (applied once
  // by the dedupe keys). Remembered in the channel state, shared by every API process.
  const refuseReplay = async (appId: string, query: express.Request['query'], body: string) => {
    const signed = ['timestamp', 'nonce', 'signature', 'msg_signature']
      .map((k) => (typeof query[k] === 'string' ? query[k] : ''))
      .join(':');
    const key = `wechat-nonce:${appId}:${digest(signed).toString('base64url')}`;
    const withBody = `${key}:${digest(body).toString('base64url')}`;
    const [queryFresh, bodyFresh] = await Promise.all([
      state.firstSeen(key, WECHAT_NONCE_MS),
      state.firstSeen(withBody, WECHAT_NONCE_MS),
    ]);
    if (queryFresh || !bodyFresh) return;
    await state.forgetSeen([withBody]);
    throw new InputError(401, 'replayed', 'WeChat push refused: this signed query was already used');
  };
  // URL verification when the server address is saved in the WeChat console: echo `echostr`.
  router.get('/v1/inbound/wechat/:appId', (req, res) => {
    const echo = verifyUrl(wechatApp(req).token, req.query);
    if (echo === null) throw new InputError(401, 'bad_signature', 'signature does not match');
    res.type('text/plain').send(echo);
  });
  // Pushes: checked (signature, replay window, AES in safe mode), applied once, answered `success`
  // at once (WeChat waits 5 s, then retries).
  router.post(
    '/v1/inbound/wechat/:appId',
    express.text({ type: () => true, limit: '1mb' }),
    async (req, res) => {
      const app = wechatApp(req);
      const body = typeof req.body === 'string' ? req.body : '';
      const opened = openMessage(body, req.query, { ...app, now: now() });
      if (!opened.ok) {
        const status = opened.error === 'bad_signature' || opened.error === 'stale' ? 401 : 400;
        throw new InputError(
          status,
          opened.error,
          `WeChat push refused: ${opened.error.replaceAll('_', ' ')}`,
        );
      }
      await refuseReplay(app.appId, req.query, body);
      const message = parseMessage(opened.plaintext);
      const facts = message ? wechatFacts(message, app.appId) : [];
      const summary = await applyInbound(facts, { state, ingestor, now });
      if (summary.applied > 0) logger.info({ path: req.path, ...summary }, 'provider push applied');
      res.type('text/plain').send('success');
    },
  );
  return router;
}
