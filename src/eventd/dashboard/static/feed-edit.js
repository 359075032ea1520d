// Editing in the Live feed: the event dialog (change with PATCH, delete) and the form that
// creates an event. Errors, the API's or the form's own, are shown beside the form, naming
// the field, never dropped.

import { ApiError, parseExact } from "./api.js";

const FIELDS = ["type", "key", "title", "value", "timestamp", "data"];

// A value the form itself refuses before asking the API (the data is not JSON).
class FieldError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

// The form's fields as the API takes them. A value that is not a number is sent as typed,
// so that the API names what is wrong with it.
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
  return Number.isFinite(number) ? number : text;
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
  // onSaved(event), onDeleted(event): the store has the change.
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
    fillForm(this.form, event);
    clearError(this.form, this.error);
    this.disarm();
    this.dialog.querySelector(".feed-dialog-id").textContent = event.id;
    if (!this.dialog.open) this.dialog.showModal();
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
      const saved = await this.api(path, { method: "PATCH", body: changes });
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
    await this.api(`/events/${encodeURIComponent(this.event.id)}`, { method: "DELETE" });
    this.onDeleted(this.event);
    this.dialog.close();
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
