// The Live feed panel: one row per event, newest first, at most `maxRows` rows, for the
// events that match the page's type and key filters.

import { FeedSubscription } from "./connection.js";

const COLUMNS = ["time", "type", "key", "title", "value"];

export class FeedTable {
  constructor(body, maxRows) {
    this.body = body;
    this.maxRows = maxRows;
    this.rows = new Map(); // event id -> <tr>
  }

  apply(change) {
    if (change.op === "cleared") {
      this.clear();
    } else if (change.op === "deleted") {
      this.remove(change.event.id);
    } else {
      this.put(change.event, change.position);
    }
  }

  put(event, position) {
    let row = this.rows.get(event.id);
    if (row === undefined) {
      row = document.createElement("tr");
      row.dataset.testid = "feed-row";
      for (const name of COLUMNS) {
        const cell = row.insertCell();
        cell.className = name === "value" ? "num" : name;
      }
      this.rows.set(event.id, row);
      this.body.prepend(row);
    }
    row.dataset.position = String(position);
    row.dataset.eventId = event.id;
    const values = [
      formatTime(event.timestamp), event.type, event.key ?? "", event.title ?? "",
      event.value ?? "",
    ];
    values.forEach((text, index) => { row.cells[index].textContent = String(text); });
    this.trim();
  }

  remove(id) {
    const row = this.rows.get(id);
    if (row !== undefined) {
      row.remove();
      this.rows.delete(id);
    }
  }

  clear() {
    this.body.replaceChildren();
    this.rows.clear();
  }

  setMaxRows(maxRows) {
    this.maxRows = maxRows;
    this.trim();
  }

  trim() {
    while (this.rows.size > this.maxRows) {
      const oldest = this.body.lastElementChild;
      this.rows.delete(oldest.dataset.eventId);
      oldest.remove();
    }
  }
}

function formatTime(timestamp) {
  const time = new Date(timestamp);
  return Number.isNaN(time.getTime()) ? String(timestamp) : time.toLocaleString();
}

export function mount(root, { connection, state }) {
  const maxRowsInput = root.querySelector("#max-rows");
  const readMaxRows = () => {
    const value = Number.parseInt(maxRowsInput.value, 10);
    return Number.isFinite(value) && value > 0 ? value : 200;
  };
  const table = new FeedTable(root.querySelector("#feed"), readMaxRows());
  maxRowsInput.addEventListener("change", () => table.setMaxRows(readMaxRows()));
  const subscription = new FeedSubscription("feed", feedFields(state), {
    onChange: (change) => table.apply(change),
    onReset: () => table.clear(),
  });
  state.watch(["type", "key"], () => {
    subscription.fields = feedFields(state);
    table.clear();
    connection.renew(subscription);
  });
  connection.add(subscription);
}

function feedFields(state) {
  const filter = {};
  if (state.get("type")) filter.type = state.get("type");
  if (state.get("key")) filter.key = state.get("key");
  return { channels: ["events"], filter };
}
