import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Response, type Router } from 'express';

const WEB = fileURLToPath(new URL('../web/', import.meta.url));
// `echarts` resolves (for require) to dist/echarts.js; the minified build sits beside it.
const ECHARTS = join(dirname(createRequire(import.meta.url).resolve('echarts')), 'echarts.min.js');

/** The page loads only its own files; ECharts writes inline styles (tooltips), hence style-src. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function secure(res: Response): void {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cache-Control', 'no-cache');
}

/**
 * The analyst console: static files from `web/` at `/console/`, ECharts at
 * `/console/vendor/echarts.min.js`. The page needs no key; its data calls carry the read key.
 */
export function consoleRoutes(): Router {
  const router = express.Router();
  // Someone who opens the server's address in a browser is looking for the console.
  router.get('/', (_req, res) => res.redirect(302, '/console/'));
  router.get('/console', (req, res) => {
    // The page's module paths are relative: serve it under the trailing slash only.
    if (!req.originalUrl.split('?')[0].endsWith('/')) return res.redirect(302, 'console/');
    secure(res);
    res.sendFile(join(WEB, 'index.html'));
  });
  router.get('/console/vendor/echarts.min.js', (_req, res) => {
    secure(res);
    res.sendFile(ECHARTS);
  });
  router.use(
    '/console',
    express.static(WEB, {
      index: false,
      dotfiles: 'ignore',
      etag: true,
      setHeaders: (res) => secure(res as Response),
    }),
  );
  return router;
}
