// The Reminders panel: the next reminders, each counting down to its due time by the daemon's
// clock, and those sent while the page is open. It follows the page's type and key filters.
//
// The page's subscription to the `events` and `reminders` channels (events.js) keeps it
// right: a `reminder` moves its row to "sent" and shows a toast; a deleted event's rows go
// at once; an event
// created or moved into the future (or one already listed changing) has the list read again
// from GET /reminders, a little later, so that a burst of writes costs one read. The list is
// read again too whenever the subscription is made (page load, reconnection, new filters).

import { toast } from "./toast.js";

const PAGE = 50; // upcoming reminders listed
const SENT_KEPT = 10; // sent ones kept, newest first
const SENT_PAGE = 1000; // the API's default `limits.max_page_size`
const SENT_PAGES = 10;
const SENT_SHOWN_FOR_MS = 3600 * 1000; // on load, those due in the last hour are shown
const REFETCH_DELAY_MS = 250;
const SECOND = 1000;

// A reminder's identity: one event, one offset, one due time (a moved event's are new ones).
const reminderKey = (eventId, offsetSeconds, due) => `${eventId}|${offsetSeconds}|${due}`;

// The daemon's clock seen from the page: its time at our `Date.now()`.
export class ServerClock {
  constructor() {
    this.offset = 0; // server time − local time, ms
  }

  // serverTime: RFC 3339 from the daemon, read between the local times `sent` and `received`.
  observe(serverTime, sent, received) {
    const server = Date.parse(serverTime);
    if (!Number.isNaN(server)) this.offset = server - (sent + received) / 2;
  }

  now() {
    return Date.now() + this.offset;
  }
}

// "in 4:05", "in 1:02:03", "in 2 d 03:04"; "due" once the time has come.
export function countdown(ms) {
  if (ms <= 0) return "due";
  const total = Math.ceil(ms / SECOND);
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, "0");
  if (days > 0) return `in ${days} d ${String(hours).padStart(2, "0")}:${String(minutes).padStart(2, "0")}`;
  if (hours > 0) return `in ${hours}:${String(minutes).padStart(2, "0")}:${seconds}`;
  return `in ${minutes}:${seconds}`;
}

// `text` in a span of its own for the bidirectional algorithm (style.css: .isolate).
function isolated(text) {
  const span = document.createElement("span");
  span.className = "isolate";
  span.textContent = text;
  return span;
}

// The toast of a sent reminder: the server's text (`Event '<name>' starts in ...`, see
// docs/websocket.md) with the name isolated, so an override in a title turns only the title.
export function reminderToast(message) {
  const text = message.reminder.message;
  const name = message.event?.title || message.event?.type;
  const head = `Event '${name}'`;
  if (!name || !text.startsWith(head)) return [isolated(text)];
  return ["Event '", isolated(name), text.slice(head.length - 1)];
}

function clockTime(ms) {
  return new Date(ms).toLocaleTimeString();
}

// The rows: pending ones in due order, sent ones newest first; one timer for every countdown.
export class ReminderList {
  constructor(root, clock) {
    this.pendingList = root.querySelector("#reminders-pending");
    this.sentList = root.querySelector("#reminders-sent");
    this.status = root.querySelector("#reminders-status");
    this.clock = clock;
    this.pending = new Map(); // key -> {row, due, eventId}
    this.sent = new Map(); // key -> {row, sentAt}
    this.timer = null;
  }

  // Show a page of GET /reminders (pending ones), leaving out what was sent meanwhile.
  showPage(items, more) {
    const rows = [];
    this.pending.clear();
    for (const item of items) {
      const due = Date.parse(item.due);
      const key = reminderKey(item.event_id, item.offset_seconds, due);
      if (this.sent.has(key)) continue;
      const row = this.row(item.event_id, item.title ?? item.type, item.type, item.key, item.offset);
      row.dataset.state = "pending";
      this.pending.set(key, { row, due, eventId: item.event_id });
      rows.push(row);
    }
    this.pendingList.replaceChildren(...rows);
    this.setStatus(more ? `the next ${rows.length}` : rows.length === 0 ? "none upcoming" : "");
    this.tick();
  }

  // A reminder was sent (a `reminder` message): its row, or a new one, goes to "Sent".
  markSent(message) {
    const { reminder, event } = message;
    const due = Date.parse(reminder.due);
    const key = reminderKey(reminder.event_id, reminder.offset_seconds, due);
    if (this.sent.has(key)) return;
    const shown = this.pending.get(key);
    this.pending.delete(key);
    const row = shown?.row ??
      this.row(event.id, event.title ?? event.type, event.type, event.key, reminder.offset);
    const sentAt = Date.parse(reminder.starts_at) - reminder.starts_in_seconds * SECOND;
    this.addSent(key, row, sentAt, reminder.late ? "sent late" : "sent");
    this.showSent();
    if (this.pending.size === 0) this.setStatus("none upcoming");
  }

  // Show the sent reminders of a GET /reminders page with those already shown.
  showSentPage(items) {
    for (const item of items) {
      const key = reminderKey(item.event_id, item.offset_seconds, Date.parse(item.due));
      if (this.sent.has(key)) continue;
      const row = this.row(item.event_id, item.title ?? item.type, item.type, item.key, item.offset);
      this.addSent(key, row, Date.parse(item.sent_at), "sent");
    }
    this.showSent();
  }

  addSent(key, row, sentAt, note) {
    row.dataset.state = "sent";
    row.querySelector(".countdown").textContent = `${note} ${clockTime(sentAt)}`;
    this.sent.set(key, { row, sentAt });
  }

  // Newest first, the SENT_KEPT newest only.
  showSent() {
    const newest = [...this.sent].sort(([, a], [, b]) => b.sentAt - a.sentAt);
    for (const [key, { row }] of newest.slice(SENT_KEPT)) {
      this.sent.delete(key);
      row.remove();
    }
    this.sentList.replaceChildren(...newest.slice(0, SENT_KEPT).map(([, { row }]) => row));
  }

  // The event is gone: so are its pending reminders. Returns whether any was shown.
  forgetEvent(eventId) {
    let found = false;
    for (const [key, { row, eventId: id }] of this.pending) {
      if (id !== eventId) continue;
      row.remove();
      this.pending.delete(key);
      found = true;
    }
    return found;
  }

  shows(eventId) {
    for (const { eventId: id } of this.pending.values()) if (id === eventId) return true;
    return false;
  }

  clear() {
    this.pending.clear();
    this.sent.clear();
    this.pendingList.replaceChildren();
    this.sentList.replaceChildren();
  }

  setStatus(text) {
    this.status.textContent = text;
  }

  row(eventId, name, type, key, offset) {
    const row = document.createElement("li");
    row.className = "reminder";
    row.dataset.testid = "reminder";
    row.dataset.eventId = eventId;
    const title = document.createElement("span");
    title.className = "title isolate";
    title.textContent = name;
    const meta = document.createElement("span");
    meta.className = "meta";
    // Each piece isolated: a direction override in the type stops at the type's end.
    const pieces = [type, key, `${offset} before`].filter(Boolean).map(isolated);
    meta.append(...pieces.flatMap((piece, index) => (index === 0 ? [piece] : [" · ", piece])));
    const time = document.createElement("span");
    time.className = "countdown";
    row.append(title, meta, time);
    return row;
  }

  // Rewrite every countdown, then wait for the daemon's next whole second: one timer.
  tick() {
    clearTimeout(this.timer);
    const now = this.clock.now();
    for (const { row, due } of this.pending.values()) {
      row.querySelector(".countdown").textContent = countdown(due - now);
    }
    this.timer = this.pending.size === 0 ? null : setTimeout(() => this.tick(), SECOND - (now % SECOND));
  }
}

// Reads GET /reminders for the page's filters; a later read wins over an earlier one.
class Lister {
  constructor(list, clock, api, state) {
    this.list = list;
    this.clock = clock;
    this.api = api;
    this.state = state;
    this.generation = 0;
    this.sentGeneration = 0; // of the reads with the sent ones: they are not read every time
    this.timer = null;
    this.more = false;
    this.reading = 0; // reads on their way
    // Events deleted while a read was on its way: its answer may predate the deletion.
    this.gone = new Set();
  }

  // The event is deleted: a read answering later must not list its reminders again.
  forget(eventId) {
    if (this.reading > 0) this.gone.add(eventId);
  }

  // Everything is deleted: answers on their way are dropped, a new read follows.
  drop() {
    this.generation += 1;
    this.sentGeneration += 1;
  }

  // Read again soon: the writes of a burst share one read.
  soon() {
    if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.read();
      }, REFETCH_DELAY_MS);
    }
  }

  // withSent: read too the reminders sent in the last hour (after the subscription is made).
  async read({ withSent = false } = {}) {
    const generation = ++this.generation;
    const sentGeneration = withSent ? ++this.sentGeneration : null;
    const query = { limit: PAGE, type: this.state.get("type"), key: this.state.get("key") };
    const sent = Date.now();
    let page, recent;
    this.reading += 1;
    try {
      [page, recent] = await Promise.all([
        this.api("/reminders", { query }),
        withSent ? this.readSent(query) : null,
      ]);
      page.reminders = page.reminders.filter((item) => !this.gone.has(item.event_id));
    } catch (error) {
      if (generation !== this.generation) return;
      console.warn("eventd: GET /reminders:", error.message);
      this.list.setStatus(error.code === "not_supported" ? "this engine keeps no reminders" : error.message);
      return;
    } finally {
      this.reading -= 1;
      if (this.reading === 0) this.gone.clear();
    }
    // A newer read is on its way: it shows the pending ones, and maybe the sent ones.
    if (sentGeneration === this.sentGeneration) this.list.showSentPage(recent.reminders);
    if (generation !== this.generation) return;
    this.clock.observe(page.server_time, sent, Date.now());
    this.more = page.next_cursor !== null;
    this.list.showPage(page.reminders, this.more);
  }

  // The newest sent in the last hour. /reminders lists in due order, oldest first, so the
  // pages are followed to the end (at most SENT_PAGES of them), keeping the last ones.
  async readSent(query) {
    const start = new Date(this.clock.now() - SENT_SHOWN_FOR_MS).toISOString();
    let newest = [];
    let cursor;
    for (let pages = 0; pages < SENT_PAGES; pages += 1) {
      const sentQuery = { ...query, state: "sent", start, limit: SENT_PAGE, cursor };
      const page = await this.api("/reminders", { query: sentQuery });
      newest = newest.concat(page.reminders).slice(-SENT_KEPT);
      cursor = page.next_cursor;
      if (cursor === null) break;
    }
    return { reminders: newest };
  }
}

// Whether a change may add, move or drop a listed reminder.
function concerns(change, list, clock) {
  const event = change.event;
  if (event === null || event === undefined) return false;
  if (list.shows(event.id)) return true;
  return change.op !== "deleted" && Date.parse(event.timestamp) > clock.now();
}

function onChange(message, list, lister, clock) {
  if (message.type === "reminder") {
    list.markSent(message);
    toast(reminderToast(message), { kind: "reminder" });
    if (lister.more) lister.soon(); // one more fits in the list now
  } else if (message.op === "cleared") {
    list.clear();
    lister.drop();
    lister.soon();
  } else if (message.op === "deleted") {
    lister.forget(message.event.id);
    if (list.forgetEvent(message.event.id) && lister.more) lister.soon();
  } else if (concerns(message, list, clock)) {
    lister.soon();
  }
}

export function mount(root, { api, state, events }) {
  const clock = new ServerClock();
  const list = new ReminderList(root, clock);
  const lister = new Lister(list, clock, api, state);
  // The page's shared subscription (events.js), made again by it when the filters change.
  events.listen(["events", "reminders"], {
    onChange: (message) => onChange(message, list, lister, clock),
    onReset: () => list.clear(),
    onMessage: (message) => {
      // Made (or made again): what is pending now is read after it, so nothing falls between.
      if (message.type === "subscribed") lister.read({ withSent: true });
      else if (message.type === "error") list.setStatus(message.message);
    },
  });
  state.watch(["type", "key"], () => list.clear());
}
