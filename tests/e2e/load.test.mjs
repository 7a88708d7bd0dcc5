// Many clients at once, clients that vanish mid-stream, and a corpus of
// malformed requests: the server keeps answering throughout.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startServer, parseSse, rawRequest, metric, waitFor, deadlineMs } from "./helpers.mjs";

let server;
before(async () => { server = await startServer(["--ctx", "16384", "--max-sequences", "8", "--max-body-bytes", "65536"]); });
after(async () => { await server?.stop(); });

const body = (extra = {}) => JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "Tell me a story" }], ...extra });

async function health() {
  const r = await fetch(server.url + "/health");
  assert.equal(r.status, 200);
  return r.json();
}

// A stream's events, checked to be a whole, well-formed, finished reply: the
// role first, one finish chunk, the usage last, [DONE], a single id, one
// logprob per generated token, the token count exact, some text.
function finishedStream(text, maxTokens, what) {
  const { events, done } = parseSse(text);
  assert.ok(done, what + " ended without [DONE]");
  assert.equal(events[0].choices[0].delta.role, "assistant", what);
  assert.equal(new Set(events.map((e) => e.id)).size, 1, what);
  const usage = events.at(-1).usage;
  assert.ok(usage, what + ": no usage chunk");
  assert.deepEqual(events.at(-1).choices, [], what);
  const finishes = events.map((e) => e.choices[0]?.finish_reason).filter(Boolean);
  assert.equal(finishes.length, 1, what);
  const finish = finishes[0];
  assert.ok(finish === "length" ? usage.completion_tokens === maxTokens : finish === "stop" && usage.completion_tokens < maxTokens,
    `${what}: ${finish} after ${usage.completion_tokens} of ${maxTokens} tokens`);
  const tokens = events.flatMap((e) => e.choices[0]?.logprobs?.content ?? []);
  assert.equal(tokens.length, usage.completion_tokens, what + ": one logprob per token");
  const content = events.map((e) => e.choices[0]?.delta?.content ?? "").join("");
  assert.ok(content.length > 0, what + ": an empty reply");
  return { content, finish, usage };
}

const postChat = (b, extra = {}) => fetch(server.url + "/v1/chat/completions", {
  method: "POST", headers: { "Content-Type": "application/json" }, body: b, signal: AbortSignal.timeout(deadlineMs), ...extra,
});

test("16 concurrent streaming clients all get whole, well-formed, finished replies; batching changes no reply", async () => {
  const ask = (i) => body({ max_tokens: 20 + i, stream: true, stream_options: { include_usage: true }, seed: i, logprobs: true });
  const one = async (i) => {
    const r = await postChat(ask(i));
    assert.equal(r.status, 200);
    return finishedStream(await r.text(), 20 + i, "stream " + i);
  };
  const replies = await Promise.all(Array.from({ length: 16 }, (_, i) => one(i)));
  assert.equal(replies.length, 16);
  const h = await health();
  assert.equal(h.active, 0);
  assert.equal(h.queued, 0);
  // alone, with the same seed, some of them give the same reply (each
  // sequence samples with its own generator, whatever runs beside it)
  for (const i of [0, 5, 10, 15]) {
    const alone = finishedStream(await (await postChat(ask(i))).text(), 20 + i, "alone " + i);
    assert.equal(alone.content, replies[i].content, "stream " + i + " differs alone");
    assert.equal(alone.finish, replies[i].finish);
    assert.equal(alone.usage.completion_tokens, replies[i].usage.completion_tokens);
  }
});

test("a client that disconnects mid-stream frees its sequence at once", async () => {
  const route499 = 'dsv3_http_requests_total{route="/v1/chat/completions",status="499"}';
  const before499 = await metric(server.url, route499);
  const beforeTokens = await metric(server.url, "dsv3_completion_tokens_total");
  let seen = 0;
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("no stream")), deadlineMs);
    const req = http.request(server.url + "/v1/chat/completions", { method: "POST", headers: { "Content-Type": "application/json" } }, (res) => {
      res.on("data", () => { if (++seen === 3) { clearTimeout(t); req.destroy(); resolve(); } });
      res.on("error", () => {});
    });
    req.on("error", () => {});
    req.end(body({ max_tokens: 16000, stream: true }));
  });
  // 16000 tokens would take many seconds; a cancelled sequence is gone within a step
  const t0 = Date.now();
  await waitFor(async () => (await health()).active === 0 && await metric(server.url, route499) === before499 + 1,
    "the server to see the client go (499) and free its sequence");
  console.log(`# disconnect noticed and sequence freed within ${Date.now() - t0} ms`);
  // what it generated before leaving (at least the tokens it was sent: the
  // role chunk, then one or more tokens per chunk) still counts: metrics, and tokens/min limits
  assert.equal(await metric(server.url, route499), before499 + 1);
  const tokens = await metric(server.url, "dsv3_completion_tokens_total");
  assert.ok(tokens >= beforeTokens + seen - 1, `its tokens were not counted (${beforeTokens} -> ${tokens})`);
  const h = await health();
  assert.equal(h.status, "ok");
  assert.equal(h.queued, 0);
});

test("a non-streaming client that disconnects is cancelled too", async () => {
  const route499 = 'dsv3_http_requests_total{route="/v1/chat/completions",status="499"}';
  const before499 = await metric(server.url, route499);
  const ac = new AbortController();
  const p = fetch(server.url + "/v1/chat/completions", { method: "POST", body: body({ max_tokens: 16000 }), signal: ac.signal }).catch((e) => e);
  await waitFor(async () => (await health()).active === 1, "the request to run");
  ac.abort();
  assert.equal((await p).name, "AbortError");
  await waitFor(async () => (await health()).active === 0 && await metric(server.url, route499) === before499 + 1,
    "the server to cancel it (499) and free its sequence");
});

test("malformed requests get 4xx or a closed socket, never a crash or a stall", async () => {
  const port = server.port;
  const post = (b, headers = "") =>
    `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n${headers}Content-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`;
  const corpus = [
    ["garbage request line", ["HELLO THERE\r\n\r\n"], /^HTTP\/1\.1 400/],
    ["binary garbage", [Buffer.from([0, 1, 2, 255, 254, 13, 10, 13, 10])], /^HTTP\/1\.1 400|^$/],
    ["bad version", ["GET / HTTP/9.9\r\n\r\n"], /^HTTP\/1\.1 400|^$/],
    ["huge header", [`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(100000)}\r\n\r\n`], /^HTTP\/1\.1 431/],
    ["many headers", [`GET /health HTTP/1.1\r\nConnection: close\r\n${"X-A: b\r\n".repeat(5000)}\r\n`], /^HTTP\/1\.1 (200|431)/],
    ["oversize body", [`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n` + "a".repeat(70000)], /^HTTP\/1\.1 413/],
    ["bad content-length", ["POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n"], /^HTTP\/1\.1 400/],
    ["truncated body", ["POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"model\":"], /^$/, { endAfter: true }],
    ["bad chunked encoding", ["POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"], /^HTTP\/1\.1 400/],
    ["malformed JSON", [post("{\"model\": \"tiny\", ")], /^HTTP\/1\.1 400/],
    ["JSON array", [post("[1,2,3]")], /^HTTP\/1\.1 400/],
    ["wrong types", [post(JSON.stringify({ model: "tiny", messages: [{ role: 5, content: {} }] }))], /^HTTP\/1\.1 400/],
    ["messages null", [post(JSON.stringify({ model: "tiny", messages: null }))], /^HTTP\/1\.1 400/],
    ["deep nesting", [post("[".repeat(20000) + "]".repeat(20000))], /^HTTP\/1\.1 400/],
    ["invalid UTF-8 content", [post(Buffer.concat([Buffer.from('{"model":"tiny","max_tokens":2,"messages":[{"role":"user","content":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}]}')]).toString("latin1"))], /^HTTP\/1\.1 (200|400)/],
    ["huge max_tokens", [post(JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "x" }], max_tokens: 1e30 }))], /^HTTP\/1\.1 400/],
    ["negative seed", [post(JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "x" }], max_tokens: 1, seed: -5 }))], /^HTTP\/1\.1 200/],
    ["unknown method", ["BREW /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"], /^HTTP\/1\.1 (400|405)/],
    ["slow headers then close", ["GET /health HTTP/1.1\r\n", "Host: x\r\n"], /^$/, { endAfter: true }],
    ["pipelined requests", ["GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"], /^HTTP\/1\.1 200[\s\S]*HTTP\/1\.1 200/],
    ["websocket upgrade to another path", ["GET /health HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\n\r\n"], /^HTTP\/1\.1 200/],
    ["/ws without upgrade", ["GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"], /^HTTP\/1\.1 426/],
  ];
  for (const [name, chunks, expect, opts] of corpus) {
    // the server answers or closes: only a stall waits out the deadline
    const { out, closed } = await rawRequest(port, chunks, opts);
    assert.ok(closed, name + ": the server did not close the connection; got " + JSON.stringify(out.slice(0, 120)));
    assert.match(out, expect, name + ": got " + JSON.stringify(out.slice(0, 120)));
  }
  const h = await health();
  assert.equal(h.status, "ok");
  assert.equal(h.active, 0);
  // a normal request still works
  const r = await postChat(body({ max_tokens: 3, stream: true, stream_options: { include_usage: true }, logprobs: true, seed: 1 }));
  assert.equal(r.status, 200);
  finishedStream(await r.text(), 3, "after the corpus");
});

test("keep-alive: many requests on one connection", async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = () => new Promise((resolve, reject) => {
    http.get(server.url + "/health", { agent }, (res) => {
      let d = "";
      res.on("data", (c) => { d += c; });
      res.on("end", () => resolve({ status: res.statusCode, socket: res.socket }));
    }).on("error", reject);
  });
  const sockets = new Set();
  for (let i = 0; i < 10; i++) {
    const r = await get();
    assert.equal(r.status, 200);
    sockets.add(r.socket);
  }
  assert.equal(sockets.size, 1);
  agent.destroy();
});
