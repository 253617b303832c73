// Small behaviours that need no framework; the pages work without them.
// No inline scripts or handlers anywhere (CSP script-src 'self'): everything is delegated here.
(() => {
  "use strict";
  document.documentElement.classList.add("js");

  const csrf = () => {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  };

  // htmx carries the CSRF token on every request it makes.
  document.addEventListener("htmx:configRequest", (event) => {
    event.detail.headers["X-CSRF-Token"] = csrf();
  });

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.matches("[data-autosubmit]")) target.form.requestSubmit();
    if (target.matches("[data-select-all]")) {
      const form = target.closest("form");
      form.querySelectorAll('input[name="_ids"]').forEach((box) => { box.checked = target.checked; });
      updateSelection(form);
    } else if (target.matches('input[name="_ids"]')) {
      updateSelection(target.closest("form"));
    }
  });

  // -- bulk selection ----------------------------------------------------------------------
  function updateSelection(form) {
    if (!form) return;
    const boxes = Array.from(form.querySelectorAll('input[name="_ids"]'));
    const chosen = boxes.filter((box) => box.checked).length;
    const bar = form.querySelector("[data-bulk-bar]");
    if (bar) bar.classList.toggle("has-selection", chosen > 0);
    const counter = form.querySelector("[data-selected-count]");
    if (counter) {
      if (!counter.dataset.hint) counter.dataset.hint = counter.textContent;
      const template = counter.dataset.template || "{n}";
      counter.textContent = chosen ? template.replace("{n}", String(chosen)) : counter.dataset.hint;
    }
    const all = form.querySelector("[data-select-all]");
    if (all) {
      all.checked = chosen > 0 && chosen === boxes.length;
      all.indeterminate = chosen > 0 && chosen < boxes.length;
    }
  }

  // -- filter rows: remove a row, then run the query again --------------------------------------
  document.addEventListener("click", (event) => {
    const remove = event.target.closest("[data-remove-row]");
    if (remove) {
      event.preventDefault();
      const form = remove.form;
      remove.closest("[data-filter-row]").remove();
      if (form) form.requestSubmit();
      return;
    }
    const option = event.target.closest("[data-lookup-option]");
    if (option) {
      event.preventDefault();
      chooseOption(option);
      return;
    }
    // a click elsewhere closes open lookup lists
    document.querySelectorAll("[data-lookup]").forEach((box) => {
      if (!box.contains(event.target)) closeList(box);
    });
  });

  // -- lookups: search as you type (htmx fetches the options), pick one --------------------------
  function closeList(box) {
    const list = box.querySelector(".lookup-list");
    const input = box.querySelector("[data-lookup-input]");
    if (list) list.replaceChildren();
    if (input) input.setAttribute("aria-expanded", "false");
  }

  function chooseOption(option) {
    const box = option.closest("[data-lookup]");
    box.querySelector("[data-lookup-value]").value = option.dataset.id;
    const input = box.querySelector("[data-lookup-input]");
    input.value = option.dataset.label;
    closeList(box);
    input.focus();
  }

  document.addEventListener("input", (event) => {
    if (event.target.matches("[data-lookup-input]")) {
      // typing a new name forgets the chosen record until one is picked again
      const box = event.target.closest("[data-lookup]");
      box.querySelector("[data-lookup-value]").value = "";
    }
  });

  document.addEventListener("keydown", (event) => {
    const box = event.target.closest && event.target.closest("[data-lookup]");
    if (!box) return;
    const options = Array.from(box.querySelectorAll("[data-lookup-option]"));
    const input = box.querySelector("[data-lookup-input]");
    const at = options.indexOf(document.activeElement);
    if (event.key === "ArrowDown" && options.length) {
      event.preventDefault();
      options[Math.min(at + 1, options.length - 1)].focus();
    } else if (event.key === "ArrowUp" && options.length) {
      event.preventDefault();
      if (at <= 0) input.focus(); else options[at - 1].focus();
    } else if (event.key === "Escape") {
      closeList(box);
      input.focus();
    } else if (event.key === "Enter" && event.target === input && options.length === 1) {
      event.preventDefault();
      chooseOption(options[0]);
    }
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    const list = event.detail.target;
    if (list && list.classList && list.classList.contains("lookup-list")) {
      const box = list.closest("[data-lookup]");
      const input = box.querySelector("[data-lookup-input]");
      input.setAttribute("aria-expanded", list.children.length ? "true" : "false");
    }
  });

  document.addEventListener("htmx:load", (event) => {
    const root = event.detail.elt;
    if (root && root.classList && root.classList.contains("editing")) {
      const input = root.querySelector("input:not([type=hidden]), select, textarea");
      if (input) input.focus();
    }
  });

  // -- live forms (the report builder): the server answers each change with the form again.
  // An answer to an older state of the form is not swapped in over what was changed since;
  // the request for the newer state is queued behind it (hx-sync "queue last") and follows.
  document.addEventListener("change", (event) => {
    const form = event.target.form || (event.target.closest && event.target.closest("form"));
    if (form && form.hasAttribute("data-live-form")) {
      form.dataset.edits = String(Number(form.dataset.edits || 0) + 1);
    }
  }, true);

  const liveForm = (elt) => (elt && elt.closest ? elt.closest("[data-live-form]") : null);

  document.addEventListener("htmx:beforeRequest", (event) => {
    const form = liveForm(event.detail.elt);
    if (form) event.detail.xhr.rapportEdits = form.dataset.edits || "0";
  });

  document.addEventListener("htmx:beforeSwap", (event) => {
    const form = liveForm(event.detail.elt);
    const sent = event.detail.xhr && event.detail.xhr.rapportEdits;
    if (form && sent !== undefined && sent !== (form.dataset.edits || "0")) {
      event.detail.shouldSwap = false;
    }
  });

  // Forms with errors: move the focus to the summary so screen readers announce it.
  document.addEventListener("DOMContentLoaded", () => {
    const summary = document.getElementById("form-errors");
    if (summary) summary.focus();
  });
})();
