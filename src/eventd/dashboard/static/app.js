// The dashboard's entry point: one feed connection, the connection badge and the Live feed.

import { FeedConnection } from "./connection.js";
import { FeedTable } from "./feed.js";

const badge = document.querySelector('[data-testid="connection"]');
const maxRowsInput = document.getElementById("max-rows");
const table = new FeedTable(document.getElementById("feed"), readMaxRows());

function readMaxRows() {
  const value = Number.parseInt(maxRowsInput.value, 10);
  return Number.isFinite(value) && value > 0 ? value : 200;
}

function showState(state, { resumed }) {
  badge.dataset.state = state;
  badge.textContent = state === "live" && resumed ? "live · resumed" : state;
}

maxRowsInput.addEventListener("change", () => table.setMaxRows(readMaxRows()));

const scheme = location.protocol === "https:" ? "wss:" : "ws:";
new FeedConnection({
  url: `${scheme}//${location.host}/ws`,
  onState: showState,
  onChange: (change) => table.apply(change),
  onReset: () => table.clear(),
}).start();
