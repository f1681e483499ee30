/* Outpost device storage: IndexedDB only (never localStorage), shared by the pages and the
 * service worker. Queued form bodies (and the content of entries the server refused) are sealed
 * with AES-GCM under a key that WebCrypto keeps non-extractable: the key object is stored in
 * IndexedDB, but its bytes cannot be read out, so the data is not sitting in clear beside its key.
 *
 * Every queued entry belongs to the user who saved it (user_id): it is counted, listed and sent
 * only for that user. Reads touch one entry or one user's index range, never the whole queue,
 * so saving and sending cost the same however long the queue is. */
(function (global) {
  "use strict";
  var DB_NAME = "outpost";
  var DB_VERSION = 2;
  var dbPromise = null;

  function open() {
    if (dbPromise) return dbPromise;
    dbPromise = new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = function (event) {
        var db = req.result;
        var pending = event.oldVersion < 1
          ? db.createObjectStore("pending_operations", { keyPath: "seq", autoIncrement: true })
          : req.transaction.objectStore("pending_operations");
        if (event.oldVersion < 1) {
          db.createObjectStore("sync_issues", { keyPath: "op_id" });
          db.createObjectStore("meta");
        }
        if (!pending.indexNames.contains("user")) pending.createIndex("user", ["user_id", "seq"]);
      };
      req.onsuccess = function () {
        var db = req.result;
        // Storage cleared or upgraded elsewhere: drop this handle and open afresh next time.
        db.onversionchange = function () { db.close(); dbPromise = null; keyPromise = null; };
        db.onclose = function () { dbPromise = null; keyPromise = null; };
        resolve(db);
      };
      req.onerror = function () { dbPromise = null; reject(req.error); };
    });
    return dbPromise;
  }

  /* A page's transactions wait while it is hidden, being left or frozen (offline.js calls
   * pause and resume): WebKit freezes a transaction with the page it keeps for the Back button,
   * and every later write to the same store, the service worker's saves and replays among them,
   * then waits behind it for ever (issue 32). */
  var gate = Promise.resolve();
  var reopen = null;
  function pause() { if (!reopen) gate = new Promise(function (resolve) { reopen = resolve; }); }
  function resume() { if (reopen) { reopen(); reopen = null; } }
  function whenOpen() { return gate.then(open); }

  function run(store, mode, work) {
    return whenOpen().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(store, mode);
        var result;
        var req = work(tx.objectStore(store));
        if (req) req.onsuccess = function () { result = req.result; };
        tx.oncomplete = function () { resolve(result); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  function getMeta(key) { return run("meta", "readonly", function (s) { return s.get(key); }); }
  function setMeta(key, value) { return run("meta", "readwrite", function (s) { return s.put(value, key); }); }

  /* The key is read once per context (the database going away forgets it, see open). */
  var keyPromise = null;
  function key() {
    if (keyPromise) return keyPromise;
    keyPromise = getMeta("sealing_key").then(function (k) {
      if (k) return k;
      return crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]).then(function (fresh) {
        return setMeta("sealing_key", fresh).then(function () { return fresh; });
      });
    }, function (e) { keyPromise = null; throw e; });
    return keyPromise;
  }

  function seal(value) {
    var iv = crypto.getRandomValues(new Uint8Array(12));
    var data = new TextEncoder().encode(JSON.stringify(value));
    return key().then(function (k) { return crypto.subtle.encrypt({ name: "AES-GCM", iv: iv }, k, data); })
      .then(function (ct) { return { iv: iv, ct: ct }; });
  }

  /* How many entries this context has unsealed: replay and saving must touch one entry at a
   * time, whatever the queue holds (the tests read it through the service worker). */
  var stats = { unsealed: 0 };

  function unseal(sealed) {
    stats.unsealed++;
    return key().then(function (k) { return crypto.subtle.decrypt({ name: "AES-GCM", iv: sealed.iv }, k, sealed.ct); })
      .then(function (plain) { return JSON.parse(new TextDecoder().decode(plain)); });
  }

  function withSecret(op) {
    if (!op) return Promise.resolve(null);
    return unseal(op.sealed).then(function (secret) { op.secret = secret; return op; });
  }

  function userRange(userId, afterSeq) {
    var id = String(userId);
    return IDBKeyRange.bound([id, afterSeq == null ? -Infinity : afterSeq], [id, Infinity], afterSeq != null, false);
  }

  /* A queued operation: metadata in clear (for counts, lists and ordering), the form body
   * sealed. The user's count of entries created on this device goes up with it (the server
   * compares it with what arrived, to notice entries that vanished). */
  function addPending(op, secret) {
    op.user_id = String(op.user_id);
    return seal(secret).then(function (sealed) {
      op.sealed = sealed;
      return run("pending_operations", "readwrite", function (s) { return s.add(op); });
    }).then(function (seq) {
      var counter = "created_u" + op.user_id;
      return getMeta(counter).then(function (n) { return setMeta(counter, (n || 0) + 1); }).then(function () { return seq; });
    });
  }

  /* The user's oldest queued entry after `afterSeq` (or the first), unsealed; null when none. */
  function nextPending(userId, afterSeq) {
    return nextPendingBatch(userId, afterSeq, 1).then(function (ops) { return withSecret(ops[0] || null); });
  }

  /* The user's next `count` queued entries after `afterSeq`, oldest first, still sealed (open
   * each with `withSecret` just before it is sent): one read for several sends, and never more
   * than `count` whatever the queue holds. */
  function nextPendingBatch(userId, afterSeq, count) {
    return run("pending_operations", "readonly", function (s) {
      return s.index("user").getAll(userRange(userId, afterSeq), count);
    }).then(function (ops) { return ops || []; });
  }

  /* The user's newest queued entries (at most `limit`), without their sealed bodies. */
  function listPendingMeta(userId, limit) {
    return whenOpen().then(function (db) {
      return new Promise(function (resolve, reject) {
        var out = [];
        var tx = db.transaction("pending_operations", "readonly");
        var req = tx.objectStore("pending_operations").index("user").openCursor(userRange(userId), "prev");
        req.onsuccess = function () {
          var c = req.result;
          if (!c || (limit && out.length >= limit)) return;
          var op = c.value;
          delete op.sealed;
          out.push(op);
          c.continue();
        };
        tx.oncomplete = function () { resolve(out.reverse()); };
        tx.onerror = function () { reject(tx.error); };
      });
    });
  }

  /* Every queued entry, unsealed (tests and tools; replay never reads the whole queue). */
  function listPending() {
    return run("pending_operations", "readonly", function (s) { return s.getAll(); }).then(function (ops) {
      ops.sort(function (a, b) { return a.seq - b.seq; });
      return Promise.all(ops.map(withSecret));
    });
  }

  function getPending(seq) { return run("pending_operations", "readonly", function (s) { return s.get(seq); }).then(withSecret); }

  /* How many entries wait: for one user, or (no argument) for everyone on the device. */
  function countPending(userId) {
    return run("pending_operations", "readonly", function (s) {
      return userId == null ? s.count() : s.index("user").count(userRange(userId));
    });
  }

  /* Who has entries waiting: [{user_id, username, count}], for the sign-in page. */
  function pendingOwners() {
    var owners = {};
    // WebKit fails a "nextunique" cursor over an empty store (and rejects with null): an empty
    // queue has no owners to look for.
    return countPending().then(function (n) {
      if (n === 0) return [];
      return whenOpen().then(function (db) {
        return new Promise(function (resolve, reject) {
          var tx = db.transaction("pending_operations", "readonly");
          var req = tx.objectStore("pending_operations").index("user").openKeyCursor(null, "nextunique");
          req.onsuccess = function () {
            var c = req.result;
            if (!c) return;
            owners[c.key[0]] = true;
            c.continue([c.key[0], Infinity]);
          };
          tx.oncomplete = function () { resolve(Object.keys(owners)); };
          tx.onerror = function () { reject(tx.error); };
        });
      });
    }).then(function (ids) {
      return Promise.all(ids.map(function (id) {
        return Promise.all([countPending(id), nextPending(id)]).then(function (v) {
          return { user_id: id, count: v[0], username: (v[1] && v[1].username) || "" };
        });
      }));
    });
  }

  /* Sent entries, in one transaction. */
  function removePendingMany(seqs) {
    return run("pending_operations", "readwrite", function (s) { seqs.forEach(function (seq) { s.delete(seq); }); });
  }

  /* An entry the server did not apply: kept, content sealed, until its author resends it after
   * editing or discards it. */
  function addIssue(issue, secret) {
    issue.user_id = String(issue.user_id);
    var sealing = secret ? seal(secret) : Promise.resolve(null);
    return sealing.then(function (sealed) {
      issue.sealed = sealed;
      return run("sync_issues", "readwrite", function (s) { return s.put(issue); });
    });
  }

  function listIssues(userId) {
    return run("sync_issues", "readonly", function (s) { return s.getAll(); }).then(function (all) {
      var mine = all.filter(function (i) { return userId == null || String(i.user_id) === String(userId); });
      mine.sort(function (a, b) { return a.captured_at < b.captured_at ? -1 : 1; });
      return Promise.all(mine.map(function (i) { return i.sealed ? withSecret(i) : i; }));
    });
  }

  function removeIssue(opId) { return run("sync_issues", "readwrite", function (s) { return s.delete(opId); }); }

  /* What a page may ask of the device's storage (through the service worker, see below). */
  var SHARED = {
    getMeta: getMeta, setMeta: setMeta,
    nextPending: nextPending, nextPendingBatch: nextPendingBatch, listPending: listPending, listPendingMeta: listPendingMeta,
    getPending: getPending, countPending: countPending, pendingOwners: pendingOwners, removePendingMany: removePendingMany,
    addPending: addPending, addIssue: addIssue, listIssues: listIssues, removeIssue: removeIssue
  };

  /* A page never opens a transaction of its own while the service worker is running: it asks
   * the worker, which does the reading and writing. A page can be frozen at any moment (WebKit
   * keeps it for the Back button, a phone puts a background tab to sleep), and a transaction
   * it had open then holds the queue for ever: every save and replay waits behind it (issue 32,
   * seen again on a loaded CI machine after the pause gate above: a read started a moment before
   * the page was left). The worker is never frozen with a page. Before the worker is active (a
   * device's first visit) a page's calls wait for it: there is nothing queued before then. */
  var ASK_WITHIN = 30000;
  /* A worker the browser ended while it worked on a call (WebKit does so to a starved one:
   * "Service Worker context closed") never answers; the browser starts it again for the next
   * message. A read is asked once more after a shorter wait; a write is not (the first may yet
   * have been done), and waits the whole time. */
  var ASK_AGAIN_AFTER = 8000;
  var READS = ["getMeta", "nextPending", "nextPendingBatch", "listPending", "listPendingMeta",
    "getPending", "countPending", "pendingOwners", "listIssues"];
  /* Since when the worker has left every call unanswered (0: it answers). WebKitGTK on a
   * starved machine was seen ending the worker and never starting it again for messages: the
   * page then says so and offers a reload, which brings it back (offline.js). */
  var silentSince = 0;
  function silentFor() { return silentSince ? Date.now() - silentSince : 0; }
  function ask(name, args, within) {
    return navigator.serviceWorker.ready.then(function (reg) {
      return new Promise(function (resolve, reject) {
        var channel = new MessageChannel();
        var timer = setTimeout(function () {
          var e = new Error("The service worker did not answer " + name);
          e.unanswered = true;
          silentSince = silentSince || Date.now() - within;
          reject(e);
        }, within);
        channel.port1.onmessage = function (event) {
          clearTimeout(timer);
          silentSince = 0;
          if (event.data.ok) resolve(event.data.value);
          else { var e = new Error(event.data.message); e.name = event.data.name || "Error"; reject(e); }
        };
        reg.active.postMessage({ type: "store", method: name, args: args }, [channel.port2]);
      });
    });
  }
  function viaWorker(name) {
    return function () {
      var args = Array.prototype.slice.call(arguments);
      return gate.then(function () {
        if (READS.indexOf(name) < 0) return ask(name, args, ASK_WITHIN);
        return ask(name, args, ASK_AGAIN_AFTER).catch(function (e) {
          if (!e.unanswered) throw e;
          return ask(name, args, ASK_WITHIN - ASK_AGAIN_AFTER);
        });
      });
    };
  }

  /* The service worker's side: one asked-for call, answered on the port it came with. */
  function answer(data, port) {
    var fn = Object.prototype.hasOwnProperty.call(SHARED, data.method) ? SHARED[data.method] : null;
    return Promise.resolve().then(function () {
      if (!fn) throw new Error("No such storage call: " + data.method);
      return fn.apply(null, data.args || []);
    }).then(function (value) { port.postMessage({ ok: true, value: value }); }, function (e) {
      port.postMessage({ ok: false, name: e && e.name, message: String((e && e.message) || e) });
    });
  }

  var inWorker = typeof global.ServiceWorkerGlobalScope !== "undefined" && global instanceof global.ServiceWorkerGlobalScope;
  var api = { pause: pause, resume: resume, withSecret: withSecret, stats: stats, answer: answer, silentFor: silentFor };
  Object.keys(SHARED).forEach(function (name) {
    api[name] = inWorker || !global.navigator || !("serviceWorker" in global.navigator) ? SHARED[name] : viaWorker(name);
  });
  global.OutpostStore = api;
})(self);
