// The embedded chat page in Debian's chromium: load it, send a message, watch
// the reply stream in, stop a long generation. Greedy (temperature 0) and
// seeded, so the page's answers can be held against the API's. Saves
// build/e2e-artifacts/chat.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { startServer, binary, parseSse, waitFor, metric, deadlineMs } from "./helpers.mjs";

const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
// beside the binary under test: build/e2e-artifacts in CI
const artifacts = process.env.DSV3_E2E_ARTIFACTS || path.join(path.dirname(binary), "e2e-artifacts");
let server, browser;

before(async () => {
  server = await startServer(["--ctx", "16384", "--api-key", "page-key"]);
  browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] });
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const api = (request, signal) => fetch(server.url + "/v1/chat/completions", {
  method: "POST", headers: { Authorization: "Bearer page-key", "Content-Type": "application/json" },
  body: JSON.stringify({ model: "tiny", temperature: 0, seed: 7, ...request }), signal: signal ?? AbortSignal.timeout(deadlineMs),
});

test("the page sends its settings, streams the API's answer, and stops a generation", async () => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 750 } });
  page.setDefaultTimeout(deadlineMs);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const sent = [];
  page.on("request", (r) => { if (r.url().endsWith("/v1/chat/completions")) sent.push(r.postDataJSON()); });
  await page.goto(server.url + "/");
  assert.equal(await page.title(), "dsv3 chat");
  await page.fill("#api-key", "page-key");
  await page.dispatchEvent("#api-key", "change");
  await page.waitForFunction(() => document.getElementById("model").textContent === "model: tiny");

  // a short answer, greedy and seeded: the API's answer to the same messages
  await page.$eval("#temperature", (el) => { el.value = "0"; el.dispatchEvent(new Event("input")); });
  assert.equal(await page.textContent("#temperature-value"), "0");
  await page.fill("#seed", "7");
  await page.fill("#max-tokens", "24");
  await page.fill("#system", "You are terse.");
  await page.fill("#input", "Hello there");
  await page.click("#send");
  // finished: the stats end with the finish reason, the usage chunk has set the count
  await page.waitForFunction(() => /\((length|stop)\)$/.test(document.getElementById("stats").textContent));
  await page.waitForFunction(() => !document.getElementById("send").disabled);
  assert.ok(!(await page.$(".msg.error")), "error shown: " + await page.textContent(".msg.assistant"));
  const messages = [{ role: "system", content: "You are terse." }, { role: "user", content: "Hello there" }];
  assert.equal(sent.length, 1);
  assert.deepEqual(sent[0], {
    model: "tiny", messages, stream: true, stream_options: { include_usage: true }, temperature: 0, max_tokens: 24, seed: 7,
  });
  const want = await (await api({ messages, max_tokens: 24 })).json();
  const first = await page.textContent(".msg.assistant");
  assert.equal(first, want.choices[0].message.content);
  const stats = await page.textContent("#stats");
  assert.match(stats, new RegExp(`^${want.usage.completion_tokens} tokens, [0-9.]+ s to first token, [0-9.]+ tokens/s \\(${want.choices[0].finish_reason}\\)$`));

  // a long answer, stopped midway: what the page shows is the start of the
  // API's answer, and nothing comes after the stop
  const route499 = 'dsv3_http_requests_total{route="/v1/chat/completions",status="499"}';
  const before499 = await metric(server.url, route499);
  await page.fill("#max-tokens", "16000");
  await page.fill("#input", "Tell me everything");
  await page.click("#send");
  await page.waitForFunction(() => document.querySelectorAll(".msg.assistant")[1]?.textContent.length > 20);
  assert.equal(await page.isEnabled("#stop"), true);
  await page.click("#stop");
  await page.waitForFunction(() => !document.getElementById("send").disabled);
  assert.match(await page.textContent("#stats"), /\(stopped\)$/);
  // the server frees the sequence once the browser drops the stream
  await waitFor(async () => (await (await fetch(server.url + "/health")).json()).active === 0 &&
    await metric(server.url, route499) === before499 + 1, "the server to see the page stop (499) and free the sequence");
  const stopped = await page.$$eval(".msg.assistant", (els) => els[1].textContent);
  assert.equal(sent.length, 2);
  const conversation = [...messages, { role: "assistant", content: first }, { role: "user", content: "Tell me everything" }];
  assert.deepEqual(sent[1].messages, conversation);
  // the same conversation through the API, read until it has as much text, then dropped
  const ac = new AbortController();
  const r = await api({ messages: conversation, max_tokens: 16000, stream: true }, AbortSignal.any([ac.signal, AbortSignal.timeout(deadlineMs)]));
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let raw = "", text = "";
  for (let reads = 0; text.length < stopped.length; reads++) {
    assert.ok(reads < 100000, "the API's answer did not get as long as the page's");
    const { value, done } = await reader.read();
    assert.ok(!done, "the API's answer ended before the page's: " + JSON.stringify(text));
    raw += decoder.decode(value, { stream: true });
    const end = raw.lastIndexOf("\n\n");
    if (end < 0) continue;
    text = parseSse(raw.slice(0, end + 2)).events.map((e) => e.choices[0]?.delta?.content ?? "").join("");
  }
  ac.abort();
  assert.ok(text.startsWith(stopped), `the page showed ${JSON.stringify(stopped)}, the API answers ${JSON.stringify(text)}`);
  await waitFor(async () => (await (await fetch(server.url + "/health")).json()).active === 0, "the API stream to be dropped");
  assert.equal(await page.$$eval(".msg.assistant", (els) => els[1].textContent), stopped, "text kept coming after stop");

  fs.mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, "chat.png") });
  assert.deepEqual(errors, []);
});
