// The qcompat history page's behaviour: the point a #d-… (or #p-…) link names is outlined and its details shown.
// The page is complete without it (CSS :target shows the details); this adds the outline and keeps one shown.
(function () {
  "use strict";
  function show() {
    document.querySelectorAll(".point.selected, .details.shown").forEach(function (el) {
      el.classList.remove("selected", "shown");
    });
    var id = decodeURIComponent(location.hash.slice(1)).replace(/^p-/, "d-");
    var details = id ? document.getElementById(id) : null;
    if (!details || !details.classList.contains("details")) {
      delete document.body.dataset.selected;
      return;
    }
    details.classList.add("shown");
    var point = document.getElementById(details.dataset.point);
    if (point) point.classList.add("selected");
    document.body.dataset.selected = details.dataset.point;
  }
  window.addEventListener("hashchange", show);
  show();
  document.body.dataset.ready = "true";
})();
