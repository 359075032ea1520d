// Short notices in the page's corner, for any panel: `toast("Deploy starts in 5 minutes")`.
// They go by themselves, and only the newest few stay, so a burst cannot cover the page. The
// #toasts container is a polite live region (role=status): a screen reader reads each one.

const MAX_SHOWN = 4;
const SHOWN_MS = 8000;
const KINDS = new Set(["info", "reminder", "success", "error"]);

// text: a string, or an array of strings and elements (untrusted parts as text in spans).
// kind: "info", "reminder", "success" or "error" (an error is read at once: role=alert).
// ms: how long it stays. Returns the toast's element, which a click or its button dismisses.
export function toast(text, { kind = "info", ms = SHOWN_MS } = {}) {
  const container = document.getElementById("toasts");
  const item = document.createElement("div");
  item.className = "toast";
  item.dataset.testid = "toast";
  item.dataset.kind = KINDS.has(kind) ? kind : "info";
  if (kind === "error") item.setAttribute("role", "alert");
  const body = document.createElement("span");
  if (Array.isArray(text)) body.append(...text);
  else body.textContent = text;
  const close = document.createElement("button");
  close.type = "button";
  close.textContent = "×";
  close.setAttribute("aria-label", "Dismiss");
  item.append(body, close);

  const timer = setTimeout(() => item.remove(), ms);
  close.addEventListener("click", () => {
    clearTimeout(timer);
    item.remove();
  });
  container.append(item);
  // The oldest go first; their timers then remove nothing.
  while (container.childElementCount > MAX_SHOWN) container.firstElementChild.remove();
  return item;
}
