// One WebSocket to /ws that resumes where it left off: `since` and `epoch` on every resubscribe.

const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 5000;

export class FeedConnection {
  // onState(state, detail): "connecting" | "live" | "reconnecting"; detail.resumed on a resume.
  // onChange(message): a `change` message, each position once and in order.
  // onReset(): the feed cannot continue from where the page was (a new epoch): start afresh.
  constructor({ url, onState, onChange, onReset }) {
    this.url = url;
    this.onState = onState;
    this.onChange = onChange;
    this.onReset = onReset;
    this.position = null; // the last position handled
    this.epoch = null;
    this.delay = FIRST_DELAY_MS;
    this.socket = null;
  }

  start() {
    this.onState("connecting", {});
    this.open();
  }

  open() {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("message", (frame) => this.receive(JSON.parse(frame.data)));
    socket.addEventListener("close", () => this.away());
  }

  away() {
    this.socket = null;
    this.onState("reconnecting", {});
    setTimeout(() => this.open(), this.delay);
    this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
  }

  send(message) {
    this.socket.send(JSON.stringify(message));
  }

  subscribe() {
    const message = { type: "subscribe", id: "feed", channels: ["events"] };
    if (this.position !== null) {
      message.since = this.position;
      if (this.epoch !== null) message.epoch = this.epoch;
    }
    this.resuming = this.position !== null;
    this.send(message);
  }

  receive(message) {
    switch (message.type) {
      case "welcome":
        this.subscribe();
        break;
      case "subscribed":
        this.subscribed(message);
        break;
      case "change":
        this.change(message);
        break;
      case "history_truncated":
        // The page's rows belong to a history the feed no longer holds: start from the head.
        this.position = null;
        this.epoch = null;
        this.onReset();
        this.subscribe();
        break;
      case "error":
        // `unavailable`: the daemon does not know yet where the feed stands; try again later.
        console.warn("eventd:", message.code, message.message);
        this.socket.close();
        break;
      default:
        break;
    }
  }

  subscribed(message) {
    if (this.position === null) this.position = message.position;
    this.epoch = message.epoch ?? this.epoch;
    this.delay = FIRST_DELAY_MS;
    this.onState("live", { resumed: this.resuming });
  }

  change(message) {
    // A replay may overlap what was already shown: each position is handled once.
    if (this.position !== null && message.position <= this.position) return;
    this.position = message.position;
    if (message.op === "cleared") this.epoch = message.epoch;
    this.onChange(message);
  }
}
