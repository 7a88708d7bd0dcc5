// SIGTERM: stop accepting, let running streams finish or cancel them within
// the deadline, exit 0. Bad flags exit 2 with one line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { startServer, parseSse, binary, tinyModel } from "./helpers.mjs";

test("SIGTERM while idle exits 0", async () => {
  const s = await startServer();
  assert.equal((await fetch(s.url + "/health")).status, 200);
  const r = await s.stop("SIGTERM");
  assert.equal(r.code, 0, s.stderr());
});

test("SIGTERM during a stream: the stream ends well-formed, then exit 0", async () => {
  const s = await startServer(["--ctx", "16384", "--shutdown-timeout", "1"]);
  const res = await fetch(s.url + "/v1/chat/completions", {
    method: "POST",
    body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 16000, stream: true }),
  });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  let text = "";
  const dec = new TextDecoder();
  const first = await reader.read();
  text += dec.decode(first.value, { stream: true });
  s.proc.kill("SIGTERM");
  for (let reads = 0; ; reads++) {
    assert.ok(reads < 100000, "the stream did not end");
    const { value, done } = await reader.read();
    if (done) break;
    text += dec.decode(value, { stream: true });
  }
  const { events, done } = parseSse(text);
  assert.ok(done, "no [DONE] after SIGTERM");
  // 16000 tokens take far longer than the 1 s it got: cut off, not run to its end
  const finish = events.filter((e) => e.choices).map((e) => e.choices[0]?.finish_reason).filter(Boolean);
  assert.deepEqual(finish, ["cancelled"]);
  // then an error event saying it was cut off, before [DONE]
  assert.equal(events.at(-1).error?.code, "shutting_down");
  const r = await s.exit;
  assert.equal(r.code, 0, s.stderr());
  assert.match(s.stderr(), /SIGTERM: finishing running requests \(up to 1 s\)[\s\S]*stopped/);
});

test("SIGINT exits 0; new connections are refused while draining", async () => {
  const s = await startServer();
  s.proc.kill("SIGINT");
  const r = await s.exit;
  assert.equal(r.code, 0);
  await assert.rejects(fetch(s.url + "/health"));
});

test("bad flags exit 2 with one line", () => {
  for (const args of [["--port", "70000"], ["--bogus"], ["--max-sequences", "0"], ["--api-key-file", "/nonexistent/keys"]]) {
    const r = spawnSync(binary, ["serve", "--model", tinyModel, ...args], { encoding: "utf8", timeout: 30000 });
    assert.equal(r.status, 2, args.join(" ") + ": " + r.stderr);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  const r = spawnSync(binary, ["serve", "--model", "/nonexistent/model"], { encoding: "utf8", timeout: 30000 });
  assert.equal(r.status, 2);
});
