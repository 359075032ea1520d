// The Health panel: GET /health every few seconds: status, engine, version, store backlog,
// the feed position this daemon has dispatched, and its WebSocket subscribers. A 503 shows
// the parts that failed; no answer at all shows that the daemon is unreachable.

const POLL_MS = 3000;
const FIELDS = [
  ["status", "Status"],
  ["engine", "Engine"],
  ["version", "Version"],
  ["backlog", "Store backlog"],
  ["position", "Feed position"],
  ["subscribers", "Subscribers"],
  ["checked", "Checked"],
];

function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function describeSubscribers({ connections, subscriptions, channels }) {
  const held = Object.entries(channels)
    .filter(([, count]) => count > 0)
    .map(([name, count]) => `${name} ${count}`);
  const text = `${plural(connections, "connection")}, ${plural(subscriptions, "subscription")}`;
  return held.length === 0 ? text : `${text} (${held.join(", ")})`;
}

function describeStatus(body) {
  if (body.status === "ok") return "ok";
  const reasons = Object.entries(body.errors ?? {}).map(([part, why]) => `${part}: ${why}`);
  return reasons.length === 0 ? body.status : `${body.status} (${reasons.join("; ")})`;
}

class HealthList {
  constructor(root) {
    this.list = document.createElement("dl");
    this.list.className = "health";
    this.list.dataset.testid = "health";
    this.list.dataset.state = "unknown";
    this.cells = {};
    for (const [name, label] of FIELDS) {
      const row = document.createElement("div");
      const term = document.createElement("dt");
      term.textContent = label;
      const cell = document.createElement("dd");
      cell.dataset.field = name;
      cell.textContent = "–";
      row.append(term, cell);
      this.list.append(row);
      this.cells[name] = cell;
    }
    root.append(this.list);
  }

  // A /health answer, 200 or 503: both have the health shape.
  show(body) {
    this.list.dataset.state = body.status;
    const { cells } = this;
    cells.status.textContent = describeStatus(body);
    cells.engine.textContent = body.engine;
    cells.version.textContent = body.version;
    cells.backlog.textContent = String(body.backlog);
    cells.position.textContent = String(body.feed.position);
    cells.position.title = body.feed.epoch === null ? "epoch unknown" : `epoch ${body.feed.epoch}`;
    cells.subscribers.textContent = describeSubscribers(body.subscribers);
    cells.checked.textContent = new Date(body.server_time).toLocaleTimeString();
  }

  // No health answer: the figures shown are the last known ones.
  fail(state, text) {
    this.list.dataset.state = state;
    this.cells.status.textContent = text;
    this.cells.checked.textContent = new Date().toLocaleTimeString();
  }
}

async function check(health, api) {
  try {
    health.show(await api("/health"));
  } catch (error) {
    if (error.status === 503 && error.body?.status === "unavailable") {
      health.show(error.body);
    } else if (error.status !== undefined) {
      health.fail("unavailable", `unavailable (HTTP ${error.status}: ${error.message})`);
    } else {
      health.fail("unreachable", `unreachable (${error.message})`);
    }
  }
}

export function mount(root, { api }) {
  const health = new HealthList(root);
  const poll = async () => {
    // A hidden page asks nothing: it looks again as soon as it is shown.
    if (!document.hidden) await check(health, api);
    setTimeout(poll, POLL_MS);
  };
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) check(health, api);
  });
  poll();
}
