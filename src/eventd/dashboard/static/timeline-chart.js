// One timeline's chart (uPlot: a step chart for states, a line for numbers) and the list of
// its points, which says the same to tests and screen readers.

import uPlot from "./vendor/uPlot.esm.js";
import { stateText } from "./graph.js";

const CHART_HEIGHT = 200;
const LISTED = 500; // the newest points listed under the chart, which draws them all

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function formatTime(timestamp) {
  const time = new Date(timestamp);
  return Number.isNaN(time.getTime()) ? String(timestamp) : time.toLocaleString();
}

// The chart and the list of one timeline's points.
export class TimelineView {
  constructor(root) {
    this.chartBox = root.querySelector("#timeline-chart");
    this.list = root.querySelector("#timeline-points");
    this.plot = null;
    this.shown = null; // {field, points, end}
    // The box's width changes with the window and with the page's scrollbar coming and
    // going; the size is set in the next frame, outside the observer's delivery.
    new ResizeObserver(() => requestAnimationFrame(() => this.resize())).observe(this.chartBox);
  }

  show(field, points, end) {
    this.shown = { field, points, end };
    this.list.replaceChildren(...points.slice(-LISTED).map(pointItem));
    this.draw();
  }

  // Add `points`, later than those shown: the chart takes them in place when it can.
  append(points) {
    if (points.length === 0) return;
    this.shown.points.push(...points);
    this.list.append(...points.slice(-LISTED).map(pointItem));
    while (this.list.childElementCount > LISTED) this.list.firstElementChild.remove();
    this.update();
  }

  // The last point shown, with the ids of every point at its time; null if none.
  lastPoint() {
    const points = this.shown?.points ?? [];
    if (points.length === 0) return null;
    const { timestamp } = points[points.length - 1];
    const ids = new Set();
    for (let index = points.length - 1; index >= 0 && points[index].timestamp === timestamp; index -= 1) {
      ids.add(points[index].event_id);
    }
    return { timestamp, ids };
  }

  listed() {
    return this.list.childElementCount;
  }

  clear() {
    this.shown = null;
    this.list.replaceChildren();
    this.draw();
  }

  // Give the chart its new data; a new kind of chart, or new states on the step chart's
  // axis, need a new one.
  update() {
    const points = this.shown.points;
    const numeric = points.every((point) => typeof point.value === "number");
    const kind = numeric ? "line" : "step";
    const chart = numeric ? lineChart(points) : stepChart(points, this.shown.end);
    if (this.plot === null || this.chartBox.dataset.kind !== kind || String(chart.labels) !== String(this.labels)) {
      this.draw();
      return;
    }
    // A chart with one moment spreads it a minute either way: the range follows the data.
    this.plot.scales.x.range = xRange(chart.data[0]);
    this.plot.setData(chart.data);
  }

  draw() {
    this.plot?.destroy();
    this.plot = null;
    this.labels = undefined;
    const points = this.shown?.points ?? [];
    if (points.length === 0) {
      this.chartBox.dataset.kind = "empty";
      return;
    }
    const numeric = points.every((point) => typeof point.value === "number");
    this.chartBox.dataset.kind = numeric ? "line" : "step";
    // The canvas says nothing to a screen reader; the list of points under it does.
    this.chartBox.setAttribute("aria-label", `${numeric ? "Line" : "Step"} chart of ${this.shown.field}`);
    const chart = numeric ? lineChart(points) : stepChart(points, this.shown.end);
    const options = chartOptions(this.shown.field, chart, this.width());
    this.labels = chart.labels;
    this.plot = new uPlot(options, chart.data, this.chartBox);
  }

  width() {
    return Math.max(200, this.chartBox.clientWidth);
  }

  resize() {
    if (this.plot !== null && this.plot.width !== this.width()) {
      this.plot.setSize({ width: this.width(), height: CHART_HEIGHT });
    }
  }
}

function pointItem(point) {
  const item = document.createElement("li");
  item.dataset.testid = "timeline-point";
  item.dataset.timestamp = point.timestamp;
  item.dataset.value = JSON.stringify(point.value);
  item.dataset.eventId = point.event_id;
  const time = document.createElement("time");
  time.dateTime = point.timestamp;
  time.textContent = formatTime(point.timestamp);
  const value = document.createElement("span");
  value.className = "value";
  value.textContent = stateText(point.value) + (point.carried ? " (carried)" : "");
  item.append(time, " ", value);
  return item;
}

function seconds(timestamp) {
  return Date.parse(timestamp) / 1000;
}

function lineChart(points) {
  return { data: [points.map((point) => seconds(point.timestamp)), points.map((point) => point.value)] };
}

// Each distinct state gets a level, in the order it first appears; the last state is drawn
// on until the range's end (or now), since it still holds there.
function stepChart(points, end) {
  const levels = new Map();
  for (const point of points) {
    const key = JSON.stringify(point.value);
    if (!levels.has(key)) levels.set(key, levels.size);
  }
  const xs = points.map((point) => seconds(point.timestamp));
  const ys = points.map((point) => levels.get(JSON.stringify(point.value)));
  const last = xs[xs.length - 1];
  const until = end === "" ? Date.now() / 1000 : seconds(end);
  if (until > last) {
    xs.push(until);
    ys.push(ys[ys.length - 1]);
  }
  const labels = [...levels.keys()].map((key) => stateText(JSON.parse(key)));
  return { data: [xs, ys], labels };
}

// Return the x scale's range: the points' own, but a minute either side of a single moment,
// which uPlot would spread over years.
function xRange(xs) {
  const first = xs[0];
  const last = xs[xs.length - 1];
  return (_, min, max) => (first === last ? [first - 60, last + 60] : [min, max]);
}

function chartOptions(field, chart, width) {
  const axis = { stroke: cssVar("--muted"), grid: { stroke: cssVar("--line") }, ticks: { stroke: cssVar("--line") } };
  const series = { label: field, stroke: cssVar("--live"), width: 2, points: { show: true } };
  const options = {
    width,
    height: CHART_HEIGHT,
    legend: { show: false },
    scales: { x: { time: true, range: xRange(chart.data[0]) } },
    axes: [{ ...axis }, { ...axis }],
    series: [{}, series],
  };
  if (chart.labels !== undefined) {
    const labels = chart.labels.map((label) => (label.length > 14 ? `${label.slice(0, 13)}…` : label));
    series.paths = uPlot.paths.stepped({ align: 1 });
    options.scales.y = { range: [-0.5, labels.length - 0.5] };
    Object.assign(options.axes[1], {
      splits: () => labels.map((_, index) => index),
      values: (_, splits) => splits.map((index) => labels[index] ?? ""),
      size: Math.min(140, 16 + 7 * Math.max(...labels.map((label) => label.length))),
    });
  }
  return options;
}

