// Keyboard shortcuts on a computer (listed on /shortcuts, the `?` page): `/` focuses the
// page's search, j/k move through the list's rows ([data-row]), o or Enter opens the selected
// row's link, `g` then a letter goes to a page (the menu's links carry the letters in
// data-go), `?` shows the list, Esc leaves a field. Nothing happens while typing in a field.
(function () {
  "use strict";
  var pendingG = false;
  var gTimer = null;
  var selected = -1;

  function typing(target) {
    var tag = (target && target.tagName) || "";
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" ||
      (target && target.isContentEditable);
  }

  function rows() {
    return Array.prototype.filter.call(document.querySelectorAll("[data-row]"), function (el) {
      return el.offsetParent !== null;
    });
  }

  function select(delta) {
    var list = rows();
    if (!list.length) { return; }
    if (selected >= 0 && list[selected]) { list[selected].classList.remove("selected"); }
    selected = Math.max(0, Math.min(list.length - 1, selected + delta));
    var row = list[selected];
    row.classList.add("selected");
    row.scrollIntoView({ block: "nearest" });
  }

  function open() {
    var row = rows()[selected];
    var link = row && (row.querySelector("a[data-open]") || row.querySelector("a[href]"));
    if (link) { link.click(); }
  }

  function go(letter) {
    var link = document.querySelector('nav.menu a[data-go="' + letter + '"]');
    if (link) { window.location.href = link.getAttribute("href"); }
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.key === "Escape" && typing(event.target)) { event.target.blur(); return; }
    if (typing(event.target)) { return; }
    if (pendingG) {
      pendingG = false;
      window.clearTimeout(gTimer);
      go(event.key);
      event.preventDefault();
      return;
    }
    switch (event.key) {
      case "/":
        var search = document.querySelector("[data-search]");
        if (search) { search.focus(); search.select(); event.preventDefault(); }
        break;
      case "j": select(1); event.preventDefault(); break;
      case "k": select(-1); event.preventDefault(); break;
      case "o": case "Enter":
        if (selected >= 0) { open(); event.preventDefault(); }
        break;
      case "g":
        pendingG = true;
        gTimer = window.setTimeout(function () { pendingG = false; }, 1500);
        break;
      case "?":
        var help = document.querySelector("a[data-help]");
        if (help) { window.location.href = help.getAttribute("href"); }
        break;
      default:
    }
  });

  // A live part of the page was replaced: the selection starts again.
  document.addEventListener("joelclaw:refreshed", function () { selected = -1; });
})();
