// Rich text fields: a small editor over the form's <textarea data-rich>.
// The textarea stays the form value (and the fallback without scripts); the server cleans
// whatever HTML arrives with an allowlist, so this editor only has to be convenient.
(() => {
  "use strict";

  const COMMANDS = [
    { cmd: "bold", label: "B", key: "bold" },
    { cmd: "italic", label: "I", key: "italic" },
    { cmd: "underline", label: "U", key: "underline" },
    { cmd: "insertUnorderedList", label: "•", key: "bullets" },
    { cmd: "insertOrderedList", label: "1.", key: "numbers" },
    { cmd: "createLink", label: null, key: "link" },  // labelled with the translated word
    { cmd: "removeFormat", label: "⌫", key: "clear" },
  ];

  function enhance(area) {
    if (area.dataset.richReady) return;
    area.dataset.richReady = "1";
    const titles = JSON.parse(area.dataset.richTitles || "{}");
    const box = document.createElement("div");
    box.className = "rich";
    const bar = document.createElement("div");
    bar.className = "rich-bar";
    bar.setAttribute("role", "toolbar");
    bar.setAttribute("aria-label", titles.toolbar || "Formatting");
    const editor = document.createElement("div");
    editor.className = "rich-editor";
    editor.contentEditable = "true";
    editor.setAttribute("role", "textbox");
    editor.setAttribute("aria-multiline", "true");
    const label = area.id && document.querySelector(`label[for="${area.id}"]`);
    if (label) {
      label.id = label.id || `${area.id}-label`;
      editor.setAttribute("aria-labelledby", label.id);
      label.addEventListener("click", () => editor.focus());
    }
    if (area.getAttribute("aria-invalid")) editor.setAttribute("aria-invalid", "true");
    editor.innerHTML = area.value;  // the server sent cleaned HTML
    for (const c of COMMANDS) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = `rich-${c.key}`;
      button.textContent = c.label || titles[c.key] || c.key;
      button.title = titles[c.key] || c.key;
      button.setAttribute("aria-label", button.title);
      button.addEventListener("mousedown", (event) => event.preventDefault());  // keep the selection
      button.addEventListener("click", () => {
        let value = null;
        if (c.cmd === "createLink") {
          value = window.prompt(titles.link_prompt || "URL", "https://");
          if (!value) return;
        }
        editor.focus();
        document.execCommand(c.cmd, false, value);
        sync();
      });
      bar.append(button);
    }
    // every keystroke and command updates the textarea, so htmx and plain submits send it
    const sync = () => { area.value = editor.innerHTML; };
    editor.addEventListener("input", sync);
    editor.addEventListener("blur", sync);
    area.hidden = true;
    area.after(box);
    box.append(bar, editor);
    if (area.form) area.form.addEventListener("submit", sync);
    if (area.closest(".editing")) editor.focus();
  }

  const scan = (root) => {
    if (root && root.querySelectorAll) root.querySelectorAll("textarea[data-rich]").forEach(enhance);
  };
  document.addEventListener("DOMContentLoaded", () => scan(document));
  document.addEventListener("htmx:load", (event) => scan(event.detail.elt));
})();
