// The incident console refreshes what changes while it is open: one small request every few
// seconds for the live part of the page, skipped while the tab is hidden or a control inside
// that part has the focus (a refresh would take it away).
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.fetch) return;
  var url = live.getAttribute("data-live-url");
  var seconds = parseInt(live.getAttribute("data-refresh-seconds"), 10) || 10;
  var last = live.innerHTML;

  function relative(date) {
    var s = Math.round((Date.now() - date.getTime()) / 1000);
    if (s < 45) return "just now";
    var units = [[86400, "day"], [3600, "hour"], [60, "minute"]];
    for (var i = 0; i < units.length; i++) {
      if (s >= units[i][0]) {
        var n = units[i][1] === "day" ? Math.floor(s / units[i][0]) : Math.round(s / units[i][0]);
        return n + " " + units[i][1] + (n === 1 ? "" : "s") + " ago";
      }
    }
    return "just now";
  }

  function retime() {
    var times = document.querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var d = new Date(times[i].getAttribute("datetime"));
      if (!isNaN(d.getTime())) times[i].textContent = relative(d);
    }
  }

  function refresh() {
    if (document.hidden || live.contains(document.activeElement)) return;
    live.setAttribute("aria-busy", "true");
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null && html !== last) {
          live.innerHTML = html;
          last = html;
          retime();
        }
      })
      .catch(function () { /* the next tick tries again */ })
      .then(function () { live.removeAttribute("aria-busy"); });
  }

  window.setInterval(refresh, seconds * 1000);
  window.setInterval(retime, 30000);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
})();
