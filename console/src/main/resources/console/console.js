// Lockstep console: refreshes the parts of a page marked data-refresh from the same server (the
// server renders and escapes them), and filters the upgrades list. Nothing else.
(function () {
  "use strict";

  function applyFilter() {
    var box = document.getElementById("filter");
    var ended = document.getElementById("show-ended");
    if (!box) {
      return;
    }
    var words = box.value.toLowerCase().trim();
    var showEnded = !ended || ended.checked;
    document.querySelectorAll("tr[data-text]").forEach(function (row) {
      var text = row.getAttribute("data-text").toLowerCase();
      var running = row.getAttribute("data-running") === "true";
      row.hidden = (words && text.indexOf(words) < 0) || (!showEnded && !running);
    });
  }

  function follow(el) {
    var url = el.getAttribute("data-refresh");
    var every = parseInt(el.getAttribute("data-every") || "1000", 10);
    var note = document.createElement("p");
    note.className = "stale";
    note.setAttribute("role", "status");
    note.hidden = true;
    el.parentNode.insertBefore(note, el.nextSibling);
    var last = null;
    function tick() {
      fetch(url, { cache: "no-store", credentials: "same-origin" })
        .then(function (r) {
          return r.text().then(function (html) {
            if (html !== last) {
              el.innerHTML = html;
              last = html;
              applyFilter();
            }
            note.hidden = true;
          });
        })
        .catch(function () {
          note.textContent = "Lost contact with the console; showing what was last read. Retrying…";
          note.hidden = false;
        })
        .then(function () {
          setTimeout(tick, every);
        });
    }
    tick();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh]").forEach(follow);
    var box = document.getElementById("filter");
    if (box) {
      box.addEventListener("input", applyFilter);
      document.getElementById("show-ended").addEventListener("change", applyFilter);
    }
  });
})();
