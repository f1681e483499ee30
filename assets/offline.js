/* Outpost offline client: registers the service worker, shows the connection status pill,
 * pings the server so replay starts within about two seconds of it coming back (the browser's
 * `online` event does not fire when only the server was down, and Background Sync may fire
 * late or never), reports the device's queue on every contact, and lists this device's
 * Sync Issues. Every page works without this script. */
(function () {
  "use strict";
  if (!("serviceWorker" in navigator) || !window.OutpostStore) return;
  var store = window.OutpostStore;
  var pill = document.getElementById("status-pill");
  var syncNow = document.getElementById("sync-now");
  var csrf = document.querySelector("meta[name=csrf-token]");
  var reachable = navigator.onLine;
  var syncing = false;
  var needsSignIn = false;
  var timer = null;

  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
  if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(function () {});

  function deviceId() {
    return store.getMeta("device_id").then(function (id) {
      if (id) return id;
      id = "dev-" + (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2));
      return store.setMeta("device_id", id).then(function () { return id; });
    });
  }

  function render(pending) {
    if (!pill) return;
    var state, text;
    if (!reachable) { state = "offline"; text = "Offline – Working in offline mode"; }
    else if (needsSignIn) { state = "syncing"; text = "Online – Sign in to sync (" + pending + ")"; }
    else if (pending > 0 || syncing) { state = "syncing"; text = "Online – Syncing… (" + pending + ")"; }
    else { state = "synced"; text = "Online – Synced"; }
    pill.hidden = false;
    pill.dataset.state = state;
    pill.textContent = text;
    pill.setAttribute("aria-label", "Connection status: " + text);
    if (syncNow) syncNow.hidden = !(reachable && pending > 0);
    document.querySelectorAll("[data-offline-note]").forEach(function (n) { n.hidden = reachable; });
    var last = document.body.dataset.renderedAt;
    var lastNote = document.getElementById("last-synced");
    if (lastNote) {
      lastNote.hidden = reachable || !last;
      if (last) lastNote.textContent = "Showing data last synced at " + new Date(last).toLocaleString() + ".";
    }
  }

  function refresh() { return store.countPending().then(function (n) { render(n); return n; }); }

  function askReplay() {
    if (!navigator.serviceWorker.controller) return;
    syncing = true;
    refresh();
    navigator.serviceWorker.controller.postMessage({ type: "replay" });
  }

  /* A cheap contact with the server that also reports this device's queue. */
  function ping() {
    return Promise.all([deviceId(), store.countPending(), store.getMeta("highest_seq")]).then(function (v) {
      var signedIn = !!csrf && !document.body.dataset.offlineState;
      var req = signedIn
        ? fetch("/api/v1/devices/report", { method: "POST", credentials: "same-origin", cache: "no-store", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf.content }, body: JSON.stringify({ device_id: v[0], pending_count: v[1], highest_seq: v[2] || 0 }) })
        : fetch("/healthz", { cache: "no-store" });
      return req.then(function (res) {
        var wasDown = !reachable;
        reachable = res.ok || res.status < 500;
        if (reachable && v[1] > 0 && (wasDown || !syncing)) askReplay();
        return v[1];
      }, function () { reachable = false; syncing = false; return v[1]; });
    }).then(render).then(schedule, schedule);
  }

  function schedule() {
    clearTimeout(timer);
    store.countPending().then(function (pending) {
      var every = pending > 0 ? (document.hidden ? 30000 : 2000) : 30000;
      timer = setTimeout(ping, every);
    });
  }

  navigator.serviceWorker.addEventListener("message", function (event) {
    var type = event.data && event.data.type;
    if (type === "synced") { syncing = false; needsSignIn = false; reachable = true; showIssues(); }
    if (type === "offline") { syncing = false; reachable = false; }
    if (type === "signin") { syncing = false; needsSignIn = true; }
    if (type === "queued") { reachable = false; schedule(); }
    refresh();
  });

  window.addEventListener("online", function () { reachable = true; askReplay(); ping(); });
  window.addEventListener("offline", function () { reachable = false; refresh(); });
  document.addEventListener("visibilitychange", schedule);
  if (syncNow) syncNow.addEventListener("click", function () { askReplay(); ping(); });

  /* Never lose queued entries silently: signing out wipes this device's storage. */
  document.querySelectorAll("form[action='/logout']").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      store.countPending().then(function (n) {
        if (n === 0 || window.confirm(n + " entr" + (n === 1 ? "y has" : "ies have") + " not been synced yet and will be lost if you sign out. Sign out anyway?")) form.submit();
      });
      e.preventDefault();
    });
  });

  /* This device's own Sync Issues (entries the server refused or could not apply). */
  function showIssues() {
    var panel = document.getElementById("device-issues");
    if (!panel) return;
    store.listIssues().then(function (issues) {
      panel.hidden = issues.length === 0;
      var list = panel.querySelector("ul");
      list.textContent = "";
      issues.forEach(function (i) {
        var li = document.createElement("li");
        li.textContent = i.kind + " captured " + new Date(i.captured_at).toLocaleString() + " — " + i.status.replace("_", " ") + ": " + i.reason + " ";
        var dismiss = document.createElement("button");
        dismiss.type = "button"; dismiss.className = "linkish"; dismiss.textContent = "Dismiss";
        dismiss.addEventListener("click", function () { store.removeIssue(i.op_id).then(showIssues); });
        li.appendChild(dismiss);
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

  refresh();
  showIssues();
  if (document.body.dataset.offlineState) { reachable = false; refresh(); }
  ping();
})();
