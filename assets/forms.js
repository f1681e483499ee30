/* Outpost form helpers. Progressive: without this script every form works as the server sent it.
 * - Line tables (`[data-line-table]`): "Add a line" appends an empty row and each row gets a
 *   "Remove" button, instead of a fixed number of rows.
 * - Times (`time[datetime]`) in the reader's own locale and time zone; the server writes UTC.
 * - Camera scanning (`input[data-scan]`): where the browser offers BarcodeDetector and a camera,
 *   a "Scan with camera" button fills the field from a barcode or QR code. Typing (or a
 *   hand scanner, which types) stays the way in everywhere else.
 * - Catalog forms (`[data-upis-preview]`, `[data-sku-preview]`) show the UPIS-H or SKU they will
 *   make as the person chooses; the server wrote the first preview, and makes the real one.
 * - Copy buttons (`button[data-copy]`, hidden as sent): shown where the browser can write to the
 *   clipboard; they copy the named field. Without them the field is selected on focus. */
(function () {
  "use strict";

  /* Numbers a row's ids, label targets and accessible names as line `n`. */
  function number(row, n) {
    row.querySelectorAll("[id]").forEach(function (el) { el.id = el.id.replace(/\d+$/, n); });
    row.querySelectorAll("label[for]").forEach(function (el) {
      el.htmlFor = el.htmlFor.replace(/\d+$/, n);
      el.textContent = el.textContent.replace(/\d+$/, n);
    });
    row.querySelectorAll("[aria-label]").forEach(function (el) {
      el.setAttribute("aria-label", el.getAttribute("aria-label").replace(/\d+$/, n));
    });
    var remove = row.querySelector("button.remove-line");
    if (remove) remove.setAttribute("aria-label", "Remove line " + n);
  }

  function renumber(body) {
    Array.prototype.forEach.call(body.rows, function (row, i) { number(row, i + 1); });
  }

  /* Empties a row: its values and any error shown on it. */
  function clear(row) {
    row.classList.remove("row-error");
    row.querySelectorAll(".field-error").forEach(function (el) { el.remove(); });
    row.querySelectorAll("input, select, textarea").forEach(function (el) {
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
      if (el.type === "checkbox") el.checked = false; else el.value = "";
    });
    return row;
  }

  function blank(row) { return clear(row.cloneNode(true)); }

  function addRemoveButton(row, body) {
    var cell = document.createElement("td");
    cell.className = "line-remove";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "secondary remove-line";
    button.textContent = "Remove";
    button.addEventListener("click", function () {
      var next = row.nextElementSibling || row.previousElementSibling;
      // The last row is emptied rather than removed, so there is always one to type into.
      if (body.rows.length > 1) row.remove(); else clear(row);
      renumber(body);
      var focus = (next && next.isConnected ? next : body.rows[0]).querySelector("input");
      if (focus) focus.focus();
    });
    cell.appendChild(button);
    row.appendChild(cell);
  }

  function enhance(table) {
    var body = table.tBodies[0];
    if (!body || !body.rows.length || table.dataset.enhanced) return;
    table.dataset.enhanced = "1";
    var head = table.tHead && table.tHead.rows[0];
    if (head) {
      var th = document.createElement("th");
      th.scope = "col";
      th.innerHTML = "<span class=\"visually-hidden\">Remove</span>";
      head.appendChild(th);
    }
    var template = blank(body.rows[body.rows.length - 1]);
    Array.prototype.forEach.call(body.rows, function (row) { addRemoveButton(row, body); });
    var add = document.createElement("button");
    add.type = "button";
    add.className = "secondary add-line";
    add.textContent = "Add a line";
    add.addEventListener("click", function () {
      var row = template.cloneNode(true);
      body.appendChild(row);
      addRemoveButton(row, body);
      renumber(body);
      var first = row.querySelector("input");
      if (first) first.focus();
    });
    var wrap = table.closest(".table-wrap") || table;
    var actions = document.createElement("p");
    actions.className = "line-actions";
    actions.appendChild(add);
    wrap.parentNode.insertBefore(actions, wrap.nextSibling);
  }

  function localTimes() {
    document.querySelectorAll("time[datetime]").forEach(function (el) {
      var at = new Date(el.getAttribute("datetime"));
      if (isNaN(at) || el.getAttribute("datetime").length <= 10) return;
      el.title = el.textContent;
      el.textContent = at.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    });
  }

  function showCode(output, text) {
    var code = document.createElement("code");
    code.textContent = text;
    output.replaceChildren(code);
  }

  function previews() {
    document.querySelectorAll("[data-upis-preview]").forEach(function (form) {
      var family = form.getAttribute("data-upis-preview");
      var update = function () {
        showCode(form.querySelector("#upis-preview"),
          family + "-" + (form.elements.type.value.toUpperCase() || "?") + "-" + (form.elements.lci.value || "?"));
      };
      form.addEventListener("input", update);
      update();
    });
    document.querySelectorAll("[data-sku-preview]").forEach(function (form) {
      var update = function () {
        var chosen = form.elements.identity_id.selectedOptions[0];
        var upis = (chosen && chosen.getAttribute("data-upis")) || "?????-?-?";
        showCode(form.querySelector("#sku-preview"),
          upis + "-" + form.elements.color_code.value + "-" + form.elements.condition_code.value);
      };
      form.addEventListener("change", update);
      update();
    });
  }

  /* Opens the camera under the field, fills the field with the first code seen, and closes it. */
  function scanInto(input, button) {
    var panel = document.createElement("div");
    panel.className = "scan-panel";
    var video = document.createElement("video");
    video.setAttribute("playsinline", "");
    video.muted = true;
    var note = document.createElement("p");
    note.className = "hint";
    note.setAttribute("role", "status");
    note.textContent = "Point the camera at the barcode.";
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "secondary";
    cancel.textContent = "Stop scanning";
    panel.append(video, note, cancel);
    button.after(panel);
    button.hidden = true;
    var stream = null, done = false;
    function close(message) {
      done = true;
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
      panel.remove();
      button.hidden = false;
      if (message) {
        var said = document.createElement("p");
        said.className = "field-error scan-message";
        said.setAttribute("role", "alert");
        said.textContent = message;
        button.after(said);
        setTimeout(function () { said.remove(); }, 8000);
      }
      input.focus();
    }
    cancel.addEventListener("click", function () { close(); });
    var detector = new window.BarcodeDetector();
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (s) {
      stream = s;
      window.outpostScanStream = s; /* tests check that the camera is let go */
      if (done) { close(); return; }
      video.srcObject = s;
      return video.play().catch(function () {}).then(function look() {
        if (done) return;
        return detector.detect(video).then(function (codes) {
          if (done) return;
          if (codes.length && codes[0].rawValue) {
            input.value = codes[0].rawValue.trim();
            input.dispatchEvent(new Event("input", { bubbles: true }));
            close();
          } else {
            setTimeout(look, 150);
          }
        }, function () { if (!done) setTimeout(look, 300); });
      });
    }).catch(function (e) {
      close("The camera could not be opened (" + (e && e.name || "refused") + "). Type the number instead.");
    });
  }

  function scanners() {
    if (!("BarcodeDetector" in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
    document.querySelectorAll("input[data-scan]").forEach(function (input) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "secondary scan-button";
      button.textContent = "Scan with camera";
      button.setAttribute("aria-label", "Scan the " + (input.labels[0] ? input.labels[0].textContent.toLowerCase() : "code") + " with the camera");
      button.addEventListener("click", function () { scanInto(input, button); });
      input.after(button);
    });
  }

  function copyButtons() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var field = document.getElementById(button.dataset.copy);
      if (!field) return;
      field.addEventListener("focus", function () { field.select(); });
      if (!navigator.clipboard || !window.isSecureContext) return;
      var note = document.getElementById("copy-note");
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(field.value).then(function () {
          if (note) note.textContent = "Copied.";
        }, function () {
          field.select();
          if (note) note.textContent = "Could not copy: the token is selected, copy it with the keyboard.";
        });
      });
    });
  }

  function start() {
    document.querySelectorAll("[data-line-table]").forEach(enhance);
    copyButtons();
    localTimes();
    previews();
    scanners();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
