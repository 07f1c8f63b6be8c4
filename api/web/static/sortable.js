/* Sortable tables: a <table data-sortable> whose column headings hold
   <button class="sort" data-sort="number|text"> sorts its body rows by that column (each cell's
   data-value, else its text), ascending then descending, and says so in aria-sort. Works for
   tables htmx swaps in later (one listener on the document). No inline script. */
(function () {
  "use strict";
  function value(cell, numeric) {
    var raw = cell ? (cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent) : "";
    if (!numeric) { return raw.trim().toLowerCase(); }
    var n = parseFloat(raw);
    return isNaN(n) ? -Infinity : n;
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("table[data-sortable] button.sort");
    if (!button) { return; }
    var th = button.closest("th");
    var table = th.closest("table");
    var column = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = button.dataset.sort === "number";
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    th.parentNode.querySelectorAll("th").forEach(function (h) {
      if (h.hasAttribute("aria-sort")) { h.setAttribute("aria-sort", "none"); }
    });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = value(a.cells[column], numeric), y = value(b.cells[column], numeric);
      var order = x < y ? -1 : x > y ? 1 : 0;
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
})();
