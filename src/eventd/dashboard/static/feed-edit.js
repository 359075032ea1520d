// Editing in the Live feed: the event dialog (change with PATCH, delete) and the form that
// creates an event. Errors, the API's or the form's own, are shown beside the form, naming
// the field, never dropped.

import { ApiError, parseExact } from "./api.js";

const DELETED_ELSEWHERE = "This event has been deleted elsewhere.";
const FIELDS = ["type", "key", "title", "value", "timestamp", "data"];

// A value the form itself refuses before asking the API (the data is not JSON).
class FieldError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

// The form's fields as the API takes them; a value that is not a number is refused here,
// in the form's words rather than the API's type names.
function readForm(form) {
  const text = (name) => form.elements[name].value;
  const fields = {
    type: text("type").trim(),
    key: text("key").trim() || null,
    title: text("title") || null,
    value: readValue(text("value").trim()),
    timestamp: text("timestamp").trim(),
    data: null,
  };
  if (text("data").trim() !== "") {
    try {
      fields.data = parseExact(text("data"));
    } catch (error) {
      throw new FieldError("data", `is not JSON: ${error.message}`);
    }
  }
  return fields;
}

function readValue(text) {
  if (text === "") return null;
  const number = Number(text);
  if (!Number.isFinite(number)) throw new FieldError("value", "must be a number, such as 3 or -0.5");
  return number;
}

function fillForm(form, event) {
  for (const name of FIELDS) {
    const value = event[name];
    if (name === "data") form.elements.data.value = value === null ? "" : JSON.stringify(value, null, 2);
    else form.elements[name].value = value === null || value === undefined ? "" : String(value);
  }
}

// Show `error` in `box`, naming its field and marking the field's input.
function showError(form, box, error) {
  clearError(form, box);
  const field = error instanceof ApiError || error instanceof FieldError ? error.field : null;
  box.textContent = field ? `${field}: ${error.message}` : error.message;
  box.hidden = false;
  const name = field?.split(/[.[]/)[0];
  if (name && form.elements[name] instanceof HTMLElement) form.elements[name].setAttribute("aria-invalid", "true");
}

function clearError(form, box) {
  box.hidden = true;
  box.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

// The dialog that shows one event: Save sends the changed fields (PATCH keeps the others,
// such as `description` and `remind`, which a PUT would reset); Delete, clicked twice.
export class EventDialog {
  // onSaved(event), onDeleted(event, {elsewhere}): the store has the change (`elsewhere`:
  // another client deleted the event first).
  constructor(dialog, api, { onSaved, onDeleted }) {
    this.dialog = dialog;
    this.api = api;
    this.form = dialog.querySelector("form");
    this.error = dialog.querySelector('[data-testid="feed-dialog-error"]');
    this.deleteButton = dialog.querySelector(".feed-delete");
    this.event = null;
    this.onSaved = onSaved;
    this.onDeleted = onDeleted;
    this.form.addEventListener("submit", (submit) => {
      submit.preventDefault();
      this.run(() => this.save());
    });
    this.deleteButton.addEventListener("click", () => this.run(() => this.remove()));
    dialog.querySelector(".feed-close").addEventListener("click", () => dialog.close());
  }

  open(event) {
    this.event = event;
    this.form.querySelector('button[type="submit"]').disabled = false;
    fillForm(this.form, event);
    clearError(this.form, this.error);
    this.disarm();
    this.dialog.querySelector(".feed-dialog-id").textContent = event.id;
    if (!this.dialog.open) this.dialog.showModal();
  }

  // The event `id` (every event, if null) was deleted elsewhere: if it is the one shown, say
  // so, and let nothing be saved.
  gone(id) {
    if (!this.dialog.open || this.event === null || (id !== null && id !== this.event.id)) return;
    this.form.querySelector('button[type="submit"]').disabled = true;
    showError(this.form, this.error, new Error(DELETED_ELSEWHERE));
  }

  async run(action) {
    clearError(this.form, this.error);
    try {
      await action();
    } catch (error) {
      showError(this.form, this.error, error);
    }
  }

  async save() {
    const fields = readForm(this.form);
    const changes = {};
    for (const name of FIELDS) {
      if (JSON.stringify(fields[name]) !== JSON.stringify(this.event[name] ?? null)) changes[name] = fields[name];
    }
    if (Object.keys(changes).length > 0) {
      const path = `/events/${encodeURIComponent(this.event.id)}`;
      let saved;
      try {
        saved = await this.api(path, { method: "PATCH", body: changes });
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
        this.deletedElsewhere();
        throw new Error(DELETED_ELSEWHERE);
      }
      this.onSaved(saved);
    }
    this.dialog.close();
  }

  async remove() {
    if (this.deleteButton.dataset.armed !== "true") {
      this.deleteButton.dataset.armed = "true";
      this.deleteButton.textContent = "Delete: sure?";
      return;
    }
    let elsewhere = false;
    try {
      await this.api(`/events/${encodeURIComponent(this.event.id)}`, { method: "DELETE" });
    } catch (error) {
      // Deleted elsewhere already: what the user asked for is done.
      if (!(error instanceof ApiError && error.status === 404)) throw error;
      elsewhere = true;
    }
    this.onDeleted(this.event, { elsewhere });
    this.dialog.close();
  }

  // A save found the event gone: the rows showing it go too, and nothing more is saved.
  deletedElsewhere() {
    this.form.querySelector('button[type="submit"]').disabled = true;
    this.onDeleted(this.event, { elsewhere: true });
  }

  disarm() {
    delete this.deleteButton.dataset.armed;
    this.deleteButton.textContent = "Delete";
  }
}

// The form that creates an event with POST /events; empty fields take the API's defaults.
export function bindCreate(form, api, onCreated) {
  const error = form.querySelector('[data-testid="feed-create-error"]');
  form.addEventListener("submit", async (submit) => {
    submit.preventDefault();
    clearError(form, error);
    try {
      const body = readForm(form);
      if (body.type === "") delete body.type;
      if (body.timestamp === "") delete body.timestamp;
      const created = await api("/events", { method: "POST", body });
      form.reset();
      onCreated(created);
    } catch (failure) {
      showError(form, error, failure);
    }
  });
}
