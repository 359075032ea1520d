// Calls to the daemon's HTTP API: JSON in and out, errors as ApiError with the API's code.

import { bearer, currentToken, refuse, renewToken } from "./auth.js";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code ?? null;
    this.field = body?.error?.field ?? null;
    this.body = body; // an answer that is not the error shape (a 503 from /health) is kept whole
  }
}

// query: an object of parameters; an undefined, null or empty value is left out.
export async function api(path, { method = "GET", query = {}, body } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json" };
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await authorized(url, init, headers);
  const text = await response.text();
  const parsed = text === "" ? null : parseJson(text);
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

// Send with the kept token; on 401 forget a refused one and try without it (the daemon may
// need none), then with one the user enters, until the daemon takes it.
async function authorized(url, init, headers) {
  for (;;) {
    const sent = currentToken();
    const response = await fetch(url, { ...init, headers: { ...headers, ...bearer(sent) } });
    if (response.status !== 401) return response;
    if (sent !== null) refuse(sent);
    else await renewToken(null);
  }
}

function parseJson(text) {
  try {
    return parseExact(text);
  } catch {
    return { error: { message: text } };
  }
}

// JSON.parse, keeping the numbers a double cannot hold as their source text (JSON.rawJSON,
// which JSON.stringify writes back as it was): an integer of more than 53 bits in an event's
// data, or a number out of a double's range in a form, goes to the API as written, to be
// stored exactly or refused naming the field. Plain parsing where the browser lacks it.
export function parseExact(text) {
  return RAW_JSON ? JSON.parse(text, keepSource) : JSON.parse(text);
}

const RAW_JSON = typeof JSON.rawJSON === "function";
const INTEGER = /^-?\d+$/;

function keepSource(key, value, context) {
  if (typeof value !== "number" || context?.source === undefined) return value;
  const source = context.source;
  // A decimal fraction is a double on the daemon too: only integers and overflows lose.
  const exact = Number.isFinite(value) && (!INTEGER.test(source) || BigInt(source) === BigInt(value));
  return exact ? value : JSON.rawJSON(source);
}
