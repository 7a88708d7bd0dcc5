// Many clients at once, clients that vanish mid-stream, and a corpus of
// malformed requests: the server keeps answering throughout.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startServer, parseSse, rawRequest, sleep, metric } from "./helpers.mjs";

let server;
before(async () => { server = await startServer(["--ctx", "16384", "--max-sequences", "8", "--max-body-bytes", "65536"]); });
after(async () => { await server?.stop(); });

const body = (extra = {}) => JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "Tell me a story" }], ...extra });

async function health() {
  const r = await fetch(server.url + "/health");
  assert.equal(r.status, 200);
  return r.json();
}

test("16 concurrent streaming clients all get well-formed streams", async () => {
  const one = async (i) => {
    const r = await fetch(server.url + "/v1/chat/completions", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: body({ max_tokens: 20 + i, stream: true, stream_options: { include_usage: true }, seed: i }),
    });
    assert.equal(r.status, 200);
    const { events, done } = parseSse(await r.text());
    assert.ok(done, "stream " + i + " ended without [DONE]");
    assert.equal(events[0].choices[0].delta.role, "assistant");
    const usage = events.at(-1).usage;
    assert.ok(usage, "no usage chunk");
    assert.ok(usage.completion_tokens >= 1 && usage.completion_tokens <= 20 + i);
    assert.equal(new Set(events.map((e) => e.id)).size, 1);
    return usage.completion_tokens;
  };
  const counts = await Promise.all(Array.from({ length: 16 }, (_, i) => one(i)));
  assert.equal(counts.length, 16);
  const h = await health();
  assert.equal(h.active, 0);
  assert.equal(h.queued, 0);
});

test("a client that disconnects mid-stream frees its sequence at once", async () => {
  const before499 = await metric(server.url, 'dsv3_http_requests_total{route="/v1/chat/completions",status="499"}');
  const beforeTokens = await metric(server.url, "dsv3_completion_tokens_total");
  await new Promise((resolve, reject) => {
    const req = http.request(server.url + "/v1/chat/completions", { method: "POST", headers: { "Content-Type": "application/json" } }, (res) => {
      let seen = 0;
      res.on("data", () => { if (++seen === 3) { req.destroy(); resolve(); } });
      res.on("error", () => {});
    });
    req.on("error", () => {});
    req.end(body({ max_tokens: 16000, stream: true }));
    setTimeout(() => reject(new Error("no stream")), 10000);
  });
  // 16000 tokens would take many seconds; a cancelled sequence is gone within a step
  const t0 = Date.now();
  let h, n499;
  for (let i = 0; i < 40; i++) {
    await sleep(50);
    h = await health();
    n499 = await metric(server.url, 'dsv3_http_requests_total{route="/v1/chat/completions",status="499"}');
    if (h.active === 0 && n499 === before499 + 1) break;
  }
  assert.equal(h.active, 0, "sequence still active after 2 s");
  const m = await (await fetch(server.url + "/metrics")).text();
  assert.equal(n499, before499 + 1, "the server did not see the client go:\n" + JSON.stringify(h) + "\n" + m.split("\n").filter((l) => /queue|active|steps|engine/.test(l) && !l.startsWith("#")).join("\n") + "\n" + m.split("\n").filter((l) => l.startsWith("dsv3_http")).join("\n"));
  // what it generated before leaving (at least the token it was sent) still
  // counts: metrics, and tokens/min limits
  let tokens = 0;
  for (let i = 0; i < 20; i++) {
    tokens = await metric(server.url, "dsv3_completion_tokens_total");
    if (tokens > beforeTokens) break;
    await sleep(50);
  }
  assert.ok(tokens >= beforeTokens + 1, `its tokens were not counted (${beforeTokens} -> ${tokens})`);
  console.log(`# disconnect noticed and sequence freed within ${Date.now() - t0} ms`);
});

test("a non-streaming client that disconnects is cancelled too", async () => {
  const ac = new AbortController();
  const p = fetch(server.url + "/v1/chat/completions", { method: "POST", body: body({ max_tokens: 16000 }), signal: ac.signal }).catch(() => {});
  await sleep(300);
  assert.equal((await health()).active, 1);
  ac.abort();
  await p;
  let h;
  for (let i = 0; i < 20; i++) {
    await sleep(100);
    h = await health();
    if (h.active === 0) break;
  }
  assert.equal(h.active, 0);
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
    ["unknown method", ["BREW /health HTTP/1.1\r\nHost: x\r\n\r\n"], /^HTTP\/1\.1 (400|405)/],
    ["slow headers then close", ["GET /health HTTP/1.1\r\n", "Host: x\r\n"], /^$/, { endAfter: true }],
    ["pipelined requests", ["GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"], /^HTTP\/1\.1 200[\s\S]*HTTP\/1\.1 200/],
    ["websocket upgrade to another path", ["GET /health HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\n\r\n"], /^HTTP\/1\.1 200/],
    ["/ws without upgrade", ["GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"], /^HTTP\/1\.1 426/],
  ];
  for (const [name, chunks, expect, opts] of corpus) {
    const out = await rawRequest(port, chunks, { ms: 1500, ...opts });
    assert.match(out, expect, name + ": got " + JSON.stringify(out.slice(0, 120)));
  }
  const h = await health();
  assert.equal(h.status, "ok");
  assert.equal(h.active, 0);
  // a normal request still works
  const r = await fetch(server.url + "/v1/chat/completions", { method: "POST", body: body({ max_tokens: 3 }) });
  assert.equal(r.status, 200);
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
