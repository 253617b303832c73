// The designer: inputs shown for the chosen field type, picklist rows added and
// reordered, fields reordered, layouts arranged by drag and drop (SortableJS). The
// server reads hidden inputs kept in step with the lists, so a form works without this.
(() => {
  "use strict";
  const hasSortable = typeof Sortable !== "undefined";

  // -- field form: the inputs of the chosen type --------------------------------------
  const typeSelect = document.querySelector("[data-type-select]");
  function showForType() {
    const chosen = typeSelect.value;
    document.querySelectorAll("[data-field-form] [data-types]").forEach((el) => {
      el.hidden = !el.dataset.types.split(" ").includes(chosen);
    });
  }
  if (typeSelect) {
    typeSelect.addEventListener("change", showForType);
    showForType();
  }

  // -- picklist values: add a row, drag to reorder ------------------------------------
  const rows = document.querySelector("[data-option-rows]");
  const addOption = document.querySelector("[data-add-option]");
  if (rows && addOption) {
    addOption.addEventListener("click", () => {
      const last = rows.querySelector("[data-option-row]:last-child");
      const row = last.cloneNode(true);
      row.querySelectorAll("input").forEach((input) => {
        input.value = input.type === "color" ? "#000000" : "";
      });
      row.querySelectorAll("select").forEach((select) => { select.selectedIndex = 0; });
      rows.appendChild(row);
      row.querySelector("input[name=opt_value]").focus();
    });
  }
  if (rows && hasSortable) {
    Sortable.create(rows, { handle: ".drag-handle", animation: 120, ghostClass: "drag-ghost" });
  }

  // -- stages and approval steps: drag to reorder --------------------------------------
  if (hasSortable) {
    document.querySelectorAll("[data-flow-rows]").forEach((body) => {
      Sortable.create(body, { handle: ".drag-handle", animation: 120, ghostClass: "drag-ghost" });
    });
  }

  // -- fields of an object: drag to reorder, then save the order ----------------------
  const orderForm = document.querySelector("[data-order-form]");
  if (orderForm && hasSortable) {
    const body = orderForm.querySelector("[data-sortable=fields]");
    const input = orderForm.querySelector("[data-order-input]");
    const actions = orderForm.querySelector("[data-order-actions]");
    Sortable.create(body, {
      handle: ".drag-handle", animation: 120, ghostClass: "drag-ghost",
      onEnd: () => {
        input.value = Array.from(body.children).map((tr) => tr.dataset.name).join(",");
        actions.hidden = false;
      },
    });
  }

  // -- layouts: sections, columns and card fields ----------------------------------------
  const layout = document.querySelector("[data-layout-form]");
  if (layout) {
    const sync = () => {
      layout.querySelectorAll("[data-list-input]").forEach((input) => {
        const list = input.parentElement.querySelector("ul[data-list]");
        if (!list) return;
        input.value = Array.from(list.querySelectorAll("li[data-name]"))
          .map((li) => li.dataset.name).join(",");
      });
    };
    const makeSortable = (list) => {
      if (!hasSortable) return;
      Sortable.create(list, {
        group: list.dataset.list, animation: 120, ghostClass: "drag-ghost",
        chosenClass: "drag-chosen", onSort: sync,
      });
    };
    layout.querySelectorAll("ul[data-list]").forEach(makeSortable);
    const addSection = layout.querySelector("[data-add-section]");
    const template = document.getElementById("section-template");
    if (addSection && template) {
      addSection.addEventListener("click", () => {
        const section = template.content.firstElementChild.cloneNode(true);
        layout.querySelector("[data-sections]").appendChild(section);
        makeSortable(section.querySelector("ul[data-list]"));
        section.querySelector("input[name=section_label]").focus();
      });
    }
    layout.addEventListener("submit", sync);
  }
})();
