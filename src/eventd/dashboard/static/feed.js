// The Live feed panel: the events that match the page's type and key filters, newest first,
// at most `max-rows` of them, in a virtualised table.
//
// Two views share the table. "live" shows the changes of the events channel as they arrive;
// Pause freezes what is shown while the subscription runs on (the live rows stay bounded by
// the row cap) and Resume shows where the feed has got to. "history" shows pages of
// GET /events (Older / Newer, within the From / To range): History, or a change of the
// range, opens it; live changes then only update or remove the rows on the page, new events
// are not added, until "Back to live" shows the live rows again, which kept up meanwhile.

import { EventDialog, bindCreate } from "./feed-edit.js";
import { History, rangeBound } from "./feed-history.js";
import { FeedRows } from "./feed-rows.js";
import { FeedTable } from "./feed-table.js";

const MAX_PAGE = 1000; // the API's default `limits.max_page_size`

class FeedPanel {
  constructor(root, { api, state, events }) {
    this.root = root;
    this.events = events;
    this.state = state;
    this.find = (testid) => root.querySelector(`[data-testid="${testid}"]`);
    this.live = new FeedRows(this.readNumber("max-rows"));
    this.page = new FeedRows(MAX_PAGE);
    this.history = new History(api);
    this.mode = "live";
    this.frozen = null; // while paused: the rows shown when Pause was pressed
    this.held = 0; // changes that arrived while paused
    this.frame = null;
    this.loading = 0; // history pages on their way
    this.arrived = []; // changes that arrived meanwhile: the page may predate them
    this.counting = false; // the status line says how many events the page shows
    this.table = new FeedTable(root.querySelector(".feed-scroll"), this.find("feed"), {
      onOpen: (event) => this.dialog.open(event),
    });
    this.dialog = new EventDialog(this.find("feed-dialog"), api, {
      onSaved: (event) => this.saved(event),
      onDeleted: (event, { elsewhere = false } = {}) => this.deleted(event.id, elsewhere),
    });
    bindCreate(this.find("feed-create"), api, (event) => this.say(`Created ${event.id}`));
  }

  // The whole number a number input asks for, within its min and max, shown back in it:
  // "1e3" is 1000, 2.9 is 3, 99999999 is the max; what is no number keeps the last one used.
  readNumber(testid) {
    const input = this.find(testid);
    const number = input.value.trim() === "" ? Number.NaN : Number(input.value);
    const last = Number(input.dataset.used ?? input.defaultValue);
    const used = Number.isFinite(number)
      ? Math.min(Math.max(Math.round(number), Number(input.min)), Number(input.max))
      : last;
    input.dataset.used = String(used);
    input.value = String(used);
    return used;
  }

  fields() {
    const filter = {};
    if (this.state.get("type")) filter.type = this.state.get("type");
    if (this.state.get("key")) filter.key = this.state.get("key");
    return { filter };
  }

  // Whether `event` passes the page's filters (an edit can take it out of them).
  matches(event) {
    const { type, key } = this.fields().filter;
    return (type === undefined || event.type === type) && (key === undefined || event.key === key);
  }

  bind() {
    this.find("max-rows").addEventListener("change", () => {
      this.live.setMaxRows(this.readNumber("max-rows"));
      this.draw();
    });
    this.find("feed-pause").addEventListener("click", () => (this.frozen ? this.resume() : this.pause()));
    this.find("feed-history").addEventListener("click", () => this.turn(() => this.history.first(this.query())));
    this.find("feed-older").addEventListener("click", () => this.turn(() => this.history.older()));
    this.find("feed-newer").addEventListener("click", () => this.turn(() => this.history.newer()));
    this.find("feed-live").addEventListener("click", () => this.backToLive());
    for (const testid of ["feed-start", "feed-end", "feed-page-size"]) {
      this.find(testid).addEventListener("change", () => this.turn(() => this.history.first(this.query())));
    }
    this.state.watch(["type", "key"], () => this.filtersChanged());
  }

  start() {
    this.bind();
    // The page's shared subscription (events.js), made again by it when the filters change.
    this.events.listen(["events"], {
      onChange: (change) => this.changed(change),
      onReset: () => this.changed({ op: "cleared" }),
    });
    this.draw();
  }

  filtersChanged() {
    this.live.clear();
    if (this.frozen) this.frozen = [];
    if (this.mode === "history") this.turn(() => this.history.first(this.query()));
    this.draw();
  }

  changed(change) {
    this.live.apply(change);
    applyToPage(this.page, change);
    if (this.loading > 0) this.arrived.push(change);
    if (change.op === "cleared" || change.op === "deleted") {
      const gone = change.op === "cleared" ? null : change.event.id;
      if (this.frozen) this.frozen = gone === null ? [] : this.frozen.filter((shown) => shown.id !== gone);
      this.dialog.gone(gone);
    }
    // Everything went (DELETE /events, or a new daemon whose cursors mean nothing now).
    if (change.op === "cleared" && this.mode === "history") this.turn(() => this.history.first(this.query()));
    if (this.frozen) this.held += 1;
    this.draw();
  }

  // The user's own edit shows at once, in every view, paused or not, unless a newer change
  // of the event came first over the feed.
  saved(event) {
    const shown = this.live.get(event.id) ?? this.page.get(event.id);
    if (shown !== undefined && later(shown.updated_at, event.updated_at)) {
      this.say(`Saved ${event.id}; it has changed again since`);
    } else if (this.matches(event)) {
      this.live.update(event);
      this.page.update(event);
      if (this.frozen) this.frozen = this.frozen.map((shown) => (shown.id === event.id ? event : shown));
      this.say(`Saved ${event.id}`);
    } else {
      this.drop(event.id);
      this.say(`Saved ${event.id}`);
    }
    this.draw();
  }

  deleted(id, elsewhere) {
    this.drop(id);
    this.say(elsewhere ? `${id} had been deleted elsewhere` : `Deleted ${id}`);
    this.draw();
  }

  drop(id) {
    this.live.remove(id);
    this.page.remove(id);
    if (this.frozen) this.frozen = this.frozen.filter((shown) => shown.id !== id);
  }

  pause() {
    this.frozen = this.live.events.slice();
    this.held = 0;
    this.draw();
  }

  resume() {
    this.frozen = null;
    this.held = 0;
    this.draw();
  }

  query() {
    return {
      type: this.state.get("type"),
      key: this.state.get("key"),
      start: rangeBound(this.find("feed-start").value),
      end: rangeBound(this.find("feed-end").value, { end: true }),
      limit: Math.min(this.readNumber("feed-page-size"), MAX_PAGE),
    };
  }

  // Show the page `load()` answers, in the history view; an API error is said, not dropped.
  async turn(load) {
    this.mode = "history";
    this.loading += 1;
    this.draw();
    try {
      const page = await load();
      if (page === null) return; // a later question was asked meanwhile
      this.page.replace(page.events);
      // What changed while the page was on its way is newer than the page.
      for (const change of this.arrived) applyToPage(this.page, change);
      this.table.scroller.scrollTop = 0;
      this.say("");
      this.counting = true;
    } catch (error) {
      if (this.mode !== "history") return; // asked before "Back to live"
      this.say(error.field ? `${error.field}: ${error.message}` : error.message, true);
    } finally {
      this.loading -= 1;
      if (this.loading === 0) this.arrived = [];
      this.draw();
    }
  }

  backToLive() {
    this.mode = "live";
    this.history.stop();
    this.say("");
    this.draw();
  }

  say(text, error = false) {
    this.counting = false;
    const status = this.find("feed-status");
    status.textContent = text;
    status.classList.toggle("error", error);
  }

  // Draw at the next frame: a burst of changes costs one drawing.
  draw() {
    if (this.frame === null) this.frame = requestAnimationFrame(() => this.drawNow());
  }

  drawNow() {
    this.frame = null;
    const history = this.mode === "history";
    if (history) this.table.show(this.page.events);
    if (history && this.counting) {
      this.find("feed-status").textContent = this.page.events.length === 1 ? "1 event" : `${this.page.events.length} events`;
    }
    else this.table.show(this.frozen ?? this.live.events);
    const pause = this.find("feed-pause");
    pause.textContent = this.frozen ? `Resume (${this.held} held)` : "Pause";
    pause.setAttribute("aria-pressed", String(this.frozen !== null));
    this.find("feed-mode").textContent = history ? "history" : this.frozen ? "paused" : "live";
    this.root.dataset.mode = history ? "history" : "live";
    this.find("feed-older").disabled = !history || !this.history.page?.older;
    this.find("feed-newer").disabled = !history || !this.history.page?.newer;
    this.find("feed-live").hidden = !history;
  }
}

// Apply a change of the events channel to a history page: only the events on it change.
function applyToPage(page, change) {
  if (change.op === "cleared") page.clear();
  else if (change.op === "deleted") page.remove(change.event.id);
  else page.update(change.event);
}

// Whether the `updated_at` time `a` is later than `b` (RFC 3339, maybe with microseconds).
function later(a, b) {
  if (typeof a !== "string" || typeof b !== "string") return false;
  const whole = (text) => Date.parse(text.replace(/\.\d+/, ""));
  const fraction = (text) => Number(`0${/\.\d+/.exec(text)?.[0] ?? ""}`);
  const seconds = whole(a) - whole(b);
  return seconds !== 0 ? seconds > 0 : fraction(a) > fraction(b);
}

export function mount(root, context) {
  new FeedPanel(root, context).start();
}
