// Lineside station behaviour: keypad, entry kept across reloads and dropped connections, scanner focus,
// and live updates by server-sent events. No framework beyond the vendored htmx; works offline.
(function () {
  "use strict";
  var body = document.body;
  var tag = body.dataset.tag || "";

  function status(text) {
    var box = document.getElementById("live-status");
    if (!box) return;
    box.textContent = text || "";
    box.hidden = !text;
  }

  // -- in-progress entry: kept in localStorage under the form's data-keep key until it is recorded ------
  function keepKey(input) {
    var form = input.closest("form[data-keep]");
    return form ? form.dataset.keep : null;
  }
  function save(input) {
    var key = keepKey(input);
    if (!key) return;
    if (input.value) localStorage.setItem(key, input.value); else localStorage.removeItem(key);
  }
  function restore(root) {
    root.querySelectorAll("form[data-keep] input[name=value]").forEach(function (input) {
      var kept = localStorage.getItem(input.closest("form").dataset.keep);
      if (kept && !input.value) input.value = kept;
    });
  }
  document.addEventListener("input", function (e) {
    if (e.target.matches("form[data-keep] input[name=value]")) save(e.target);
  });

  // -- numeric keypad -----------------------------------------------------------------------------------
  document.addEventListener("click", function (e) {
    var key = e.target.closest("[data-key]");
    if (!key) return;
    var input = key.closest("form").querySelector("input[name=value]");
    var k = key.dataset.key, v = input.value;
    if (k === "back") v = v.slice(0, -1);
    else if (k === "clear") v = "";
    else if (k === "−" || k === "-") v = v.charAt(0) === "-" ? v.slice(1) : "-" + v;
    else if (k === "." && v.indexOf(".") >= 0) return;
    else v = v + k;
    input.value = v;
    save(input);
  });

  // -- scanner as keyboard: the scan field takes the focus back whenever nothing else needs it ----------
  function focusScan() {
    var scan = document.querySelector("[data-scan]");
    var active = document.activeElement;
    if (!scan) return;
    if (active && active !== body && active !== scan && active.matches("input, select, textarea")) return;
    scan.focus();
  }
  document.addEventListener("click", function () { setTimeout(focusScan, 0); });
  document.addEventListener("focusout", function () { setTimeout(focusScan, 50); });

  // -- htmx: a recorded value clears its kept entry; a failed send keeps it and says so ----------------
  function requestForm(detail) {
    var elt = (detail.requestConfig && detail.requestConfig.elt) || detail.elt;
    return elt && elt.closest ? elt.closest("form") : null;
  }
  function succeeded(detail) { return detail.xhr && detail.xhr.status >= 200 && detail.xhr.status < 300; }
  // Before the swap, so that the new form (same lot, same characteristic) does not restore the recorded value.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var form = requestForm(e.detail);
    if (succeeded(e.detail) && form && form.dataset.keep) localStorage.removeItem(form.dataset.keep);
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var form = requestForm(e.detail);
    if (succeeded(e.detail) && form && form.hasAttribute("data-reset-on-success")) form.reset();
    if (e.detail.xhr && e.detail.xhr.status) status(sourceOpen ? "" : lostText);
  });
  document.addEventListener("htmx:sendError", function () {
    status("Cannot reach the station server: nothing was recorded. Your entry is kept — press Record again.");
  });
  document.addEventListener("htmx:afterSettle", function (e) { restore(e.detail.elt || document); focusScan(); });
  document.addEventListener("DOMContentLoaded", function () { restore(document); focusScan(); });
  restore(document);
  focusScan();

  // -- live updates ------------------------------------------------------------------------------------
  var lostText = "Live updates lost — reconnecting. You can keep working: values are saved when you press Record.";
  var sourceOpen = true;
  function changed(kind, data) {
    if (data.by && data.by === tag) return;  // this screen's own action: it already shows the result
    var work = document.getElementById("work");
    if (kind === "measurement" && work && work.dataset.lot && data.lot !== work.dataset.lot) return;
    // the holds queue changes with holds, dispositions and lots, and with a nonconforming value; not with each pass
    if (kind === "measurement" && document.getElementById("queue") && data.verdict !== "fail") return;
    if (window.htmx) htmx.trigger(body, "lineside:changed", data);
  }
  function reading(data) {
    if (data.station && data.station !== body.dataset.station) return;
    var input = document.querySelector("form[data-keep] input[name=value]");
    if (!input || (data.characteristic && input.dataset.characteristic !== data.characteristic)) return;
    input.value = data.value;
    save(input);
  }
  if (body.dataset.live && window.EventSource) {
    var source = new EventSource(body.dataset.live);
    source.onopen = function () {
      body.dataset.liveState = "open";
      if (!sourceOpen) {
        sourceOpen = true; status("");
        if (window.htmx) { htmx.trigger(body, "lineside:changed", {}); htmx.trigger(body, "lineside:storage", {}); }
      }
    };
    source.onerror = function () { body.dataset.liveState = "lost"; sourceOpen = false; status(lostText); };
    ["measurement", "hold", "disposition", "lot", "overflow"].forEach(function (kind) {
      source.addEventListener(kind, function (e) { changed(kind, JSON.parse(e.data)); });
    });
    source.addEventListener("reading", function (e) { reading(JSON.parse(e.data)); });
    // the store stopped or started recording: every screen fetches the storage banner again (#storage-banner)
    source.addEventListener("storage", function (e) {
      if (window.htmx) htmx.trigger(body, "lineside:storage", JSON.parse(e.data));
    });
    window.addEventListener("beforeunload", function () { source.close(); });
  }
})();
