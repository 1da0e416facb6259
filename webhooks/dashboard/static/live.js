// Live parts of a page: an element with data-live="<url>" is fetched again every
// data-interval ms and its content replaced, until the new content holds [data-final]
// (a finished run). Open <details> stay open across refreshes, and a part the owner is
// typing in waits until they leave it. No inline script anywhere: the
// Content-Security-Policy allows only this file (and keys.js).
(function () {
  "use strict";

  function schedule(el) {
    var interval = parseInt(el.getAttribute("data-interval") || "2000", 10);
    window.setTimeout(function () { refresh(el); }, interval);
  }

  function openDetails(el) {
    var keys = [];
    el.querySelectorAll("details[open][data-key]").forEach(function (d) {
      keys.push(d.getAttribute("data-key"));
    });
    return keys;
  }

  function reopen(el, keys) {
    el.querySelectorAll("details[data-key]").forEach(function (d) {
      if (keys.indexOf(d.getAttribute("data-key")) >= 0) { d.open = true; }
    });
  }

  function editing(el) {
    var active = document.activeElement;
    return active && active !== document.body && el.contains(active) &&
      /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
  }

  function refresh(el) {
    if (document.hidden || editing(el)) { schedule(el); return; }
    fetch(el.getAttribute("data-live"), {
      credentials: "same-origin", headers: { "Accept": "text/html" }
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.text();
    }).then(function (html) {
      var keep = openDetails(el);
      el.innerHTML = html;
      reopen(el, keep);
      el.classList.remove("stale");
      el.setAttribute("data-refreshed", String(Date.now()));
      document.dispatchEvent(new CustomEvent("joelclaw:refreshed"));
      if (el.querySelector("[data-final]")) {
        el.setAttribute("data-live-done", "1");
      } else {
        schedule(el);
      }
    }).catch(function () {
      el.classList.add("stale");
      schedule(el);
    });
  }

  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });

  document.querySelectorAll("[data-live]").forEach(function (el) {
    if (el.querySelector("[data-final]")) {
      el.setAttribute("data-live-done", "1");
    } else {
      schedule(el);
    }
  });
})();
