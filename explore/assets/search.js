// Codebook search, as you type: every word must occur in a variable's name, table, label or
// value labels (accents and case ignored). `?q=...` in the address fills the box. Also builds the
// `ippmd extract` command of the ticked variables. No network, no libraries. The page's language
// gives the texts: #count's data-of ("{shown} of {total} variables") and #command's data-empty.
(function () {
  "use strict";
  var box = document.getElementById("search");
  var count = document.getElementById("count");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#variables tbody tr"));
  function fold(text) {
    return text.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "");
  }
  function filter() {
    var words = fold(box.value).split(/\s+/).filter(Boolean);
    var shown = 0;
    rows.forEach(function (row) {
      var text = row.getAttribute("data-search");
      var hit = words.every(function (word) { return text.indexOf(word) !== -1; });
      row.hidden = !hit;
      if (hit) { shown += 1; }
    });
    count.textContent = count.getAttribute("data-of")
      .replace("{shown}", String(shown)).replace("{total}", String(rows.length));
  }
  var command = document.getElementById("command");
  function build() {
    var tables = [], variables = [];
    rows.forEach(function (row) {
      var tick = row.querySelector("input[type=checkbox]");
      if (tick && tick.checked) {
        var table = row.getAttribute("data-table"), name = row.getAttribute("data-name");
        if (tables.indexOf(table) === -1) { tables.push(table); }
        if (variables.indexOf(name) === -1) { variables.push(name); }
      }
    });
    command.textContent = variables.length
      ? "ippmd extract --tables " + tables.join(",") + " --variables " + variables.join(",") + " --out extract.zip"
      : command.getAttribute("data-empty");
  }
  box.addEventListener("input", filter);
  document.getElementById("variables").addEventListener("change", build);
  var asked = new URLSearchParams(window.location.search).get("q");
  if (asked) { box.value = asked; }
  filter();
  build();
})();
