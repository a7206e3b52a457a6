// The header's menu on a phone (templates/base.html): with script, the navigation folds behind
// a "Menu" button below 720 px (static/css/app.css); without script it stays open.
(function () {
  "use strict";
  function start() {
    var button = document.querySelector(".topbar .nav-toggle");
    var nav = document.getElementById("mainnav");
    if (!button || !nav) return;
    button.hidden = false;
    button.closest(".topbar").classList.add("collapsible");
    button.addEventListener("click", function () {
      var open = nav.classList.toggle("open");
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
