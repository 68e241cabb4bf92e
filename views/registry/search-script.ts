/**
 * The registry website's only script: filters the pre-rendered plugin list as one types (every
 * word must occur in the plugin's title, description, author or tags). Without JavaScript the
 * full list is still there. Kept as text here so it is embedded in the binary and written as
 * `search.js` next to the pages.
 */
export const SEARCH_SCRIPT = `(function () {
  var input = document.getElementById("q");
  var list = document.getElementById("all");
  var count = document.getElementById("count");
  if (!input || !list) return;
  var items = Array.prototype.slice.call(list.querySelectorAll("li[data-text]"));
  function run() {
    var words = input.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var shown = 0;
    items.forEach(function (li) {
      var text = li.getAttribute("data-text");
      var hit = words.every(function (w) { return text.indexOf(w) >= 0; });
      li.hidden = !hit;
      if (hit) shown++;
    });
    if (count) count.textContent = String(shown);
    var url = new URL(location.href);
    if (input.value) url.searchParams.set("q", input.value); else url.searchParams.delete("q");
    history.replaceState(null, "", url);
  }
  input.value = new URL(location.href).searchParams.get("q") || "";
  input.addEventListener("input", run);
  if (input.value) run();
})();
`;
