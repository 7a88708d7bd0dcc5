#!/usr/bin/env node
// Soak test of `dsv3 serve` (not in CI): the bundled tiny model under mixed
// traffic from many clients for some minutes, watching the server's memory and
// checking that /metrics counts what the clients saw.
//
//   node scripts/soak.mjs [--minutes 10] [--clients 32] [--binary build/dsv3]
//
// Traffic: chat and text completions, streaming and not; streams cancelled
// mid-way; bad requests (invalid JSON, unknown paths, wrong methods, malformed
// HTTP); WebSocket chats (some cancelled, some closed mid-generation, some bad
// messages); connections dropped mid-request. The server's RSS is read from
// /proc/PID/status every 10 s. At the end: the RSS curve, the responses by
// status, and dsv3_http_requests_total against the clients' own counts. Exits
// non-zero if RSS grew more than 20 % after warm-up, a count differs, or a
// client saw something it should not have (an unexpected status or error).
// Uses tests/e2e's helpers and its `ws` package (scripts/setup.sh installs it).
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const minutes = Number(args.minutes ?? 10);
const clients = Number(args.clients ?? 32);
if (args.binary) process.env.DSV3_BINARY = path.resolve(args.binary);
const { startServer, sleep } = await import(path.join(root, "tests/e2e/helpers.mjs"));
const WebSocket = createRequire(path.join(root, "tests/e2e/package.json"))("ws");

const server = await startServer(["--max-sequences", "8", "--max-queue", "64"]);
const base = server.url;
console.log(`soak: ${clients} clients for ${minutes} min against pid ${server.proc.pid} at ${base}`);

// ---- client-side accounting ------------------------------------------------
// exact[route][status]: answers the server counts as the client saw them.
// either[route]: generations cut off by the client, which the server counts
// as 200 or 499 depending on which side noticed first.
const exact = {}, either = {};
const seen = {};  // status (or outcome) -> count, for the report
const problems = [];
function count(route, status) {
  exact[route] ??= {};
  exact[route][status] = (exact[route][status] ?? 0) + 1;
  seen[status] = (seen[status] ?? 0) + 1;
}
function cutOff(route, what) {
  either[route] = (either[route] ?? 0) + 1;
  seen[what] = (seen[what] ?? 0) + 1;
}
function problem(what) {
  if (problems.length < 50) problems.push(what);
  seen.problem = (seen.problem ?? 0) + 1;
}
function expectStatus(route, got, want, what) {
  count(route, got);
  if (got !== want) problem(`${what}: status ${got}, expected ${want}`);
}

const prompts = ["Hello", "Tell me a story about a robot.", "1 2 3 4", "What is the capital of France?", "ok"];
const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];
const chatBody = (extra = {}) => ({ model: "tiny", messages: [{ role: "user", content: pick(prompts) }],
                                    max_tokens: 8 + Math.floor(Math.random() * 24), ...extra });
const completionBody = (extra = {}) => ({ model: "tiny", prompt: pick(prompts), max_tokens: 8 + Math.floor(Math.random() * 24), ...extra });

async function post(p, body, init = {}) {
  return fetch(base + p, { method: "POST", headers: { "content-type": "application/json" },
                           body: typeof body === "string" ? body : JSON.stringify(body), ...init });
}

// ---- the kinds of traffic --------------------------------------------------
const kinds = {
  async chat() {
    const r = await post("/v1/chat/completions", chatBody());
    await r.text();
    expectStatus("/v1/chat/completions", r.status, 200, "chat");
  },
  async completion() {
    const r = await post("/v1/completions", completionBody());
    await r.text();
    expectStatus("/v1/completions", r.status, 200, "completion");
  },
  async chatStream() {
    const r = await post("/v1/chat/completions", chatBody({ stream: true }));
    const text = await r.text();
    expectStatus("/v1/chat/completions", r.status, 200, "chat stream");
    if (r.status === 200 && !text.includes("data: [DONE]")) problem("chat stream without [DONE]");
  },
  async completionStream() {
    const r = await post("/v1/completions", completionBody({ stream: true }));
    const text = await r.text();
    expectStatus("/v1/completions", r.status, 200, "completion stream");
    if (r.status === 200 && !text.includes("data: [DONE]")) problem("completion stream without [DONE]");
  },
  async cancelStream() {
    const ac = new AbortController();
    const route = pick(["/v1/chat/completions", "/v1/completions"]);
    const body = route === "/v1/completions" ? completionBody({ stream: true, max_tokens: 64 })
                                             : chatBody({ stream: true, max_tokens: 64 });
    const r = await post(route, body, { signal: ac.signal });
    if (r.status !== 200) return expectStatus(route, r.status, 200, "stream to cancel");
    const reader = r.body.getReader();
    try {
      await reader.read();  // the first chunk, then hang up
    } catch { /* the stream may end at once */ }
    ac.abort();
    cutOff(route, "cancelled");
  },
  async badJson() {
    const r = await post("/v1/chat/completions", '{"messages": [');
    await r.text();
    expectStatus("/v1/chat/completions", r.status, 400, "invalid JSON");
  },
  async badField() {
    const r = await post("/v1/completions", { prompt: "x", max_tokens: -5 });
    await r.text();
    expectStatus("/v1/completions", r.status, 400, "bad field");
  },
  async unknownPath() {
    const r = await fetch(base + "/v1/nothing-here");
    await r.text();
    expectStatus("other", r.status, 404, "unknown path");
  },
  async wrongMethod() {
    const r = await fetch(base + "/v1/completions");
    await r.text();
    expectStatus("/v1/completions", r.status, 405, "wrong method");
  },
  async health() {
    const r = await fetch(base + (Math.random() < 0.5 ? "/health" : "/v1/models"));
    await r.text();
    expectStatus(new URL(r.url).pathname, r.status, 200, "health/models");
  },
  async malformedHttp() {
    const out = await raw(["GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n"], { waitClose: true });
    const status = Number(out.match(/^HTTP\/1\.1 (\d+)/)?.[1] ?? 0);
    expectStatus("invalid", status, 400, "malformed HTTP");
  },
  async dropMidHeader() {
    // half a request, then gone: nothing to answer, nothing counted
    await raw(["POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Le"], { waitClose: false });
    seen.dropped = (seen.dropped ?? 0) + 1;
  },
  async dropMidGeneration() {
    // a stream, so that the first bytes back prove the server has the request
    const body = JSON.stringify(chatBody({ max_tokens: 64, stream: true }));
    await raw([`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${
      Buffer.byteLength(body)}\r\n\r\n${body}`], { waitClose: false, untilData: true });
    cutOff("/v1/chat/completions", "dropped mid-generation");
  },
  async websocket() {
    await wsChat();
  },
};
// weights: how often each kind runs
const mix = [["chat", 4], ["completion", 3], ["chatStream", 4], ["completionStream", 3], ["cancelStream", 3],
             ["badJson", 1], ["badField", 1], ["unknownPath", 1], ["wrongMethod", 1], ["health", 1],
             ["malformedHttp", 1], ["dropMidHeader", 1], ["dropMidGeneration", 1], ["websocket", 4]];
const wheel = mix.flatMap(([k, w]) => Array(w).fill(k));

// Writes chunks on a fresh connection; resolves to what came back. Without
// waitClose the socket is destroyed (an abrupt disconnect) at once, or with
// untilData once the first bytes come back.
function raw(chunks, { waitClose, untilData = false }) {
  return new Promise((resolve) => {
    const sock = net.connect(server.port, "127.0.0.1");
    let out = "";
    const done = () => { sock.destroy(); resolve(out); };
    sock.on("data", (d) => { out += d.toString("latin1"); if (untilData) done(); });
    sock.on("error", done);
    sock.on("close", done);
    sock.on("connect", () => {
      for (const c of chunks) sock.write(c);
      if (!waitClose && !untilData) done();
    });
    setTimeout(done, 30000);
  });
}

// One WebSocket connection: a few turns, each a chat to its "done", a cancel,
// a bad message, or a close mid-generation.
function wsChat() {
  return new Promise((resolve) => {
    const ws = new WebSocket(base.replace("http", "ws") + "/ws");
    let turns = 1 + Math.floor(Math.random() * 3), mode = null, finished = false;
    const finish = () => { if (!finished) { finished = true; resolve(); } };
    const timer = setTimeout(() => { problem("WebSocket chat timed out"); ws.terminate(); finish(); }, 60000);
    const next = () => {
      if (turns-- <= 0) { ws.close(); return; }
      const r = Math.random();
      mode = r < 0.6 ? "chat" : r < 0.75 ? "cancel" : r < 0.85 ? "bad" : r < 0.92 ? "badField" : "close";
      if (mode === "bad") return ws.send("{not json");
      if (mode === "badField") return ws.send(JSON.stringify({ type: "chat", messages: "not a list" }));
      ws.send(JSON.stringify({ type: "chat", ...chatBody({ max_tokens: mode === "chat" ? 16 : 64 }) }));
    };
    ws.on("open", () => { count("/ws", 101); next(); });
    ws.on("unexpected-response", (req, res) => { expectStatus("/ws", res.statusCode, 101, "WebSocket upgrade"); finish(); });
    ws.on("message", (data) => {
      const m = JSON.parse(data.toString());
      if (mode === "bad") {
        if (m.type !== "error") problem("bad WebSocket message not refused");
        seen["ws invalid message"] = (seen["ws invalid message"] ?? 0) + 1;  // not a request: not counted
        return next();
      }
      if (mode === "badField") {
        // counted by the server as a 400 on /ws
        expectStatus("/ws", m.type === "error" ? 400 : 200, 400, "bad WebSocket request");
        return next();
      }
      if (m.type === "error") { problem(`WebSocket error: ${JSON.stringify(m).slice(0, 200)}`); count("/ws", "error"); return next(); }
      if (mode === "cancel" && m.object === "chat.completion.chunk") {
        mode = "cancelling";
        ws.send(JSON.stringify({ type: "cancel" }));
        return;
      }
      if (mode === "close" && m.object === "chat.completion.chunk") {
        mode = "closed";
        cutOff("/ws", "ws closed mid-generation");
        ws.terminate();
        return;
      }
      if (m.type === "done") {
        count("/ws", 200);  // a cancelled one too: its "done" says finish_reason "cancelled"
        next();
      }
    });
    ws.on("close", () => { clearTimeout(timer); finish(); });
    ws.on("error", (e) => { if (mode !== "closed") problem(`WebSocket: ${e.message}`); });
  });
}

// ---- memory ----------------------------------------------------------------
const rssCurve = [];
function rssKb() {
  const m = fs.readFileSync(`/proc/${server.proc.pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/);
  return Number(m[1]);
}
const t0 = Date.now();
const sampler = setInterval(() => rssCurve.push([Math.round((Date.now() - t0) / 1000), rssKb()]), 10000);
rssCurve.push([0, rssKb()]);

// ---- run -------------------------------------------------------------------
const until = t0 + minutes * 60000;
let requests = 0;
async function client() {
  while (Date.now() < until) {
    const kind = pick(wheel);
    try {
      await kinds[kind]();
    } catch (e) {
      problem(`${kind}: ${e.message}`);
    }
    requests++;
  }
}
await Promise.all(Array.from({ length: clients }, client));
clearInterval(sampler);
rssCurve.push([Math.round((Date.now() - t0) / 1000), rssKb()]);

// Cut-off generations end on the server a little after the client left.
async function scrape() {
  const r = await fetch(base + "/metrics");
  return r.text();
}
for (let i = 0; i < 200; i++) {
  const text = await scrape();
  const active = Number(text.match(/^dsv3_active_sequences (\d+)/m)?.[1] ?? 1);
  const queued = Number(text.match(/^dsv3_queue_depth (\d+)/m)?.[1] ?? 1);
  const conns = Number(text.match(/^dsv3_open_connections (\d+)/m)?.[1] ?? 99);
  if (active === 0 && queued === 0 && conns <= 1) break;
  await sleep(100);
}
const metrics = await scrape();  // (its own route, /metrics, is left out of the comparison)

// ---- report ----------------------------------------------------------------
const serverCounts = {};
for (const m of metrics.matchAll(/^dsv3_http_requests_total\{route="([^"]*)",status="(\d+)"\} (\d+)/gm)) {
  if (m[1] === "/metrics") continue;
  serverCounts[m[1]] ??= {};
  serverCounts[m[1]][m[2]] = Number(m[3]);
}
await server.stop();

console.log(`\nrequests: ${requests} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
console.log("\nRSS (MiB) by time:");
for (const [t, kb] of rssCurve) console.log(`  ${String(t).padStart(5)} s  ${(kb / 1024).toFixed(1)}`);
console.log("\nclient outcomes:", JSON.stringify(seen));

let failed = false;
const warm = rssCurve.find(([t]) => t >= Math.min(60, minutes * 60 / 4)) ?? rssCurve[0];
const last = rssCurve[rssCurve.length - 1];
const growth = (last[1] - warm[1]) / warm[1];
console.log(`\nRSS after warm-up (${warm[0]} s): ${(warm[1] / 1024).toFixed(1)} MiB, at the end: ${
  (last[1] / 1024).toFixed(1)} MiB (${(growth * 100).toFixed(1)} %)`);
if (growth > 0.2) { console.log("FAIL: RSS grew more than 20 % after warm-up"); failed = true; }

console.log("\n/metrics dsv3_http_requests_total against the clients (route status: server / client):");
const routes = new Set([...Object.keys(serverCounts), ...Object.keys(exact), ...Object.keys(either)]);
for (const route of [...routes].sort()) {
  const s = serverCounts[route] ?? {}, c = exact[route] ?? {}, cut = either[route] ?? 0;
  const statuses = new Set([...Object.keys(s), ...Object.keys(c)]);
  for (const st of [...statuses].sort()) {
    if (st === "200" || st === "499") continue;
    const ok = (s[st] ?? 0) === (c[st] ?? 0);
    console.log(`  ${route} ${st}: ${s[st] ?? 0} / ${c[st] ?? 0}${ok ? "" : "   MISMATCH"}`);
    if (!ok) failed = true;
  }
  const s2 = (s["200"] ?? 0) + (s["499"] ?? 0), c2 = (c["200"] ?? 0) + (c["499"] ?? 0) + cut;
  if (s2 || c2) {
    const ok = s2 === c2 && (s["499"] ?? 0) <= (c["499"] ?? 0) + cut;
    console.log(`  ${route} 200+499: ${s2} (499: ${s["499"] ?? 0}) / ${c2} (${cut} cut off by the client)${ok ? "" : "   MISMATCH"}`);
    if (!ok) failed = true;
  }
}
if (problems.length) {
  console.log(`\nproblems (${seen.problem}):`);
  for (const p of problems) console.log("  " + p);
  failed = true;
}
console.log(failed ? "\nsoak: FAILED" : "\nsoak: passed");
process.exit(failed ? 1 : 0);
