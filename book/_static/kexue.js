/* Kexue Lab: one "Show the checks" toggle per chapter page.
   Cells tagged kexue-check (the claim bookkeeping, split off when the book is staged by
   tools/foldchecks.py) are hidden; their results stay in the chapter's claim ledger. */
document.addEventListener("DOMContentLoaded", function () {
  var checks = document.querySelectorAll("div.cell.tag_kexue-check");
  if (!checks.length) return;
  var title = document.querySelector("article h1");
  if (!title) return;
  var bar = document.createElement("p");
  bar.className = "kexue-checks-bar";
  var button = document.createElement("button");
  button.type = "button";
  button.className = "kexue-checks-toggle";
  var label = function (shown) {
    return (shown ? "Hide the checks" : "Show the checks") + " (" + checks.length +
      " code cells that record claims; their results are in the claim ledger)";
  };
  button.textContent = label(false);
  button.setAttribute("aria-pressed", "false");
  button.addEventListener("click", function () {
    var shown = document.body.classList.toggle("kexue-show-checks");
    button.textContent = label(shown);
    button.setAttribute("aria-pressed", shown ? "true" : "false");
  });
  bar.appendChild(button);
  var first = title.parentNode.querySelector(":scope > section");  // the Setup section
  if (first) first.parentNode.insertBefore(bar, first);
  else title.parentNode.insertBefore(bar, title.nextSibling);
});
