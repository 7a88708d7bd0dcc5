// Adversarial clients from issue 13, over raw sockets: deep JSON (crash,
// quadratic prompt unwrapping), header floods in many small pieces, huge
// chunked trailers, a Transfer-Encoding the server cannot frame, and
// --max-queue 0. Each gets a clear 4xx (or runs), never a crash.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import WebSocket from "ws";
import { startServer, rawRequest, waitFor, deadlineMs, sleep, binary, tinyModel, testThreads } from "./helpers.mjs";

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

// ---- issue 13, second round: shutdown, keys, origins, descriptors, connections, bursts ----

const streamBody = (max_tokens = 16000) =>
  JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "Tell me a story" }], max_tokens, stream: true });

// A raw socket holding one request open: {sock, text(), status(), closed}.
function openRequest(port, request, { localAddress } = {}) {
  const sock = net.connect({ port, host: "127.0.0.1", localAddress });
  const r = { sock, out: "", closed: false };
  sock.on("data", (d) => { r.out += d.toString("latin1"); });
  sock.on("close", () => { r.closed = true; });
  sock.on("error", () => {});
  if (request) sock.on("connect", () => sock.write(request));
  r.connected = new Promise((resolve) => sock.on("connect", resolve));
  r.status = () => Number(r.out.match(/^HTTP\/1\.1 (\d{3})/)?.[1]) || 0;
  return r;
}

const header = (out, name) => out.slice(0, out.indexOf("\r\n\r\n")).match(new RegExp(`^${name}: (.*)$`, "mi"))?.[1];

test("a second SIGTERM stops at once; the cut stream still ends with [DONE]", async () => {
  const s = await startServer(["--ctx", "16384", "--shutdown-timeout", "600"]);
  const r = openRequest(s.port, post("/v1/chat/completions", streamBody()));
  await waitFor(() => r.out.includes("data: {"), "the stream's first event");
  s.proc.kill("SIGTERM");
  await waitFor(() => /SIGTERM: finishing/.test(s.stderr()), "the first signal to be taken");
  const t0 = Date.now();
  s.proc.kill("SIGTERM");
  const exit = await s.exit;
  const took = Date.now() - t0;
  assert.equal(exit.code, 0, s.stderr());
  assert.ok(took < 2000, `took ${took} ms after the second signal`);
  await waitFor(() => r.closed, "the connection to close");
  assert.match(r.out, /data: \[DONE\]\n\n\r\n0\r\n\r\n$/, r.out.slice(-300));
  assert.match(r.out, /"code":"shutting_down"[^\n]*\n\n\r\n[0-9a-f]+\r\ndata: \[DONE\]/, r.out.slice(-400));
});

test("?api_key= is taken on /ws only", async () => {
  const s = await startServer(["--api-key", "sekrit"]);
  try {
    const get = (target) => `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
    assert.equal(answer((await rawRequest(s.port, [get("/v1/models?api_key=sekrit")])).out).status, 401);
    assert.equal(answer((await rawRequest(s.port, [get("/v1/models?api_key=wrong")])).out).status, 401);
    const ok = await fetch(s.url + "/v1/models", { headers: { Authorization: "Bearer sekrit" } });
    assert.equal(ok.status, 200);
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws?api_key=sekrit`);
    await new Promise((resolve, reject) => { ws.on("open", resolve); ws.on("error", reject); });
    ws.close();
  } finally {
    await s.stop();
  }
});

test("CORS: no headers by default; --allowed-origins gets them, for its origins only", async () => {
  const preflight = (origin) =>
    `OPTIONS /v1/chat/completions HTTP/1.1\r\nHost: x\r\nOrigin: ${origin}\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n`;
  const getWith = (origin) => `GET /health HTTP/1.1\r\nHost: x\r\nOrigin: ${origin}\r\nConnection: close\r\n\r\n`;
  const def = await rawRequest(server.port, [preflight("http://evil.example")]);
  assert.equal(answer(def.out).status, 204);
  assert.doesNotMatch(def.out, /access-control-allow/i);
  assert.doesNotMatch((await rawRequest(server.port, [getWith("http://evil.example")])).out, /access-control-allow/i);

  const s = await startServer(["--allowed-origins", "http://app.example,http://two.example", "--allowed-origins", "http://three.example"]);
  try {
    for (const origin of ["http://app.example", "http://two.example", "http://three.example"]) {
      const p = await rawRequest(s.port, [preflight(origin)]);
      assert.equal(header(p.out, "Access-Control-Allow-Origin"), origin, p.out);
      assert.match(header(p.out, "Access-Control-Allow-Methods"), /POST/);
      assert.equal(header((await rawRequest(s.port, [getWith(origin)])).out, "Access-Control-Allow-Origin"), origin);
    }
    const other = await rawRequest(s.port, [preflight("http://evil.example")]);
    assert.doesNotMatch(other.out, /access-control-allow/i);
    // a listed origin's WebSocket is let in
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`, { origin: "http://app.example" });
    await new Promise((resolve, reject) => { ws.on("open", resolve); ws.on("error", reject); });
    ws.close();
  } finally {
    await s.stop();
  }
});

test("a WebSocket from a foreign Origin gets 403; its own origin and none are let in", async () => {
  const upgrade = (origin) =>
    `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
    `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${origin ? `Origin: ${origin}\r\n` : ""}\r\n`;
  const foreign = await rawRequest(server.port, [upgrade("http://evil.example")], { ms: 5000 });
  assert.equal(answer(foreign.out).status, 403, foreign.out.slice(0, 200));
  assert.equal(answer(foreign.out).error.code, "origin_not_allowed");
  const otherPort = await rawRequest(server.port, [upgrade(`http://127.0.0.1:${server.port + 1}`)], { ms: 5000 });
  assert.equal(answer(otherPort.out).status, 403);
  for (const origin of [`http://127.0.0.1:${server.port}`, null]) {
    const r = openRequest(server.port, upgrade(origin));
    await waitFor(() => r.out.includes("\r\n\r\n"), "the upgrade's answer");
    assert.equal(r.status(), 101, r.out);
    r.sock.destroy();
  }
});

test("a half-closed client still gets its answer, a generation's too", async () => {
  const r = await rawRequest(server.port, ["GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"], { endAfter: true });
  assert.ok(r.closed);
  assert.equal(answer(r.out).status, 200, r.out);
  assert.match(r.out, /"object":"list"/);
  // a generation: interim 100s may come first (the server checking the client is still there)
  const final = (out) => out.replace(/^(HTTP\/1\.1 1\d\d [^\r]*\r\n\r\n)+/, "");
  const body = JSON.stringify({ model: "tiny", prompt: "Once upon a time", max_tokens: 64, temperature: 0 });
  const gen = await rawRequest(server.port, [post("/v1/completions", body)], { endAfter: true });
  assert.ok(gen.closed);
  assert.equal(answer(final(gen.out)).status, 200, gen.out.slice(0, 300));
  assert.equal(JSON.parse(final(gen.out).split("\r\n\r\n")[1]).object, "text_completion");
  const stream = await rawRequest(server.port, [post("/v1/completions", JSON.stringify({ model: "tiny", prompt: "Once", max_tokens: 64, stream: true }))],
    { endAfter: true });
  assert.equal(answer(stream.out).status, 200, stream.out.slice(0, 300));
  assert.match(stream.out, /data: \[DONE\]/);
});

test("out of descriptors: accept backs off instead of spinning, and serves again once some close", async () => {
  const args = ["serve", "--model", tinyModel, "--port", "0", "--threads", testThreads, "--max-connections-per-client", "0"];
  const proc = spawn("sh", ["-c", `ulimit -n 96 && exec "$0" "$@"`, binary, ...args.map(String)], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  proc.stderr.on("data", (d) => { err += d.toString(); });
  const exit = new Promise((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
  try {
    const port = Number((await waitFor(() => err.match(/listening on http:\/\/[^\s]+:(\d+)/), "the server to start"))[1]);
    const held = [];
    for (let i = 0; i < 150; i++) held.push(openRequest(port));
    await Promise.all(held.map((h) => h.connected));
    await sleep(300);
    const cpu = () => fs.readFileSync(`/proc/${proc.pid}/stat`, "utf8").split(") ")[1].split(" ").slice(11, 13).reduce((a, b) => a + Number(b), 0);
    const c0 = cpu();
    await sleep(1000);
    const ticks = cpu() - c0;  // clock ticks (100 a second): a spinning accept loop burns about 100
    assert.ok(ticks < 40, `${ticks} ticks of CPU in 1 s while out of descriptors`);
    for (const h of held) h.sock.destroy();
    const ok = await waitFor(async () => {
      try { return (await fetch(`http://127.0.0.1:${port}/health`)).status === 200; } catch { return false; }
    }, "the server to serve again");
    assert.ok(ok);
  } finally {
    proc.kill("SIGKILL");
    await exit;
  }
});

test("--max-connections and --max-connections-per-client: 503 and closed beyond", async () => {
  const s = await startServer(["--max-connections", "3", "--max-connections-per-client", "2"]);
  try {
    const a = [openRequest(s.port), openRequest(s.port)];
    await Promise.all(a.map((h) => h.connected));
    await sleep(100);
    const third = await rawRequest(s.port, ["GET /health HTTP/1.1\r\nHost: x\r\n\r\n"], { ms: 5000 });
    assert.ok(third.closed);
    assert.equal(answer(third.out).status, 503, third.out);
    // another address has its own two, but the total is three
    const b = openRequest(s.port, null, { localAddress: "127.0.0.2" });
    await b.connected;
    await sleep(100);
    const fourth = openRequest(s.port, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", { localAddress: "127.0.0.3" });
    await waitFor(() => fourth.closed, "the connection past the total to close");
    assert.equal(fourth.status(), 503, fourth.out);
    for (const h of [...a, b]) h.sock.destroy();
    await waitFor(async () => (await fetch(s.url + "/health")).status === 200, "a place to free up");
  } finally {
    await s.stop();
  }
});

test("--request-timeout counts from a request's first byte, not per byte; --idle-timeout closes idle connections", async () => {
  const s = await startServer(["--request-timeout", "1", "--idle-timeout", "1"]);
  try {
    const trickle = openRequest(s.port);
    await trickle.connected;
    const t0 = Date.now();
    const line = "GET /health HTTP/1.1\r\nHost: x\r\n" + "X-Slow: y\r\n".repeat(100);
    for (const ch of line) {
      if (trickle.closed) break;
      trickle.sock.write(ch);
      await sleep(50);
    }
    await waitFor(() => trickle.closed, "the trickling client to be cut");
    const took = Date.now() - t0;
    assert.ok(took >= 900 && took < 3000, `cut after ${took} ms`);

    const idle = openRequest(s.port);
    await idle.connected;
    const t1 = Date.now();
    await waitFor(() => idle.closed, "the idle connection to close");
    assert.ok(Date.now() - t1 < 3000);
    assert.equal((await fetch(s.url + "/health")).status, 200);
  } finally {
    await s.stop();
  }
});

test("--auth-failures-per-minute: 429 after that many bad keys from one address, even with the right key", async () => {
  const s = await startServer(["--api-key", "sekrit", "--auth-failures-per-minute", "3"]);
  try {
    const models = (key) => fetch(s.url + "/v1/models", { headers: key ? { Authorization: `Bearer ${key}` } : {} });
    assert.equal((await models("sekrit")).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await models("guess" + i)).status, 401);
    const blocked = await models("guess3");
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.headers.get("retry-after")) >= 1);
    assert.equal((await blocked.json()).error.code, "too_many_auth_failures");
    assert.equal((await models("sekrit")).status, 429);
  } finally {
    await s.stop();
  }
});

test("a burst of 64 streams: --max-sequences 8 --max-queue 16 admits exactly 24, refuses 40 with 503", async () => {
  const s = await startServer(["--ctx", "16384", "--max-sequences", "8", "--max-queue", "16", "--max-connections-per-client", "0"]);
  try {
    const reqs = [];
    for (let i = 0; i < 64; i++) reqs.push(openRequest(s.port, post("/v1/chat/completions", streamBody())));
    await waitFor(() => reqs.every((r) => r.status()), "every request's status", { every: 50 });
    const ok = reqs.filter((r) => r.status() === 200).length;
    const busy = reqs.filter((r) => r.status() === 503).length;
    assert.deepEqual({ ok, busy }, { ok: 24, busy: 40 });
    for (const r of reqs) r.sock.destroy();
    await waitFor(async () => { const h = await (await fetch(s.url + "/health")).json(); return h.active === 0 && h.queued === 0; }, "all to be cancelled");
  } finally {
    await s.stop();
  }
});

test("--max-streams-per-key: 429 beyond, per key", async () => {
  const s = await startServer(["--ctx", "16384", "--api-key", "a", "--api-key", "b", "--max-streams-per-key", "1"]);
  try {
    const auth = (k) => `Authorization: Bearer ${k}\r\n`;
    const first = openRequest(s.port, post("/v1/chat/completions", streamBody(), auth("a")));
    await waitFor(() => first.out.includes("data: {"), "the first stream");
    const second = await rawRequest(s.port, [post("/v1/chat/completions", streamBody(2), auth("a"))]);
    assert.equal(answer(second.out).status, 429, second.out.slice(0, 300));
    assert.equal(answer(second.out).error.code, "too_many_streams");
    const other = await rawRequest(s.port, [post("/v1/chat/completions", streamBody(2), auth("b"))]);
    assert.equal(answer(other.out).status, 200);
    first.sock.destroy();
    await waitFor(async () => answer((await rawRequest(s.port, [post("/v1/chat/completions", streamBody(2), auth("a"))])).out).status === 200,
      "the key's stream to end and free its place");
  } finally {
    await s.stop();
  }
});

test("WebSocket limits: a message too big closes with 1009, too many a minute with 1008", async () => {
  const s = await startServer(["--ws-max-message-bytes", "1024", "--ws-max-messages-per-minute", "3"]);
  try {
    const closeOf = (send) => new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`);
      const t = setTimeout(() => reject(new Error("not closed")), deadlineMs);
      ws.on("error", () => {});
      ws.on("close", (code) => { clearTimeout(t); resolve(code); });
      ws.on("open", () => send(ws));
    });
    assert.equal(await closeOf((ws) => ws.send("x".repeat(2000))), 1009);
    assert.equal(await closeOf((ws) => { for (let i = 0; i < 4; i++) ws.send("not json"); }), 1008);
    // under both, the connection stays
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`);
    const m = await new Promise((resolve, reject) => {
      ws.on("error", reject);
      ws.on("message", (d) => resolve(JSON.parse(d.toString())));
      ws.on("open", () => ws.send("not json"));
    });
    assert.equal(m.type, "error");
    ws.close();
  } finally {
    await s.stop();
  }
});
