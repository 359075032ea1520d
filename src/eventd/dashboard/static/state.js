// The view's state that panels share, kept in the page's URL (`?type=deploy&key=web`), so a
// link or a reload shows the same view.

export class UrlState {
  constructor() {
    this.params = new URLSearchParams(location.search);
    this.listeners = [];
  }

  get(name) {
    return this.params.get(name) ?? "";
  }

  // Set several values at once ("" removes one) and tell the panels that watch any of them.
  set(values) {
    const changed = Object.keys(values).filter((name) => this.get(name) !== (values[name] ?? ""));
    if (changed.length === 0) return;
    for (const name of changed) {
      if (values[name]) this.params.set(name, values[name]);
      else this.params.delete(name);
    }
    const search = this.params.toString();
    history.replaceState(null, "", search === "" ? location.pathname : `?${search}`);
    for (const { names, listener } of this.listeners) {
      if (names.some((name) => changed.includes(name))) listener();
    }
  }

  // listener() runs after any of `names` changed.
  watch(names, listener) {
    this.listeners.push({ names, listener });
  }
}
