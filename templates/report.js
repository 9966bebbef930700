/* balloon-audit report: copy buttons, sortable and filterable tables. No network, no eval. */
(function () {
  "use strict";

  /* ---- copy to clipboard: the async API needs a secure context, a file:// page may lack it */
  function selectText(node) {
    try {
      var range = document.createRange();
      range.selectNodeContents(node);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    } catch (e) { /* selection is a convenience only */ }
  }

  function legacyCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.top = "-1000px";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }

  function flash(button, text) {
    button.textContent = text;
    window.setTimeout(function () { button.textContent = "Copy"; }, 1600);
  }

  function copy(button) {
    var code = button.previousElementSibling;
    var text = code ? code.textContent : "";
    function fallback() {
      if (legacyCopy(text)) { flash(button, "Copied"); } else { selectText(code); flash(button, "Press Ctrl+C"); }
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { flash(button, "Copied"); }, fallback);
    } else {
      fallback();
    }
  }

  /* ---- sorting: numeric when every non-empty cell of the column is a number */
  var EMPTY = { "": 1, "\u2014": 1 };
  var NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?$/i;
  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

  function cellKey(cell) {
    if (!cell) { return ""; }
    var v = cell.getAttribute("data-v");
    return v !== null ? v : cell.textContent.trim();
  }

  function asNumber(text) {
    var t = text.replace(/[,\s%\u00a0]/g, "");
    return NUMBER.test(t) ? parseFloat(t) : NaN;
  }

  function sortBy(th) {
    var table = th.closest("table");
    var body = table.tBodies[0];
    if (!body) { return; }
    var column = Array.prototype.indexOf.call(th.parentNode.cells, th);
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    var rows = Array.prototype.slice.call(body.rows);
    if (rows.length < 2 || rows[0].cells.length <= column) { return; }
    var keys = rows.map(function (row) { return cellKey(row.cells[column]); });
    var numeric = true, anyValue = false;
    var numbers = keys.map(function (k) {
      if (EMPTY[k]) { return null; }
      anyValue = true;
      var n = asNumber(k);
      if (isNaN(n)) { numeric = false; }
      return n;
    });
    numeric = numeric && anyValue;
    var order = rows.map(function (_, i) { return i; });
    order.sort(function (a, b) {
      var ea = numeric ? numbers[a] === null : !!EMPTY[keys[a]];
      var eb = numeric ? numbers[b] === null : !!EMPTY[keys[b]];
      if (ea !== eb) { return ea ? 1 : -1; }      /* unknown values always last */
      var c = 0;
      if (!ea) { c = numeric ? numbers[a] - numbers[b] : collator.compare(keys[a], keys[b]); }
      if (!ascending) { c = -c; }
      return c || a - b;
    });
    var fragment = document.createDocumentFragment();
    order.forEach(function (i) { fragment.appendChild(rows[i]); });
    body.appendChild(fragment);
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }

  /* ---- filtering: every word typed must appear somewhere in the row */
  function applyFilter(input) {
    var table = document.getElementById(input.getAttribute("data-table"));
    if (!table || !table.tBodies[0]) { return; }
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var rows = table.tBodies[0].rows, shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      if (row._text === undefined) { row._text = row.textContent.toLowerCase(); }
      var hit = words.every(function (w) { return row._text.indexOf(w) !== -1; });
      row.hidden = !hit;
      if (hit) { shown++; }
    }
    var counter = document.getElementById(input.getAttribute("data-count"));
    if (counter) {
      var what = counter.getAttribute("data-what") || "";
      counter.textContent = words.length ? shown.toLocaleString() + " of " + rows.length.toLocaleString() + " " + what : rows.length.toLocaleString() + " " + what;
    }
  }

  function addCopyButtons() {
    var blocks = document.querySelectorAll("div.cmd");
    for (var i = 0; i < blocks.length; i++) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "cp";
      button.textContent = "Copy";
      blocks[i].appendChild(button);
    }
  }

  function init() {
    addCopyButtons();
    Array.prototype.forEach.call(document.querySelectorAll(".count"), function (c) {
      c.setAttribute("data-what", c.textContent.replace(/^[\d,.\s]+/, ""));
    });
    Array.prototype.forEach.call(document.querySelectorAll("table.sort thead th"), function (th) {
      th.tabIndex = 0;
      th.title = "Sort";
    });
    document.addEventListener("click", function (event) {
      var target = event.target;
      if (!(target instanceof Element)) { return; }
      var button = target.closest("button.cp");
      if (button) { copy(button); return; }
      var th = target.closest("table.sort thead th");
      if (th) { sortBy(th); }
    });
    document.addEventListener("keydown", function (event) {
      var th = event.target instanceof Element && event.target.closest("table.sort thead th");
      if (th && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); sortBy(th); }
    });
    var timers = {};
    Array.prototype.forEach.call(document.querySelectorAll("input.flt"), function (input) {
      input.addEventListener("input", function () {
        var id = input.getAttribute("data-table");
        window.clearTimeout(timers[id]);
        timers[id] = window.setTimeout(function () { applyFilter(input); }, 120);
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
