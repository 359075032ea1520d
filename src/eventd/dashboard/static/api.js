// Calls to the daemon's HTTP API: JSON in and out, errors as ApiError with the API's code.

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
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const text = await response.text();
  const parsed = text === "" ? null : parseJson(text);
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return { error: { message: text } };
  }
}
