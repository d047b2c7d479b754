// mindgate admin: the few behaviours htmx does not cover. No inline
// scripts anywhere (the CSP forbids them), so they hang off data attributes.
(function () {
  "use strict";

  // Copy the value of the input a [data-copy] button names.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) return;
    input.select();
    var done = function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        document.execCommand("copy");
        done();
      });
    } else {
      document.execCommand("copy");
      done();
    }
  });

  // Forms marked data-reset-on-success empty themselves after a success.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (form && form.matches && form.matches("form[data-reset-on-success]") && event.detail.successful) {
      form.reset();
    }
  });

  // After a swap into the main area, move focus there for screen readers.
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.target && event.detail.target.id === "main") {
      var heading = event.detail.target.querySelector("h1");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus({ preventScroll: true });
      }
    }
  });

  // Policy forms. A provider's "All" box ticks or unticks its models (the
  // server reads it too, so without JavaScript "All" still means all);
  // ticking or typing a choice picks "Only these"; "No restriction" clears
  // the choices, which it makes moot.
  function syncAll(group) {
    var all = group.querySelector("[data-select-all]");
    var boxes = group.querySelectorAll("input[type=checkbox]:not([data-select-all])");
    var ticked = 0;
    boxes.forEach(function (box) { if (box.checked) ticked++; });
    all.checked = boxes.length > 0 && ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
  }

  function pickOnly(part) {
    var only = part.querySelector("[data-mode=only]");
    if (only) only.checked = true;
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    var part = input.closest && input.closest("[data-choices]");
    if (!part) return;
    var group = input.closest("[data-group]");
    if (input.matches("[data-select-all]")) {
      group.querySelectorAll("input[type=checkbox]").forEach(function (box) { box.checked = input.checked; });
    } else if (group) {
      syncAll(group);
    }
    if (input.type === "checkbox" && input.checked) pickOnly(part);
    if (input.matches("[data-mode=any]") && input.checked) {
      part.querySelectorAll("input[type=checkbox]").forEach(function (box) {
        box.checked = false;
        box.indeterminate = false;
      });
      part.querySelectorAll("[data-pattern]").forEach(function (text) { text.value = ""; });
    }
  });

  document.addEventListener("input", function (event) {
    var text = event.target;
    if (text.matches && text.matches("[data-pattern]") && text.value.trim() !== "") {
      pickOnly(text.closest("[data-choices]"));
    }
  });

  // "Add another limit": a copy of the blank row, numbered next.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-add-limit]");
    if (!button) return;
    var rows = button.closest("fieldset").querySelector("[data-limit-rows]");
    var blanks = rows.querySelectorAll("[data-blank-limit]");
    var row = blanks[blanks.length - 1].cloneNode(true);
    var next = rows.querySelectorAll("[data-limit]").length;
    row.querySelectorAll("[name]").forEach(function (field) {
      field.name = field.name.replace(/^limits\[\d+\]/, "limits[" + next + "]");
      if (field.tagName === "INPUT") field.value = "";
    });
    row.querySelectorAll("[id]").forEach(function (el) {
      el.id = el.id.replace(/^limit-\d+-/, "limit-" + next + "-");
    });
    row.querySelectorAll("label[for]").forEach(function (label) {
      label.htmlFor = label.htmlFor.replace(/^limit-\d+-/, "limit-" + next + "-");
    });
    rows.appendChild(row);
    row.querySelector("input").focus();
  });

  // What only works with JavaScript is shown once it runs, on each page
  // and each piece htmx swaps in.
  function enhance(root) {
    root.querySelectorAll("[data-add-limit]").forEach(function (button) { button.hidden = false; });
    root.querySelectorAll("[data-group]").forEach(syncAll);
  }
  if (window.htmx) {
    htmx.onLoad(enhance);
  } else {
    enhance(document);
  }
})();
