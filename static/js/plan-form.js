// The evaluation plan form (templates/ranking/plan_form.html).
// Show only the benchmark indicators of the chosen category (the server checks it too).
(function () {
  var category = document.getElementById("category_id");
  if (!category) return;
  function filter() {
    var chosen = category.value;
    document.querySelectorAll("[data-benchmark-select] option[data-category]").forEach(function (opt) {
      var show = !chosen || opt.getAttribute("data-category") === chosen;
      opt.hidden = !show; opt.disabled = !show;
    });
    document.querySelectorAll("[data-benchmark-select] optgroup").forEach(function (group) {
      group.hidden = !Array.prototype.some.call(group.children, function (o) { return !o.hidden; });
    });
  }
  category.addEventListener("change", filter);
  filter();
})();
