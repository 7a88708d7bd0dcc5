// The embedded chat page in Debian's chromium: load it, send a message, watch
// the reply stream in, stop a long generation. Saves build/e2e-artifacts/chat.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { startServer, binary } from "./helpers.mjs";

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

test("send a message, see it stream, stop a generation", async () => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 750 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(server.url + "/");
  assert.equal(await page.title(), "dsv3 chat");
  await page.fill("#api-key", "page-key");
  await page.dispatchEvent("#api-key", "change");
  await page.waitForFunction(() => document.getElementById("model").textContent === "model: tiny");

  // a short answer: streamed text appears, the speed line shows tokens/s
  await page.fill("#max-tokens", "24");
  await page.fill("#system", "You are terse.");
  await page.fill("#input", "Hello there");
  await page.click("#send");
  await page.waitForFunction(() => document.querySelector(".msg.assistant")?.textContent.length > 0);
  await page.waitForFunction(() => !document.getElementById("send").disabled);
  const first = await page.textContent(".msg.assistant");
  assert.ok(first.length > 0);
  assert.ok(!(await page.$(".msg.error")), "error shown: " + first);
  const stats = await page.textContent("#stats");
  assert.match(stats, /tokens\/s/);
  assert.match(stats, /^\d+ tokens/);

  // a long answer, stopped midway
  await page.fill("#max-tokens", "16000");
  await page.fill("#input", "Tell me everything");
  await page.click("#send");
  await page.waitForFunction(() => document.querySelectorAll(".msg.assistant")[1]?.textContent.length > 20);
  assert.equal(await page.isEnabled("#stop"), true);
  await page.click("#stop");
  await page.waitForFunction(() => !document.getElementById("send").disabled);
  assert.match(await page.textContent("#stats"), /stopped/);
  const stopped = await page.$$eval(".msg.assistant", (els) => els[1].textContent.length);
  // the server frees the sequence once the browser drops the stream
  let active = 1;
  for (let i = 0; i < 40 && active; i++) {
    await new Promise((r) => setTimeout(r, 50));
    active = (await (await fetch(server.url + "/health")).json()).active;
  }
  assert.equal(active, 0);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(await page.$$eval(".msg.assistant", (els) => els[1].textContent.length), stopped, "text kept coming after stop");

  fs.mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, "chat.png") });
  assert.deepEqual(errors, []);
});
