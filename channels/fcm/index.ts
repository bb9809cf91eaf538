export { FcmProvider, type FcmOptions } from './provider.ts';
export { parseServiceAccount, type ServiceAccount } from './service-account.ts';
export { toFcmMessage, type FcmMessage } from './message.ts';
export { classifyFcmError } from './errors.ts';
