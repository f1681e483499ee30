/* Outpost service worker.
 * - Precaches the shell (css, scripts, icons, the offline page) under a versioned cache, so a
 *   deploy replaces it cleanly.
 * - Keeps the pages a signed-in user opened, network-first, in a cache of that user's own, so
 *   only their own scope is ever stored; a change of role or scope empties it.
 * - Queues form posts that fail for lack of network in IndexedDB and replays them, in order and
 *   in batches through the sync API, one replay at a time, when the server can be reached again. */
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

/* The addresses of the forms a device may queue: each kind declares its own (`Spec::form`). */
var QUEUEABLE = /__QUEUEABLE__/;
/* What a reverse proxy (or Outpost itself, with PostgreSQL away) answers during an outage:
 * treated exactly like no network at all. */
var OUTAGE = [502, 503, 504];

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
  if (req.method === "POST" && url.pathname === "/logout") {
    event.respondWith(signOut(req));
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

/* Goes up at every sign-out: a page or working-set fetch that started before it must not store
 * anything (nor name its user as the current one) when its answer arrives after it. */
var epoch = 0;

/* Signing out closes this device to the user: their stored pages go and offline access ends,
 * online or not. Queued entries (theirs and anyone else's) stay sealed on the device and are
 * sent only in their author's next session. */
function signOut(req) {
  var copy = req.clone();
  epoch++;
  return store.getMeta("current_user").then(function (user) {
    return Promise.all([
      user ? caches.delete(pagesCache(user)) : null,
      store.setMeta("offline_session", null),
      store.setMeta("current_user", null),
      store.setMeta("signed_out", true)
    ]);
  }).then(function () {
    return fetchThrough(req).catch(function () {
      // Offline: the server session is still open, so the sign-out is sent as soon as the
      // server can be reached, before anything else (the next person must not find it open).
      return copy.text().then(function (body) { return store.setMeta("pending_logout", body); })
        .then(function () { return offlinePage("signed-out", "You are signed out on this device. The server will be told as soon as it can be reached."); });
    });
  });
}

/* A sign-out made offline, sent before any other request once the server answers. */
function finishSignOut() {
  return store.getMeta("pending_logout").then(function (body) {
    if (!body) return;
    return fetchThrough(new Request("/logout", { method: "POST", body: body, credentials: "same-origin", redirect: "manual", headers: { "Content-Type": "application/x-www-form-urlencoded" } }))
      .then(function () { return store.setMeta("pending_logout", null); });
  });
}

/* A fetch that fails for an outage (no network, or a gateway's 502/503/504) rejects. */
function fetchThrough(req) {
  return fetch(req).then(function (res) {
    if (OUTAGE.indexOf(res.status) >= 0) throw new Error("outage " + res.status);
    return res;
  });
}

/* Remembers who is signed in, for how long the device may work offline, and empties the
 * user's page cache when their role or scope changed. */
function noteUser(res) {
  var user = res.headers.get("X-Outpost-User");
  if (!user) return Promise.resolve(null);
  var scope = res.headers.get("X-Outpost-Scope");
  var until = res.headers.get("X-Outpost-Offline-Until");
  var username = res.headers.get("X-Outpost-Username") || "";
  return store.getMeta("scope_u" + user).then(function (known) {
    var purge = known && known !== scope ? caches.delete(pagesCache(user)) : Promise.resolve();
    return purge.then(function () {
      return Promise.all([
        store.setMeta("scope_u" + user, scope),
        store.setMeta("offline_session", { user_id: user, username: username, until: until }),
        store.setMeta("current_user", user),
        store.setMeta("current_username", username),
        store.setMeta("signed_out", false)
      ]);
    });
  }).then(function () { return user; });
}

function keep(url, res, startedIn) {
  if (startedIn !== epoch) return Promise.resolve();
  if (!res.ok || res.headers.get("X-Outpost-Offline") !== "cache") return Promise.resolve();
  var copy = res.clone();
  return noteUser(res).then(function (user) {
    if (!user || startedIn !== epoch) return;
    return caches.open(pagesCache(user)).then(function (c) {
      if (startedIn === epoch) return c.put(url.pathname + url.search, copy);
    });
  });
}

function networkFirst(req, url) {
  var startedIn = epoch;
  return finishSignOut().then(function () { return fetchThrough(req); }).then(function (res) {
    keep(url, res, startedIn);
    return res;
  }).catch(function () {
    return store.getMeta("offline_session").then(function (session) {
      if (!session || !session.user_id) {
        return store.getMeta("signed_out").then(function (out) {
          return out
            ? offlinePage("signed-out", "You signed out on this device, so its pages are closed until you sign in again. Connect to the internet and sign in to keep working.")
            : offlinePage("never", NEVER_HERE + " After you sign in once, the pages you need stay available offline.");
        });
      }
      if (!session.until || Date.parse(session.until) < Date.now()) {
        var when = session.until ? new Date(session.until).toLocaleString() : "";
        return offlinePage("expired", "Offline access on this device ended" + (when ? " at " + when : "") + ", because it has not reached the server for too long. Connect to the internet and sign in again to keep working; entries already saved on this device are kept and will be sent.");
      }
      return caches.open(pagesCache(session.user_id)).then(function (c) { return c.match(url.pathname + url.search); }).then(function (hit) {
        return hit || offlinePage("uncached", "This page is not stored on this device, so it cannot be opened offline. Your forms and lists are stored after you sign in; this one will be too once you are back online.");
      });
    });
  });
}

/* The offline design's own words for a device that never signed in (issue 30 restored them). */
var NEVER_HERE = "Offline access not available. Please connect at least once.";

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }[c]; });
}

function page(title, body, state, user) {
  var html = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">" +
    "<title>" + escapeHtml(title) + " · Outpost</title><link rel=\"stylesheet\" href=\"" + CSS_URL + "\"><script src=\"" + STORE_URL + "\" defer></script><script src=\"" + OFFLINE_JS_URL + "\" defer></script></head>" +
    "<body data-offline-state=\"" + state + "\"" + (user ? " data-user-id=\"" + escapeHtml(user) + "\"" : "") + "><header class=\"site-header\"><div class=\"bar\"><a class=\"brand\" href=\"/\">Outpost</a><div class=\"whoami\"><span id=\"status-pill\" class=\"status-pill\" role=\"status\" aria-live=\"polite\" hidden></span><button id=\"sync-now\" class=\"linkish\" type=\"button\" hidden>Sync now</button></div></div></header>" +
    "<main id=\"main\">" + body + "</main></body></html>";
  return new Response(html, { status: 200, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

function offlinePage(state, message) {
  return page("Offline", "<section class=\"card error-page\"><h1>You are offline</h1><p class=\"offline-message\">" + escapeHtml(message) + "</p><p><a class=\"button secondary\" href=\"/\">Try again</a></p></section>", state);
}

function kindOf(url, fields) {
  return fields.get("op_kind") || (url.pathname.match(/actions\/([a-z_.]+)$/) || [])[1] || "";
}

/* A short description of an entry for lists and Sync Issues (the body stays sealed). */
function summaryOf(fields) {
  // A count: the item (its SKU, without the level it was counted against) and the number.
  if (fields.get("counted")) return (fields.get("item") || "").split("@")[0] + " counted " + fields.get("counted");
  var who = fields.get("donor") || fields.get("recipient") || fields.get("title") || fields.get("note") || "";
  var lines = fields.getAll("line_sku").concat(fields.getAll("line_item"), fields.getAll("line_serial")).filter(function (s) { return s; }).length;
  return (who ? who + " · " : "") + lines + (lines === 1 ? " line" : " lines");
}

/* Sends a form; if the network fails or a gateway reports an outage, keeps it on the device
 * (for the signed-in user who saved it) and says so. */
function postOrQueue(req, url) {
  var copy = req.clone();
  return fetchThrough(req).catch(function () {
    return within(SAVE_WITHIN, queue(req, copy, url)).then(function (answer) {
      return answer !== TIMED_OUT ? answer : notSavedPage(req, "This device took too long to store the entry, so it may or may not be saved. Look at the entries waiting on this device before entering it again.", url);
    }, function (e) {
      return notSavedPage(req, "Not saved: this device could not store the entry" + (e && e.name ? " (" + e.name + ")" : "") + ", so nothing was kept. Go back to the form — what you typed is still there — and try again once connected, or note it on paper.", url);
    });
  });
}

/* Keeps a form the server could not be reached for, and answers with the Saved page. */
function queue(req, copy, url) {
  return copy.text().then(function (body) {
    var fields = new URLSearchParams(body);
    var kind = kindOf(url, fields);
    return Promise.all([store.getMeta("current_user"), store.getMeta("current_username")]).then(function (who) {
      var user = who[0];
      if (!user) return offlinePage("never", NEVER_HERE + " After you sign in once, your forms work offline.");
      var needsOnline = FINALISABLE.indexOf(kind) < 0;
      var formPage = req.referrer ? new URL(req.referrer) : null;
      var op = {
        op_id: fields.get("op_id"), kind: kind, user_id: user, username: who[1] || "",
        hub_id: Number((url.pathname.match(/^\/hubs\/(\d+)/) || [])[1]),
        captured_at: new Date().toISOString(), base_version: fields.get("base_version"), needs_online: needsOnline,
        summary: summaryOf(fields)
      };
      var secret = { url: url.pathname, body: body, page: formPage && formPage.origin === self.location.origin ? formPage.pathname + formPage.search : null };
      return store.addPending(op, secret).then(function () {
        notifyClients({ type: "queued" });
        if (self.registration.sync) self.registration.sync.register("outpost-replay").catch(function () {});
        var text = needsOnline
          ? "Saved on this device — needs online confirmation. It will be sent when the connection is restored and then waits in the review queue until it is confirmed online."
          : "Saved on this device — will sync when connection is restored.";
        // An htmx request swaps its answer into the page: a message, not a whole page.
        if (req.headers.has("HX-Request")) return cartMessage("flash-info queued-message", "status", text);
        return store.countPending(user).then(function (waiting) {
          return savedPage(text, waiting, url, secret.page, user);
        });
      });
    });
  });
}

/* A save into the device's storage that neither ends nor fails in this time is reported as
 * unconfirmed: WebKit once held such a save for 70 s and then showed its own error page. A
 * busy device can take well over 15 s for a save that does complete (seen on a loaded CI
 * machine), so the limit stays well under WebKit's and well above that. */
var SAVE_WITHIN = 45000;
var TIMED_OUT = {};
function within(ms, promise) {
  return Promise.race([promise, new Promise(function (resolve) { setTimeout(function () { resolve(TIMED_OUT); }, ms); })]);
}

/* The answer to an htmx request (the sales cart's): a message swapped into the page. */
function cartMessage(classes, role, text) {
  return new Response("<p class=\"flash " + classes + "\" role=\"" + role + "\">" + escapeHtml(text) + "</p>", { status: 200, headers: { "Content-Type": "text/html; charset=utf-8", "HX-Retarget": "#cart-message", "HX-Reswap": "innerHTML" } });
}

/* What a person sees when an offline save did not (or may not have) reached the device's
 * storage: said plainly, never the browser's error page. */
function notSavedPage(req, text, url) {
  if (req.headers.has("HX-Request")) return cartMessage("flash-error", "alert", text);
  var list = url.pathname.replace(/\/(actions\/.*|sales\/[0-9a-f-]{36}\/[a-z]+)$/, "");
  return page("Not saved", "<section class=\"card error-page\"><h1>Not saved on this device</h1><p class=\"not-saved-message\" role=\"alert\">" + escapeHtml(text) + "</p>" +
    "<p class=\"actions\"><a class=\"button secondary\" href=\"" + escapeHtml(list) + "\">Entries waiting</a> <a class=\"button secondary\" href=\"/\">Dashboard</a></p></section>", "queued");
}

/* What a person sees after saving offline: that it is kept, how many entries wait, and the
 * next empty form (someone entering ten intakes wants the next one, not the list). */
function savedPage(text, waiting, url, formPage, user) {
  var list = url.pathname.replace(/\/(actions\/.*|sales\/[0-9a-f-]{36}\/[a-z]+)$/, "");
  var count = waiting === 1 ? "1 entry waits on this device for the connection." : waiting + " entries wait on this device for the connection.";
  // A form that posts to its own address is a scanner's (the warehouse's): the next scan.
  var scanner = formPage && formPage.split("?")[0] === url.pathname;
  var again = formPage && (scanner || /\/new$/.test(formPage.split("?")[0]))
    ? "<a class=\"button\" href=\"" + escapeHtml(formPage) + "\">" + (scanner ? "Scan the next one" : "Enter another") + "</a>" : "";
  return page("Saved on this device", "<section class=\"card\"><h1>Saved on this device</h1><p class=\"queued-message\" role=\"status\">" + escapeHtml(text) + "</p>" +
    "<p class=\"waiting-count\">" + escapeHtml(count) + "</p><p class=\"actions\">" + again +
    "<a class=\"button secondary\" href=\"" + escapeHtml(list) + "\">Back to the list</a> <a class=\"button secondary\" href=\"/\">Dashboard</a></p></section>", "queued", user);
}

function notifyClients(message) {
  return self.clients.matchAll({ includeUncontrolled: true }).then(function (all) { all.forEach(function (c) { c.postMessage(message); }); });
}

var replaying = null;
var replayingSince = 0;

/* The last steps of this worker's replays, with seconds since it started: asked for with the
 * stats, so a replay that stalls can be told from one never started (kept small, in memory). */
var STARTED = Date.now();
var trace = [];
function step(what) {
  trace.push(((Date.now() - STARTED) / 1000).toFixed(1) + "s " + what);
  if (trace.length > 40) trace.shift();
}
/* Entries per request: the sync API takes up to 200. The first request of a round carries one
 * entry, so a server that does not answer costs one unsealed entry, and the first entry
 * arrives as soon as the server answers. */
var REPLAY_BATCH = 200;

/* One replay at a time for the whole device: the service worker is shared by every tab. A
 * replay still running half a minute after its request would have been given up (SEND_WITHIN)
 * is stuck in the browser (seen in Firefox under load after a restart: the queue stayed
 * "Syncing…" until the page was closed); the next ask starts a new one. Entries the stuck one
 * may still send are answered as duplicates, and only its own end clears its place. */
function replay() {
  var stuck = replaying && Date.now() - replayingSince > SEND_WITHIN + 30000;
  step(replaying ? (stuck ? "asked; the running replay is stuck: a new one" : "asked; one is running") : "asked");
  if (stuck) replaying = null;
  if (!replaying) {
    replayingSince = Date.now();
    var mine = exclusively(doReplay, stuck).then(function (r) {
      if (replaying === mine) replaying = null;
      return r;
    }, function (e) {
      if (replaying === mine) replaying = null;
      notifyClients({ type: "error" });
      throw e;
    });
    replaying = mine;
  }
  return replaying;
}

/* One sender per device, whichever context asks: after a deploy the new worker takes over
 * (skipWaiting) while the old one may still be sending, and both would send the same entries
 * (the server answers the second as duplicates, but on a field connection every resend costs).
 * A Web Lock held for the whole replay makes a second replay wait for the first to end and then
 * find the queue empty. A replay given up as stuck takes the lock from its holder. */
function exclusively(work, steal) {
  if (!self.navigator || !self.navigator.locks) return work();
  return self.navigator.locks.request("outpost-replay", steal ? { steal: true } : {}, function () { step("lock held"); return work(); });
}

/* Sends the signed-in user's entries, oldest first, in batches through the sync API, which runs
 * them in the order they were captured; other users' entries on a shared device wait for their
 * own author's session. Each batch reads and unseals only its own entries. While a batch is on
 * its way the next one is read and unsealed (never while the first, single entry tests the
 * server), and a batch's answers are filed while the next batch is on its way, so the device's
 * work overlaps the server's instead of adding to it. Filing late is safe: an entry sent again
 * after a crash is answered as a duplicate with its first outcome, and filed then. */
function doReplay() {
  return Promise.all([store.getMeta("current_user"), store.getMeta("device_id")]).then(function (v) {
    var user = v[0], device = v[1];
    step("user " + (user ? "known" : "unknown"));
    if (!user) return "signin";
    var sent = 0;
    function load(afterSeq, size) {
      return store.nextPendingBatch(user, afterSeq, size).then(function (ops) {
        return Promise.all(ops.map(store.withSecret));
      });
    }
    function next(open, readAhead) {
      step("read " + open.length);
      if (!open.length) return "synced";
      var last = open[open.length - 1].seq;
      var ahead = readAhead ? load(last, REPLAY_BATCH) : null;
      if (ahead) ahead.catch(function () {});
      return sendBatch(open, device).then(function (answer) {
        if (answer.state !== "sent") return answer.state;
        sent += open.length;
        var rest = (ahead || load(last, REPLAY_BATCH)).then(function (batch) { return next(batch, true); });
        // Both end before the replay does (a failure of either ends it), so a new replay never
        // overlaps this one.
        return Promise.allSettled([answer.filed, rest]).then(function (both) {
          var failed = both.filter(function (r) { return r.status === "rejected"; })[0];
          if (failed) throw failed.reason;
          return both[1].value;
        });
      });
    }
    return load(null, 1).then(function (first) { return next(first, false); }).then(function (state) {
      if (state === "synced" && sent > 0) warm(user);
      return state;
    });
  }).then(function (state) {
    step("ended: " + state);
    notifyClients({ type: state });
    return state;
  }, function (e) {
    step("failed: " + String((e && e.message) || e));
    throw e;
  });
}

/* Each entry goes as the form it saved, with the time it was captured and this device's id;
 * the server reads it as that form's handler would. */
function asQueuedForm(op, device) {
  var body = new URLSearchParams(op.secret.body);
  body.set("captured_at", op.captured_at);
  if (device) body.set("device_id", device);
  return { form: { action: op.secret.url, body: body.toString() } };
}

/* Sends a batch: `{state}`, and when it was answered ("sent"), `filed`, the filing of the
 * answers on the device. A batch not answered within SEND_WITHIN counts as an outage: a
 * request a proxy or a restarting server holds must not hold the queue (and every later
 * replay, which waits for this one) for ever; a batch the server did apply is answered as
 * duplicates when it is sent again. */
var SEND_WITHIN = 60000;
function sendBatch(ops, device) {
  var abort = new AbortController();
  var timer = setTimeout(function () { step("no answer within " + SEND_WITHIN / 1000 + " s"); abort.abort(); }, SEND_WITHIN);
  step("sending " + ops.length);
  return fetch("/api/v1/sync", {
    method: "POST", credentials: "same-origin", redirect: "manual", signal: abort.signal,
    body: JSON.stringify({ operations: ops.map(function (op) { return asQueuedForm(op, device); }) }),
    headers: { "Content-Type": "application/json", "X-Outpost-Replay": "1", "Accept": "application/json" }
  }).then(function (res) {
    step("answered " + res.status);
    // A lapsed session or refused token never drops an operation: the queue waits.
    if (res.status === 401 || res.status === 403 || res.type === "opaqueredirect") return { state: "signin" };
    if (OUTAGE.indexOf(res.status) >= 0) return { state: "offline" };
    // Anything but an answer per entry keeps them all; a resend is refused as a duplicate.
    if (!res.ok) return { state: "error" };
    return res.json().then(function (answer) {
      var results = answer.results || [];
      if (results.length !== ops.length) return { state: "error" };
      return { state: "sent", filed: settle(ops, results) };
    }, function () { return { state: "error" }; });
  }, function (e) { step("not sent: " + String((e && e.message) || e)); return { state: "offline" }; }).then(function (answer) { clearTimeout(timer); return answer; });
}

/* Files each entry's answer: applied now or before (or waiting on the server for a manager,
 * shown there) leaves the queue; anything else becomes a Sync Issue on the device. */
function settle(ops, results) {
  return ops.reduce(function (chain, op, i) {
    var result = results[i].result || {};
    var first = result.status === "duplicate" ? result.original_status : result.status;
    if (first === "applied") return chain;
    return chain.then(function () {
      return store.addIssue({
        op_id: op.op_id, kind: op.kind, user_id: op.user_id, hub_id: op.hub_id, captured_at: op.captured_at,
        status: first || result.status, reason: result.reason || "", errors: result.errors || [], summary: op.summary || ""
      }, op.secret);
    });
  }, Promise.resolve()).then(function () {
    return store.removePendingMany(ops.map(function (op) { return op.seq; }));
  }).then(function () { notifyClients({ type: "progress" }); });
}

/* A page fetch that gives up after `ms`, so one hung answer cannot stall the working set. */
function fetchWithin(url, ms) {
  var abort = new AbortController();
  var timer = setTimeout(function () { abort.abort(); }, ms);
  return fetch(url, { credentials: "same-origin", signal: abort.signal }).then(function (r) { clearTimeout(timer); return r; }, function (e) { clearTimeout(timer); throw e; });
}

/* The user's working set, kept ready offline: the forms of their hubs and the lists they use.
 * The server names the pages (scope-filtered); each is fetched and stored like a visited page. */
var warming = null;
function warm(user) {
  if (warming) return warming;
  var startedIn = epoch;
  warming = fetch("/offline/working-set", { credentials: "same-origin", cache: "no-store" }).then(function (res) {
    if (!res.ok) return;
    return res.json().then(function (set) {
      if (String(set.user_id) !== String(user)) return;
      return set.pages.reduce(function (chain, path) {
        return chain.then(function () {
          var url = new URL(path, self.location.origin);
          if (startedIn !== epoch) return;
          return fetchWithin(url, 20000).then(function (r) { return keep(url, r, startedIn); }, function () {});
        });
      }, Promise.resolve()).then(function () {
        if (startedIn === epoch) return store.setMeta("warmed_u" + user, Date.now());
      });
    });
  }).catch(function () {}).then(function () { warming = null; notifyClients({ type: "warmed" }); });
  return warming;
}

self.addEventListener("sync", function (event) {
  if (event.tag === "outpost-replay") event.waitUntil(replay().catch(function () {}));
});

self.addEventListener("message", function (event) {
  var type = event.data && event.data.type;
  if (type === "replay") event.waitUntil(replay().catch(function () {}));
  if (type === "stats" && event.source) event.source.postMessage({ type: "stats", stats: { unsealed: store.stats.unsealed, replays: trace.slice() } });
  // A page's reads and writes of the device's storage are done here (see store.js).
  if (type === "store" && event.ports && event.ports[0]) event.waitUntil(store.answer(event.data, event.ports[0]));
  // The page names its signed-in user: right after sign-in no navigation has yet told the
  // service worker who it is (the working set's own pages then do).
  if (type === "warm") event.waitUntil(store.getMeta("current_user").then(function (u) { var user = event.data.user || u; return user && warm(user); }));
});
