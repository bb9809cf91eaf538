import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { templateNote } from '../../templates/limits.ts';
import { renderContent, RenderError } from '../../templates/render.ts';
import type { TemplateDefinition } from '../../templates/template.ts';
import { validateTemplate } from '../../templates/validate.ts';

const sms = (content: object, extra: object = {}) => ({
  id: 't',
  version: 1,
  name: 't',
  channel: 'sms',
  content: { signName: '潮汐优选', templateCode: 'SMS_1', params: {}, ...content },
  ...extra,
});

const faults = (doc: object) => validateTemplate(doc).faults.map((f) => `${f.pointer}: ${f.message}`);

describe('templates at validation', () => {
  it('reports Liquid syntax errors and variables no message has, at their field', () => {
    assert.deepEqual(faults(sms({ params: { name: '{{ profile.traits.name }' } })).length, 1);
    assert.match(
      faults(sms({ params: { name: '{{ profile.traits.name }' } }))[0],
      /^\/content\/params\/name: Liquid: /,
    );
    assert.deepEqual(faults(sms({ params: { name: '{{ user.name }}' } })), [
      "/content/params/name: unknown variable 'user.name': a template reads profile, event, journey, message, links",
    ]);
    assert.match(
      faults(sms({ text: '{{ profile.trait.name }}' }))[0],
      /unknown variable 'profile\.trait\.name': profile has profile\.userId/,
    );
    // What a template may read, including assigned variables and loops over its own values.
    assert.deepEqual(
      faults(
        sms({
          text: '{% assign n = profile.traits.name | default: "朋友" %}{{ n }} {% for t in profile.tags %}{{ t }}{% endfor %} {{ event.properties.sku }} {{ journey.id }} {{ message.id }} {{ links.unsubscribe }}',
        }),
      ),
      [],
    );
  });

  it('holds SMS to 500 characters and keeps URLs out of SMS variables (Aliyun refuses them)', () => {
    assert.deepEqual(faults(sms({ text: '【潮汐优选】' + '好'.repeat(494) })), []);
    assert.deepEqual(faults(sms({ text: '【潮汐优选】' + '好'.repeat(495) })), [
      '/content/text: 501 characters: an SMS has at most 500',
    ]);
    // Measured with the sample's values.
    const long = sms(
      { text: '【潮汐优选】{{ profile.traits.name }}' },
      { sample: { profile: { traits: { name: '好'.repeat(495) } } } },
    );
    assert.equal(faults(long).length, 1);
    assert.match(faults(sms({ params: { link: 'https://shop.example.com' } }))[0], /PARAM_NOT_SUPPORT_URL/);
    assert.match(
      faults(sms({ params: { link: '{{ "https://x.example.com" | track }}' } }))[0],
      /PARAM_NOT_SUPPORT_URL/,
    );
  });

  it('checks WeChat keyword values against their limits (with the sample for values with variables)', () => {
    const wechat = (data: object, extra: object = {}) => ({
      id: 'w',
      version: 1,
      name: 'w',
      channel: 'wechat',
      content: { templateId: 'T', data },
      ...extra,
    });
    assert.deepEqual(faults(wechat({ thing1: '购物车专属优惠券', phrase2: '待支付' })), []);
    assert.equal(faults(wechat({ thing1: '这是一段超过二十个字的商品名称说明文字而且更长' })).length, 1);
    assert.equal(faults(wechat({ phrase2: '已经超过五个字' })).length, 1);
    assert.deepEqual(faults(wechat({ thing1: '{{ profile.traits.name }}的购物车' })), []);
    const sampled = wechat(
      { thing1: '{{ profile.traits.name }}的购物车' },
      { sample: { profile: { traits: { name: '一个非常非常非常非常非常非常长的名字' } } } },
    );
    assert.equal(faults(sampled).length, 1);
    assert.match(faults(sampled)[0], /^\/content\/data\/thing1: /);
  });

  it('holds a push payload to 4 KB', () => {
    const push = (body: string) => ({
      id: 'p',
      version: 1,
      name: 'p',
      channel: 'push',
      content: { title: 'Hi', body },
    });
    assert.deepEqual(faults(push('x'.repeat(4000))), []);
    assert.match(faults(push('x'.repeat(4100)))[0], /bytes: a push payload has at most 4096/);
  });

  it('notes an SMS template’s length and segments (signature included)', () => {
    const t = sms(
      { text: '【潮汐优选】{{ profile.traits.name | default: "您" }}，' + '好'.repeat(60) },
      { sample: { profile: { traits: { name: '王小明' } } } },
    );
    assert.equal(templateNote(t as TemplateDefinition), 'SMS 70 characters, 1 segment');
    const longer = sms(
      { text: '【潮汐优选】{{ profile.traits.name | required }}，' + '好'.repeat(61) },
      { sample: { profile: { traits: { name: '王小明' } } } },
    );
    assert.equal(templateNote(longer as TemplateDefinition), 'SMS 71 characters, 2 segments');
  });

  it('warns about a trait written without a default (it renders empty for users without it)', () => {
    const bare = sms({
      params: { name: '{{ profile.traits.name }}', city: '{{ profile.traits.city | default: "您" }}' },
      text: '{{profile.traits["nick name"] | upcase}} {{ profile.traits.plan | required }}',
    });
    assert.deepEqual(faults(bare), []);
    assert.match(
      templateNote(bare as TemplateDefinition) ?? '',
      /; warning: profile\.traits\.name, profile\.traits\.nick name have no default and render empty for users without them \(add \| default: "…", or \| required/,
    );
  });
});

describe('templates when a message leaves', () => {
  const t = sms({
    params: { name: '{{ profile.traits.name | default: "朋友" }}' },
    text: '{% if profile.tags contains "vip" %}VIP {% endif %}{{ event.properties.sku }} {{ "https://a.example.com/x" | track }}',
  }) as TemplateDefinition;
  const scope = (traits: object, tags: string[]) => ({
    profile: { traits, tags } as never,
    event: { properties: { sku: 'SKU-1' } },
    journey: {},
    message: { id: 'm1' },
    links: {},
  });

  it('renders every field with the profile and the trigger, links tracked', async () => {
    const out = renderContent(
      t,
      scope({ name: '安' }, ['vip']),
      (url) => `https://t/c/${encodeURIComponent(url)}`,
    );
    assert.deepEqual(out, {
      signName: '潮汐优选',
      templateCode: 'SMS_1',
      params: { name: '安' },
      text: 'VIP SKU-1 https://t/c/https%3A%2F%2Fa.example.com%2Fx',
    });
    const plain = renderContent(t, scope({}, []), (url) => url);
    assert.deepEqual((plain as { params: object }).params, { name: '朋友' });
  });

  it('renders a missing trait empty, and refuses one marked required, naming it', () => {
    const greeting = sms({
      params: { name: '{{ profile.traits.name }}' },
      text: '{{ profile.traits.name }}你好，尾号{{ profile.traits.phone | required }}',
    }) as TemplateDefinition;
    const out = renderContent(greeting, scope({ phone: '8000' }, [])) as { params: object; text: string };
    assert.deepEqual(out.params, { name: '' });
    assert.equal(out.text, '你好，尾号8000');
    assert.throws(
      () => renderContent(greeting, scope({ name: '安' }, [])),
      /^Error: \/content\/text: profile\.traits\.phone is required and missing$/,
    );
    // Other roots stay strict: a misspelt name is an error, not an empty value.
    const misspelt = sms({ text: '{{ profile.trait.name }}' }) as TemplateDefinition;
    assert.throws(() => renderContent(misspelt, scope({ name: '安' }, [])), /undefined variable/);
  });
});

/** A render scope of a profile with these traits and nothing else. */
const withTraits = (traits: Record<string, number>) => ({
  profile: { traits } as never,
  event: {},
  journey: {},
  message: {},
  links: {},
});

describe('templates in a sandbox', () => {
  it('refuses include, render and layout: a template reads no file of the server', () => {
    for (const tag of ["{% include '.gitignore' %}", "{% render '../../.env' %}", "{% layout 'x' %}hi"]) {
      const found = faults(sms({ text: `【潮汐优选】${tag}` }));
      assert.equal(found.length, 1, tag);
      assert.match(found[0], /^\/content\/text: Liquid: \{% (include|render|layout) %\} is not allowed/);
    }
  });

  it('refuses a loop beyond the memory limit and a render beyond the time limit, quickly', () => {
    const started = performance.now();
    const huge = faults(sms({ text: '{% for i in (1..100000000) %}{{ i }}{% endfor %}' }));
    assert.match(huge[0] ?? '', /^\/content\/text: Liquid: memory alloc limit exceeded/);
    // Small ranges, many iterations: cut off by the render time limit.
    const slow = faults(
      sms({ text: '{% for i in (1..900) %}{% for j in (1..900) %}{{ j }}{% endfor %}{% endfor %}' }),
    );
    assert.match(slow[0] ?? '', /^\/content\/text: Liquid: template render limit exceeded/);
    assert.ok(performance.now() - started < 1000, 'both refused within a second');
  });

  it('cuts off a message whose render exceeds the limits (a value the sample did not have)', () => {
    const loop = sms({
      text: '{% for i in (1..profile.traits.n) %}x{% endfor %}',
    }) as TemplateDefinition;
    assert.throws(() => renderContent(loop, withTraits({ n: 100_000_000 })), /memory alloc limit exceeded/);
  });

  it('cuts off a message that runs out of time on a second try too, and says it ran out of time', () => {
    const slow = sms({
      text: '{% for i in (1..profile.traits.n) %}{% for j in (1..900) %}{{ j }}{% endfor %}{% endfor %}',
    }) as TemplateDefinition;
    assert.throws(
      () => renderContent(slow, withTraits({ n: 900 })),
      (error: RenderError) => /render limit exceeded/.test(error.message) && error.outOfTime,
    );
  });
});
