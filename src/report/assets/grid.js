// The qcompat HTML grid's behaviour: show a probe run's details on click (or from a #c-… link) and light up the
// probe runs that share its signature. The page is complete without it; this only adds the interaction.
(function () {
  "use strict";
  var details = document.getElementById("details");
  var list = details.querySelector("dl");
  var fields = [["key", "cell"], ["probe", "probe"], ["outcome", "outcome"], ["signature", "signature"],
                ["frame", "frame"], ["known", "known issue"], ["substitutions", "substitutions"],
                ["tests", "tests"]];

  function clearMarks() {
    document.querySelectorAll(".chip.selected, .chip.same-sig, .sig.active").forEach(function (el) {
      el.classList.remove("selected", "same-sig", "active");
    });
  }

  function highlightGroup(sig) {
    if (!sig) return;
    document.querySelectorAll('.chip[data-sig="' + sig + '"]').forEach(function (el) { el.classList.add("same-sig"); });
    var group = document.getElementById("sig-" + sig);
    if (group) group.classList.add("active");
  }

  function row(term, value) {
    var dt = document.createElement("dt");
    var dd = document.createElement("dd");
    dt.textContent = term;
    dd.textContent = value;
    list.appendChild(dt);
    list.appendChild(dd);
    return dd;
  }

  function select(chip) {
    clearMarks();
    chip.classList.add("selected");
    list.textContent = "";
    fields.forEach(function (field) {
      var value = chip.dataset[field[0]];
      if (value) row(field[1], value);
    });
    if (chip.dataset.outcome === "xpass") row("note", "fixed upstream? Drop the [[known]] entry once it stays fixed.");
    if (chip.dataset.outcome === "skipped") row("note", "nothing ran: not a pass, never counted as tested.");
    if (chip.dataset.sig) {
      var link = document.createElement("a");
      link.href = "#sig-" + chip.dataset.sig;
      link.textContent = "signature [" + chip.dataset.sig + "]: " +
        document.querySelectorAll('.chip[data-sig="' + chip.dataset.sig + '"]').length + " probe run(s)";
      row("group", "").appendChild(link);
    }
    details.hidden = false;
    details.dataset.selected = chip.id;
    highlightGroup(chip.dataset.sig);
  }

  document.querySelectorAll(".chip").forEach(function (chip) {
    chip.addEventListener("click", function () {
      select(chip);
      history.replaceState(null, "", "#" + chip.id);
    });
  });
  document.querySelectorAll(".sig h3").forEach(function (heading) {
    heading.addEventListener("click", function () {
      clearMarks();
      highlightGroup(heading.parentElement.dataset.sig);
    });
  });

  var selector = document.getElementById("section-select");
  if (selector) {
    selector.addEventListener("change", function () {
      document.querySelectorAll(".grid-section").forEach(function (section) {
        section.hidden = selector.value !== "all" && section.id !== selector.value;
      });
    });
  }

  function fromAddress() {
    var target = location.hash ? document.getElementById(location.hash.slice(1)) : null;
    if (target && target.classList.contains("chip")) {
      select(target);
    } else if (target && target.classList.contains("sig")) {
      clearMarks();
      highlightGroup(target.dataset.sig);
    }
  }
  window.addEventListener("hashchange", fromAddress);
  fromAddress();
  document.documentElement.dataset.ready = "true";
})();
