/* The declaration form: repeating rows, live comparison with the benchmarks, standard search.
 *
 * Plain JavaScript, no library. Without it the form still works: the server renders a fixed
 * number of blank rows and the comparison table, and refuses bad input with messages.
 */
(function () {
  "use strict";

  var form = document.getElementById("declaration-form");
  if (!form) { return; }

  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrfToken = csrfMeta ? csrfMeta.getAttribute("content") : "";

  // Progressive enhancement: the Add/Remove buttons and search boxes only exist with JS.
  Array.prototype.forEach.call(form.querySelectorAll("[data-add-row], [data-remove-row], [data-js-only]"), function (el) {
    el.hidden = false;
  });

  function rowsOf(container) {
    return Array.prototype.filter.call(container.children, function (el) { return el.hasAttribute("data-row"); });
  }

  /* Rename products-3-name → products-<i>-name (name, id, for) so indices stay contiguous. */
  function renumber(container) {
    var list = container.getAttribute("data-rows");
    var pattern = new RegExp("^" + list + "-\\d+-");
    rowsOf(container).forEach(function (row, i) {
      var prefix = list + "-" + i + "-";
      Array.prototype.forEach.call(row.querySelectorAll("[name], [id], label[for]"), function (el) {
        ["name", "id", "for"].forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (value && pattern.test(value)) { el.setAttribute(attr, value.replace(pattern, prefix)); }
        });
      });
      var no = row.querySelector("[data-row-no]");
      if (no) { no.textContent = String(i + 1); }
    });
  }

  function clearRow(row) {
    Array.prototype.forEach.call(row.querySelectorAll("input, textarea, select"), function (el) {
      if (el.tagName === "SELECT") {
        var name = el.getAttribute("name") || "";
        var wanted = /-op$/.test(name) ? "ge" : (/-kind$/.test(name) ? "performance" : "");
        el.value = wanted;
        if (el.value !== wanted) { el.selectedIndex = 0; }
      } else if (el.type === "checkbox" || el.type === "radio") {
        el.checked = false;
      } else {
        el.value = "";
      }
    });
    Array.prototype.forEach.call(row.querySelectorAll(".error"), function (el) { el.remove(); });
    Array.prototype.forEach.call(row.querySelectorAll(".has-error"), function (el) { el.classList.remove("has-error"); });
    var cmp = row.querySelector("[data-cmp]");
    if (cmp) { cmp.textContent = ""; }
    syncOp(row);
  }

  function addRow(list) {
    var container = form.querySelector('[data-rows="' + list + '"]');
    var rows = rowsOf(container);
    var copy = rows[rows.length - 1].cloneNode(true);
    container.appendChild(copy);
    clearRow(copy);
    renumber(container);
    var first = copy.querySelector("input, select, textarea");
    if (first) { first.focus(); }
  }

  function removeRow(row) {
    var container = row.parentNode;
    if (rowsOf(container).length > 1) {
      container.removeChild(row);
    } else {
      clearRow(row);
    }
    renumber(container);
    if (container.getAttribute("data-rows") === "indicators") { scheduleCompare(); }
  }

  function isBlankRow(row) {
    return Array.prototype.every.call(row.querySelectorAll("input, textarea, select"), function (el) {
      if (el.tagName === "SELECT") {
        var name = el.getAttribute("name") || "";
        return el.value === "" || (/-op$/.test(name) && el.value === "ge") || (/-kind$/.test(name) && el.value === "performance");
      }
      if (el.type === "checkbox" || el.type === "radio") { return !el.checked; }
      return el.value === "";
    });
  }

  /* The server sends several blank rows for browsers without JS; with JS one is enough. */
  Array.prototype.forEach.call(form.querySelectorAll("[data-rows]"), function (container) {
    var rows = rowsOf(container);
    var keep = rows.length;
    while (keep > 1 && isBlankRow(rows[keep - 1]) && isBlankRow(rows[keep - 2])) { keep -= 1; }
    rows.slice(keep).forEach(function (row) { container.removeChild(row); });
    renumber(container);
  });

  form.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) { event.preventDefault(); addRow(add.getAttribute("data-add-row")); return; }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) { event.preventDefault(); removeRow(remove.closest("[data-row]")); }
  });

  /* Show value or low/high depending on the comparison chosen. */
  function syncOp(row) {
    var op = row.querySelector("select[data-op]");
    if (!op) { return; }
    var range = op.value === "range";
    Array.prototype.forEach.call(row.querySelectorAll(".op-range"), function (el) { el.hidden = !range; });
    Array.prototype.forEach.call(row.querySelectorAll(".op-single"), function (el) { el.hidden = range; });
  }

  /* ---- live comparison ------------------------------------------------------------------ */

  var indicators = form.querySelector('[data-rows="indicators"]');
  var compareUrl = form.getAttribute("data-compare-url");
  var timer = null;
  var sequence = 0;

  function rowData(row) {
    var data = {};
    Array.prototype.forEach.call(row.querySelectorAll("[name]"), function (el) {
      var match = /^indicators-\d+-(.+)$/.exec(el.getAttribute("name"));
      if (match) { data[match[1]] = el.value; }
    });
    return data;
  }

  function scheduleCompare() {
    if (!indicators || !compareUrl) { return; }
    window.clearTimeout(timer);
    timer = window.setTimeout(runCompare, 350);
  }

  /* The products (category and the attributes that select benchmark rows), the references and
     the "fewer indicators" statement: the benchmarks apply to the products, linked or not. */
  function listData(list) {
    var container = form.querySelector('[data-rows="' + list + '"]');
    if (!container) { return []; }
    var pattern = new RegExp("^" + list + "-\\d+-(.+)$");
    return rowsOf(container).map(function (row) {
      var data = {};
      Array.prototype.forEach.call(row.querySelectorAll("[name]"), function (el) {
        var match = pattern.exec(el.getAttribute("name"));
        if (match) { data[match[1]] = el.value; }
      });
      return data;
    });
  }

  function showProblems(problems) {
    var box = document.getElementById("rule-problems-live");
    if (!box) { return; }
    box.textContent = "";
    box.hidden = !problems || problems.length === 0;
    if (box.hidden) { return; }
    var list = el("ul");
    problems.forEach(function (text) { list.appendChild(el("li", "", text)); });
    box.appendChild(list);
    var static_ = document.getElementById("rule-problems");
    if (static_) { static_.hidden = true; }
  }

  function runCompare() {
    var rows = rowsOf(indicators);
    var mine = ++sequence;
    var fewer = form.querySelector('[name="mingshi_fewer"]');
    fetch(compareUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken },
      body: JSON.stringify({
        indicators: rows.map(rowData),
        products: listData("products"),
        reference_ids: listData("references").map(function (r) { return r.standard_id; }).filter(Boolean),
        mingshi_fewer: fewer ? fewer.value : ""
      })
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (body) {
      if (!body || mine !== sequence) { return; }  // a newer request is on its way
      var current = rowsOf(indicators);
      body.rows.forEach(function (result) {
        var row = current[result.row];
        if (!row) { return; }
        /* An automatic link is shown in the select, where the enterprise may change it. */
        var select = row.querySelector("select[data-benchmark]");
        if (select && result.auto_linked && result.benchmark_id && !select.value) {
          select.value = String(result.benchmark_id);
        }
        showResult(row.querySelector("[data-cmp]"), result);
      });
      showProblems(body.problems);
    }).catch(function () { /* offline: the server checks again on save */ });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function showResult(target, result) {
    if (!target) { return; }
    target.textContent = "";
    if (result.blank) { return; }
    if (result.status) {
      var badge = el("span", "badge " + result.status, result.status_label || result.status);
      badge.setAttribute("data-status", result.status);
      target.appendChild(badge);
      target.appendChild(document.createTextNode(" "));
    }
    if (result.auto_linked) {
      target.appendChild(el("span", "auto-link muted", target.getAttribute("data-auto-label") || ""));
      target.appendChild(document.createTextNode(" "));
    }
    if (result.grade) {
      target.appendChild(el("span", "grade", (target.getAttribute("data-grade-label") || "") + " " + result.grade));
      target.appendChild(document.createTextNode(" "));
    }
    /* Said by the server from the threshold the status is about (limit, recommended value or
       grade), in the indicator's own direction: never a signed "margin" against another figure. */
    if (result.distance_text) {
      target.appendChild(el("span", "margin", result.distance_text));
    }
    if (result.bar) { target.appendChild(drawBar(result.bar)); }
    if (result.message) {
      target.appendChild(el("span", "message " + (result.problem ? "error" : "muted"), result.message));
    }
  }

  /* The bar comes drawn by the server (result.bar.svg, the same SVG as the static page's). */
  function drawBar(bar) {
    var doc = new DOMParser().parseFromString(bar.svg, "image/svg+xml");
    return document.importNode(doc.documentElement, true);
  }

  if (indicators) {
    indicators.addEventListener("input", scheduleCompare);
    indicators.addEventListener("change", function (event) {
      if (event.target.matches("select[data-op]")) { syncOp(event.target.closest("[data-row]")); }
      scheduleCompare();
    });
    rowsOf(indicators).forEach(syncOp);
  }

  /* ---- benchmark options follow the products' categories -------------------------------- */

  function chosenCategories() {
    var chosen = {};
    Array.prototype.forEach.call(form.querySelectorAll("select[data-product-category]"), function (s) {
      if (s.value) { chosen[s.value] = true; }
    });
    return chosen;
  }

  function filterBenchmarks() {
    if (!indicators) { return; }
    var chosen = chosenCategories();
    var any = Object.keys(chosen).length > 0;
    Array.prototype.forEach.call(indicators.querySelectorAll('select[name$="-benchmark_indicator_id"] option[data-category]'), function (opt) {
      opt.disabled = any && !chosen[opt.getAttribute("data-category")] && !opt.selected;
    });
  }

  var products = form.querySelector('[data-rows="products"]');
  if (products) {
    products.addEventListener("change", function () { filterBenchmarks(); scheduleCompare(); });
    products.addEventListener("input", scheduleCompare);
  }
  var references = form.querySelector('[data-rows="references"]');
  if (references) { references.addEventListener("change", scheduleCompare); }
  var fewerBox = form.querySelector('[name="mingshi_fewer"]');
  if (fewerBox) { fewerBox.addEventListener("input", scheduleCompare); }
  filterBenchmarks();

  /* ---- search the catalogue for the standard pickers ------------------------------------ */

  var optionsUrl = form.getAttribute("data-options-url");
  Array.prototype.forEach.call(form.querySelectorAll("[data-standard-search]"), function (box) {
    var selector = box.getAttribute("data-standard-search");
    var searchTimer = null;
    box.addEventListener("input", function () {
      window.clearTimeout(searchTimer);
      searchTimer = window.setTimeout(function () {
        fetch(optionsUrl + "?q=" + encodeURIComponent(box.value), {
          credentials: "same-origin", headers: { "Accept": "application/json" }
        }).then(function (r) { return r.ok ? r.json() : null; }).then(function (found) {
          if (!found) { return; }
          Array.prototype.forEach.call(form.querySelectorAll(selector), function (select) {
            replaceOptions(select, found);
          });
        }).catch(function () { /* keep the options the page came with */ });
      }, 300);
    });
  });

  /* Keep the blank choice and the selected one; list the matches after them. */
  function replaceOptions(select, found) {
    var keep = Array.prototype.filter.call(select.options, function (o) { return o.value === "" || o.selected; });
    var kept = {};
    select.textContent = "";
    keep.forEach(function (o) { kept[o.value] = true; select.appendChild(o); });
    found.forEach(function (item) {
      if (kept[String(item.id)]) { return; }
      var o = document.createElement("option");
      o.value = String(item.id);
      o.textContent = item.label;
      select.appendChild(o);
    });
  }
})();
