// The Live feed table: one row per event, newest first, at most `maxRows` rows.

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
