export { ApnsProvider, type ApnsOptions } from './provider.ts';
export { apnsId, toApnsNotification } from './notification.ts';
export { classifyApnsFailure } from './errors.ts';
