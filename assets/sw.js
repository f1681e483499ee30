/* Outpost service worker.
 * - Precaches the shell (css, scripts, icons, the offline page) under a versioned cache, so a
 *   deploy replaces it cleanly.
 * - Keeps the pages a signed-in user opened, network-first, in a cache of that user's own, so
 *   only their own scope is ever stored; a change of role or scope empties it.
 * - Queues form posts that fail for lack of network in IndexedDB and replays them, in order,
 *   one replay at a time, when the server can be reached again. */
"use strict";
var VERSION = "__VERSION__";
var SHELL_CACHE = "outpost-shell-" + VERSION;
var PRECACHE = __PRECACHE__;
var STORE_URL = "__STORE_URL__";
var CSS_URL = "__CSS_URL__";
var OFFLINE_JS_URL = "__OFFLINE_JS_URL__";
var FINALISABLE = __FINALISABLE__;
importScripts(STORE_URL);
var store = self.OutpostStore;

var QUEUEABLE = /^\/hubs\/\d+\/(intakes|distributions|needs-lists|transfers|actions\/[a-z_.]+)$/;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL_CACHE).then(function (c) { return c.addAll(PRECACHE); }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf("outpost-shell-") === 0 && n !== SHELL_CACHE; }).map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var req = event.request;
  var url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.method === "POST" && QUEUEABLE.test(url.pathname) && !req.headers.has("X-Outpost-Replay")) {
    event.respondWith(postOrQueue(req, url));
    return;
  }
  if (req.method !== "GET") return;
  if (PRECACHE.indexOf(url.pathname) >= 0) {
    event.respondWith(caches.match(req).then(function (hit) { return hit || fetch(req); }));
    return;
  }
  if (req.mode === "navigate") event.respondWith(networkFirst(req, url));
});

function pagesCache(userId) { return "outpost-pages-u" + userId; }

/* Remembers who is signed in, for how long the device may work offline, and empties the
 * user's page cache when their role or scope changed. */
function noteUser(res) {
  var user = res.headers.get("X-Outpost-User");
  if (!user) return Promise.resolve(null);
  var scope = res.headers.get("X-Outpost-Scope");
  var until = res.headers.get("X-Outpost-Offline-Until");
  return store.getMeta("scope_u" + user).then(function (known) {
    var purge = known && known !== scope ? caches.delete(pagesCache(user)) : Promise.resolve();
    return purge.then(function () {
      return Promise.all([
        store.setMeta("scope_u" + user, scope),
        store.setMeta("offline_session", { user_id: user, until: until }),
        store.setMeta("current_user", user)
      ]);
    });
  }).then(function () { return user; });
}

function networkFirst(req, url) {
  return fetch(req).then(function (res) {
    if (res.ok && res.headers.get("X-Outpost-Offline") === "cache") {
      var copy = res.clone();
      noteUser(res).then(function (user) {
        if (user) caches.open(pagesCache(user)).then(function (c) { c.put(url.pathname + url.search, copy); });
      });
    }
    return res;
  }).catch(function () {
    return store.getMeta("offline_session").then(function (session) {
      if (!session || !session.until || Date.parse(session.until) < Date.now()) {
        return offlinePage("never", "Offline access not available. Please connect at least once.");
      }
      return caches.open(pagesCache(session.user_id)).then(function (c) { return c.match(url.pathname + url.search); }).then(function (hit) {
        return hit || offlinePage("uncached", "This page was not opened on this device while online, so it is not available offline.");
      });
    });
  });
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }[c]; });
}

function page(title, body, state) {
  var html = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">" +
    "<title>" + escapeHtml(title) + " · Outpost</title><link rel=\"stylesheet\" href=\"" + CSS_URL + "\"><script src=\"" + STORE_URL + "\" defer></script><script src=\"" + OFFLINE_JS_URL + "\" defer></script></head>" +
    "<body data-offline-state=\"" + state + "\"><header class=\"site-header\"><div class=\"bar\"><a class=\"brand\" href=\"/\">Outpost</a><div class=\"whoami\"><span id=\"status-pill\" class=\"status-pill\" role=\"status\" aria-live=\"polite\" hidden></span><button id=\"sync-now\" class=\"linkish\" type=\"button\" hidden>Sync now</button></div></div></header>" +
    "<main id=\"main\">" + body + "</main></body></html>";
  return new Response(html, { status: 200, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

function offlinePage(state, message) {
  return page("Offline", "<section class=\"card error-page\"><h1>You are offline</h1><p class=\"offline-message\">" + escapeHtml(message) + "</p><p><a class=\"button secondary\" href=\"/\">Try again</a></p></section>", state);
}

function kindOf(url, fields) {
  return fields.get("op_kind") || (url.pathname.match(/actions\/([a-z_.]+)$/) || [])[1] || "";
}

/* Sends a form; if the network fails, keeps it on the device and says so. */
function postOrQueue(req, url) {
  var copy = req.clone();
  return fetch(req).catch(function () {
    return copy.text().then(function (body) {
      var fields = new URLSearchParams(body);
      var kind = kindOf(url, fields);
      return store.getMeta("current_user").then(function (user) {
        if (!user) return offlinePage("never", "Offline access not available. Please connect at least once.");
        var needsOnline = FINALISABLE.indexOf(kind) < 0;
        var op = {
          op_id: fields.get("op_id"), kind: kind, user_id: user, hub_id: Number((url.pathname.match(/^\/hubs\/(\d+)/) || [])[1]),
          captured_at: new Date().toISOString(), base_version: fields.get("base_version"), needs_online: needsOnline
        };
        return store.addPending(op, { url: url.pathname, body: body }).then(function () {
          notifyClients({ type: "queued" });
          if (self.registration.sync) self.registration.sync.register("outpost-replay").catch(function () {});
          var text = needsOnline
            ? "Saved on this device — needs online confirmation. It will be sent when the connection is restored and a manager confirms it."
            : "Saved on this device — will sync when connection is restored.";
          return page("Saved on this device", "<section class=\"card\"><h1>Saved on this device</h1><p class=\"queued-message\" role=\"status\">" + escapeHtml(text) + "</p><p><a class=\"button secondary\" href=\"" + escapeHtml(url.pathname.replace(/\/actions\/.*$/, "")) + "\">Back</a></p></section>", "queued");
        });
      });
    });
  });
}

function notifyClients(message) {
  return self.clients.matchAll({ includeUncontrolled: true }).then(function (all) { all.forEach(function (c) { c.postMessage(message); }); });
}

var replaying = null;

/* One replay at a time for the whole device: the service worker is shared by every tab. */
function replay() {
  if (!replaying) replaying = doReplay().then(function (r) { replaying = null; return r; }, function (e) { replaying = null; throw e; });
  return replaying;
}

function doReplay() {
  return store.listPending().then(function (ops) {
    var chain = Promise.resolve("synced");
    ops.forEach(function (op) {
      chain = chain.then(function (state) {
        if (state !== "synced") return state;
        return sendOne(op);
      });
    });
    return chain;
  }).then(function (state) {
    notifyClients({ type: state });
    return state;
  });
}

function sendOne(op) {
  var body = new URLSearchParams(op.secret.body);
  body.set("captured_at", op.captured_at);
  return fetch(op.secret.url, {
    method: "POST", credentials: "same-origin", redirect: "manual", body: body,
    headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Outpost-Replay": "1", "Idempotency-Key": op.op_id, "Accept": "application/json" }
  }).then(function (res) {
    // A lapsed session or refused token never drops an operation: the queue waits.
    if (res.status === 401 || res.status === 403 || res.type === "opaqueredirect") return "signin";
    if (res.status >= 500) return "error";
    return res.json().catch(function () { return { status: "rejected", reason: "unreadable answer (HTTP " + res.status + ")" }; }).then(function (result) {
      var done = result.status === "applied" || result.status === "duplicate";
      var next = done ? Promise.resolve() : store.addIssue({ op_id: op.op_id, kind: op.kind, hub_id: op.hub_id, captured_at: op.captured_at, status: result.status, reason: result.reason || "" });
      return next.then(function () { return store.removePending(op.seq); }).then(function () { notifyClients({ type: "progress" }); return "synced"; });
    });
  }, function () { return "offline"; });
}

self.addEventListener("sync", function (event) {
  if (event.tag === "outpost-replay") event.waitUntil(replay());
});

self.addEventListener("message", function (event) {
  if (event.data && event.data.type === "replay") event.waitUntil(replay());
});
