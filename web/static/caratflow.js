// caratflow: the little script the pages use (no inline script anywhere: CSP).
// 1. A language menu submits itself when changed (its button stays for no-script use).
// 2. A button with data-confirm asks before it submits a final decision.
"use strict";
document.addEventListener("change", function (event) {
  var select = event.target;
  if (select.matches && select.matches("select[data-autosubmit]")) {
    select.form.submit();
  }
});
document.addEventListener("submit", function (event) {
  var button = event.submitter || event.target.querySelector("[data-confirm]");
  var question = button && button.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
document.querySelectorAll(".js-hide").forEach(function (node) {
  node.hidden = true;
});
