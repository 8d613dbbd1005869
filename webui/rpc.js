// JSON-RPC 2.0 client for mnigsd: the web UI's only way to talk to it.
"use strict";

let rpcId = 0;

class RpcError extends Error {
  constructor(error) {
    super(error.message);
    this.code = error.code;
    this.data = error.data;
  }
}

async function rpc(method, params) {
  const body = { jsonrpc: "2.0", id: ++rpcId, method };
  if (params !== undefined) body.params = params;
  const res = await fetch("/jsonrpc", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const reply = await res.json();
  if (reply.error) throw new RpcError(reply.error);
  return reply.result;
}
