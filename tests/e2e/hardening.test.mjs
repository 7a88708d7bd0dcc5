// Adversarial clients from issue 13, over raw sockets: deep JSON (crash,
// quadratic prompt unwrapping), header floods in many small pieces, huge
// chunked trailers, a Transfer-Encoding the server cannot frame, and
// --max-queue 0. Each gets a clear 4xx (or runs), never a crash.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { startServer, rawRequest, waitFor, deadlineMs } from "./helpers.mjs";

let server, tight;
before(async () => {
  server = await startServer(["--ctx", "16384"]);
  tight = await startServer(["--ctx", "16384", "--max-json-depth", "8", "--max-header-fields", "20", "--max-header-bytes", "2048",
    "--max-trailer-bytes", "512", "--max-sequences", "1", "--max-queue", "0"]);
});
after(async () => { await server?.stop(); await tight?.stop(); });

const post = (path, b, headers = "") =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n${headers}Content-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`;

// The status line and the JSON error of a raw answer.
function answer(out) {
  const status = Number(out.match(/^HTTP\/1\.1 (\d{3})/)?.[1]);
  const body = out.slice(out.indexOf("\r\n\r\n") + 4);
  let error = null;
  try { error = JSON.parse(body).error; } catch { /* not JSON */ }
  return { status, error };
}

async function stillServes(s) {
  const r = await fetch(s.url + "/health");
  assert.equal(r.status, 200);
  assert.equal(s.proc.exitCode, null, "the server exited");
  assert.equal(s.proc.signalCode, null, "the server was killed");
}

const nested = (n, inner) => "[".repeat(n) + inner + "]".repeat(n);

test("100,000-deep JSON in messages[].tool_calls or name: 400 naming the depth limit, no crash", async () => {
  for (const field of ["tool_calls", "name"]) {
    const b = `{"model":"tiny","messages":[{"role":"assistant","content":"x","${field}":${nested(100000, "1")}}]}`;
    const { out, closed } = await rawRequest(server.port, [post("/v1/chat/completions", b)]);
    assert.ok(closed);
    const { status, error } = answer(out);
    assert.equal(status, 400, field + ": " + out.slice(0, 200));
    assert.equal(error.code, "json_too_deep");
    assert.match(error.message, /limit of 64 levels/);
  }
  await stillServes(server);
});

test("a deeply nested completions prompt is refused at once; a shallow one still unwraps", async () => {
  const t0 = Date.now();
  const deep = await rawRequest(server.port, [post("/v1/completions", `{"model":"tiny","max_tokens":1,"prompt":${nested(20000, "1")}}`)]);
  assert.equal(answer(deep.out).status, 400);
  assert.equal(answer(deep.out).error.code, "json_too_deep");
  assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  // ten levels, under the limit: a batch of one, unwrapped to its token ids
  const ok = await rawRequest(server.port, [post("/v1/completions", `{"model":"tiny","max_tokens":2,"prompt":${nested(10, "1,2,3")}}`)]);
  assert.equal(answer(ok.out).status, 200, ok.out.slice(0, 300));
  const empty = await rawRequest(server.port, [post("/v1/completions", `{"model":"tiny","max_tokens":2,"prompt":${nested(10, "")}}`)]);
  assert.equal(answer(empty.out).status, 400);
  assert.equal(answer(empty.out).error.param, "prompt");
  await stillServes(server);
});

test("--max-json-depth: the configured limit holds over HTTP and the WebSocket", async () => {
  const at = `{"model":"tiny","max_tokens":1,"prompt":${nested(7, "1")}}`;  // 8 levels with the body object
  assert.equal(answer((await rawRequest(tight.port, [post("/v1/completions", at)])).out).status, 200);
  const past = await rawRequest(tight.port, [post("/v1/completions", `{"model":"tiny","max_tokens":1,"prompt":${nested(8, "1")}}`)]);
  assert.equal(answer(past.out).status, 400);
  assert.match(answer(past.out).error.message, /limit of 8 levels/);
  // brackets inside strings do not count
  const text = `{"model":"tiny","max_tokens":1,"prompt":"${"[".repeat(100)}"}`;
  assert.equal(answer((await rawRequest(tight.port, [post("/v1/completions", text)])).out).status, 200);

  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws`);
  const m = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("no answer over the WebSocket")), deadlineMs);
    ws.on("message", (d) => { clearTimeout(t); resolve(JSON.parse(d.toString())); });
    ws.on("error", reject);
    ws.on("open", () => ws.send(`{"model":"tiny","messages":[{"role":"user","content":"x","tool_calls":${nested(100000, "1")}}]}`));
  });
  assert.equal(m.type, "error");
  assert.equal(m.error.code, "json_too_deep");
  ws.close();
  await stillServes(server);
});

test("--max-queue 0: an idle server takes a request; a busy one refuses the next", async () => {
  const ask = (max_tokens, stream = false) => ({ model: "tiny", messages: [{ role: "user", content: "Tell me a story" }], temperature: 0, max_tokens, stream });
  const r = await fetch(tight.url + "/v1/chat/completions", { method: "POST", body: JSON.stringify(ask(2)) });
  assert.equal(r.status, 200, await r.clone().text());
  const ac = new AbortController();
  const running = await fetch(tight.url + "/v1/chat/completions", { method: "POST", body: JSON.stringify(ask(16000, true)), signal: ac.signal });
  assert.equal(running.status, 200);
  await waitFor(async () => (await (await fetch(tight.url + "/health")).json()).active === 1, "the long request to run");
  const full = await fetch(tight.url + "/v1/chat/completions", { method: "POST", body: JSON.stringify(ask(2)) });
  assert.equal(full.status, 503);
  assert.equal((await full.json()).error.code, "queue_full");
  ac.abort();
  await waitFor(async () => (await (await fetch(tight.url + "/health")).json()).active === 0, "the long request to be cancelled");
});

test("header flood in small pieces: 431 on too many fields and on too many bytes", async () => {
  // hundreds of thousands of tiny fields, each write far under the byte limit
  const fields = ["GET /health HTTP/1.1\r\nHost: x\r\n"];
  for (let i = 0; i < 200; i++) fields.push("a:\r\n".repeat(1000));
  const flood = await rawRequest(server.port, fields);
  assert.ok(flood.closed);
  assert.equal(answer(flood.out).status, 431, flood.out.slice(0, 200));
  assert.match(answer(flood.out).error.message, /too many header fields|headers are too large/);
  // under the field count, over the bytes: each piece alone is small
  const big = ["GET /health HTTP/1.1\r\nHost: x\r\n"];
  for (let i = 0; i < 60; i++) big.push(`X-${i}: ${"v".repeat(400)}\r\n`);
  big.push("\r\n");
  const bytes = await rawRequest(server.port, big);
  assert.equal(answer(bytes.out).status, 431, bytes.out.slice(0, 200));
  assert.match(answer(bytes.out).error.message, /headers are too large/);
  // the configured limits, and a header just under them still works
  const many = await rawRequest(tight.port, [`GET /health HTTP/1.1\r\nHost: x\r\n${"X-A: b\r\n".repeat(25)}Connection: close\r\n\r\n`]);
  assert.equal(answer(many.out).status, 431);
  assert.match(answer(many.out).error.message, /too many header fields/);
  const fine = await rawRequest(tight.port, [`GET /health HTTP/1.1\r\nHost: x\r\n${"X-A: b\r\n".repeat(15)}Connection: close\r\n\r\n`]);
  assert.equal(answer(fine.out).status, 200);
  const long = await rawRequest(tight.port, [`GET /health HTTP/1.1\r\nHost: x\r\nX-A: ${"b".repeat(3000)}\r\nConnection: close\r\n\r\n`]);
  assert.equal(answer(long.out).status, 431);
  await stillServes(server);
});

test("chunked trailers past the limit: 431 before they are read whole", async () => {
  const head = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  const b = `{"model":"tiny","max_tokens":1,"prompt":[1]}`;
  const chunks = [head + `${b.length.toString(16)}\r\n${b}\r\n0\r\n`];
  for (let i = 0; i < 100; i++) chunks.push(`X-T${i}: ${"t".repeat(1000)}\r\n`);
  chunks.push("\r\n");
  const r = await rawRequest(server.port, chunks);
  assert.ok(r.closed);
  assert.equal(answer(r.out).status, 431, r.out.slice(0, 200));
  assert.match(answer(r.out).error.message, /trailers/);
  // small trailers still pass, with the configured limit
  const ok = await rawRequest(tight.port, [head.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n") + `${b.length.toString(16)}\r\n${b}\r\n0\r\nX-T: 1\r\n\r\n`]);
  assert.equal(answer(ok.out).status, 200, ok.out.slice(0, 200));
  const over = await rawRequest(tight.port, [head + `${b.length.toString(16)}\r\n${b}\r\n0\r\n`, `X-T: ${"t".repeat(2000)}\r\n\r\n`]);
  assert.equal(answer(over.out).status, 431);
  await stillServes(server);
});

test("Transfer-Encoding other than chunked: 400 and close, its bytes never read as a request", async () => {
  const smuggled = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  const r = await rawRequest(server.port, [`POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n${smuggled}`]);
  assert.ok(r.closed);
  assert.equal(answer(r.out).status, 400, r.out.slice(0, 200));
  assert.match(answer(r.out).error.message, /Transfer-Encoding/);
  assert.equal(r.out.match(/HTTP\/1\.1 /g).length, 1, "one answer only");
  await stillServes(server);
});
