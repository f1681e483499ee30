/* Outpost device storage: IndexedDB only (never localStorage), shared by the pages and the
 * service worker. Queued form bodies are sealed with AES-GCM under a key that WebCrypto keeps
 * non-extractable: the key object is stored in IndexedDB, but its bytes cannot be read out, so
 * the data is not sitting in clear beside its key. */
(function (global) {
  "use strict";
  var DB_NAME = "outpost";
  var DB_VERSION = 1;
  var dbPromise = null;

  function open() {
    if (dbPromise) return dbPromise;
    dbPromise = new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = function () {
        var db = req.result;
        db.createObjectStore("pending_operations", { keyPath: "seq", autoIncrement: true });
        db.createObjectStore("sync_issues", { keyPath: "op_id" });
        db.createObjectStore("meta");
      };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
    return dbPromise;
  }

  function run(store, mode, work) {
    return open().then(function (db) {
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

  function key() {
    return getMeta("sealing_key").then(function (k) {
      if (k) return k;
      return crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]).then(function (fresh) {
        return setMeta("sealing_key", fresh).then(function () { return fresh; });
      });
    });
  }

  function seal(value) {
    var iv = crypto.getRandomValues(new Uint8Array(12));
    var data = new TextEncoder().encode(JSON.stringify(value));
    return key().then(function (k) { return crypto.subtle.encrypt({ name: "AES-GCM", iv: iv }, k, data); })
      .then(function (ct) { return { iv: iv, ct: ct }; });
  }

  function unseal(sealed) {
    return key().then(function (k) { return crypto.subtle.decrypt({ name: "AES-GCM", iv: sealed.iv }, k, sealed.ct); })
      .then(function (plain) { return JSON.parse(new TextDecoder().decode(plain)); });
  }

  /* A queued operation: metadata in clear (for counts and ordering), the form body sealed. */
  function addPending(op, secret) {
    return seal(secret).then(function (sealed) {
      op.sealed = sealed;
      return run("pending_operations", "readwrite", function (s) { return s.add(op); });
    }).then(function (seq) {
      return getMeta("highest_seq").then(function (h) { return setMeta("highest_seq", Math.max(h || 0, seq)); }).then(function () { return seq; });
    });
  }

  function listPending() {
    return run("pending_operations", "readonly", function (s) { return s.getAll(); }).then(function (ops) {
      ops.sort(function (a, b) { return a.seq - b.seq; });
      return Promise.all(ops.map(function (op) {
        return unseal(op.sealed).then(function (secret) { op.secret = secret; return op; });
      }));
    });
  }

  function countPending() { return run("pending_operations", "readonly", function (s) { return s.count(); }); }
  function removePending(seq) { return run("pending_operations", "readwrite", function (s) { return s.delete(seq); }); }
  function addIssue(issue) { return run("sync_issues", "readwrite", function (s) { return s.put(issue); }); }
  function listIssues() { return run("sync_issues", "readonly", function (s) { return s.getAll(); }); }
  function removeIssue(opId) { return run("sync_issues", "readwrite", function (s) { return s.delete(opId); }); }

  global.OutpostStore = {
    getMeta: getMeta, setMeta: setMeta,
    addPending: addPending, listPending: listPending, countPending: countPending, removePending: removePending,
    addIssue: addIssue, listIssues: listIssues, removeIssue: removeIssue
  };
})(self);
