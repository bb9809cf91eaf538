/**
 * Tideline tracker for WeChat Mini Programs: Segment's message format over `wx.request`.
 *
 *   const { Tracker } = require('./tideline-miniprogram/index.js');
 *   const tracker = new Tracker({ writeKey: 'WRITE_KEY', apiHost: 'https://events.example.com', appId: 'wx123' });
 *   tracker.autoTrackPages();          // a page view on each page's onShow
 *   tracker.identify('u-1', { name: 'Li' }, { openId: 'o-abc', unionId: 'un-xyz' });
 *   tracker.track('Order Completed', { total: 129 });
 *
 * Calls are queued (in memory and in `wx` storage, so a killed app loses none), sent as one batch to
 * `/v1/batch` when `flushAt` calls are waiting or `flushInterval` has passed, and retried with backoff
 * (honouring `Retry-After`) while the network fails or the API answers 429 or 5xx.
 */
'use strict';

var VERSION = '0.1.0';
var LIBRARY = 'tideline-miniprogram';
var ANONYMOUS_ID_KEY = 'tideline_anonymous_id';
var QUEUE_KEY = 'tideline_queue';
var MAX_QUEUE = 1000;
var MAX_BATCH_BYTES = 450 * 1024;

var BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Base64 of an ASCII string (mini programs have no btoa). */
function base64(text) {
  var out = '';
  for (var i = 0; i < text.length; i += 3) {
    var a = text.charCodeAt(i);
    var b = text.charCodeAt(i + 1);
    var c = text.charCodeAt(i + 2);
    var n = (a << 16) | ((b || 0) << 8) | (c || 0);
    out += BASE64[(n >> 18) & 63] + BASE64[(n >> 12) & 63];
    out += i + 1 < text.length ? BASE64[(n >> 6) & 63] : '=';
    out += i + 2 < text.length ? BASE64[n & 63] : '=';
  }
  return out;
}

/** A random version 4 UUID. */
function uuid() {
  var hex = '';
  for (var i = 0; i < 32; i++) {
    var r = Math.floor(Math.random() * 16);
    if (i === 12) r = 4;
    else if (i === 16) r = (r & 3) | 8;
    hex += r.toString(16);
  }
  return (
    hex.slice(0, 8) +
    '-' +
    hex.slice(8, 12) +
    '-' +
    hex.slice(12, 16) +
    '-' +
    hex.slice(16, 20) +
    '-' +
    hex.slice(20)
  );
}

function assign(target) {
  for (var i = 1; i < arguments.length; i++) {
    var source = arguments[i];
    if (source)
      for (var key in source)
        if (Object.prototype.hasOwnProperty.call(source, key)) target[key] = source[key];
  }
  return target;
}

function readStorage(key) {
  try {
    return wx.getStorageSync(key);
  } catch {
    return '';
  }
}

function writeStorage(key, value) {
  try {
    wx.setStorageSync(key, value);
  } catch {
    // Storage full or unavailable: the queue still lives in memory.
  }
}

/**
 * @param {object} options
 * @param {string} options.writeKey the Tideline write key
 * @param {string} options.apiHost where Tideline listens, e.g. https://events.example.com
 * @param {string} [options.appId] the mini program's app id (kept with the user's openid)
 * @param {number} [options.flushAt] send when this many calls wait (default 20)
 * @param {number} [options.flushInterval] ms a call may wait before it is sent (default 10000)
 * @param {number} [options.maxRetryDelay] longest wait between retries, ms (default 60000)
 */
function Tracker(options) {
  if (!options || !options.writeKey) throw new Error('tideline: writeKey is required');
  if (!options.apiHost) throw new Error('tideline: apiHost is required');
  this.writeKey = options.writeKey;
  this.endpoint = options.apiHost.replace(/\/+$/, '') + '/v1/batch';
  this.appId = options.appId;
  this.flushAt = options.flushAt || 20;
  this.flushInterval = options.flushInterval === undefined ? 10000 : options.flushInterval;
  this.maxRetryDelay = options.maxRetryDelay || 60000;
  this.userId = null;
  this.wechat = null;
  this.anonymousId = readStorage(ANONYMOUS_ID_KEY);
  if (!this.anonymousId) {
    this.anonymousId = uuid();
    writeStorage(ANONYMOUS_ID_KEY, this.anonymousId);
  }
  var saved = readStorage(QUEUE_KEY);
  this.queue = Array.isArray(saved) ? saved : [];
  this.sending = null;
  this.timer = null;
  this.attempts = 0;
  this.currentRoute = null;
  if (this.queue.length > 0) this.schedule(0);
}

/** What every call carries: library, app, device and, once known, the WeChat identity. */
Tracker.prototype.context = function () {
  var context = { library: { name: LIBRARY, version: VERSION } };
  try {
    var info = wx.getSystemInfoSync();
    context.os = { name: info.platform, version: info.system };
    context.device = { model: info.model, manufacturer: info.brand };
    context.screen = { width: info.screenWidth, height: info.screenHeight, density: info.pixelRatio };
    context.locale = info.language;
    context.app = { wechatVersion: info.version, sdkVersion: info.SDKVersion };
  } catch {
    // No system info (tests, old base libraries): send without it.
  }
  if (this.appId) context.app = assign(context.app || {}, { id: this.appId });
  if (this.wechat) context.wechat = this.wechat;
  if (this.currentRoute) context.page = { path: this.currentRoute };
  return context;
};

Tracker.prototype.enqueue = function (message) {
  var full = assign(
    {
      messageId: uuid(),
      anonymousId: this.anonymousId,
      timestamp: new Date().toISOString(),
      context: this.context(),
    },
    message,
  );
  if (this.userId) full.userId = this.userId;
  this.queue.push(full);
  if (this.queue.length > MAX_QUEUE) this.queue.splice(0, this.queue.length - MAX_QUEUE);
  writeStorage(QUEUE_KEY, this.queue);
  if (this.queue.length >= this.flushAt) this.flush();
  else this.schedule(this.flushInterval);
  return full.messageId;
};

/**
 * Who the user is: a user id (or null to stay anonymous), traits, and the WeChat identity
 * (`openId`, `unionId`) the engine keeps per app id, for messages to the user.
 */
Tracker.prototype.identify = function (userId, traits, wechat) {
  if (userId !== undefined && userId !== null && userId !== '') this.userId = String(userId);
  var allTraits = assign({}, traits);
  if (wechat && wechat.openId) {
    this.wechat = { appId: this.appId, openId: wechat.openId };
    if (wechat.unionId) this.wechat.unionId = wechat.unionId;
    allTraits.wechat = this.wechat;
  }
  return this.enqueue({ type: 'identify', traits: allTraits });
};

Tracker.prototype.track = function (event, properties) {
  if (!event) throw new Error('tideline: track needs an event name');
  return this.enqueue({ type: 'track', event: String(event), properties: assign({}, properties) });
};

/** A page view: `name` is the page's route (e.g. pages/product/index), `properties` its query. */
Tracker.prototype.page = function (name, properties) {
  this.currentRoute = name;
  return this.enqueue({ type: 'page', name: name, properties: assign({}, properties) });
};

/** Forgets the user (log out): a new anonymous id, no user id, no WeChat identity. */
Tracker.prototype.reset = function () {
  this.userId = null;
  this.wechat = null;
  this.anonymousId = uuid();
  writeStorage(ANONYMOUS_ID_KEY, this.anonymousId);
};

/** Page options with their onLoad and onShow wrapped so that each showing sends a page view. */
Tracker.prototype.trackPage = function (pageOptions) {
  var tracker = this;
  var options = assign({}, pageOptions);
  var onLoad = options.onLoad;
  var onShow = options.onShow;
  options.onLoad = function (query) {
    this.__tidelineQuery = query || {};
    if (onLoad) return onLoad.apply(this, arguments);
  };
  options.onShow = function () {
    tracker.page(this.route, assign({}, this.__tidelineQuery));
    if (onShow) return onShow.apply(this, arguments);
  };
  return options;
};

/** Wraps the global `Page` so that every page sends its page views; call before the pages register. */
Tracker.prototype.autoTrackPages = function (host) {
  var scope = host || (typeof globalThis !== 'undefined' ? globalThis : this);
  var tracker = this;
  var original = scope.Page;
  if (typeof original !== 'function' || original.__tideline) return;
  var wrapped = function (options) {
    return original(tracker.trackPage(options));
  };
  wrapped.__tideline = true;
  scope.Page = wrapped;
};

Tracker.prototype.schedule = function (delay) {
  var tracker = this;
  if (this.timer) return;
  this.timer = setTimeout(function () {
    tracker.timer = null;
    tracker.flush();
  }, delay);
  // Under Node (tests, server-side rendering) a pending flush does not hold the process open.
  if (this.timer && typeof this.timer.unref === 'function') this.timer.unref();
};

/**
 * Sends what is queued, batch after batch; resolves when the queue is empty or a retry is scheduled.
 * A batch leaves the queue once Tideline answered 2xx (or refused it for good with another 4xx).
 */
Tracker.prototype.flush = function () {
  var tracker = this;
  if (this.sending) return this.sending;
  if (this.timer) {
    clearTimeout(this.timer);
    this.timer = null;
  }
  if (this.queue.length === 0) return Promise.resolve();
  var batch = [];
  var bytes = 0;
  for (var i = 0; i < this.queue.length; i++) {
    var size = JSON.stringify(this.queue[i]).length;
    if (batch.length > 0 && bytes + size > MAX_BATCH_BYTES) break;
    batch.push(this.queue[i]);
    bytes += size;
  }
  this.sending = this.post(batch).then(function (outcome) {
    tracker.sending = null;
    if (outcome.done) {
      tracker.attempts = 0;
      var sent = {};
      for (var j = 0; j < batch.length; j++) sent[batch[j].messageId] = true;
      tracker.queue = tracker.queue.filter(function (m) {
        return !sent[m.messageId];
      });
      writeStorage(QUEUE_KEY, tracker.queue);
      if (tracker.queue.length > 0) return tracker.flush();
      return undefined;
    }
    tracker.attempts += 1;
    var backoff = Math.min(tracker.maxRetryDelay, 1000 * Math.pow(2, tracker.attempts - 1));
    tracker.schedule(outcome.retryAfter !== undefined ? outcome.retryAfter : backoff);
    return undefined;
  });
  return this.sending;
};

/** One request; resolves `{ done }` (sent, or refused for good) or `{ done: false, retryAfter? }`. */
Tracker.prototype.post = function (batch) {
  var tracker = this;
  return new Promise(function (resolve) {
    wx.request({
      url: tracker.endpoint,
      method: 'POST',
      header: {
        'Content-Type': 'application/json',
        Authorization: 'Basic ' + base64(tracker.writeKey + ':'),
      },
      data: { batch: batch, sentAt: new Date().toISOString() },
      success: function (res) {
        var status = res.statusCode;
        if (status >= 200 && status < 300) return resolve({ done: true });
        if (status === 429 || status >= 500 || status === 408) {
          var header = res.header || {};
          var retryAfter = Number(header['Retry-After'] || header['retry-after']);
          return resolve({ done: false, retryAfter: retryAfter > 0 ? retryAfter * 1000 : undefined });
        }
        // Any other 4xx will not get better by sending it again.
        console.warn('tideline: batch refused (' + status + ')', res.data);
        resolve({ done: true });
      },
      fail: function () {
        resolve({ done: false });
      },
    });
  });
};

module.exports = { Tracker: Tracker, VERSION: VERSION };
