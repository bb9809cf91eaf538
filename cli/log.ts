import pino, { type Logger } from 'pino';

/** `+8613812345678` -> `+86*******5678`: enough to tell numbers apart in a log, not to use one. */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  if (digits.length < 7) return '***';
  return `${phone.startsWith('+') ? '+' : ''}${digits.slice(0, 2)}${'*'.repeat(digits.length - 6)}${digits.slice(-4)}`;
}

/** `alice@example.com` -> `a***@example.com`. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  return at < 1 ? '***' : `${email[0]}***${email.slice(at)}`;
}

const PHONE_PATHS = ['phone', '*.phone', 'traits.phone', '*.traits.phone'];
const EMAIL_PATHS = ['email', '*.email', 'traits.email', '*.traits.email'];
const SECRET_PATHS = [
  'authorization',
  '*.authorization',
  'writeKey',
  '*.writeKey',
  'password',
  '*.password',
  'key',
  '*.key',
];

/** JSON logs (pino) with phone numbers and emails masked and secrets removed wherever they are logged. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: {
        paths: [...PHONE_PATHS, ...EMAIL_PATHS, ...SECRET_PATHS],
        // pino hands the path as an array or a dotted string depending on its version.
        censor: (value: unknown, path: string[] | string) => {
          const last = (Array.isArray(path) ? path : String(path).split('.')).at(-1);
          if (typeof value === 'string' && last === 'phone') return maskPhone(value);
          if (typeof value === 'string' && last === 'email') return maskEmail(value);
          return '[redacted]';
        },
      },
    },
    destination,
  );
}
