import express, { type Router } from 'express';
import { type Fault, InputError } from '../model/input-error.ts';
import type { JsonObject } from '../model/json.ts';
import type { DefinitionStore } from '../ports/definitions.ts';
import type { Store } from '../ports/store.ts';
import { traitsWithoutDefault } from '../templates/check.ts';
import { measure } from '../templates/measure.ts';
import { profileScope, RenderError, type RenderScope, renderContent } from '../templates/render.ts';
import type { TemplateDefinition } from '../templates/template.ts';
import { validateTemplate } from '../templates/validate.ts';
import { providerMessage } from '../channels/provider-message.ts';
import type { TestDevice, TestSender } from '../channels/test-send.ts';
import { type KeyRing, requireScope } from './auth.ts';
import { jsonBody } from './body.ts';
import { resolveKey } from './users.ts';

interface Body {
  /** A template document (a draft being edited), or the id of a saved one. */
  template?: unknown;
  templateId?: unknown;
  version?: unknown;
  /** Render for this user (user id or anonymous id); absent: the template's sample. */
  userId?: unknown;
  to?: unknown;
  device?: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The template a request names: the document it carries, or a saved version (the newest by default). */
async function templateOf(body: Body, definitions: DefinitionStore): Promise<TemplateDefinition> {
  if (body.template !== undefined) {
    const { template, faults } = validateTemplate(body.template);
    if (!template) throw InputError.invalid(faults.map((f) => ({ ...f, pointer: `/template${f.pointer}` })));
    return template;
  }
  if (typeof body.templateId !== 'string' || body.templateId === '')
    throw InputError.invalid([
      { pointer: '/template', message: 'give a template document, or templateId naming a saved one' },
    ]);
  const id = body.templateId;
  let doc;
  if (body.version === undefined) doc = (await definitions.history('template', id)).at(-1);
  else {
    const version = Number(body.version);
    if (!Number.isInteger(version) || version < 1)
      throw InputError.invalid([{ pointer: '/version', message: 'must be a version number (1, 2, ...)' }]);
    doc = await definitions.get('template', id, version);
  }
  if (!doc)
    throw new InputError(
      404,
      'not_found',
      `no template '${id}'${body.version ? ` version ${String(body.version)}` : ''}`,
    );
  return doc.document as unknown as TemplateDefinition;
}

/**
 * What a template is rendered with: the chosen user's profile, or the sample's; the rest (the
 * trigger event, the journey) from the sample, since no journey is running.
 */
async function scopeOf(
  body: Body,
  template: TemplateDefinition,
  store: Store,
): Promise<{ scope: RenderScope; source: { kind: 'user'; userId: string } | { kind: 'sample' } }> {
  const sample = (template.sample ?? {}) as Partial<RenderScope>;
  const base: RenderScope = {
    profile: sample.profile ?? {},
    event: sample.event ?? { name: null, properties: {}, timestamp: null },
    journey: sample.journey ?? { id: 'test', version: 0, step: 'test' },
    message: { id: 'preview', channel: template.channel },
    links: { unsubscribe: null },
  };
  if (body.userId === undefined || body.userId === '' || body.userId === null)
    return { scope: base, source: { kind: 'sample' } };
  if (typeof body.userId !== 'string')
    throw InputError.invalid([{ pointer: '/userId', message: 'must be a user id or an anonymous id' }]);
  const key = await resolveKey(store, body.userId);
  const profile = key ? (await store.getProfiles([key])).get(key) : undefined;
  if (!profile)
    throw new InputError(422, 'unknown_user', `no user or anonymous visitor '${body.userId}'`, [
      { pointer: '/userId', message: `no user or anonymous visitor '${body.userId}'` },
    ]);
  return {
    scope: { ...base, profile: profileScope(profile) },
    source: { kind: 'user', userId: body.userId },
  };
}

/** A render failure: the template is valid but this user (or sample) cannot fill it. */
const renderFailed = (error: RenderError): InputError => {
  const what = error.message.startsWith(`${error.pointer}: `)
    ? error.message.slice(error.pointer.length + 2)
    : error.message;
  const fault: Fault = { pointer: `/template${error.pointer}`, message: what };
  return new InputError(422, 'render_failed', `the template does not render: ${error.message}`, [fault]);
};

function device(value: unknown): TestDevice | undefined {
  if (value === undefined) return undefined;
  const faults: Fault[] = [];
  if (!isObject(value)) faults.push({ pointer: '/device', message: 'must be { provider, platform }' });
  else {
    if (!['fcm', 'apns', 'jpush'].includes(String(value.provider)))
      faults.push({ pointer: '/device/provider', message: 'must be fcm, apns or jpush' });
    if (!['ios', 'android'].includes(String(value.platform)))
      faults.push({ pointer: '/device/platform', message: 'must be ios or android' });
  }
  if (faults.length > 0) throw InputError.invalid(faults);
  return value as unknown as TestDevice;
}

/**
 * The template editor's two calls: a preview rendered for a user or the sample, with the channel's
 * limits measured, and a test send to a typed address through the configured provider.
 */
export function templateRoutes(
  keys: KeyRing,
  store: Store,
  definitions: DefinitionStore,
  tester: TestSender | undefined,
): Router {
  const router = express.Router();
  const manage = requireScope(keys, 'manage');
  const json = jsonBody({ limit: '256kb', type: () => true });
  const bodyOf = (raw: unknown): Body => {
    if (!isObject(raw)) throw InputError.invalid([{ pointer: '', message: 'body must be a JSON object' }]);
    return raw;
  };

  router.post('/v1/templates/preview', manage, json, async (req, res) => {
    const body = bodyOf(req.body);
    const template = await templateOf(body, definitions);
    const { scope, source } = await scopeOf(body, template, store);
    let message: unknown;
    try {
      message = tester
        ? tester.render(template, scope, 'preview')
        : providerMessage(template.channel, renderContent(template, scope) as unknown as JsonObject, {
            messageId: 'preview',
            unsubscribe: null,
            marketing: true,
          });
    } catch (error) {
      if (error instanceof RenderError) throw renderFailed(error);
      throw error;
    }
    res.json({
      template: template.id,
      channel: template.channel,
      source,
      message,
      measures: measure(template.channel, message as JsonObject),
      warnings: [...new Set(traitsWithoutDefault(template).map((t) => t.name))].map((name) => ({
        variable: name,
        message: `${name} has no default: it renders empty for users without it`,
      })),
    });
  });

  router.post('/v1/templates/test-send', manage, json, async (req, res) => {
    const body = bodyOf(req.body);
    if (typeof body.to !== 'string' || body.to.trim() === '')
      throw InputError.invalid([{ pointer: '/to', message: 'the address to send the test to is required' }]);
    const template = await templateOf(body, definitions);
    const { scope } = await scopeOf(body, template, store);
    if (!tester)
      throw new InputError(
        503,
        'no_channels',
        'this process has no channels configured: it cannot test-send',
      );
    try {
      const result = await tester.send(template, scope, body.to.trim(), device(body.device));
      res.json(result);
    } catch (error) {
      if (error instanceof RenderError) throw renderFailed(error);
      throw error;
    }
  });
  return router;
}
