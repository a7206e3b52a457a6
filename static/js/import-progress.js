// Bulk import report page: while the job runs, poll its state and show the progress
// (rows checked, rows written); reload the page when it is done. No inline script (CSP).
(function () {
  "use strict";
  var box = document.getElementById("import-state");
  if (!box) return;
  var status = box.getAttribute("data-status");
  if (status !== "checking" && status !== "importing") return;
  var url = box.getAttribute("data-state-url");
  var bar = document.getElementById("import-progress");
  var text = document.getElementById("import-message");
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (state) {
        if (bar && state.progress !== null) bar.value = state.progress;
        if (text) text.textContent = state.message || "";
        if (state.status !== "checking" && state.status !== "importing") {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
