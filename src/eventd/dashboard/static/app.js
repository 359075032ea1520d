// The dashboard's entry point: one WebSocket for every panel, the connection badge, the
// filters every panel shares through the URL, then each panel in its own section.
//
// A panel is a module whose `mount(root, context)` fills its <section>; context holds
// `connection` (add subscriptions), `api` (HTTP calls), `state` (the URL's view state) and
// `events` (the shared subscription to the events and reminders channels: see events.js).

import { api } from "./api.js";
import { Connection } from "./connection.js";
import { EventsFeed } from "./events.js";
import * as feed from "./feed.js";
import * as health from "./health.js";
import * as reminders from "./reminders.js";
import { UrlState } from "./state.js";
import * as stats from "./stats.js";
import * as timelines from "./timelines.js";

const PANELS = [
  ["feed-panel", feed],
  ["stats-panel", stats],
  ["reminders-panel", reminders],
  ["timelines-panel", timelines],
  ["health-panel", health],
];

const badge = document.querySelector('[data-testid="connection"]');

function showState(state, { resumed }) {
  badge.dataset.state = state;
  badge.textContent = state === "live" && resumed ? "live · resumed" : state;
}

function bindFilters(form, state) {
  for (const input of form.elements) input.value = state.get(input.name);
  form.addEventListener("change", (event) => state.set({ [event.target.name]: event.target.value.trim() }));
  form.addEventListener("submit", (event) => event.preventDefault());
}

const state = new UrlState();
bindFilters(document.getElementById("filters"), state);
const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const connection = new Connection({ url: `${scheme}//${location.host}/ws`, onState: showState });
const events = new EventsFeed(connection, state);
const context = { connection, api, state, events };
for (const [id, panel] of PANELS) panel.mount(document.getElementById(id), context);
events.start();
connection.start();
