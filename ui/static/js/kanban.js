// Kanban drag and drop: SortableJS moves the card, the server decides. A refused move
// springs the card back to where it was and shows the reason.
(() => {
  "use strict";
  const board = document.querySelector("[data-kanban]");
  if (!board || typeof Sortable === "undefined") return;
  const message = document.getElementById("kanban-message");
  const query = board.dataset.moveQuery || "";

  function say(text, kind) {
    if (!message) return;
    message.textContent = text;
    message.className = "kanban-message notice " + (kind === "error" ? "notice-error" : "notice-ok");
    message.hidden = !text;
  }

  function springBack(card, from, index) {
    const siblings = Array.from(from.children).filter((el) => el !== card);
    from.insertBefore(card, siblings[index] || null);
    card.classList.add("refused");
    window.setTimeout(() => card.classList.remove("refused"), 900);
  }

  function move(evt) {
    const card = evt.item;
    const from = evt.from;
    const to = evt.to;
    if (from === to) return;
    const oldIndex = evt.oldIndex;
    const csrf = document.querySelector('meta[name="csrf-token"]');
    const body = new URLSearchParams({ value: to.dataset.value, version: card.dataset.version });
    card.classList.add("saving");
    say("", "ok");
    fetch(card.dataset.moveUrl + (query ? "?" + query : ""), {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        "HX-Request": "true",
        "X-CSRF-Token": csrf ? csrf.content : "",
      },
      body,
    }).then((response) => response.text().then((text) => {
      card.classList.remove("saving");
      if (!response.ok) {
        springBack(card, from, oldIndex);
        say(text || response.statusText, "error");
        return;
      }
      htmx.swap(card, text, { swapStyle: "none" });
    })).catch(() => {
      card.classList.remove("saving");
      springBack(card, from, oldIndex);
      say(board.dataset.offline || "The move could not be saved (no connection).", "error");
    });
  }

  board.querySelectorAll("[data-kanban-list]").forEach((list) => {
    Sortable.create(list, {
      group: "kanban",
      sort: false,
      animation: 150,
      draggable: ".kanban-card",
      filter: ".kanban-more, .kanban-empty, .card-move",
      preventOnFilter: false,
      ghostClass: "drag-ghost",
      chosenClass: "drag-chosen",
      onEnd: move,
    });
  });
})();
