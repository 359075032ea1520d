// The Timelines panel: one key's timeline of a field as a chart (a step chart for states, a
// line for numbers) with its points listed under it, and the field's transitions across
// every key as a directly-follows graph, both kept up to date live.
//
// The view lives in the URL: tl_field, tl_key (else the header's key filter), tl_mode,
// tl_start and tl_end (the range, in UTC), tl_window (the live transitions' window).

import { FeedSubscription, Subscription } from "./connection.js";
import { drawGraph, formatDwell, stateText } from "./graph.js";
import { TimelineView } from "./timeline-chart.js";

const DEFAULT_FIELD = "status";
const DEFAULT_WINDOW = "1h";
const PAGE = 500; // points asked for at a time
const MAX_POINTS = 5000; // the most points drawn: a longer timeline asks for a narrower range
const REFRESH_MS = 250; // changes arriving closer than this are fetched once
// Transitions read over HTTP may scan the store (a field that is not indexed): fetched again
// at most this often while events change.
const TRANSITIONS_REFRESH_MS = 1000;
const WINDOW = /^([1-9]\d{0,5})([smhd])$/; // a duration the transitions channel takes
const NAMES = ["tl_field", "tl_key", "tl_mode", "tl_start", "tl_end", "tl_window"];

// Runs `load` `delay` ms after a request, never twice at once: requests made while it runs
// are folded into one more run, as soon after it as the soonest of them asked.
class Refresher {
  constructor(load) {
    this.load = load;
    this.timer = null;
    this.running = false;
    this.again = null; // the delay of the run asked for while one runs
  }

  request(delay = REFRESH_MS) {
    if (this.running) {
      this.again = Math.min(this.again ?? delay, delay);
    } else if (this.timer === null) {
      this.timer = setTimeout(() => this.run(), delay);
    }
  }

  async run() {
    this.timer = null;
    this.running = true;
    this.again = null;
    try {
      await this.load();
    } finally {
      this.running = false;
      if (this.again !== null) this.request(this.again);
    }
  }
}

// Return a URL time (UTC, RFC 3339) as a datetime-local input's value (the page's zone).
function toLocalInput(iso) {
  const time = new Date(iso);
  if (iso === "" || Number.isNaN(time.getTime())) return "";
  const local = new Date(time.getTime() - time.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 19);
}

function fromLocalInput(value) {
  const time = new Date(value);
  return value === "" || Number.isNaN(time.getTime()) ? "" : time.toISOString();
}

// The transitions of the field: a table with one row per pair, and the graph.
class TransitionsView {
  constructor(root) {
    this.box = root.querySelector("#transitions-box");
    this.svg = root.querySelector("#transitions-graph");
    this.body = root.querySelector("#transitions");
    this.pairs = new Map(); // JSON of [from, to] -> entry
    this.drawn = null; // [pairs, width] last drawn
    new ResizeObserver(() => requestAnimationFrame(() => this.resize())).observe(this.box);
  }

  resize() {
    if (this.drawn !== null && this.drawn[1] !== this.box.clientWidth) this.draw(this.drawn[0]);
  }

  draw(pairs) {
    this.drawn = [pairs, this.box.clientWidth];
    drawGraph(this.svg, pairs, this.box.clientWidth);
  }

  // Show `entries` instead of what was shown (a snapshot, or an answer over HTTP).
  replace(entries) {
    this.pairs.clear();
    this.update(entries);
  }

  // Apply the pairs that changed; a count of 0 means the pair left the window.
  update(entries) {
    for (const entry of entries) {
      const key = JSON.stringify([entry.from, entry.to]);
      if (entry.count > 0) this.pairs.set(key, entry);
      else this.pairs.delete(key);
    }
    this.render();
  }

  render() {
    const pairs = [...this.pairs.values()]
      .sort((a, b) => b.count - a.count)
      .map((entry) => ({
        fromKey: JSON.stringify(entry.from),
        toKey: JSON.stringify(entry.to),
        fromText: stateText(entry.from),
        toText: stateText(entry.to),
        count: entry.count,
        mean: entry.dwell_seconds?.mean ?? null,
        p90: entry.dwell_seconds?.p90 ?? null,
      }));
    this.body.replaceChildren(...pairs.map(transitionRow));
    this.draw(pairs);
  }
}

function transitionRow(pair) {
  const row = document.createElement("tr");
  row.dataset.testid = "transition";
  row.dataset.from = pair.fromKey;
  row.dataset.to = pair.toKey;
  row.dataset.count = String(pair.count);
  row.title = `${pair.fromText} → ${pair.toText}: ${pair.count}, mean dwell ${formatDwell(pair.mean)}`;
  const cells = [pair.fromText, "→", pair.toText, pair.count, formatDwell(pair.mean), formatDwell(pair.p90)];
  const classes = ["", "arrow", "", "num", "num", "num"];
  cells.forEach((text, index) => {
    const cell = row.insertCell();
    cell.className = classes[index];
    cell.textContent = String(text);
  });
  return row;
}

// The panel's view, read from the URL; a mode, time or window it cannot be (a mangled
// link) is left at its default rather than asked of the daemon.
function readView(state) {
  const mode = state.get("tl_mode");
  const window = state.get("tl_window");
  return {
    field: state.get("tl_field") || DEFAULT_FIELD,
    key: state.get("tl_key") || state.get("key"),
    mode: mode === "all" ? "all" : "changes",
    start: validTime(state.get("tl_start")),
    end: validTime(state.get("tl_end")),
    window: WINDOW.test(window) ? window : DEFAULT_WINDOW,
    type: state.get("type"),
  };
}

function validTime(text) {
  return Number.isNaN(Date.parse(text)) ? "" : text;
}

function fillControls(form, view) {
  form.elements.tl_field.value = view.field;
  form.elements.tl_key.value = view.key;
  form.elements.tl_mode.value = view.mode;
  form.elements.tl_start.value = toLocalInput(view.start);
  form.elements.tl_end.value = toLocalInput(view.end);
  form.elements.tl_window.value = view.window;
}

function bindControls(form, state) {
  form.addEventListener("submit", (event) => event.preventDefault());
  form.addEventListener("change", (event) => {
    const input = event.target;
    let value = input.value.trim();
    if (input.type === "datetime-local") value = fromLocalInput(value);
    if (input.name === "tl_field" && value === DEFAULT_FIELD) value = "";
    if (input.name === "tl_window" && value === DEFAULT_WINDOW) value = "";
    if (input.name === "tl_mode" && value === "changes") value = "";
    state.set({ [input.name]: value });
    // A cleared key follows the header's key again: show which.
    fillControls(form, readView(state));
  });
}

function say(element, text, isError = false) {
  element.textContent = text;
  element.classList.toggle("error", isError);
}

// Return what went wrong with an API call, for the page.
function describe(error) {
  if (error instanceof TypeError && error.message.includes("fetch")) return "The daemon does not answer.";
  if (error?.status === undefined) throw error; // not an answer of the API: a bug
  return error.field ? `${error.field}: ${error.message}` : error.message;
}

// The panel: reads the view from the URL, loads it over HTTP and keeps it live.
class TimelinesPanel {
  constructor(root, { connection, api, state }) {
    this.connection = connection;
    this.api = api;
    this.state = state;
    this.form = root.querySelector("#timeline-controls");
    this.timelineNote = root.querySelector("#timeline-status");
    this.transitionsNote = root.querySelector("#transitions-status");
    this.timeline = new TimelineView(root);
    this.graph = new TransitionsView(root);
    this.view = readView(state);
    this.refusal = null; // why the channel refused the field, which is then read over HTTP
    this.snapshot = true; // the next `transitions` message replaces what is shown
    this.timelineRefresher = new Refresher(() => this.loadTimeline());
    // What the shown timeline is of, and whether every change since it was read only adds
    // events at or after its last point, which a read from that point on can append.
    this.shownView = null;
    this.appendOnly = false;
    this.transitionsRefresher = new Refresher(() => this.loadTransitions());
    // The key's events: any change to them may change its timeline.
    this.events = new FeedSubscription("timeline", eventFields(this.view), {
      onChange: (change) => this.timelineChanged(change),
      onReset: () => this.timelineChanged(null),
      onMessage: (message) => {
        if (message.type === "subscribed") this.timelineChanged(null);
      },
    });
    this.transitions = new Subscription("transitions", transitionFields(this.view), (message) =>
      this.receiveTransitions(message),
    );
    // Transitions read over HTTP (a fixed range, or a field the channel refuses) are read
    // again when events that may change them do.
    const reload = () => this.transitionsRefresher.request(TRANSITIONS_REFRESH_MS);
    this.rangeEvents = new FeedSubscription("transitions-range", rangeFields(this.view), {
      onChange: reload,
      onReset: reload,
    });
  }

  start() {
    bindControls(this.form, this.state);
    fillControls(this.form, this.view);
    this.state.watch([...NAMES, "key", "type"], () => {
      this.view = readView(this.state);
      fillControls(this.form, this.view);
      this.timelineRefresher.request(0);
      this.subscribe();
    });
    this.timelineRefresher.request(0);
    this.subscribe();
  }

  // Subscribe afresh for the current view.
  subscribe() {
    const { connection, events, transitions, view } = this;
    this.refusal = null;
    connection.remove(events.id);
    if (view.key !== "") {
      events.fields = eventFields(view);
      connection.renew(events);
    }
    connection.remove(transitions.id);
    connection.remove(this.rangeEvents.id);
    if (live(view)) {
      transitions.fields = transitionFields(view);
      connection.renew(transitions);
    } else {
      this.followRange();
    }
  }

  // Read the transitions over HTTP, and again when events change.
  followRange() {
    this.rangeEvents.fields = rangeFields(this.view);
    this.connection.renew(this.rangeEvents);
    this.transitionsRefresher.request(0);
  }

  receiveTransitions(message) {
    if (message.type === "subscribed") {
      this.snapshot = true;
    } else if (message.type === "transitions") {
      if (this.snapshot) this.graph.replace(message.transitions);
      else this.graph.update(message.transitions);
      this.snapshot = false;
      say(this.transitionsNote, transitionsText(this.view, this.graph.pairs.size, null));
    } else if (message.type === "error") {
      // A field that is not indexed, say: read over HTTP instead, again as events change.
      this.refusal = message.message;
      this.followRange();
    }
  }

  // A change of the key's events (null: any change, such as a new subscription).
  timelineChanged(change) {
    const last = this.timeline.lastPoint();
    const appends =
      change !== null && change.op === "created" && last !== null && !earlier(change.event.timestamp, last.timestamp);
    if (!appends) this.appendOnly = false;
    this.timelineRefresher.request();
  }

  async loadTimeline() {
    const asked = this.view;
    if (asked.key === "") {
      this.shownView = null;
      this.timeline.clear();
      say(this.timelineNote, "Enter a key to see its timeline.");
      return;
    }
    // Only new events since the last read: read from the last point on, and append.
    const from = this.shownView === asked && this.appendOnly ? this.timeline.lastPoint() : null;
    this.appendOnly = true; // until a change says otherwise, from now on
    try {
      const have = from === null ? 0 : this.timeline.shown.points.length;
      const { points, more } = await timelinePoints(this.api, asked, from, MAX_POINTS - have);
      if (asked !== this.view) return; // the view changed meanwhile: a newer load follows
      if (from === null) this.timeline.show(asked.field, points, asked.end);
      else this.timeline.append(points);
      this.shownView = asked;
      this.sayPoints(asked, more);
    } catch (error) {
      if (asked !== this.view) return;
      this.shownView = null;
      this.timeline.clear();
      say(this.timelineNote, describe(error), true);
    }
  }

  sayPoints(view, more) {
    const total = this.timeline.shown.points.length;
    const cut = more ? ` (the first ${total}: narrow the range for the rest)` : "";
    const count = total === 1 ? "1 point" : `${total} points`;
    const listed = total > this.timeline.listed() ? `; the last ${this.timeline.listed()} are listed` : "";
    say(this.timelineNote, `${count} of ${view.field} for ${view.key}${cut}${listed}.`);
  }

  async loadTransitions() {
    const asked = this.view;
    try {
      const answer = await this.api("/transitions", { query: transitionsQuery(asked) });
      if (asked !== this.view) return;
      this.graph.replace(answer.transitions);
      const text = transitionsText(asked, answer.transitions.length, this.refusal);
      say(this.transitionsNote, text, this.refusal !== null);
    } catch (error) {
      if (asked !== this.view) return;
      this.graph.replace([]);
      say(this.transitionsNote, describe(error), true);
    }
  }
}

export function mount(root, context) {
  new TimelinesPanel(root, context).start();
}

// The transitions follow the last `window` live unless a fixed range was asked for.
function live(view) {
  return view.start === "" && view.end === "";
}

// refusal: why the live channel refused the view, or null.
function transitionsText(view, count, refusal) {
  const pairs = `${count === 1 ? "1 pair" : `${count} pairs`} of ${view.field}${view.type ? ` (type ${view.type})` : ""}`;
  if (!live(view)) return `${pairs} in the range.`;
  if (refusal !== null) return `${pairs} in the last ${view.window}, read over HTTP: ${refusal}`;
  return `${pairs} in the last ${view.window}, live.`;
}

function eventFields(view) {
  return { channels: ["events"], filter: { key: view.key } };
}

function transitionFields(view) {
  const fields = { channels: ["transitions"], field: view.field, window: view.window };
  if (view.type) fields.filter = { type: view.type };
  return fields;
}

function rangeFields(view) {
  return { channels: ["events"], filter: view.type ? { type: view.type } : {} };
}

function transitionsQuery(view) {
  const query = { field: view.field, start: view.start, end: view.end, type: view.type };
  if (live(view)) query.start = new Date(Date.now() - windowSeconds(view.window) * 1000).toISOString();
  return query;
}

function windowSeconds(window) {
  const match = WINDOW.exec(window);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 };
  return Number(match[1]) * unit[match[2]];
}

// Whether the RFC 3339 time `a` is before `b`; the daemon writes both alike (UTC, six
// digits of fraction), so that text order is time order.
function earlier(a, b) {
  return a.length === b.length ? a < b : Date.parse(a) < Date.parse(b);
}

// Read the key's points a page at a time, following the cursor, up to `most` of them; from
// `after` on (a point shown already) if given, leaving out the points shown already.
async function timelinePoints(api, view, after, most) {
  const points = [];
  const start = after === null ? view.start : after.timestamp;
  let cursor;
  do {
    const query = { field: view.field, mode: view.mode, start, end: view.end, limit: PAGE, cursor };
    const page = await api(`/timelines/${encodeURIComponent(view.key)}`, { query });
    points.push(...page.points);
    cursor = page.next_cursor;
  } while (cursor && points.length < most);
  if (after === null) return { points, more: Boolean(cursor) };
  // The read starts at the last point's time: the points there that are shown already go.
  const fresh = points.filter((point) => point.timestamp !== after.timestamp || !after.ids.has(point.event_id));
  return { points: fresh, more: Boolean(cursor) };
}
