// A directly-follows graph drawn in SVG with DOM APIs: one node per state, one arrow per
// (from, to) pair, labelled with its count and mean dwell. Event data is untrusted, so every
// label goes in as text, never as markup.

const SVG = "http://www.w3.org/2000/svg";
const MIN_WIDTH = 300;
const NODE_HEIGHT = 26;
const MAX_NODES = 16; // beyond this a circle of states is unreadable; the table lists them all
const MAX_LABEL = 18;

function element(name, attributes = {}) {
  const node = document.createElementNS(SVG, name);
  for (const [attribute, value] of Object.entries(attributes)) node.setAttribute(attribute, String(value));
  return node;
}

// Return how a state reads on the page: a string as itself, anything else as JSON.
export function stateText(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

// Return a dwell in seconds as people read it ("42 s", "3.5 min", "2 h").
export function formatDwell(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const units = [[86400, "d"], [3600, "h"], [60, "min"]];
  for (const [size, unit] of units) {
    if (Math.abs(seconds) >= size) return `${round(seconds / size)} ${unit}`;
  }
  return `${round(seconds)} s`;
}

function round(number) {
  return Math.abs(number) >= 10 ? String(Math.round(number)) : String(Math.round(number * 10) / 10);
}

function shorten(text) {
  return text.length > MAX_LABEL ? `${text.slice(0, MAX_LABEL - 1)}…` : text;
}

// Order the states so that the flow reads around the circle: breadth first from the states
// nothing leads to (or the busiest), the way a process usually starts.
function orderStates(pairs) {
  const traffic = new Map();
  const next = new Map();
  const incoming = new Map();
  for (const pair of pairs) {
    for (const state of [pair.fromKey, pair.toKey]) {
      traffic.set(state, (traffic.get(state) ?? 0) + pair.count);
      if (!next.has(state)) next.set(state, []);
      if (!incoming.has(state)) incoming.set(state, 0);
    }
    next.get(pair.fromKey).push(pair.toKey);
    incoming.set(pair.toKey, incoming.get(pair.toKey) + pair.count);
  }
  const busiest = [...traffic.keys()].sort((a, b) => traffic.get(b) - traffic.get(a));
  const kept = new Set(busiest.slice(0, MAX_NODES));
  const starts = busiest.filter((state) => kept.has(state) && incoming.get(state) === 0);
  const order = [];
  const seen = new Set();
  for (const root of [...starts, ...busiest]) {
    if (!kept.has(root) || seen.has(root)) continue;
    const queue = [root];
    seen.add(root);
    while (queue.length > 0) {
      const state = queue.shift();
      order.push(state);
      for (const after of next.get(state)) {
        if (kept.has(after) && !seen.has(after)) {
          seen.add(after);
          queue.push(after);
        }
      }
    }
  }
  return order;
}

function layout(order, labels, width, height) {
  const places = new Map();
  const halfWidths = new Map(order.map((state) => [state, Math.max(24, 4 * labels.get(state).length + 8)]));
  const widest = Math.max(0, ...halfWidths.values());
  const radiusX = order.length <= 2 ? width / 3 : width / 2 - widest - 4;
  const radiusY = order.length <= 2 ? 0 : height / 2 - NODE_HEIGHT;
  order.forEach((state, index) => {
    // The first state on the left, the next ones clockwise.
    const angle = Math.PI + (2 * Math.PI * index) / order.length;
    places.set(state, {
      x: width / 2 + radiusX * Math.cos(angle),
      y: height / 2 + radiusY * Math.sin(angle),
      halfWidth: halfWidths.get(state),
      halfHeight: NODE_HEIGHT / 2,
    });
  });
  return places;
}

// Return where a ray from the node's centre along (dx, dy) leaves its box.
function boundary(place, dx, dy) {
  const scale = Math.min(
    dx === 0 ? Infinity : place.halfWidth / Math.abs(dx),
    dy === 0 ? Infinity : place.halfHeight / Math.abs(dy),
  );
  return { x: place.x + dx * scale, y: place.y + dy * scale };
}

function arrow(pair, from, to, widthFor) {
  const dx = to.x - from.x;
  const dy = to.y - from.y;
  const length = Math.hypot(dx, dy) || 1;
  // Bend every arrow to its own left, so that a -> b and b -> a do not overlap.
  const bend = Math.min(60, length / 4);
  const control = { x: (from.x + to.x) / 2 + (dy / length) * bend, y: (from.y + to.y) / 2 - (dx / length) * bend };
  const start = boundary(from, control.x - from.x, control.y - from.y);
  const end = boundary(to, control.x - to.x, control.y - to.y);
  const group = element("g", { class: "edge", "data-testid": "transition-edge" });
  group.dataset.from = pair.fromKey;
  group.dataset.to = pair.toKey;
  const title = element("title");
  title.textContent = `${pair.fromText} → ${pair.toText}: ${pair.count}, mean dwell ${formatDwell(pair.mean)}`;
  const path = element("path", {
    d: `M${start.x},${start.y} Q${control.x},${control.y} ${end.x},${end.y}`,
    "stroke-width": widthFor(pair.count),
    "marker-end": "url(#dfg-arrow)",
  });
  const label = element("text", {
    x: 0.25 * start.x + 0.5 * control.x + 0.25 * end.x,
    y: 0.25 * start.y + 0.5 * control.y + 0.25 * end.y,
    "text-anchor": "middle",
    "dominant-baseline": "middle",
  });
  label.textContent = `${pair.count} · ${formatDwell(pair.mean)}`;
  group.append(title, path, label);
  return group;
}

function node(state, place, label, full) {
  const group = element("g", { class: "node" });
  group.dataset.state = state;
  const title = element("title");
  title.textContent = full;
  const box = element("rect", {
    x: place.x - place.halfWidth,
    y: place.y - place.halfHeight,
    width: 2 * place.halfWidth,
    height: 2 * place.halfHeight,
    rx: 6,
  });
  const text = element("text", { x: place.x, y: place.y, "text-anchor": "middle", "dominant-baseline": "middle" });
  text.textContent = label;
  group.append(title, box, text);
  return group;
}

function arrowHead() {
  const defs = element("defs");
  const marker = element("marker", {
    id: "dfg-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5,
    markerWidth: 9, markerHeight: 9, orient: "auto-start-reverse", markerUnits: "userSpaceOnUse",
  });
  marker.append(element("path", { d: "M0,0 L10,5 L0,10 z" }));
  defs.append(marker);
  return defs;
}

// Draw `pairs` ({fromKey, toKey, fromText, toText, count, mean}) into `svg`, `width` pixels
// wide, replacing what it showed. Drawn at the size it is shown, its labels keep their size
// on a phone.
export function drawGraph(svg, pairs, width) {
  width = Math.max(MIN_WIDTH, width);
  const height = Math.round(Math.min(300, Math.max(240, width * 0.5)));
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.replaceChildren(arrowHead());
  const labels = new Map();
  const texts = new Map();
  for (const pair of pairs) {
    labels.set(pair.fromKey, shorten(pair.fromText));
    labels.set(pair.toKey, shorten(pair.toText));
    texts.set(pair.fromKey, pair.fromText);
    texts.set(pair.toKey, pair.toText);
  }
  const order = orderStates(pairs);
  const places = layout(order, labels, width, height);
  const most = Math.max(1, ...pairs.map((pair) => pair.count));
  const widthFor = (count) => 1 + (4 * count) / most;
  const edges = element("g", { class: "edges" });
  for (const pair of pairs) {
    const from = places.get(pair.fromKey);
    const to = places.get(pair.toKey);
    if (from !== undefined && to !== undefined) edges.append(arrow(pair, from, to, widthFor));
  }
  const nodes = element("g", { class: "nodes" });
  for (const state of order) nodes.append(node(state, places.get(state), labels.get(state), texts.get(state)));
  svg.append(edges, nodes);
}
