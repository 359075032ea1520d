// The rows the Live feed holds: events newest first, at most `maxRows` of them, so memory
// stays bounded however long the page stays open.

export class FeedRows {
  constructor(maxRows) {
    this.maxRows = maxRows;
    this.events = []; // newest first
    this.ids = new Set();
    this.version = 0; // grows with every change, so views know when to draw again
  }

  // Apply one `change` message of the events channel.
  apply(change) {
    if (change.op === "cleared") this.clear();
    else if (change.op === "deleted") this.remove(change.event.id);
    else this.put(change.event);
  }

  // Show a new event on top, or an event already shown where it is.
  put(event) {
    if (this.ids.has(event.id)) {
      const index = this.events.findIndex((shown) => shown.id === event.id);
      this.events[index] = event;
    } else {
      this.events.unshift(event);
      this.ids.add(event.id);
      this.trim();
    }
    this.version += 1;
  }

  // Replace an event already shown; an event not shown is left out (history pages).
  update(event) {
    if (this.ids.has(event.id)) this.put(event);
  }

  remove(id) {
    if (!this.ids.delete(id)) return;
    this.events.splice(this.events.findIndex((shown) => shown.id === id), 1);
    this.version += 1;
  }

  // Show `events` (newest first) instead of what was shown.
  replace(events) {
    this.events = events.slice(0, this.maxRows);
    this.ids = new Set(this.events.map((event) => event.id));
    this.version += 1;
  }

  clear() {
    this.replace([]);
  }

  get(id) {
    return this.events.find((event) => event.id === id);
  }

  setMaxRows(maxRows) {
    this.maxRows = maxRows;
    this.trim();
    this.version += 1;
  }

  trim() {
    while (this.events.length > this.maxRows) this.ids.delete(this.events.pop().id);
  }
}
