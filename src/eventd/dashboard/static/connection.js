// One WebSocket to /ws for every panel. Each panel adds a subscription; after a disconnection
// every subscription is made again, and the feed ones resume with `since` and `epoch`. A
// subscription the daemon cannot make yet (`unavailable`) is asked again after a delay of its
// own, leaving the socket and the others alone.
// With a token kept (auth.js), each connection sends it first and subscribes after `auth_ok`.

import { parseExact } from "./api.js";
import { currentToken, refuse, renewToken } from "./auth.js";

const CLOSE_UNAUTHORIZED = 4001;

const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 5000;
const REPLAYED = 1000; // see FeedSubscription

export class Connection {
  // onState(state, detail): "connecting" | "live" | "reconnecting"; detail.resumed on a resume.
  constructor({ url, onState }) {
    this.url = url;
    this.onState = onState;
    this.subscriptions = new Map(); // id -> subscription
    this.delay = FIRST_DELAY_MS;
    this.socket = null;
    this.open_ = false; // true between `welcome` (or `auth_ok`) and the socket's close
    this.sentToken = null; // the token this socket's `auth` message carried
    this.resuming = false;
    this.pending = new Set(); // ids asked on this socket and not yet made
  }

  start() {
    this.onState("connecting", {});
    this.open();
  }

  // Add a subscription (see Subscription and FeedSubscription) and make it at once when live.
  add(subscription) {
    this.subscriptions.set(subscription.id, subscription);
    if (this.open_) this.ask(subscription);
  }

  // Subscribe afresh after a subscription's fields changed (new filters). It takes a new id,
  // so that a message still on its way for the old one is not taken for the new one.
  renew(subscription) {
    this.remove(subscription.id);
    subscription.forget();
    subscription.id = `${subscription.name}.${++subscription.generation}`;
    this.add(subscription);
  }

  remove(id) {
    const subscription = this.subscriptions.get(id);
    if (subscription === undefined) return;
    this.subscriptions.delete(id);
    this.pending.delete(id);
    if (this.open_) this.send({ type: "unsubscribe", id });
  }

  open() {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("message", (frame) => this.receive(parseExact(frame.data)));
    socket.addEventListener("close", (event) => this.away(event));
  }

  away(event) {
    // 4001 after an `auth` message: the daemon does not know the token (asked again below).
    if (event.code === CLOSE_UNAUTHORIZED) refuse(this.sentToken);
    this.socket = null;
    this.open_ = false;
    this.pending.clear();
    this.onState("reconnecting", {});
    setTimeout(() => this.open(), this.delay);
    this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
  }

  send(message) {
    this.socket.send(JSON.stringify(message));
  }

  receive(message) {
    if (message.type === "welcome") {
      this.sentToken = currentToken();
      if (this.sentToken === null) this.subscribeAll();
      else this.send({ type: "auth", token: this.sentToken });
      return;
    }
    if (message.type === "auth_ok") {
      this.subscribeAll();
      return;
    }
    if (message.type === "error" && message.code === "forbidden") {
      // Subscribing needs a token: once there is one, connect again with it.
      const socket = this.socket;
      renewToken(this.sentToken).then(() => {
        if (socket === this.socket) socket.close();
      });
      return;
    }
    if (message.type === "error" && message.code === "unavailable") {
      this.unavailable(message);
      return;
    }
    const id = message.sub ?? message.id;
    const subscription = this.subscriptions.get(id);
    if (subscription === undefined) {
      if (message.type === "error") console.warn("eventd:", message.code, message.message);
      return;
    }
    if (message.type === "subscribed") this.made(subscription);
    else if (message.type === "history_truncated") {
      // Not made: ask again from where the feed can continue (the subscription says where).
      subscription.truncated(message);
      this.send(subscription.request());
      return;
    } else if (message.type !== "error") subscription.retryDelay = FIRST_DELAY_MS; // it works
    subscription.receive(message);
  }

  ask(subscription) {
    this.pending.add(subscription.id);
    this.send(subscription.request());
  }

  subscribeAll() {
    this.open_ = true;
    this.resuming = [...this.subscriptions.values()].some((sub) => sub.resumes());
    for (const subscription of this.subscriptions.values()) this.ask(subscription);
    if (this.subscriptions.size === 0) this.live();
  }

  made(subscription) {
    this.pending.delete(subscription.id);
    if (this.pending.size > 0) this.onState("live", { resumed: this.resuming });
    // Only a connection that made every subscription counts as a good one: a daemon that
    // answers `subscribed` and then fails must not be asked again every FIRST_DELAY_MS.
    if (this.pending.size === 0) this.live();
  }

  live() {
    this.delay = FIRST_DELAY_MS;
    this.onState("live", { resumed: this.resuming });
  }

  // The daemon could not make (or keep) one subscription: ask for it again later, on this
  // socket, unless it was removed or renewed meanwhile.
  unavailable(message) {
    console.warn("eventd:", message.code, message.message);
    const subscription = this.subscriptions.get(message.id);
    if (subscription === undefined) return;
    const { id } = subscription;
    const socket = this.socket;
    this.pending.add(id); // not made: the connection is not a good one yet
    setTimeout(() => {
      if (socket === this.socket && this.open_ && this.subscriptions.get(id) === subscription) {
        this.ask(subscription);
      }
    }, subscription.retryDelay);
    subscription.retryDelay = Math.min(subscription.retryDelay * 2, MAX_DELAY_MS);
  }
}

// A subscription made again as it was after every reconnection (stats, transitions).
export class Subscription {
  // fields: the subscribe message's members besides `type` and `id`.
  // onMessage(message): every message addressed to it (`subscribed`, `stats`, `error`, ...).
  constructor(name, fields, onMessage) {
    this.name = name;
    this.generation = 0;
    this.id = name;
    this.fields = fields;
    this.onMessage = onMessage;
    this.retryDelay = FIRST_DELAY_MS; // before asking again after `unavailable`
  }

  request() {
    return { type: "subscribe", id: this.id, ...this.fields };
  }

  resumes() {
    return false;
  }

  forget() {}

  truncated() {}

  receive(message) {
    this.onMessage(message);
  }
}

// A subscription to the events or reminders channel that resumes where it left off: no change
// is missed and none is handled twice across reconnections.
export class FeedSubscription extends Subscription {
  // onChange(message): a `change` or `reminder` message, each position once and in order.
  // onReset(): the feed cannot continue from where the page was (a new epoch): start afresh.
  // onMessage(message): anything else addressed to it (`subscribed`, `error`).
  // replayed: after a lost history, at most this many of the feed's newest changes are read.
  constructor(name, fields, { onChange, onReset, onMessage = () => {}, replayed = REPLAYED }) {
    super(name, fields, onMessage);
    this.onChange = onChange;
    this.onReset = onReset;
    this.replayed = replayed;
    this.position = null; // the last position handled
    this.epoch = null;
  }

  request() {
    const message = super.request();
    if (this.position !== null) {
      message.since = this.position;
      if (this.epoch !== null) message.epoch = this.epoch;
    }
    return message;
  }

  resumes() {
    return this.position !== null;
  }

  forget() {
    this.position = null;
    this.epoch = null;
  }

  // The page's rows belong to a history the feed no longer holds (`message`: the daemon's
  // `history_truncated`): start afresh, from the changes the feed still holds, so that those
  // written before the page came back (to a restarted daemon) are shown.
  truncated({ oldest, head, epoch }) {
    this.onReset();
    this.position = Math.max(oldest - 1, head - this.replayed, 0);
    this.epoch = epoch ?? null;
  }

  receive(message) {
    if (message.type === "subscribed") {
      if (this.position === null) this.position = message.position;
      this.epoch = message.epoch ?? this.epoch;
    } else if (message.type === "change" || message.type === "reminder") {
      // A replay may overlap what was already shown: each position is handled once.
      if (this.position !== null && message.position <= this.position) return;
      this.position = message.position;
      if (message.op === "cleared") this.epoch = message.epoch;
      this.onChange(message);
      return;
    }
    this.onMessage(message);
  }
}
