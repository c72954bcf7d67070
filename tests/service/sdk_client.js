// The official JavaScript client against `callrec serve` (driven by sdk_test.cc, which
// checks the downloaded chunks against the contract afterwards).
//
//   node sdk_client.js CALLREC_BINARY WORK_DIR
//
// WORK_DIR holds key (Base64 access key), tls.crt and tls.key (NODE_EXTRA_CA_CERTS
// trusts tls.crt), and participants.json: for each participant id, its media file (a
// colour and a tone, Opus + VP8 in WebM) and two free port pairs of 127.0.0.1. The
// script starts the service with HTTPS, a webhook and a callback receiver of its own
// (http on loopback), lets three participants join and leave a call through the
// participants route (signed by hand here: the client has no such call), each with an
// SDP offer naming its ports and, once answered, an ffmpeg sender (-re, packets copied,
// -f rtp) sending its file to the ports the answer names until the participant leaves,
// records it with @azure/communication-call-automation 1.5.1 (start, getState, pause,
// resume, stop), reads the events with the client's parseCallAutomationEvent and
// @azure/eventgrid's EventGridDeserializer, downloads every chunk and its metadata
// (downloadToPath, downloadStreaming with ranges), deletes a chunk, stops the service
// with SIGTERM and writes WORK_DIR/summary.json. Any failure exits 1 with a message.
"use strict";
// Node 18 (Debian 12's nodejs) has Web Crypto only as require("node:crypto").webcrypto,
// unless run with --experimental-global-webcrypto; the client's dependencies call
// globalThis.crypto.randomUUID() (@azure/core-util through @typespec/ts-http-runtime),
// and every request fails with "crypto is not defined" without it. Node 20+ has it.
globalThis.crypto ??= require("node:crypto").webcrypto;
const { CallAutomationClient, parseCallAutomationEvent } = require("@azure/communication-call-automation");
const { EventGridDeserializer } = require("@azure/eventgrid");
const { spawn } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const http = require("node:http");
const https = require("node:https");
const path = require("node:path");

const [, , callrec, work] = process.argv;
const key = fs.readFileSync(path.join(work, "key"), "utf8").trim();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.log("[sdk]", ...a);
function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
}

// A receiver of POSTed events on loopback; `answers` gives the status of each request.
function receiver(answers) {
  const bodies = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const status = answers[n++] || 200;
      if (status === 200) bodies.push({ headers: req.headers, body });
      res.writeHead(status).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve({ server, bodies, url: `http://127.0.0.1:${server.address().port}/events` })),
  );
}

async function waitFor(what, cond, ms) {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error("timed out waiting for " + what);
    await sleep(50);
  }
}

// The HMAC-SHA256 signature, written here from the client's policy (not from callrec).
function signedRequest(method, url, body) {
  const u = new URL(url);
  const date = new Date().toUTCString();
  const hash = crypto.createHash("sha256").update(body).digest("base64");
  const toSign = `${method}\n${u.pathname}${u.search}\n${date};${u.host};${hash}`;
  const signature = crypto.createHmac("sha256", Buffer.from(key, "base64")).update(toSign).digest("base64");
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        headers: {
          "x-ms-date": date,
          "x-ms-content-sha256": hash,
          authorization: `HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=${signature}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

// The offer as `ffmpeg -sdp_file` writes it for these destinations.
const sdp = (audioPort, videoPort) =>
  `v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n` +
  `m=audio ${audioPort} RTP/AVP 97\r\na=rtpmap:97 opus/48000/2\r\n` +
  `m=video ${videoPort} RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n`;
const participants = JSON.parse(fs.readFileSync(path.join(work, "participants.json"), "utf8"));
const senders = new Map();
function send(id, audioPort, videoPort) {
  const file = participants[id].file;
  const sender = spawn("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", file,
                                  "-map", "0:a", "-c:a", "copy", "-f", "rtp", `rtp://127.0.0.1:${audioPort}`,
                                  "-map", "0:v", "-c:v", "copy", "-f", "rtp", `rtp://127.0.0.1:${videoPort}`],
                       { stdio: ["ignore", "ignore", "inherit"] });
  senders.set(id, sender);
}
function stopSender(id) {
  const sender = senders.get(id);
  if (sender) sender.kill("SIGTERM");
  senders.delete(id);
}

async function main() {
  const webhook = await receiver([503]);  // the first delivery fails: it must be retried
  const callback = await receiver([]);
  const service = spawn(
    callrec,
    ["serve", "--listen", "127.0.0.1:0", "--storage", path.join(work, "storage"), "--access-key-file",
     path.join(work, "key"), "--tls-cert", path.join(work, "tls.crt"), "--tls-key", path.join(work, "tls.key"),
     "--event-webhook", webhook.url, "--max-chunk-bytes", "32768"],
    { stdio: ["ignore", "inherit", "pipe"] },
  );
  let stderr = "";
  service.stderr.on("data", (d) => {
    stderr += d;
    process.stderr.write(d);
  });
  const exited = new Promise((resolve) => service.on("exit", (code, signal) => resolve({ code, signal })));
  try {
    await waitFor("the service to listen", () => /listening on https:\/\/127\.0\.0\.1:\d+/.test(stderr), 20000);
    const port = Number(/listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(stderr)[1]);
    // The client's endpoint says localhost; the download locations say 127.0.0.1: the
    // client signs downloads for the endpoint's host and says so in x-ms-host.
    const endpoint = `https://localhost:${port}`;
    const client = new CallAutomationClient(`endpoint=${endpoint}/;accesskey=${key}`);
    const recording = client.getCallRecording();
    const serverCallId = Buffer.from("https://conversations.example/conversations/sdk-test").toString("base64url");

    // Joins with the offer, then sends where the answer says callrec listens.
    const join = async (id, name) => {
      const { audioPort, videoPort } = participants[id];
      const r = await signedRequest("POST", `${endpoint}/calling/calls/${serverCallId}/participants`,
                                    JSON.stringify({ participantId: id, displayName: name, sdp: sdp(audioPort, videoPort) }));
      check(r.status === 201, `join ${id}: status ${r.status} ${r.body}`);
      const answer = JSON.parse(r.body);
      const audio = /m=audio (\d+) /.exec(answer.sdp);
      const video = /m=video (\d+) /.exec(answer.sdp);
      check(answer.participantId === id && audio && video && /a=recvonly/.test(answer.sdp), "join answer " + r.body);
      check(Number(audio[1]) === audioPort && Number(video[1]) === videoPort, "the answer names the offer's ports");
      send(id, Number(audio[1]), Number(video[1]));
    };
    const leave = async (id) => {
      const r = await signedRequest("DELETE", `${endpoint}/calling/calls/${serverCallId}/participants/${encodeURIComponent(id)}`, "");
      check(r.status === 204, `leave ${id}: status ${r.status} ${r.body}`);
      stopSender(id);
    };
    // An offer callrec cannot use: 400 in the error model, naming the SDP line.
    const bad = await signedRequest("POST", `${endpoint}/calling/calls/${serverCallId}/participants`,
                                    JSON.stringify({ participantId: "8:acs:bad", sdp: sdp(participants["8:acs:ada"].audioPort, participants["8:acs:ada"].videoPort).replace("VP8", "VP9") }));
    check(bad.status === 400 && JSON.parse(bad.body).error.code === "InvalidSdp" && /VP9/.test(JSON.parse(bad.body).error.message),
          "a VP9 offer is refused with 400 InvalidSdp: " + bad.body);
    await join("8:acs:ada", "Ada Lovelace");
    await join("8:acs:grace", "Grace Hopper");

    // A kind of recording callrec does not make is refused by name.
    let refused = null;
    try {
      await recording.start({ callLocator: { id: serverCallId, kind: "serverCallLocator" }, recordingFormat: "wav" });
    } catch (e) {
      refused = e;
    }
    check(refused && refused.statusCode === 400 && /recordingFormatType/.test(refused.message),
          "a wav recording is refused with 400: " + (refused && refused.message));

    const started = await recording.start({
      callLocator: { id: serverCallId, kind: "serverCallLocator" },
      recordingStateCallbackEndpointUrl: callback.url,
      recordingContent: "audioVideo",
      recordingChannel: "mixed",
      recordingFormat: "mp4",
    });
    const id = started.recordingId;
    log("started", id, started.recordingState);
    check(started.recordingState === "active", "started active");
    let conflict = null;
    try {
      await recording.start({ callLocator: { id: serverCallId, kind: "serverCallLocator" } });
    } catch (e) {
      conflict = e;
    }
    check(conflict && conflict.statusCode === 409, "a second recording of the call is refused with 409");
    check((await recording.getState(id)).recordingState === "active", "getState active");
    // 3.5 s: Ada's and Grace's senders send a VP8 key frame every 2 s, and the recording's
    // first pictures of them come with the first one after the start.
    await sleep(3500);
    await join("8:acs:katherine", "Katherine Johnson");
    await sleep(1500);
    await recording.pause(id);
    check((await recording.getState(id)).recordingState === "inactive", "getState inactive while paused");
    await sleep(1000);
    await recording.resume(id);
    check((await recording.getState(id)).recordingState === "active", "getState active after resume");
    await sleep(2000);
    await leave("8:acs:grace");
    await sleep(1000);
    await recording.stop(id);
    check((await recording.getState(id)).recordingState === "inactive", "getState inactive after stop");

    // Events: the recording's state changes to the callback, the file status to the webhook.
    await waitFor("RecordingFileStatusUpdated", () => webhook.bodies.length > 0, 60000);
    const events = await new EventGridDeserializer().deserializeEventGridEvents(webhook.bodies[0].body);
    check(events.length === 1 && events[0].eventType === "Microsoft.Communication.RecordingFileStatusUpdated",
          "an Event Grid RecordingFileStatusUpdated event");
    const data = events[0].data;
    const chunks = data.recordingStorageInfo.recordingChunks;
    check(chunks.length >= 1, "the event lists chunks");
    await waitFor("four state events", () => callback.bodies.length >= 4, 10000);
    const states = callback.bodies.map((b) => parseCallAutomationEvent(b.body));
    for (const s of states) check(s.kind === "RecordingStateChanged" && s.recordingId === id, "RecordingStateChanged of the recording");
    log("states", states.map((s) => s.state).join(" "));

    // Every chunk and its metadata, whole and in ranges.
    const summary = { recordingId: id, data, states: states.map((s) => s.state), chunks: [] };
    for (const c of chunks) {
      const file = path.join(work, `${c.documentId}.mp4`);
      const metadata = path.join(work, `${c.documentId}.json`);
      await recording.downloadToPath(c.contentLocation, file);
      await recording.downloadToPath(c.metadataLocation, metadata);
      const whole = fs.readFileSync(file);
      const stream = await recording.downloadStreaming(c.contentLocation, { offset: 100, length: 1000 });
      const parts = [];
      for await (const p of stream) parts.push(p);
      check(Buffer.concat(parts).equals(whole.subarray(100, 1100)), "bytes 100-1099 of " + c.documentId);
      const tail = await recording.downloadStreaming(c.contentLocation, { offset: whole.length - 10 });
      const tparts = [];
      for await (const p of tail) tparts.push(p);
      check(Buffer.concat(tparts).equals(whole.subarray(whole.length - 10)), "the last 10 bytes of " + c.documentId);
      summary.chunks.push({ documentId: c.documentId, index: c.index, endReason: c.endReason, file, metadata });
    }

    // Deleting a chunk removes it at once.
    const last = chunks[chunks.length - 1];
    await recording.delete(last.deleteLocation);
    let gone = null;
    try {
      await recording.downloadToPath(last.contentLocation, path.join(work, "deleted.mp4"));
    } catch (e) {
      gone = e;
    }
    check(gone && gone.status === 404, "a deleted chunk answers 404 (got " + JSON.stringify(gone) + ")");
    summary.deletedDocumentId = last.documentId;
    fs.writeFileSync(path.join(work, "summary.json"), JSON.stringify(summary, null, 2));
  } finally {
    for (const id of [...senders.keys()]) stopSender(id);
    service.kill("SIGTERM");
    const end = await exited;
    webhook.server.close();
    callback.server.close();
    log("service exited", end.code, end.signal);
    if (end.code !== 0) throw new Error("the service did not exit 0 on SIGTERM: " + JSON.stringify(end));
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error("[sdk] FAILED:", e && e.stack ? e.stack : e);
    process.exit(1);
  },
);
