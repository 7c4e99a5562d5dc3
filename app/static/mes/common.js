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
 *
 * MES.t(message, params): a script's message in the page's language. The page carries the translations
 * as JSON (<script id="mes-i18n">, base_layout.html, from app/web/i18n.py JS_MESSAGES); a message
 * without one is shown as written (English). Placeholders: MES.t("Unit %(sn)s", {sn: "PB-1"}).
 *
 * MES.number(x, digits) / MES.percent(ratio, digits): a count, quantity or ratio in the page's language
 * (Intl.NumberFormat of <html lang>, the same figures as the templates' mes_number / mes_percent filters,
 * app/web/i18n.py): MES.number(12345) "12,345", MES.number(2.25, 1) "2.3", MES.percent(0.953) "95.3%".
 * digits fixes the decimals (number: as many as needed, up to 3, when not given; percent: 1). null,
 * undefined or not a number: "—" (percent) or "" (number), so a script never shows "NaN".
 */
(function () {
  "use strict";
  var catalogue = null;
  function messages() {
    if (catalogue === null) {
      var node = document.getElementById("mes-i18n");
      try { catalogue = node ? JSON.parse(node.textContent || "{}") : {}; } catch (e) { catalogue = {}; }
    }
    return catalogue;
  }
  function t(message, params) {
    var text = Object.prototype.hasOwnProperty.call(messages(), message) ? messages()[message] : message;
    if (params) {
      text = text.replace(/%\((\w+)\)s/g, function (whole, name) {
        return Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole;
      });
    }
    return text;
  }
  window.MES = window.MES || {};
  window.MES.t = t;
  window.MES.lang = document.documentElement.getAttribute("lang") || "en";

  function formatter(options) {
    try { return new Intl.NumberFormat(window.MES.lang, options); } catch (e) { return new Intl.NumberFormat("en", options); }
  }
  function fixed(digits) {
    return digits === undefined || digits === null ? { maximumFractionDigits: 3 }
      : { minimumFractionDigits: digits, maximumFractionDigits: digits };
  }
  function isNumber(x) { return typeof x === "number" && isFinite(x); }
  window.MES.number = function (x, digits) {
    return isNumber(x) ? formatter(fixed(digits)).format(x) : (x === null || x === undefined ? "" : String(x));
  };
  window.MES.percent = function (ratio, digits) {
    return isNumber(ratio) ? formatter(Object.assign({ style: "percent" }, fixed(digits === undefined ? 1 : digits))).format(ratio) : "—";
  };

  function closest(node, selector) {
    return node && node.closest ? node.closest(selector) : null;
  }
  document.addEventListener("click", function (event) {
    var asking = closest(event.target, "[data-confirm]");
    if (asking && asking.tagName !== "FORM" && !window.confirm(asking.getAttribute("data-confirm") || t("Are you sure?"))) {
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
    if (form.hasAttribute("data-confirm") && asksNow(form) && !window.confirm(form.getAttribute("data-confirm") || t("Are you sure?"))) {
      event.preventDefault();
    }
  });
  document.addEventListener("change", function (event) {
    var select = closest(event.target, "[data-autosubmit]");
    if (select && select.form) { select.form.submit(); }
  });
})();
