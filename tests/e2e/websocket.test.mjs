// The WebSocket protocol: chat-completion-shaped requests, streamed chunks, a
// final "done" message, cancel, several requests on one connection.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { startServer, metric, waitFor, deadlineMs } from "./helpers.mjs";

let server;
before(async () => { server = await startServer(["--ctx", "16384", "--api-key", "ws-key"]); });
after(async () => { await server?.stop(); });

// A connection with a message queue: next() resolves to the next parsed message.
function connect(headers = { Authorization: "Bearer ws-key" }, query = "") {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws${query}`, { headers });
  const queue = [];
  const waiters = [];
  ws.on("message", (d) => {
    const m = JSON.parse(d.toString());
    const w = waiters.shift();
    if (w) w(m); else queue.push(m);
  });
  // bounded by the deadline: a server that stops answering fails the test, not the runner
  const next = () => queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("no message within the deadline")), deadlineMs);
    waiters.push((m) => { clearTimeout(t); resolve(m); });
  });
  const opened = new Promise((resolve, reject) => { ws.on("open", resolve); ws.on("error", reject); ws.on("unexpected-response", (_, res) => reject(new Error("HTTP " + res.statusCode))); });
  return { ws, next, opened };
}

// Reads messages until "done" or an error; returns them all.
async function collect(next) {
  const msgs = [];
  for (let i = 0; i < 20000; i++) {
    const m = await next();
    msgs.push(m);
    if (m.type === "done" || m.type === "error") return msgs;
  }
  throw new Error("no done message after 20000 messages");
}

const request = (extra = {}) => JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "Hello" }], max_tokens: 10, temperature: 0, ...extra });

test("streams chunks then a done message; serves requests in turn; bad JSON keeps the connection", async () => {
  const { ws, next, opened } = connect();
  await opened;
  const texts = [];
  for (let i = 0; i < 2; i++) {
    ws.send(request());
    const msgs = await collect(next);
    const done = msgs.at(-1);
    assert.equal(done.type, "done");
    assert.equal(done.finish_reason, "length");
    assert.equal(done.usage.completion_tokens, 10);
    const chunks = msgs.slice(0, -1);
    assert.equal(chunks[0].choices[0].delta.role, "assistant");
    assert.ok(chunks.every((c) => c.object === "chat.completion.chunk"));
    const text = chunks.map((c) => c.choices[0].delta.content ?? "").join("");
    assert.equal(text, done.message.content);
    texts.push(text);
  }
  assert.equal(texts[0], texts[1]);  // greedy: the same answer both times
  ws.send("{this is not json");
  const err = await next();
  assert.equal(err.type, "error");
  assert.equal(err.error.code, "invalid_json");
  ws.send(request({ temperature: "warm" }));
  const err2 = await next();
  assert.equal(err2.error.param, "temperature");
  ws.send(request({ n: 2 }));  // several choices are for the HTTP endpoints
  const err3 = await next();
  assert.equal(err3.type, "error");
  assert.equal(err3.error.param, "n");
  ws.send(request({ max_tokens: 3 }));
  const msgs = await collect(next);
  assert.equal(msgs.at(-1).usage.completion_tokens, 3);
  ws.close();
});

test("cancel stops the running request; the connection then serves another", async () => {
  const { ws, next, opened } = connect();
  await opened;
  ws.send(request({ max_tokens: 16000 }));
  const first = await next();
  assert.equal(first.choices[0].delta.role, "assistant");
  await next();  // some text is flowing
  ws.send(JSON.stringify({ type: "cancel" }));
  const msgs = await collect(next);
  const done = msgs.at(-1);
  assert.equal(done.type, "done");
  assert.equal(done.finish_reason, "cancelled");
  assert.ok(done.usage.completion_tokens < 16000);
  ws.send(request({ max_tokens: 4 }));
  const again = await collect(next);
  assert.equal(again.at(-1).type, "done");
  assert.equal(again.at(-1).usage.completion_tokens, 4);
  ws.close();
});

test("a second request while one runs is refused as busy", async () => {
  const { ws, next, opened } = connect();
  await opened;
  ws.send(request({ max_tokens: 16000 }));
  await next();
  ws.send(request());
  let m;
  for (let i = 0; (m = await next()).type !== "error"; i++) assert.ok(i < 16000, "no busy error");
  assert.equal(m.error.code, "busy");
  ws.send(JSON.stringify({ type: "cancel" }));
  const rest = await collect(next);
  assert.equal(rest.at(-1).finish_reason, "cancelled");
  ws.close();
});

test("keys: header or ?api_key=; none is refused", async () => {
  await assert.rejects(connect({}).opened, /401/);
  const q = connect({}, "?api_key=ws-key");
  await q.opened;
  q.ws.send(request({ max_tokens: 2 }));
  assert.equal((await collect(q.next)).at(-1).type, "done");
  q.ws.close();
});

const health = async () => (await fetch(server.url + "/health")).json();

test("closing the connection mid-generation frees the sequence; its tokens count; the server stays healthy", async () => {
  const ws499 = 'dsv3_http_requests_total{route="/ws",status="499"}';
  // a close handshake, then a connection dropped without one
  for (const how of ["close", "terminate"]) {
    const before499 = await metric(server.url, ws499);
    const beforeTokens = await metric(server.url, "dsv3_completion_tokens_total");
    const { ws, next, opened } = connect();
    await opened;
    ws.send(request({ max_tokens: 16000 }));
    assert.equal((await next()).choices[0].delta.role, "assistant");
    // three chunks of text: three tokens at least
    for (let i = 0; i < 3; i++) assert.equal((await next()).object, "chat.completion.chunk");
    assert.equal((await health()).active, 1);
    ws[how]();
    await waitFor(async () => (await health()).active === 0 && await metric(server.url, ws499) === before499 + 1,
      `the server to see the connection go (${how}) and free its sequence`);
    const tokens = await metric(server.url, "dsv3_completion_tokens_total");
    assert.ok(tokens >= beforeTokens + 3, `${how}: its tokens were not counted (${beforeTokens} -> ${tokens})`);
    const h = await health();
    assert.equal(h.status, "ok");
    assert.equal(h.queued, 0);
  }
  // a new connection is served in full
  const { ws, next, opened } = connect();
  await opened;
  ws.send(request({ max_tokens: 4 }));
  const done = (await collect(next)).at(-1);
  assert.equal(done.type, "done");
  assert.equal(done.usage.completion_tokens, 4);
  ws.close();
});
