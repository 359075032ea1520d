// The Live feed's table, virtualised: only the rows in view, plus a margin, are in the DOM,
// between two spacer rows that stand for the others, so thousands of held events cost a few
// dozen elements. The newest rows come first, at the top of the scroller.

const COLUMNS = ["time", "type", "key", "title", "value"];
const MARGIN_ROWS = 10;
const FIRST_ROW_HEIGHT = 28; // until a drawn row is measured
const FIRST_DATA_HEIGHT = 120;
// New rows are drawn at most this often: at hundreds of events a second nobody reads rows at
// the screen's frame rate, and each draw repaints the whole table. Scrolling draws at once.
const ARRIVALS_MS = 100;

export class FeedTable {
  // onOpen(event): a row was clicked (or Enter pressed on it).
  constructor(scroller, body, { onOpen }) {
    this.scroller = scroller;
    this.body = body;
    this.onOpen = onOpen;
    this.events = [];
    this.expanded = new Set(); // ids whose data is shown
    this.cache = new Map(); // id -> {event, row, data}: the elements drawn last time
    this.rowHeight = FIRST_ROW_HEIGHT;
    this.dataHeights = new Map(); // id -> measured height of its data row
    this.anchor = null; // {id, offset}: the row at the top of the view, kept there
    this.frame = null;
    this.later = null; // the timer of a draw of arrivals held back
    this.drawn = -Infinity; // when the last draw ran
    this.top = spacer();
    this.bottom = spacer();
    scroller.addEventListener("scroll", () => this.schedule());
    new ResizeObserver(() => this.schedule()).observe(scroller);
  }

  // Draw `events` (newest first) soon; the array may change until then.
  show(events) {
    this.events = events;
    if (this.frame !== null || this.later !== null) return;
    const wait = this.drawn + ARRIVALS_MS - performance.now();
    if (wait <= 0) {
      this.schedule();
    } else {
      this.later = setTimeout(() => {
        this.later = null;
        this.schedule();
      }, wait);
    }
  }

  schedule() {
    if (this.frame === null) this.frame = requestAnimationFrame(() => this.draw());
  }

  height(event) {
    if (!this.expanded.has(event.id)) return this.rowHeight;
    return this.rowHeight + (this.dataHeights.get(event.id) ?? FIRST_DATA_HEIGHT);
  }

  draw() {
    this.frame = null;
    this.drawn = performance.now();
    // Read the layout first, while it is still the one the last frame drew: a read after the
    // rows below change would make the browser lay the table out twice in a frame.
    this.measure();
    const scrollTop = this.scroller.scrollTop;
    const view = this.anchoredView(scrollTop);
    const from = view - MARGIN_ROWS * this.rowHeight;
    const to = view + this.scroller.clientHeight + MARGIN_ROWS * this.rowHeight;
    let y = 0;
    let first = this.events.length;
    let last = this.events.length;
    let above = 0;
    let anchor = null;
    for (let index = 0; index < this.events.length; index += 1) {
      const height = this.height(this.events[index]);
      if (anchor === null && y + height > view) anchor = { id: this.events[index].id, offset: y - view };
      if (first === this.events.length && y + height >= from) {
        first = index;
        above = y;
      }
      if (y > to) {
        last = index;
        break;
      }
      y += height;
    }
    const below = this.events.slice(last).reduce((sum, event) => sum + this.height(event), 0);
    this.render(this.events.slice(first, last), above, below);
    // Only now is the table tall enough for the view the anchor asks for.
    if (scrollTop !== view) this.scroller.scrollTop = view;
    this.anchor = view > 0 && anchor !== null ? { ...anchor, view } : null;
  }

  // Where the view should be: new rows on top must not push what the reader is looking at
  // down the table, unless the reader scrolled since the last frame.
  anchoredView(view) {
    if (this.anchor === null || view !== this.anchor.view) return view;
    let y = 0;
    for (const event of this.events) {
      if (event.id === this.anchor.id) return Math.max(0, y - this.anchor.offset);
      y += this.height(event);
    }
    return view;
  }

  render(events, above, below) {
    const cache = new Map();
    const children = [this.top];
    for (const event of events) {
      const drawn = this.cache.get(event.id) ?? this.create(event);
      const open = this.expanded.has(event.id);
      if (drawn.event !== event || drawn.open !== open) fill(drawn, event, open);
      cache.set(event.id, drawn);
      children.push(drawn.row);
      if (open) children.push(this.dataRow(drawn));
    }
    children.push(this.bottom);
    this.cache = cache;
    this.top.style.height = `${above}px`;
    this.bottom.style.height = `${below}px`;
    this.body.replaceChildren(...children);
  }

  create(event) {
    const row = document.createElement("tr");
    row.dataset.testid = "feed-row";
    row.tabIndex = 0;
    for (const name of COLUMNS) row.insertCell().className = name === "value" ? "num" : name;
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "feed-expand";
    toggle.dataset.testid = "feed-expand";
    row.insertCell().append(toggle);
    const drawn = { event: null, open: false, row, data: null };
    toggle.addEventListener("click", (click) => {
      click.stopPropagation(); // the row's own click opens the event
      this.toggle(drawn.event.id);
    });
    row.addEventListener("click", () => this.onOpen(drawn.event));
    row.addEventListener("keydown", (key) => {
      if (key.key === "Enter" && key.target === row) this.onOpen(drawn.event);
    });
    fill(drawn, event, this.expanded.has(event.id));
    return drawn;
  }

  dataRow(drawn) {
    if (drawn.data === null) {
      drawn.data = document.createElement("tr");
      drawn.data.className = "feed-data";
      const cell = drawn.data.insertCell();
      cell.colSpan = COLUMNS.length + 1;
      cell.append(document.createElement("pre"));
      cell.firstChild.dataset.testid = "feed-data";
    }
    // Event data is untrusted: shown as text, never parsed as HTML.
    drawn.data.cells[0].firstChild.textContent = JSON.stringify(drawn.event.data, null, 2);
    return drawn.data;
  }

  toggle(id) {
    if (!this.expanded.delete(id)) this.expanded.add(id);
    this.schedule();
  }

  // Row heights depend on the font and the screen: measure the rows the last frame drew.
  measure() {
    let changed = false;
    for (const [id, drawn] of this.cache) {
      if (drawn.row.offsetHeight > 0 && drawn.row.offsetHeight !== this.rowHeight) {
        this.rowHeight = drawn.row.offsetHeight;
        changed = true;
      }
      const data = drawn.data?.isConnected ? drawn.data.offsetHeight : 0;
      if (data > 0 && data !== this.dataHeights.get(id)) {
        this.dataHeights.set(id, data);
        changed = true;
      }
    }
    for (const id of this.dataHeights.keys()) {
      if (!this.expanded.has(id)) this.dataHeights.delete(id);
    }
    if (changed) this.schedule();
  }
}

function fill(drawn, event, open) {
  drawn.event = event;
  drawn.open = open;
  const values = [formatTime(event.timestamp), event.type, event.key ?? "", event.title ?? "", event.value ?? ""];
  values.forEach((text, index) => {
    drawn.row.cells[index].textContent = String(text);
  });
  // A phone hides the key's column and shows the key under the title (style.css).
  drawn.row.cells[COLUMNS.indexOf("title")].dataset.key = event.key ?? "";
  drawn.row.dataset.eventId = event.id;
  drawn.row.classList.toggle("open", open);
  const toggle = drawn.row.cells[COLUMNS.length].firstChild;
  toggle.textContent = open ? "▾" : "▸";
  toggle.setAttribute("aria-label", open ? "Hide data" : "Show data");
  toggle.setAttribute("aria-expanded", String(open));
}

function spacer() {
  const row = document.createElement("tr");
  row.className = "feed-spacer";
  row.setAttribute("aria-hidden", "true");
  row.insertCell().colSpan = COLUMNS.length + 1;
  return row;
}

// Today's times without their date, which keeps the column narrow on a phone.
export function formatTime(timestamp) {
  const time = new Date(timestamp);
  if (Number.isNaN(time.getTime())) return String(timestamp);
  const today = time.toDateString() === new Date().toDateString();
  return today ? time.toLocaleTimeString() : time.toLocaleString();
}
