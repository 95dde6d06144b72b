(function () {
  "use strict";
  // The cards come as data and are drawn a batch at a time as the page scrolls: a deck of tens of
  // thousands of notes opens at once, and filtering only walks the data.
  var BATCH = 40;
  var data = JSON.parse(document.getElementById("pv-data").textContent);
  var cards = data.cards;
  var media = data.media;
  var body = document.body;
  var list = document.getElementById("pv-notes");
  var search = document.getElementById("pv-search");
  var tagSelect = document.getElementById("pv-tag");
  var theme = document.getElementById("pv-theme");
  var shown = document.getElementById("pv-shown");
  var none = document.getElementById("pv-none");
  var more = document.getElementById("pv-more");
  var matching = [];
  var drawn = 0;

  cards.forEach(function (card) {
    card.lowTags = card.tags.map(function (t) { return t.toLowerCase(); });
  });

  // Like Anki's tag:X, a tag also matches its child tags (X::Y).
  function hasTag(card, tag) {
    return card.lowTags.some(function (t) { return t === tag || t.indexOf(tag + "::") === 0; });
  }

  function withMedia(html) {
    return html.replace(/src="(fm-[0-9a-f]{16}(?:\.[a-z0-9]{1,5})?)"/g, function (all, name) {
      return media[name] ? 'src="' + media[name] + '"' : all;
    });
  }

  function element(tag, cls, text) {
    var el = document.createElement(tag);
    if (cls) el.className = cls;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function side(label, html) {
    var section = element("section", "pv-side");
    section.appendChild(element("h2", "pv-label", label));
    var card = element("div", "card");
    card.innerHTML = withMedia(html);  // flashmark's own sanitised card HTML
    section.appendChild(card);
    return section;
  }

  function draw(card) {
    var note = element("article", "pv-note");
    note.setAttribute("data-tags", card.tags.join(" "));
    var meta = element("header", "pv-meta");
    meta.appendChild(element("span", "pv-deck", card.deck));
    meta.appendChild(element("span", "pv-kind", card.kind + (card.card && card.card !== "Card" ? " · " + card.card : "")));
    card.tags.forEach(function (t) { meta.appendChild(element("span", "pv-tag", t)); });
    meta.appendChild(element("span", "pv-src", card.src));
    note.appendChild(meta);
    var sides = element("div", "pv-sides");
    sides.appendChild(side("Front", card.front));
    sides.appendChild(side("Back", card.back));
    note.appendChild(sides);
    return note;
  }

  function drawMore() {
    var end = Math.min(drawn + BATCH, matching.length);
    var batch = document.createDocumentFragment();
    for (; drawn < end; drawn += 1) batch.appendChild(draw(matching[drawn]));
    list.appendChild(batch);
    more.hidden = drawn >= matching.length;
  }

  function apply() {
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var tag = tagSelect.value.toLowerCase();
    matching = cards.filter(function (card) {
      return (!tag || hasTag(card, tag)) && words.every(function (w) { return card.text.indexOf(w) !== -1; });
    });
    list.textContent = "";
    drawn = 0;
    drawMore();
    shown.textContent = String(matching.length);
    none.hidden = matching.length !== 0;
  }

  function setDark(dark) {
    // Anki marks dark mode on the card's page with these classes.
    body.classList.toggle("nightMode", dark);
    body.classList.toggle("night_mode", dark);
    theme.setAttribute("aria-pressed", dark ? "true" : "false");
    theme.textContent = dark ? "Light" : "Dark";
  }

  if ("IntersectionObserver" in window) {
    new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; }) && drawn < matching.length) drawMore();
    }, { rootMargin: "1500px" }).observe(more);
  }
  search.addEventListener("input", apply);
  tagSelect.addEventListener("change", apply);
  theme.addEventListener("click", function () { setDark(!body.classList.contains("nightMode")); });
  setDark(window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches);
  apply();
})();
