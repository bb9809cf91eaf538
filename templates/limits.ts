/**
 * What a template must respect for its channel, checked at validation on the content rendered with
 * the template's sample: SMS length (500 characters, signature included) and no URLs in SMS
 * variables, WeChat keyword value limits, the push payload size, the email subject.
 */
import type { RuleFault } from '../rules/types.ts';
import { MAX_SMS_CHARACTERS, smsLength } from './sms-segments.ts';
import { keyLimitProblems } from './wechat-keys.ts';
import { liquidFaults, previewContent, traitsWithoutDefault } from './check.ts';
import type { TemplateDefinition } from './template.ts';

/** FCM and APNs refuse larger payloads. */
export const PUSH_PAYLOAD_BYTES = 4096;

/**
 * What validation says of a valid template: an SMS template's characters and billed segments
 * (rendered with its sample), and a warning for each trait used without a default.
 */
export function templateNote(template: TemplateDefinition): string | null {
  const notes: string[] = [];
  const text = template.channel === 'sms' ? previewContent(template).text : undefined;
  if (typeof text === 'string') {
    const { characters, segments } = smsLength(text);
    notes.push(
      `SMS ${characters} characters, ${segments} segment${segments === 1 ? '' : 's'}${template.sample ? '' : ' without its variables'}`,
    );
  }
  const bare = [...new Set(traitsWithoutDefault(template).map((t) => t.name))];
  if (bare.length > 0) {
    notes.push(
      `warning: ${bare.join(', ')} ${bare.length === 1 ? 'has' : 'have'} no default and render${bare.length === 1 ? 's' : ''} empty for users without ${bare.length === 1 ? 'it' : 'them'} (add | default: "…", or | required to fail the message instead)`,
    );
  }
  return notes.length > 0 ? notes.join('; ') : null;
}

export function templateFaults(template: TemplateDefinition): RuleFault[] {
  const faults = liquidFaults(template);
  if (faults.length > 0) return faults;
  const preview = previewContent(template, faults);
  if (faults.length > 0) return faults;
  switch (template.channel) {
    case 'sms': {
      const text = typeof preview.text === 'string' ? preview.text : '';
      if ([...text].length > MAX_SMS_CHARACTERS) {
        faults.push({
          pointer: '/content/text',
          message: `${[...text].length} characters: an SMS has at most ${MAX_SMS_CHARACTERS}`,
        });
      }
      for (const [name, value] of Object.entries(template.content.params)) {
        if (/https?:\/\/|\|\s*track\b/.test(value)) {
          faults.push({
            pointer: `/content/params/${name}`,
            message:
              'Aliyun refuses URLs in template variables (isv.PARAM_NOT_SUPPORT_URL): put the link in the registered template',
          });
        }
      }
      break;
    }
    case 'push': {
      const bytes = Buffer.byteLength(
        JSON.stringify({ title: preview.title, body: preview.body, data: preview.data ?? {} }),
      );
      if (bytes > PUSH_PAYLOAD_BYTES) {
        faults.push({
          pointer: '/content',
          message: `${bytes} bytes: a push payload has at most ${PUSH_PAYLOAD_BYTES}`,
        });
      }
      break;
    }
    case 'wechat':
    case 'miniprogram': {
      // A value with variables is measured only with the template's sample (else it renders empty).
      const data = preview.data as Record<string, string>;
      const measurable = Object.fromEntries(
        Object.entries(template.content.data)
          .filter(([, raw]) => !raw.includes('{') || template.sample)
          .map(([key]) => [key, data[key]]),
      );
      for (const problem of keyLimitProblems(measurable)) {
        faults.push({ pointer: `/content/data/${problem.key}`, message: problem.message });
      }
      break;
    }
    case 'email': {
      const subject = String(preview.subject ?? '');
      if (subject.length > 998)
        faults.push({ pointer: '/content/subject', message: 'longer than 998 characters' });
      break;
    }
    default:
      break;
  }
  return faults;
}
