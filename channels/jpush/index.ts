export { JpushProvider, type JpushOptions } from './provider.ts';
export { toJpushPush, sendno, type JpushPush } from './payload.ts';
export { classifyJpushAnswer } from './errors.ts';
