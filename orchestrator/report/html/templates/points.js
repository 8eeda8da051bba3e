/* Sorts the every-point table by a clicked column (numbers as numbers, "-" and blanks last) and
   filters its rows by their text: plain JavaScript, no library and no network. */
(function () {
  var box = document.getElementById("every-point");
  var table = box && box.querySelector("table");
  if (!table) { return; }
  var body = table.tBodies[0];
  var input = document.getElementById("point-filter");
  var count = document.getElementById("point-count");
  function key(cell) {
    var text = cell.textContent.trim();
    var number = parseFloat(text.replace(/,/g, ""));
    if (text === "" || text === "-") { return [2, 0]; }
    if (/^-?[0-9][0-9,]*(\.[0-9]+)?$/.test(text) && !isNaN(number)) { return [0, number]; }
    return [1, text.toLowerCase()];
  }
  function compare(a, b) {
    if (a[0] !== b[0]) { return a[0] - b[0]; }
    return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
  }
  function shown() {
    var n = 0;
    Array.prototype.forEach.call(body.rows, function (row) {
      if (row.style.display !== "none") { n++; }
    });
    count.textContent = n + " of " + body.rows.length + " points";
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
    th.style.cursor = "pointer";
    th.title = "sort by this column";
    th.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (other) {
        other.removeAttribute("aria-sort");
      });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var order = compare(key(a.cells[column]), key(b.cells[column]));
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
  input.addEventListener("input", function () {
    var text = input.value.toLowerCase();
    Array.prototype.forEach.call(body.rows, function (row) {
      row.style.display = row.textContent.toLowerCase().indexOf(text) < 0 ? "none" : "";
    });
    shown();
  });
  shown();
})();
