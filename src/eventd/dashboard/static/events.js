// The page's one subscription to the events and reminders channels under the header's type and
// key filters, shared by the panels that follow them (the feed, the reminders), so that each
// event crosses the socket once. It is made afresh when the header's filters change.

import { FeedSubscription } from "./connection.js";

const CHANNELS = ["events", "reminders"];

export class EventsFeed {
  constructor(connection, state, { replayed } = {}) {
    this.connection = connection;
    this.state = state;
    this.listeners = [];
    this.subscription = new FeedSubscription("events", this.fields(), {
      onChange: (message) => this.each(message, (listener) => listener.onChange(message)),
      onReset: () => this.each(null, (listener) => listener.onReset()),
      onMessage: (message) => this.each(null, (listener) => listener.onMessage(message)),
      replayed,
    });
  }

  // The subscribe message's fields: both channels, the header's filters.
  fields() {
    const filter = {};
    if (this.state.get("type")) filter.type = this.state.get("type");
    if (this.state.get("key")) filter.key = this.state.get("key");
    return { channels: CHANNELS, filter };
  }

  // Hand `channels`' messages to `onChange` (each position once, in order), a lost history to
  // `onReset`, and `subscribed` or `error` to `onMessage`. Listen before `start`.
  listen(channels, { onChange, onReset = () => {}, onMessage = () => {} }) {
    this.listeners.push({ channels, onChange, onReset, onMessage });
  }

  // Subscribe, and again whenever the header's filters change.
  start() {
    this.state.watch(["type", "key"], () => {
      this.subscription.fields = this.fields();
      this.connection.renew(this.subscription);
    });
    this.connection.add(this.subscription);
  }

  each(message, call) {
    // A `reminder` message is for the reminders channel, a `change` for the events channel.
    const channel = message === null ? null : message.type === "reminder" ? "reminders" : "events";
    for (const listener of this.listeners) {
      if (channel === null || listener.channels.includes(channel)) call(listener);
    }
  }
}
