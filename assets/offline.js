/* Outpost offline client: registers the service worker, shows the connection status pill,
 * pings the server so replay starts within about half a second of it coming back (the browser's
 * `online` event does not fire when only the server was down, and Background Sync may fire
 * late or never), reports the device's queue on every contact, lists the entries waiting on
 * this device and this device's Sync Issues (to fix and resend, or discard). Every page works
 * without this script. */
(function () {
  "use strict";
  if (!("serviceWorker" in navigator) || !window.OutpostStore) return;
  var store = window.OutpostStore;
  var pill = document.getElementById("status-pill");
  var syncNow = document.getElementById("sync-now");
  var csrf = document.querySelector("meta[name=csrf-token]");
  var userId = document.body.dataset.userId || null;
  var reachable = navigator.onLine;
  /* Whether the last contact got any answer (a 5xx from a proxy or a busy server counts). */
  var answered = true;
  var syncing = false;
  /* When the service worker was last asked to replay. An ask it never answers (a message lost,
   * a replay stuck in the browser) must not stop this page asking again: asking while a replay
   * runs only joins it. */
  var askedAt = 0;
  var ASK_AGAIN = 30000;
  /* A worker silent this long is not coming back by itself (store.js). */
  var SILENT_AFTER = 20000;
  var needsSignIn = false;
  var timer = null;
  var failures = 0;
  var retryAt = 0;
  var WARM_EVERY = 15 * 60 * 1000;
  var sentHere = false;
  /* Set while the page is hidden, being left or frozen. */
  var paused = false;

  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});

  /* Persistent storage is asked for once, at the first entry saved on this device, when the
   * reason is plain: not on every page (Firefox prompts from the sign-in page on). */
  function persistOnce() {
    if (!navigator.storage || !navigator.storage.persist) return;
    store.getMeta("persist_asked").then(function (asked) {
      if (asked) return;
      return store.setMeta("persist_asked", Date.now()).then(function () { return navigator.storage.persist(); })
        .then(function (granted) { kept = granted; refresh(); });
    }).catch(function () {});
  }

  /* Whether the browser keeps this site's storage for good (null: not known yet). Without it,
   * a browser may delete entries waiting here: when space runs short, and Safari after 7 days
   * without a visit. */
  var kept = null;
  if (navigator.storage && navigator.storage.persisted) {
    navigator.storage.persisted().then(function (p) { kept = p; refresh(); }, function () {});
  } else {
    kept = false; // a browser that cannot say (WebKitGTK) promises nothing
  }
  var AT_RISK = "This browser has not agreed to keep Outpost's data for good, so it may delete entries waiting here: when the device runs short of space, and Safari after 7 days without a visit. Connect and open Outpost before then.";

  /* Says so on the Saved page and beside the entries waiting, while any wait. */
  function noteRisk(atRisk) {
    var near = document.querySelector(".waiting-count") || document.querySelector("[data-waiting-kinds] ul");
    var note = document.getElementById("storage-risk");
    if (!atRisk || !near) { if (note) note.hidden = true; return; }
    if (!note) {
      note = document.createElement("p");
      note.id = "storage-risk";
      note.className = "notice";
      note.textContent = AT_RISK;
      near.parentNode.insertBefore(note, near.nextSibling);
    }
    note.hidden = false;
  }

  /* The device id lives in IndexedDB and, as a fallback, in a cookie: a device whose storage
   * was wiped keeps its id, so the server can tell that its queued entries vanished. */
  function deviceId() {
    return store.getMeta("device_id").then(function (stored) {
      var id = stored;
      var fromCookie = cookie("outpost_device");
      id = id || fromCookie || "dev-" + (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2));
      if (fromCookie !== id) setCookie("outpost_device", id);
      return stored === id ? id : store.setMeta("device_id", id).then(function () { return id; });
    });
  }

  function cookie(name) { return (document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]+)")) || [])[1]; }
  function setCookie(name, value) {
    document.cookie = name + "=" + value + "; path=/; max-age=31536000; SameSite=Strict" + (location.protocol === "https:" ? "; Secure" : "");
  }

  /* How many entries this user created on this device, kept in a cookie as well: if the
   * device's storage is wiped, the count survives, and the server sees that entries it never
   * received are gone. */
  function keepCount() {
    if (!userId) return Promise.resolve();
    var name = "outpost_q" + userId;
    return store.getMeta("created_u" + userId).then(function (n) {
      var kept = Number(cookie(name) || 0);
      if (!n && kept > 0) return store.setMeta("created_u" + userId, kept);
      if ((n || 0) > kept) setCookie(name, n);
    });
  }

  function pendingCount() { return userId ? store.countPending(userId) : store.countPending(); }

  /* What the pill last showed: the sign-out asks afresh but does not wait long for it. */
  var lastShown = null;
  function pendingSoon() {
    var asked = pendingCount().catch(function () { return lastShown || 0; });
    if (lastShown === null) return asked;
    return Promise.race([asked, new Promise(function (resolve) { setTimeout(function () { resolve(lastShown); }, 1500); })]);
  }

  function render(pending) {
    lastShown = pending;
    if (!pill) return;
    var state, text;
    if (!reachable) {
      state = "offline";
      text = pending > 0
        ? "Offline – " + pending + (pending === 1 ? " entry" : " entries") + " saved on this device"
        : "Offline – Working in offline mode";
    }
    else if (needsSignIn || (!userId && pending > 0)) { state = "syncing"; text = "Online – Sign in to sync (" + pending + ")"; }
    // Nothing of this user's left on the device means every entry was answered, whether or
    // not the service worker's last word reached this page (Firefox drops some).
    else if (pending > 0) { state = "syncing"; text = "Online – Syncing… (" + pending + ")"; }
    else { state = "synced"; text = "Online – Synced"; }
    // The device's storage (the service worker) stopped answering: only a reload helps.
    var silent = store.silentFor && store.silentFor() > SILENT_AFTER;
    if (silent) { state = "stalled"; text = "Storage not answering – reload the page"; }
    var atRisk = kept === false && pending > 0;
    if (atRisk) text += " (at risk)";
    pill.hidden = false;
    pill.dataset.state = state;
    pill.textContent = text;
    pill.title = atRisk ? AT_RISK : "";
    pill.setAttribute("aria-label", "Connection status: " + text + (atRisk ? ". " + AT_RISK : ""));
    noteRisk(atRisk);
    // Sync Issues lists what the server refused; what the device still holds unsent is said
    // there too, so "nothing here" does not read as "everything arrived".
    var unsent = document.getElementById("issues-unsent");
    if (unsent) {
      unsent.hidden = pending === 0;
      unsent.textContent = pending + (pending === 1 ? " entry is" : " entries are") + " saved on this device and not sent yet: " + (pending === 1 ? "it is" : "they are") + " listed on the pages " + (pending === 1 ? "it belongs" : "they belong") + " to, and appear here only if the server refuses them.";
    }
    // The sign-in page names whose entries wait; a first look that came up empty (the queue
    // not yet readable as the page opened, seen in WebKit) is taken again.
    if (!userId && pending > 0 && !document.getElementById("waiting-owners")) showOwners();
    if (syncNow) {
      syncNow.hidden = !silent && !(reachable && userId && pending > 0);
      syncNow.textContent = silent ? "Reload" : "Sync now";
    }
    document.querySelectorAll("[data-offline-note]").forEach(function (n) { n.hidden = reachable; });
    var last = document.body.dataset.renderedAt;
    var lastNote = document.getElementById("last-synced");
    if (lastNote) {
      lastNote.hidden = reachable || !last;
      if (last) lastNote.textContent = "Showing data last synced at " + new Date(last).toLocaleString() + ".";
    }
  }

  /* The pill's count; when the worker cannot say, the pill keeps what it showed. */
  function refresh() {
    return pendingCount().then(function (n) { render(n); return n; }, function () { return lastShown || 0; });
  }

  function askReplay() {
    if (!navigator.serviceWorker.controller || !userId || Date.now() < retryAt) return;
    syncing = true;
    askedAt = Date.now();
    refresh();
    navigator.serviceWorker.controller.postMessage({ type: "replay" });
  }

  /* After a failed replay (a 5xx), try again by itself, waiting longer each time (2 s … 1 min). */
  function backOff() {
    failures++;
    retryAt = Date.now() + Math.min(60000, 2000 * Math.pow(2, failures - 1));
  }

  /* A cheap contact with the server that also reports this user's queue on this device. */
  function ping() {
    return keepCount().then(function () {
      return Promise.all([deviceId(), pendingCount(), userId ? store.getMeta("created_u" + userId) : 0, userId ? store.getMeta("discarded_u" + userId) : 0]).then(function (v) {
      var signedIn = !!csrf && !!userId && !document.body.dataset.offlineState;
      // keepalive: leaving the page does not cut the contact off (WebKit reports a request
      // cut off that way as an access-control failure in the console, aborted or not).
      var req = signedIn
        ? fetch("/api/v1/devices/report", { method: "POST", credentials: "same-origin", cache: "no-store", keepalive: true, headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf.content }, body: JSON.stringify({ device_id: v[0], pending_count: v[1], highest_seq: v[2] || 0, discarded_count: v[3] || 0 }) })
        : fetch("/healthz", { cache: "no-store", keepalive: true });
      return req.then(function (res) {
        var wasDown = !reachable;
        reachable = res.status < 500;
        answered = true;
        if (v[1] === 0 || Date.now() - askedAt > ASK_AGAIN) syncing = false;
        if (reachable && v[1] > 0 && (wasDown || !syncing)) askReplay();
        return v[1];
      }, function () { reachable = false; answered = false; syncing = false; return v[1]; });
    });
    }).then(render).then(schedule, schedule);
  }

  function schedule() {
    clearTimeout(timer);
    if (paused) return;
    // A count the worker did not give keeps the loop going on the last one shown (a rejected
    // count once ended the pings for good, and with them every replay).
    pendingCount().catch(function () { if (lastShown !== null) render(lastShown); return lastShown || 1; }).then(function (pending) {
      // Entries waiting and no answer at all: look often (the request fails fast while the
      // server is down), so the replay starts within about half a second of it answering
      // again. A server or proxy that answers 5xx is asked every 2 s, not pressed harder.
      var quick = !reachable && !answered;
      var every = pending > 0 ? (document.hidden ? 30000 : (quick ? 500 : 2000)) : 30000;
      timer = setTimeout(ping, every);
    });
  }

  /* The user's working set is stored for offline use after sign-in and then now and again. */
  function warmIfDue() {
    if (!userId || !navigator.serviceWorker.controller || document.body.dataset.offlineState) return;
    store.getMeta("warmed_u" + userId).then(function (at) {
      if (!at || Date.now() - at > WARM_EVERY) navigator.serviceWorker.controller.postMessage({ type: "warm", user: userId });
    });
  }

  navigator.serviceWorker.addEventListener("message", function (event) {
    var type = event.data && event.data.type;
    if (type === "synced") {
      syncing = false; needsSignIn = false; reachable = true; failures = 0; retryAt = 0; showIssues(); showWaiting();
      // Sync Issues shows the server's list too: after entries went, show it as it is now.
      if (sentHere && document.getElementById("device-issues")) location.reload();
    }
    if (type === "progress") sentHere = true;
    if (type === "offline") { syncing = false; reachable = false; }
    if (type === "signin") { syncing = false; needsSignIn = true; }
    if (type === "error") { syncing = false; backOff(); schedule(); }
    if (type === "queued") { reachable = false; keepCount(); persistOnce(); schedule(); listsSoon(); }
    if (type === "progress") { listsSoon(); return; }
    refresh();
  });
  navigator.serviceWorker.ready.then(function () { setTimeout(warmIfDue, 500); });
  // The first page after sign-in is often not yet controlled: warm as soon as it is.
  navigator.serviceWorker.addEventListener("controllerchange", warmIfDue);

  window.addEventListener("online", function () { reachable = true; askReplay(); ping(); });
  window.addEventListener("offline", function () { reachable = false; refresh(); });
  /* No IndexedDB read is started while the page is being hidden or frozen: WebKit freezes an
   * open transaction with the page it keeps for the Back button, and every later write to the
   * queue (the service worker's offline saves and replays) then waits for ever (issue 32). */
  function pause() {
    paused = true;
    clearTimeout(timer);
    timer = null;
    store.pause();
  }
  function resume() { paused = false; store.resume(); schedule(); }
  document.addEventListener("visibilitychange", function () { if (document.hidden) pause(); else resume(); });
  window.addEventListener("pagehide", pause);
  document.addEventListener("freeze", pause);
  window.addEventListener("pageshow", function (e) { if (e.persisted) resume(); });
  if (syncNow) syncNow.addEventListener("click", function () {
    if (store.silentFor && store.silentFor() > SILENT_AFTER) { location.reload(); return; }
    retryAt = 0; askReplay(); ping();
  });

  /* A live page's event stream holds a connection: it is closed before the page is left, so it
   * never competes with the sign-out or the next page for the browser's few connections. */
  function closeLiveStreams() {
    if (!window.htmx) return;
    document.querySelectorAll("[sse-connect]").forEach(function (el) {
      el.removeAttribute("sse-connect");
      window.htmx.process(el);
      var data = el["htmx-internal-data"];
      if (data && data.sseEventSource) data.sseEventSource.close();
    });
  }
  window.addEventListener("pagehide", closeLiveStreams);

  /* Signing out keeps queued entries on the device, sealed, for this user's next sign-in. */
  document.querySelectorAll("form[action='/logout']").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      pendingSoon().then(function (n) {
        if (n === 0 || window.confirm(n + " entr" + (n === 1 ? "y has" : "ies have") + " not been sent yet. They stay on this device and are sent the next time you sign in here. Sign out anyway?")) {
          closeLiveStreams();
          form.submit();
        }
      });
    });
  });

  /* On the sign-in page: whose entries wait on this device. */
  var lookingForOwners = false;
  function showOwners() {
    if (userId || lookingForOwners) return;
    var form = document.querySelector("form[action='/login']");
    if (!form) return;
    lookingForOwners = true;
    store.pendingOwners().catch(function () { return []; }).then(function (owners) {
      lookingForOwners = false;
      if (!owners.length) return;
      var note = document.getElementById("waiting-owners") || document.createElement("p");
      note.id = "waiting-owners";
      note.className = "notice";
      note.setAttribute("role", "status");
      note.textContent = "Waiting on this device: " + owners.map(function (o) {
        return o.count + " entr" + (o.count === 1 ? "y" : "ies") + " saved by " + (o.username || "another user");
      }).join("; ") + ". Each is sent only when the person who saved it signs in here.";
      form.parentNode.insertBefore(note, form);
    });
  }

  /* Each operation kind's words for an entry (its `Spec::entry`), filled in by the server. */
  var KIND_WORDS = __KIND_WORDS__;
  function describe(kind) { return KIND_WORDS[kind] || kind.replace(/[._]/g, " "); }

  /* This user's entries the server did not apply, with their content kept on the device. */
  function showIssues() {
    var panel = document.getElementById("device-issues");
    if (!panel || !userId) return;
    store.listIssues(userId).then(function (all) {
      // Each entry is listed once. A refused one is shown here, with its content and what to
      // do, instead of below; a conflict the server lists stays below only, where Compare
      // and resolve (or Withdraw) is.
      var issues = all.filter(function (i) {
        var row = serverRow(i.op_id);
        if (row && i.status === "rejected") row.hidden = true;
        return !row || i.status === "rejected";
      });
      panel.hidden = issues.length === 0;
      panel.dataset.read = String(all.length);
      // No table head is left standing over rows that are all shown here instead.
      var table = document.querySelector("table.issues");
      if (table) {
        var shown = table.querySelectorAll("tbody tr:not([hidden])").length;
        table.closest(".table-wrap").hidden = shown === 0;
      }
      var list = panel.querySelector("ul");
      list.textContent = "";
      issues.forEach(function (i) {
        var li = document.createElement("li");
        li.className = "device-issue";
        var text = document.createElement("p");
        text.textContent = describe(i.kind) + (i.summary ? " (" + i.summary + ")" : "") + ", saved " + new Date(i.captured_at).toLocaleString() + " — " + (i.status === "rejected" ? "not applied" : i.status.replace("_", " ")) + ": " + i.reason;
        li.appendChild(text);
        if (i.secret && i.secret.body) {
          var details = document.createElement("details");
          var summary = document.createElement("summary");
          summary.textContent = "What was entered";
          details.appendChild(summary);
          var dl = document.createElement("dl");
          dl.className = "kv";
          new URLSearchParams(i.secret.body).forEach(function (value, name) {
            if (/^(csrf_token|op_id|envelope|record_id|base_version|op_kind|captured_at|device_id)$/.test(name) || value === "") return;
            var dt = document.createElement("dt"); dt.textContent = name.replace(/^line_/, "line ").replace(/_/g, " ");
            var dd = document.createElement("dd"); dd.textContent = value;
            dl.appendChild(dt); dl.appendChild(dd);
          });
          details.appendChild(dl);
          li.appendChild(details);
        }
        var actions = document.createElement("p");
        actions.className = "actions";
        if (i.secret && i.secret.page) {
          var edit = document.createElement("a");
          edit.className = "button secondary";
          edit.href = i.secret.page + "#resend=" + encodeURIComponent(i.op_id);
          edit.textContent = "Edit and resend";
          actions.appendChild(edit);
        }
        var discard = document.createElement("button");
        discard.type = "button"; discard.className = "secondary"; discard.textContent = "Discard";
        discard.addEventListener("click", function () {
          if (!window.confirm("Discard this entry? What was entered will be deleted from this device.")) return;
          store.removeIssue(i.op_id).then(function () { return setAsideOnServer(i.op_id); }).then(showIssues, showIssues);
        });
        actions.appendChild(discard);
        li.appendChild(actions);
        list.appendChild(li);
      });
    });
  }

  /* Resolved, withdrawn or set aside on the server (a form that `data-settles` it), an entry
   * this device holds leaves the device too, else it would come back in "On this device" once
   * the server no longer lists it. */
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var opId = form.getAttribute && form.getAttribute("data-settles");
    if (!opId || !userId || e.defaultPrevented) return;
    // The device's copy goes first: a navigation under way may abort its transaction.
    e.preventDefault();
    var send = function () { form.submit(); };
    store.removeIssue(opId).then(send, send);
  });

  function serverRow(opId) {
    return document.querySelector("tr[data-op-id='" + String(opId).replace(/[^0-9a-f-]/gi, "") + "']");
  }

  /* An entry discarded on the device is set aside on the server too, when its row is on this
   * page and the server answers (offline it stays listed there until set aside by hand). */
  function setAsideOnServer(opId) {
    var row = serverRow(opId);
    var form = row && row.querySelector("form.set-aside");
    if (!form) return Promise.resolve();
    return fetch(form.action, { method: "POST", credentials: "same-origin", body: new URLSearchParams(new FormData(form)) })
      .then(function (res) { if (res.ok) row.remove(); }, function () {});
  }

  /* Opened from "Edit and resend": the form comes back filled in as it was sent; sending it
   * makes a new entry, and the refused one leaves Sync Issues. */
  function prefillResend() {
    var m = location.hash.match(/^#resend=(.+)$/);
    if (!m || !userId) return;
    var opId = decodeURIComponent(m[1]);
    store.listIssues(userId).then(function (issues) {
      var issue = issues.filter(function (i) { return i.op_id === opId; })[0];
      if (!issue || !issue.secret) return;
      var form = Array.prototype.filter.call(document.querySelectorAll("form[method=post], form[method=POST]"), function (f) {
        return new URL(f.action, location.href).pathname === issue.secret.url;
      })[0];
      if (!form) return;
      var values = {};
      new URLSearchParams(issue.secret.body).forEach(function (value, name) { (values[name] = values[name] || []).push(value); });
      Object.keys(values).forEach(function (name) {
        if (/^(csrf_token|op_id|envelope|captured_at|device_id|record_id|base_version)$/.test(name)) return;
        var fields = form.querySelectorAll("[name='" + name.replace(/'/g, "") + "']");
        values[name].forEach(function (value, n) {
          var field = fields[n];
          if (!field) return;
          if (field.type === "checkbox" || field.type === "radio") field.checked = field.value === value;
          else field.value = value;
        });
      });
      form.dataset.resendOf = opId;
      // The server settles the refused entry when this one takes effect (Sync Issues closes).
      var corrects = form.querySelector("input[name=corrects]") || document.createElement("input");
      corrects.type = "hidden"; corrects.name = "corrects"; corrects.value = opId;
      form.appendChild(corrects);
      var note = document.createElement("p");
      note.className = "notice"; note.setAttribute("role", "status");
      note.textContent = "This form is filled in with the entry that was not applied (" + issue.reason + "). Correct it and save to send it again.";
      form.parentNode.insertBefore(note, form);
      form.addEventListener("submit", function () { store.removeIssue(opId); });
    });
  }

  /* During a replay every entry sent is a "progress" message: the lists are redrawn at most
   * once a second, not once per entry (that would make a long replay quadratic). */
  var listsTimer = null;
  function listsSoon() {
    if (listsTimer) return;
    listsTimer = setTimeout(function () { listsTimer = null; refresh(); showIssues(); showWaiting(); }, 1000);
  }

  /* Entries saved offline appear in the lists they belong to, marked as waiting to sync (the
   * newest 50; a form page lists none, so saving costs the same whatever the queue holds). */
  var WAITING_SHOWN = 50;
  function showWaiting() {
    var box = document.querySelector("[data-waiting-kinds]");
    if (!box || !userId) return;
    if (document.querySelector("form[data-offline-form$='.create'], form[data-offline-form='transfer.request']")) return;
    var prefixes = box.dataset.waitingKinds.split(" ");
    var hub = Number(box.dataset.hub);
    store.listPendingMeta(userId, WAITING_SHOWN * 10).then(function (ops) {
      var mine = ops.filter(function (op) {
        return op.hub_id === hub && prefixes.some(function (p) { return op.kind.indexOf(p + ".") === 0; });
      }).slice(0, WAITING_SHOWN);
      box.hidden = mine.length === 0;
      var list = box.querySelector("ul");
      list.textContent = "";
      mine.forEach(function (op) {
        var li = document.createElement("li");
        li.textContent = describe(op.kind) + (op.summary ? " — " + op.summary : "") + ", saved " + new Date(op.captured_at).toLocaleString() + " ";
        var tag = document.createElement("span");
        tag.className = "tag"; tag.textContent = "waiting to sync";
        li.appendChild(tag);
        list.appendChild(li);
      });
    });
  }

  /* Each view of a form is a new entry: fresh op id (and, for forms that create a record, a fresh
   * record id), also when the form comes from the cache while offline. Without this script the
   * server's ids are used, which is right for a page loaded from the network. */
  function freshIds() {
    if (!crypto.randomUUID) return;
    document.querySelectorAll("form[data-offline-form]").forEach(function (form) {
      var kind = form.getAttribute("data-offline-form");
      var op = form.querySelector("input[name=op_id]");
      if (op) op.value = crypto.randomUUID();
      var record = form.querySelector("input[name=record_id]");
      if (record && (/\.create$/.test(kind) || kind === "transfer.request")) record.value = crypto.randomUUID();
    });
  }
  window.addEventListener("pageshow", freshIds);

  /* A form sent again without leaving the page (an htmx line edit, a resend after a refusal or
   * while offline) is a new entry: it gets a new op id before anything reads the form. */
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.matches || !form.matches("form[data-offline-form]") || !crypto.randomUUID) return;
    if (form.dataset.sent) {
      var op = form.querySelector("input[name=op_id]");
      if (op) op.value = crypto.randomUUID();
    }
    form.dataset.sent = "1";
  }, true);

  /* The sales design's price flags, on the device too (the server checks every change again):
   * a user without the flag who reaches for a guarded control is told why, and nothing changes.
   * The page names the user's flags, so this needs no server. */
  function hasFlag(el, flag) {
    var holder = el.closest("[data-flags]");
    return !!holder && holder.getAttribute("data-flags").split(" ").indexOf(flag) >= 0;
  }
  function flagMessage(el, text) {
    var box = document.getElementById("flag-message");
    if (!box) return;
    box.textContent = text;
    box.hidden = false;
  }
  function guardFlags() {
    document.querySelectorAll("[data-edit-price]").forEach(function (btn) {
      var input = document.getElementById(btn.getAttribute("data-edit-price"));
      if (input) input.readOnly = true;
    });
  }
  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("[data-edit-price]");
    if (btn) {
      var input = document.getElementById(btn.getAttribute("data-edit-price"));
      if (!input) return;
      if (!hasFlag(input, "can_change_price")) { flagMessage(input, input.getAttribute("data-flag-message") || "You do not have permission to edit prices"); return; }
      input.readOnly = false; input.focus(); input.select();
      return;
    }
    var guarded = e.target.closest && e.target.closest("input[type=checkbox][data-needs-flag]");
    if (guarded && !hasFlag(guarded, guarded.getAttribute("data-needs-flag"))) {
      e.preventDefault();
      flagMessage(guarded, guarded.getAttribute("data-flag-message") || "You do not have permission to add free-of-charge items");
    }
  });
  document.addEventListener("beforeinput", function (e) {
    var el = e.target;
    if (el.matches && el.matches("input[data-needs-flag]:not([type=checkbox])") && !hasFlag(el, el.getAttribute("data-needs-flag"))) {
      e.preventDefault();
      flagMessage(el, el.getAttribute("data-flag-message") || "You do not have permission to edit prices");
    }
  });
  /* The sales design's item sheet: picking an item fills in its list price, which the user may
   * then change if they hold the flag. */
  document.addEventListener("change", function (e) {
    var input = e.target;
    if (!input.matches || !input.matches("input[name=line_item][list]")) return;
    var list = document.getElementById(input.getAttribute("list"));
    var option = list && Array.prototype.filter.call(list.options, function (o) { return o.value === input.value; })[0];
    var row = input.closest("tr") || input.closest("form");
    var price = row && row.querySelector("[name=line_price]");
    if (option && price && !price.value) {
      price.value = option.getAttribute("data-price") || "";
      price.dataset.prefilled = price.value;
    }
  });
  /* A price left as prefilled is sent as "the list price", so a list price changed meanwhile
   * is not taken for an edit the user never made. */
  document.addEventListener("submit", function (e) {
    if (!e.target.querySelectorAll) return;
    e.target.querySelectorAll("[name=line_price][data-prefilled]").forEach(function (p) {
      if (p.value === p.dataset.prefilled) p.value = "";
    });
  }, true);
  document.addEventListener("htmx:afterSwap", guardFlags);
  /* Live pages (the dashboard) say so while their event stream is open. */
  function liveNote(on) {
    document.querySelectorAll("[data-live-note]").forEach(function (n) { n.hidden = !on; });
  }
  document.addEventListener("htmx:sseOpen", function () { liveNote(true); });
  document.addEventListener("htmx:sseError", function () { liveNote(false); });
  guardFlags();

  refresh();
  showIssues();
  showWaiting();
  showOwners();
  prefillResend();
  if (document.body.dataset.offlineState) { reachable = false; refresh(); }
  ping();
})();
