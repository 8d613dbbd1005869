// The web UI's one way to talk to mnigsd: JSON-RPC 2.0 on /jsonrpc, and the
// login endpoints (rpc/README.md, "Logins to the web UI"). After a login
// every call carries the session's CSRF token in X-Mnigs-CSRF; the cookie
// itself is HttpOnly and never seen here.

let nextId = 0;
let csrf = "";
const watchers = new Set();

// What the UI follows: {type: "online", online: bool} when mnigsd stops or
// starts answering, {type: "login", reason} when a call needs a login.
export function watch(fn) {
  watchers.add(fn);
  return () => watchers.delete(fn);
}
function tell(event) {
  for (const fn of watchers) fn(event);
}

let online = true;
function setOnline(value) {
  if (online === value) return;
  online = value;
  tell({ type: "online", online });
}

export class RpcError extends Error {
  constructor(error, method) {
    super(error.message || "error");
    this.code = error.code;
    this.data = error.data;
    this.method = method;
    this.retryAfter = error.retryAfter || 0;
  }
  // Whether a login (again) would let the call pass.
  get login() {
    return this.data && typeof this.data === "object" ? this.data.login || "" : "";
  }
}

async function request(path, init) {
  let res;
  try {
    res = await fetch(path, { cache: "no-store", credentials: "same-origin", ...init });
  } catch (e) {
    setOnline(false);
    throw new RpcError({ code: -1, message: "mnigsd cannot be reached" });
  }
  setOnline(true);
  const type = res.headers.get("Content-Type") || "";
  const body = type.startsWith("application/json") ? await res.json() : null;
  return { res, body };
}

// GET /session: {admin, via, login, csrf?, expiresIn?, passwordSet, address, time, version}.
export async function session() {
  const { res, body } = await request("/session");
  if (!res.ok || !body) throw new RpcError({ code: res.status, message: (body && body.error) || res.statusText });
  csrf = body.csrf || "";
  return body;
}

// kind: "password" or "token".
export async function login(kind, secret) {
  const { res, body } = await request("/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ [kind]: secret }),
  });
  if (!res.ok) {
    const retry = Number(res.headers.get("Retry-After")) || 0;
    throw new RpcError({ code: res.status, message: (body && body.error) || res.statusText, retryAfter: retry });
  }
  csrf = body.csrf;
}

export async function logout() {
  await request("/logout", { method: "POST", headers: { "X-Mnigs-CSRF": csrf } });
  csrf = "";
}

export async function rpc(method, params) {
  const call = { jsonrpc: "2.0", id: ++nextId, method };
  if (params !== undefined) call.params = params;
  const headers = { "Content-Type": "application/json" };
  if (csrf) headers["X-Mnigs-CSRF"] = csrf;
  const { res, body } = await request("/jsonrpc", { method: "POST", headers, body: JSON.stringify(call) });
  if (!body) throw new RpcError({ code: res.status, message: `HTTP ${res.status} ${res.statusText}` }, method);
  if (body.error) {
    const err = new RpcError(body.error, method);
    if (err.login) tell({ type: "login", reason: err.login });
    throw err;
  }
  return body.result;
}
