(function () {
  "use strict";
  var body = document.body;
  var notes = Array.prototype.slice.call(document.querySelectorAll(".pv-note"));
  var search = document.getElementById("pv-search");
  var tagSelect = document.getElementById("pv-tag");
  var theme = document.getElementById("pv-theme");
  var shown = document.getElementById("pv-shown");
  var none = document.getElementById("pv-none");

  notes.forEach(function (note) {
    note.fmText = note.textContent.toLowerCase();
    note.fmTags = (note.getAttribute("data-tags") || "").toLowerCase().split(" ").filter(Boolean);
  });

  // Like Anki's tag:X, a tag also matches its child tags (X::Y).
  function hasTag(note, tag) {
    return note.fmTags.some(function (t) { return t === tag || t.indexOf(tag + "::") === 0; });
  }

  function apply() {
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var tag = tagSelect.value.toLowerCase();
    var count = 0;
    notes.forEach(function (note) {
      var match = (!tag || hasTag(note, tag)) && words.every(function (w) { return note.fmText.indexOf(w) !== -1; });
      note.hidden = !match;
      if (match) count += 1;
    });
    shown.textContent = String(count);
    none.hidden = count !== 0;
  }

  function setDark(dark) {
    // Anki marks dark mode on the card's page with these classes.
    body.classList.toggle("nightMode", dark);
    body.classList.toggle("night_mode", dark);
    theme.setAttribute("aria-pressed", dark ? "true" : "false");
    theme.textContent = dark ? "Light" : "Dark";
  }

  search.addEventListener("input", apply);
  tagSelect.addEventListener("change", apply);
  theme.addEventListener("click", function () { setDark(!body.classList.contains("nightMode")); });
  setDark(window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches);
  apply();
})();
