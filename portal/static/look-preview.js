// The Portal settings page's live preview (portal/console_look.py): as the owner edits the
// look form, each phone-sized preview frame is loaded again with the draft in its query
// (the preview route renders the real splash template with it; nothing is stored). The
// colour pickers and their hex fields follow each other. Without this script the page still
// works: saving reloads it, and the frames show the saved look.
"use strict";
(function () {
  var form = document.getElementById("look-form");
  if (!form) {
    return;
  }
  var frames = document.querySelectorAll("iframe[data-base]");
  var fields = ["brand_name", "brand_color", "page_color", "text_color", "welcome_en",
    "welcome_zh", "landing_url"];
  var timer = null;

  function refresh() {
    var draft = new URLSearchParams();
    draft.set("draft", "1");
    fields.forEach(function (name) {
      var input = form.elements.namedItem(name);
      if (input) {
        draft.set(name, input.value);
      }
    });
    frames.forEach(function (frame) {
      frame.src = frame.getAttribute("data-base") + "&" + draft.toString();
    });
  }

  function later() {
    if (timer !== null) {
      clearTimeout(timer);
    }
    timer = setTimeout(refresh, 250);
  }

  document.querySelectorAll("input[type=color][data-hex]").forEach(function (picker) {
    var hex = document.getElementById(picker.getAttribute("data-hex"));
    picker.tabIndex = 0; // usable once the script runs; the hex field is the form's value
    picker.addEventListener("input", function () {
      hex.value = picker.value;
      later();
    });
    hex.addEventListener("input", function () {
      if (/^#[0-9a-fA-F]{6}$/.test(hex.value)) {
        picker.value = hex.value.toLowerCase();
      }
    });
  });
  form.addEventListener("input", later);
})();
