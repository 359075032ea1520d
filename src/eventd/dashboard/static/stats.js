// The Statistics panel: one tile per configured window (count, mean, min, max, p50, p90,
// p99) from the `stats` channel, each with a chart of its count and mean, backfilled from
// GET /stats/history and then extended by the live messages.
//
// The type selector is the panel's own (kept in the URL as `stats_type`), not the header's
// filter: statistics are kept per type only, and the feed is often narrowed to one type or
// key while the statistics of every type are watched.

import { Subscription } from "./connection.js";
import uPlot from "./vendor/uPlot.esm.js";

const FIGURES = ["mean", "min", "max", "p50", "p90", "p99"];
const SPAN_WINDOWS = 12; // a chart reaches back twelve lengths of its window
const STEPS = 60; // points per span: the step between two points of a chart
const MAX_POINTS = 2 * STEPS; // a bound on what a chart holds, whatever comes
// How much sooner than the daemon's limit a backfill starts: the limit moves on while the
// request travels, and a start before it is refused.
const MARGIN_SECONDS = 60;
const CHART_HEIGHT = 110;
const MIN_CHART_SECONDS = 60; // the x axis of a chart with one point, or points close together
const TYPE_SUGGESTIONS = 200; // the newest events whose types the selector suggests

const UNIT_SECONDS = { d: 86400, h: 3600, m: 60, s: 1 };

// Return the seconds of a window's name ("5m", "1h30m", "1d").
export function durationSeconds(name) {
  let seconds = 0;
  for (const [, amount, unit] of name.matchAll(/(\d+)([dhms])/g)) {
    seconds += Number(amount) * UNIT_SECONDS[unit];
  }
  return seconds;
}

const NUMBER = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 4, useGrouping: false });

function formatFigure(value) {
  if (value === null || value === undefined) return "–";
  const size = Math.abs(value);
  return size >= 1e6 || (size > 0 && size < 1e-3) ? value.toExponential(2) : NUMBER.format(value);
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// The points of one chart: at least `step` seconds apart, except the newest, which moves
// with the live messages until one comes more than `step` after the point before it; at
// most MAX_POINTS, none older than `span` before the newest.
export class Series {
  constructor(step, span) {
    this.step = step;
    this.span = span;
    this.times = [];
    this.counts = [];
    this.means = [];
  }

  clear() {
    this.times = [];
    this.counts = [];
    this.means = [];
  }

  add(time, count, mean) {
    const n = this.times.length;
    if (n > 0 && time < this.times[n - 1]) return;
    if (n >= 2 && time - this.times[n - 2] <= this.step) {
      this.times[n - 1] = time;
      this.counts[n - 1] = count;
      this.means[n - 1] = mean;
    } else {
      this.times.push(time);
      this.counts.push(count);
      this.means.push(mean);
    }
    this.trim();
  }

  // Put the history (oldest first) before the live points newer than it.
  backfill(points) {
    const live = { times: this.times, counts: this.counts, means: this.means };
    this.clear();
    for (const point of points) {
      this.times.push(Date.parse(point.time) / 1000);
      this.counts.push(point.count);
      this.means.push(point.mean);
    }
    const last = this.times.at(-1) ?? -Infinity;
    live.times.forEach((time, index) => {
      if (time > last) this.add(time, live.counts[index], live.means[index]);
    });
    this.trim();
  }

  trim() {
    const newest = this.times.at(-1);
    let drop = Math.max(0, this.times.length - MAX_POINTS);
    while (drop < this.times.length && this.times[drop] < newest - this.span) drop += 1;
    if (drop === 0) return;
    this.times.splice(0, drop);
    this.counts.splice(0, drop);
    this.means.splice(0, drop);
  }

  data() {
    return [this.times, this.counts, this.means];
  }
}

function chartColours() {
  const style = getComputedStyle(document.documentElement);
  const colour = (name) => style.getPropertyValue(name).trim();
  return {
    count: colour("--chart-count"),
    mean: colour("--chart-mean"),
    muted: colour("--muted"),
    line: colour("--line"),
  };
}

// The x range: the points' own, but at least a minute up to the newest (uPlot would give a
// lone point a range of years).
function timeRange(u, min, max) {
  const times = u.data[0];
  const newest = times.at(-1);
  if (newest === undefined || newest - times[0] >= MIN_CHART_SECONDS) return [min, max];
  return [newest - MIN_CHART_SECONDS, newest];
}

function chartOptions(width, colours) {
  const grid = { stroke: colours.line, width: 1 };
  return {
    width,
    height: CHART_HEIGHT,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: {
      x: { time: true, range: timeRange },
      count: { range: (_u, _min, max) => [0, Math.max(1, max)] },
    },
    series: [
      {},
      { label: "count", scale: "count", stroke: colours.count, width: 1.5 },
      { label: "mean", scale: "value", stroke: colours.mean, width: 1.5 },
    ],
    axes: [
      { stroke: colours.muted, grid, ticks: grid, size: 30 },
      { scale: "count", stroke: colours.count, grid, ticks: grid, size: 36 },
      { scale: "value", side: 1, stroke: colours.mean, grid: { show: false }, ticks: grid, size: 36 },
    ],
  };
}

// One window's tile: its figures, its chart and a note for what went wrong.
class WindowTile {
  constructor(name, seconds) {
    this.name = name;
    this.seconds = seconds;
    this.span = SPAN_WINDOWS * seconds;
    this.step = Math.max(1, Math.round(this.span / STEPS));
    this.series = new Series(this.step, this.span);
    this.root = element("article", "stats-window");
    this.root.dataset.testid = "stats-window";
    this.root.dataset.window = name;
    this.cells = {};
    this.build();
  }

  build() {
    const head = element("div", "stats-head");
    this.cells.count = element("span", "stats-count", "–");
    this.unit = element("span", "muted", "events");
    head.append(element("h3", "", this.name), this.cells.count, this.unit);
    const figures = element("dl", "stats-figures");
    for (const name of FIGURES) {
      const figure = element("div");
      this.cells[name] = element("dd", "", "–");
      figure.append(element("dt", "", name), this.cells[name]);
      figures.append(figure);
    }
    for (const [name, cell] of Object.entries(this.cells)) cell.dataset.field = name;
    this.chartBox = element("div", "stats-chart");
    this.chartBox.dataset.testid = "stats-chart";
    const legend = element("div", "stats-legend muted");
    legend.append(element("span", "count-key", "count"), element("span", "mean-key", "mean"));
    this.note = element("p", "note");
    this.note.hidden = true;
    this.root.append(head, figures, this.chartBox, legend, this.note);
  }

  // Draw the chart once the tile is in the page (it takes the box's width).
  mountChart() {
    const width = Math.max(100, Math.floor(this.chartBox.clientWidth));
    this.chart = new uPlot(chartOptions(width, chartColours()), this.series.data(), this.chartBox);
    this.resizer = new ResizeObserver(() => requestAnimationFrame(() => this.fit()));
    this.resizer.observe(this.chartBox);
    this.draw();
  }

  // Draw the chart again in the colours of the theme now in force.
  restyle() {
    this.resizer?.disconnect();
    this.chart?.destroy();
    this.mountChart();
  }

  fit() {
    const width = Math.floor(this.chartBox.clientWidth);
    if (this.chart !== undefined && width > 0 && width !== this.chart.width) {
      this.chart.setSize({ width, height: CHART_HEIGHT });
    }
  }

  show(summary, time, type) {
    this.root.dataset.type = type ?? "";
    this.cells.count.textContent = String(summary.count);
    this.unit.textContent = summary.count === 1 ? "event" : "events";
    for (const name of FIGURES) this.cells[name].textContent = formatFigure(summary[name]);
    this.series.add(time, summary.count, summary.mean);
    this.draw();
  }

  backfill(points) {
    this.series.backfill(points);
    this.draw();
  }

  draw() {
    this.chart?.setData(this.series.data());
    const counts = this.series.counts;
    this.chartBox.dataset.points = String(counts.length);
    this.chartBox.dataset.peak = String(counts.length === 0 ? 0 : Math.max(...counts));
  }

  say(text) {
    this.note.textContent = text;
    this.note.hidden = text === "";
  }

  destroy() {
    this.resizer?.disconnect();
    this.chart?.destroy();
    this.root.remove();
  }
}

// Where a window's backfill starts: a span back, but no further than the daemon still holds
// that window's values (its longest window back); null when it holds none before now.
export function historyStart(seconds, end, longest) {
  const earliest = end - (longest - seconds) + MARGIN_SECONDS;
  if (earliest >= end) return null;
  return Math.max(end - SPAN_WINDOWS * seconds, earliest);
}

class StatsPanel {
  constructor(container, note, api) {
    this.container = container;
    this.note = note; // what went wrong with the subscription or the type suggestions
    this.api = api;
    this.tiles = new Map(); // window name -> WindowTile
    this.generation = 0; // one per `subscribed`: a backfill of an older one is dropped
    this.snapshotDue = false;
    this.type = "";
  }

  receive(message) {
    if (message.type === "subscribed") {
      this.generation += 1;
      this.snapshotDue = true;
    } else if (message.type === "error") {
      this.say(message.message);
    } else if (message.type === "stats") {
      const time = Date.parse(message.server_time) / 1000;
      if (this.snapshotDue) {
        this.snapshotDue = false;
        this.say("");
        this.snapshot(message, time);
      } else {
        for (const [name, summary] of Object.entries(message.windows)) {
          this.tiles.get(name)?.show(summary, time, message.stats_type);
        }
      }
    }
  }

  // The first message of a subscription holds every window: make their tiles, start their
  // charts afresh from it, and backfill them.
  snapshot(message, time) {
    const names = Object.keys(message.windows);
    for (const [name, tile] of this.tiles) {
      if (!names.includes(name)) {
        tile.destroy();
        this.tiles.delete(name);
      }
    }
    const longest = Math.max(...names.map(durationSeconds));
    for (const name of names) {
      const tile = this.tile(name);
      tile.say("");
      tile.series.clear();
      tile.show(message.windows[name], time, message.stats_type);
      this.backfill(tile, Math.floor(time), longest, this.generation);
    }
  }

  say(text) {
    this.note.textContent = text;
    this.note.hidden = text === "";
  }

  tile(name) {
    let tile = this.tiles.get(name);
    if (tile === undefined) {
      tile = new WindowTile(name, durationSeconds(name));
      this.tiles.set(name, tile);
      this.container.append(tile.root);
      tile.mountChart();
    }
    return tile;
  }

  async backfill(tile, end, longest, generation) {
    const start = historyStart(tile.seconds, end, longest);
    if (start === null) return;
    const query = { window: tile.name, step: `${tile.step}s`, start, end, type: this.type };
    let history;
    try {
      history = await this.api("/stats/history", { query });
    } catch (error) {
      if (generation === this.generation) tile.say(`history: ${error.message}`);
      return;
    }
    if (generation === this.generation && this.tiles.get(tile.name) === tile) {
      tile.backfill(history.points);
    }
  }
}

function statsFields(type) {
  return type ? { channels: ["stats"], filter: { type } } : { channels: ["stats"] };
}

// Offer the types of the newest events in the selector's list.
async function suggestTypes(list, api) {
  const page = await api("/events", { query: { order: "desc", limit: TYPE_SUGGESTIONS } });
  const types = [...new Set(page.events.map((event) => event.type))].sort();
  list.replaceChildren(...types.map((type) => Object.assign(element("option"), { value: type })));
}

export function mount(root, { connection, api, state }) {
  const note = root.querySelector("#stats-note");
  const panel = new StatsPanel(root.querySelector("#stats-windows"), note, api);
  const selector = root.querySelector("#stats-type");
  panel.type = state.get("stats_type");
  selector.value = panel.type;
  selector.addEventListener("change", () => state.set({ stats_type: selector.value.trim() }));
  selector.addEventListener("focus", () => {
    suggestTypes(root.querySelector("#stats-types"), api).then(
      () => panel.say(""),
      (error) => panel.say(`types: ${error.message}`),
    );
  });
  // The charts draw on canvases, which take no CSS colours: draw them again on a new theme.
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    for (const tile of panel.tiles.values()) tile.restyle();
  });
  const subscription = new Subscription("stats", statsFields(panel.type), (message) => {
    panel.receive(message);
  });
  state.watch(["stats_type"], () => {
    panel.type = state.get("stats_type");
    selector.value = panel.type;
    subscription.fields = statsFields(panel.type);
    connection.renew(subscription);
  });
  connection.add(subscription);
}
