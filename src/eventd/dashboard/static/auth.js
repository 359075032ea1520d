// The dashboard's token: asked for once when the daemon answers 401 (or refuses the
// WebSocket), kept in localStorage, sent as `Authorization: Bearer` on every fetch and as
// the first `auth` message of every WebSocket connection.

const KEY = "eventd.token";
let asking = null; // the prompt on screen, shared by every caller that needs a token
let refusedOne = false; // a kept token was refused: the prompt says so
let dialog = null;

export function currentToken() {
  return localStorage.getItem(KEY);
}

export function bearer(token) {
  return token === null ? {} : { Authorization: `Bearer ${token}` };
}

// The daemon does not know `token`: forget it, unless another one was kept meanwhile.
export function refuse(token) {
  if (token !== null && currentToken() === token) {
    localStorage.removeItem(KEY);
    refusedOne = true;
  }
}

// Resolve with a token other than `sent`: one kept meanwhile, or else one the user enters.
export function renewToken(sent) {
  const kept = currentToken();
  if (kept !== null && kept !== sent) return Promise.resolve(kept);
  if (asking === null) {
    asking = ask().finally(() => {
      asking = null;
    });
  }
  return asking;
}

function ask() {
  const { element, text, input } = tokenDialog();
  text.textContent = refusedOne
    ? "The daemon refused that token. Enter another one."
    : "This daemon needs a token to show its events.";
  input.value = "";
  element.showModal();
  input.focus();
  return new Promise((resolve) => {
    element.onsubmit = (event) => {
      const token = input.value.trim();
      if (token === "") {
        event.preventDefault();
        return;
      }
      localStorage.setItem(KEY, token);
      refusedOne = false;
      element.onsubmit = null;
      resolve(token);
    };
  });
}

function tokenDialog() {
  if (dialog !== null) return dialog;
  const element = document.createElement("dialog");
  element.dataset.testid = "token-prompt";
  // The page shows nothing without a token: Escape must not leave the prompt unanswered.
  element.addEventListener("cancel", (event) => event.preventDefault());
  const form = document.createElement("form");
  form.method = "dialog";
  const text = document.createElement("p");
  const label = document.createElement("label");
  label.textContent = "Token ";
  const input = document.createElement("input");
  input.type = "password";
  input.autocomplete = "off";
  input.dataset.testid = "token-input";
  label.append(input);
  const button = document.createElement("button");
  button.type = "submit";
  button.textContent = "Use this token";
  form.append(text, label, " ", button);
  element.append(form);
  document.body.append(element);
  dialog = { element, text, input };
  return dialog;
}
