// The evaluation body's plan page (templates/ranking/plan_manage.html).
// Poll the job status while a job is waiting or running; reload when one finishes.
(function () {
  var table = document.getElementById("job-table");
  if (!table) return;
  var url = table.getAttribute("data-url");
  function unfinished() {
    return table.querySelectorAll('tr[data-status="pending"], tr[data-status="queued"], tr[data-status="running"], tr[data-status="retrying"]').length > 0;
  }
  if (!unfinished()) return;
  var timer = setInterval(function () {
    fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        var finishedNow = false;
        data.jobs.forEach(function (job) {
          var row = table.querySelector('tr[data-job="' + job.id + '"]');
          if (!row) { finishedNow = true; return; }
          if (job.finished && row.getAttribute("data-status") !== job.status) finishedNow = true;
          row.setAttribute("data-status", job.status);
          row.querySelector(".job-status").textContent = job.status_label;
          var pct = Math.round((job.progress || (job.status === "done" ? 1 : 0)) * 100);
          var bar = row.querySelector(".progress");
          bar.value = pct;
          bar.textContent = pct + "%";
          row.querySelector(".job-message").textContent = job.message || "";
        });
        if (!data.running) { clearInterval(timer); }
        if (finishedNow) { window.location.reload(); }
      })
      .catch(function () {});
  }, 2000);
})();
