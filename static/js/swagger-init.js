// Starts swagger-ui on /api/v1/docs (templates/swagger_ui.html): the spec URL and the
// configuration come from data attributes, so the page needs no inline script.
(function () {
  "use strict";
  var box = document.getElementById("swagger-ui-container");
  if (!box || typeof window.SwaggerUIBundle !== "function") return;
  var config = { url: box.dataset.specUrl, dom_id: "#swagger-ui-container" };
  var extra = JSON.parse(box.dataset.config || "{}");
  Object.keys(extra).forEach(function (key) { config[key] = extra[key]; });
  window.ui = window.SwaggerUIBundle(config);
})();
