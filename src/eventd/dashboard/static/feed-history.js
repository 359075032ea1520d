// Past events over HTTP, a keyset page at a time in both directions: `GET /events` newest
// first for older pages, with the page's `prev_cursor` and `order=asc` for newer ones.

export class History {
  constructor(api) {
    this.api = api;
    this.query = {};
    this.page = null; // {events (newest first), older, newer}: the cursors, null at an end
    this.asked = 0; // answers to an earlier question than the last are dropped
  }

  // The newest page of `query` ({type, key, start, end, limit}).
  async first(query) {
    this.query = query;
    return this.load({ order: "desc" }, false);
  }

  async older() {
    return this.load({ order: "desc", cursor: this.page.older }, false);
  }

  // The page after this one; at the newest end, the newest full page (a refresh).
  async newer() {
    const page = await this.load({ order: "asc", cursor: this.page.newer }, true);
    if (page === null || page.newer !== null) return page;
    return this.first(this.query);
  }

  // Forget the page; an answer still on its way is dropped.
  stop() {
    this.asked += 1;
    this.page = null;
  }

  async load(params, ascending) {
    const asked = ++this.asked;
    let answer;
    try {
      answer = await this.api("/events", { query: { ...this.query, ...params } });
    } catch (error) {
      if (asked !== this.asked) return null; // a later question's answer is what counts
      throw error;
    }
    if (asked !== this.asked) return null;
    const events = ascending ? answer.events.slice().reverse() : answer.events;
    const page = ascending
      ? { events, older: answer.prev_cursor, newer: answer.next_cursor }
      : { events, older: answer.next_cursor, newer: answer.prev_cursor };
    this.page = page;
    return page;
  }
}

// A datetime-local input's value as RFC 3339 UTC, "" when empty; `end` takes the whole second.
export function rangeBound(value, { end = false } = {}) {
  if (value === "") return "";
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) return "";
  const text = time.toISOString();
  return end ? text.replace(/\.\d{3}Z$/, ".999999Z") : text;
}
