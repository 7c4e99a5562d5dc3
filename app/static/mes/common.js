/* LineMES console behaviours that templates would otherwise write as inline handlers (onclick=…),
 * which the Content-Security-Policy forbids (app/security_headers.py). Markup asks for them with
 * data attributes:
 *   data-confirm="question"  on a form (on submit) or a button/link (on click): ask first
 *   data-confirm-if="field=VALUE"  with data-confirm on a form: ask only when that field has that value
 *                            (e.g. a disposition form asks before a SCRAP, not before a REWORK)
 *   data-print               click: print the page
 *   data-back                click: go back one page
 *   data-autosubmit          on a select: submit its form when the choice changes
 *   data-no-submit           on a form: never submitted by Enter (the page's script handles it)
 */
(function () {
  "use strict";
  function closest(node, selector) {
    return node && node.closest ? node.closest(selector) : null;
  }
  document.addEventListener("click", function (event) {
    var asking = closest(event.target, "[data-confirm]");
    if (asking && asking.tagName !== "FORM" && !window.confirm(asking.getAttribute("data-confirm"))) {
      event.preventDefault();
      return;
    }
    if (closest(event.target, "[data-print]")) { event.preventDefault(); window.print(); return; }
    if (closest(event.target, "[data-back]")) { event.preventDefault(); window.history.back(); }
  });
  function asksNow(form) {
    var condition = form.getAttribute("data-confirm-if");
    if (!condition) { return true; }
    var at = condition.indexOf("="), field = form.elements[condition.slice(0, at)];
    return !!field && field.value === condition.slice(at + 1);
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("data-no-submit")) { event.preventDefault(); return; }
    if (form.hasAttribute("data-confirm") && asksNow(form) && !window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });
  document.addEventListener("change", function (event) {
    var select = closest(event.target, "[data-autosubmit]");
    if (select && select.form) { select.form.submit(); }
  });
})();
