#!/usr/bin/env bash
# The reference routes (and a few of today's) with curl and requests signed here with
# openssl — an implementation of the signature independent of callrec's — against
# `callrec serve`, with every error path: 400, 401, 404, 409, 413, 416, and HTTPS only
# when a certificate is given. Also callrec's report route (the page of a recording).
#   reference_routes_curl_test.sh CALLREC_BINARY WORK_DIR
set -euo pipefail
CALLREC="$1"
WORK="$2"
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
head -c 32 /dev/urandom | base64 > key
KEY_HEX=$(base64 -d < key | od -An -tx1 | tr -d ' \n')
failures=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

start_service() {  # start_service LOG ARGS...
  local log="$1"; shift
  "$CALLREC" serve --listen 127.0.0.1:0 --storage "$WORK/storage" --access-key-file key --max-chunk-bytes 65536 "$@" \
    2>"$log" &
  SERVICE_PID=$!
  for _ in $(seq 1 200); do
    PORT=$(grep -o 'listening on https\?://127.0.0.1:[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    [ -n "$PORT" ] && return 0
    sleep 0.05
  done
  echo "the service did not start:"; cat "$log"; exit 1
}

# signed METHOD PATH [BODY] [extra curl args...]: prints "STATUS BODY" (body on one line).
# BODY "@FILE" sends the file.
SCHEME=http
CURL_TLS=()
signed() {
  local method="$1" target="$2" body="${3:-}"; shift 3 || shift $#
  local date hash sig host="127.0.0.1:$PORT"
  date=$(LC_ALL=C TZ=GMT date -u '+%a, %d %b %Y %H:%M:%S GMT')
  if [ "${body:0:1}" = "@" ]; then
    hash=$(openssl dgst -sha256 -binary < "${body:1}" | base64)
  else
    hash=$(printf '%s' "$body" | openssl dgst -sha256 -binary | base64)
  fi
  sig=$(printf '%s\n%s\n%s;%s;%s' "$method" "$target" "$date" "$host" "$hash" |
        openssl dgst -sha256 -mac HMAC -macopt "hexkey:$KEY_HEX" -binary | base64)
  curl -s "${CURL_TLS[@]}" -o "$WORK/body" -w '%{http_code}' -X "$method" "$SCHEME://$host$target" \
    -H "x-ms-date: $date" -H "x-ms-content-sha256: $hash" \
    -H "Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=$sig" \
    -H 'Content-Type: application/json' ${body:+--data-binary "$body"} "$@"
  printf ' '
  tr -d '\n\0' < "$WORK/body"
}

expect() {  # expect WHAT STATUS "RESPONSE" [GREP-PATTERN]
  local what="$1" status="$2" response="$3" pattern="${4:-}"
  if [ "${response%% *}" != "$status" ]; then fail "$what: want $status, got ${response:0:300}"; return; fi
  if [ -n "$pattern" ] && ! grep -q -- "$pattern" <<<"$response"; then fail "$what: no $pattern in ${response:0:300}"; return; fi
  pass "$what ($status)"
}
# The error model: {"error": {"code", "message", "target", "details"}}.
ERR='"error":{"code":"[A-Za-z]*","details":\[\],"message":"'

start_service "$WORK/serve.log"
trap 'kill -9 $SERVICE_PID 2>/dev/null || true' EXIT
CONV=$("$CALLREC" conversation-id "https://conversations.example/conversations/curl-test")
[ "$("$CALLREC" conversation-id --decode "$CONV")" = "https://conversations.example/conversations/curl-test" ] \
  && pass "conversation-id round trip" || fail "conversation-id round trip"
CB="http://127.0.0.1:9/callback"  # nobody listens: events wait in the outbox, the routes do not

# Two participants in the call before the recording starts, a third joins while it runs.
# Each offer names a port of 127.0.0.1 where callrec is to listen (as `ffmpeg -sdp_file`
# writes it): callrec binds it at the join and answers with it. A port some other program
# holds gets a 400 naming it; the join is tried again on another.
offer() {  # offer PORT [CODEC-LINES]: the SDP, with \r\n escapes for a JSON string
  printf 'v=0\\r\\no=- 0 0 IN IP4 127.0.0.1\\r\\ns=-\\r\\nc=IN IP4 127.0.0.1\\r\\nt=0 0\\r\\n%s' \
    "${2:-m=audio $1 RTP/AVP 97\\r\\na=rtpmap:97 opus/48000/2\\r\\n}"
}
join() {  # join ID NAME: sets JOINED_PORT
  local r port
  for _ in $(seq 1 20); do
    port=$(( (RANDOM % 15000) * 2 + 20000 ))
    r=$(signed POST "/calling/calls/$CONV/participants" \
      "{\"participantId\":\"$1\",\"displayName\":\"$2\",\"sdp\":\"$(offer $port)\"}")
    [[ "$r" == 400* && "$r" == *"cannot listen"* ]] || break
  done
  expect "$1 joins" 201 "$r" "\"participantId\":\"$1\""
  expect "$1's answer: callrec listens on the offer's port" 201 "$r" "m=audio $port RTP/AVPF 97"
  JOINED_PORT=$port
}
join 8:acs:ada "Ada Lovelace"
join 8:acs:grace "Grace Hopper"
GRACE_PORT=$JOINED_PORT
# Bad offers: 400 InvalidSdp naming what is wrong; nobody joins.
bad_offer() {  # bad_offer WHAT SDP PATTERN
  expect "$1" 400 "$(signed POST "/calling/calls/$CONV/participants" \
    "{\"participantId\":\"8:acs:bad\",\"sdp\":\"$2\"}")" "\"code\":\"InvalidSdp\".*$3.*\"target\":\"sdp\""
}
bad_offer "offer with an unsupported codec" "$(offer 0 'm=video 30000 RTP/AVP 96\r\na=rtpmap:96 VP9/90000\r\n')" \
  'a=rtpmap:96 VP9/90000): codec VP9 is not supported'
bad_offer "offer for a port another participant holds" "$(offer "$GRACE_PORT")" "cannot listen on 127.0.0.1 port $GRACE_PORT"
bad_offer "offer with two audio streams" \
  "$(offer 0 "m=audio 30000 RTP/AVP 97\\r\\na=rtpmap:97 opus/48000/2\\r\\nm=audio 30010 RTP/AVP 97\\r\\na=rtpmap:97 opus/48000/2\\r\\n")" \
  'streams 0 and 1 are both audio streams'
bad_offer "offer that is not SDP" 'hello' 'SDP offer cannot be used'
expect "a refused participant is not in the call" 404 \
  "$(signed DELETE "/calling/calls/$CONV/participants/8:acs:bad" "")" '"code":"ParticipantNotFound"'
r=$(signed POST "/conversations/$CONV/Recordings" "{\"operationContext\":\"op-1\",\"recordingStateCallbackUri\":\"$CB\"}")
expect "start" 200 "$r" '"recordingId":"'
REC=$(sed 's/.*"recordingId":"\([^"]*\)".*/\1/' <<<"$r")
# No chunk can be finished yet (a 64 KiB chunk holds seconds of media).
r=$(signed GET "/callrec/recordings/$REC/report" "" -D "$WORK/headers")
expect "report before any chunk is finished" 409 "$r" '"code":"ReportNotReady"'
join 8:acs:alan "Alan Turing"
expect "state active" 200 "$(signed GET "/conversations/$CONV/recordings/$REC" "")" '"recordingState":"active"'
expect "second recording of the call" 409 \
  "$(signed POST "/conversations/$CONV/Recordings" "{\"recordingStateCallbackUri\":\"$CB\"}")" "$ERR"
expect "pause" 200 "$(signed POST "/conversations/$CONV/recordings/$REC/Pause" '{"operationContext":"op-2"}')"
expect "state inactive" 200 "$(signed GET "/conversations/$CONV/recordings/$REC" "")" '"recordingState":"inactive"'
expect "pause twice" 409 "$(signed POST "/conversations/$CONV/recordings/$REC/Pause" '{}')" '"code":"RecordingAlreadyPaused"'
expect "resume" 200 "$(signed POST "/conversations/$CONV/recordings/$REC/Resume" '{"operationContext":"op-3"}')"
expect "resume twice" 409 "$(signed POST "/conversations/$CONV/recordings/$REC/Resume" '{}')" '"code":"RecordingNotPaused"'
sleep 2
expect "stop" 200 "$(signed DELETE "/conversations/$CONV/recordings/$REC" '{"operationContext":"op-4"}')"
expect "stop twice" 409 "$(signed DELETE "/conversations/$CONV/recordings/$REC" '{}')" '"code":"RecordingStopped"'
expect "state after stop" 200 "$(signed GET "/conversations/$CONV/recordings/$REC" "")" '"recordingState":"inactive"'

# Error paths.
expect "unknown recording" 404 "$(signed GET "/conversations/$CONV/recordings/00000000-0000-4000-8000-000000000000" "")" \
  '"code":"RecordingNotFound"'
expect "recording of another conversation" 404 "$(signed GET "/conversations/b3RoZXI/recordings/$REC" "")" "$ERR"
expect "malformed JSON" 400 "$(signed POST "/conversations/$CONV/Recordings" '{"operationContext":')" '"code":"InvalidJson"'
expect "no callback" 400 "$(signed POST "/conversations/$CONV/Recordings" '{}')" '"target":"recordingStateCallbackUri"'
expect "callback not http(s)" 400 \
  "$(signed POST "/conversations/$CONV/Recordings" '{"recordingStateCallbackUri":"file:///etc/passwd"}')" \
  '"target":"recordingStateCallbackUri"'
expect "bad conversationId" 400 "$(signed GET "/conversations/a%2F..%2Fb/recordings/$REC" "")" '"code":"InvalidCallId"'
expect "traversal in a documentId" 400 "$(signed GET "/recording/download/..%2F..%2Fkey" "")" '"code":"InvalidDocumentId"'
expect "unknown route" 404 "$(signed GET "/conversations" "")" '"code":"UnknownRoute"'
expect "today's route without api-version" 400 "$(signed GET "/calling/recordings/$REC" "")" '"code":"MissingApiVersion"'
expect "today's route" 200 "$(signed GET "/calling/recordings/$REC?api-version=2023-10-15" "")" '"recordingState":"inactive"'
head -c 1100000 /dev/zero | tr '\0' 'a' > "$WORK/big"
expect "body over 1 MiB" 413 "$(signed POST "/conversations/$CONV/Recordings" "@$WORK/big")" '"code":"RequestTooLarge"'
# Unsigned, wrongly signed, replayed.
r=$(curl -s -o "$WORK/body" -w '%{http_code}' "http://127.0.0.1:$PORT/conversations/$CONV/recordings/$REC"; printf ' '; cat "$WORK/body")
expect "unsigned" 401 "$r" '"code":"Unauthorized"'
r=$(curl -s -o "$WORK/body" -w '%{http_code}' "http://127.0.0.1:$PORT/conversations/$CONV/recordings/$REC" \
  -H "x-ms-date: $(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S GMT')" -H "x-ms-content-sha256: 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" \
  -H "Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=AAAA"; printf ' '; cat "$WORK/body")
expect "wrong signature" 401 "$r" 'signature does not match'
old_date=$(LC_ALL=C date -u -d '-10 min' '+%a, %d %b %Y %H:%M:%S GMT')
old_sig=$(printf 'GET\n%s\n%s;%s;%s' "/conversations/$CONV/recordings/$REC" "$old_date" "127.0.0.1:$PORT" \
  "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$KEY_HEX" -binary | base64)
r=$(curl -s -o "$WORK/body" -w '%{http_code}' "http://127.0.0.1:$PORT/conversations/$CONV/recordings/$REC" \
  -H "x-ms-date: $old_date" -H "x-ms-content-sha256: 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" \
  -H "Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=$old_sig"; printf ' '; cat "$WORK/body")
expect "replayed 10 minutes later" 401 "$r" 'time window'

for _ in $(seq 1 100); do [ -f "$WORK/storage/recordings/$REC/recording.json" ] && break; sleep 0.1; done

# The report page of the stopped recording: the contact sheet and every participant's
# timeline; revalidated by its ETag; the error model for unknown and malformed ids.
r=$(signed GET "/callrec/recordings/$REC/report" "" -D "$WORK/headers")
cp "$WORK/body" "$WORK/report.html"
expect "report" 200 "$r" '<!DOCTYPE html>'
grep -qi '^content-type: text/html; charset=utf-8' "$WORK/headers" && grep -qi "^content-security-policy: default-src 'none'" "$WORK/headers" \
  && grep -qi '^cache-control: private, no-cache' "$WORK/headers" && pass "report headers" || fail "report headers: $(cat "$WORK/headers")"
figures=$(grep -o '<figure data-ms="[0-9]*"><img [^>]*src="data:image/jpeg;base64,' "$WORK/report.html" | wc -l || true)
grep -q '<section id="contact-sheet">' "$WORK/report.html" && [ "$figures" -ge 1 ] \
  && pass "report: contact sheet ($figures pictures)" || fail "report: no contact sheet ($figures pictures)"
for who in "8:acs:ada Ada Lovelace" "8:acs:grace Grace Hopper" "8:acs:alan Alan Turing"; do
  id=${who%% *}
  if grep -q "<g class=\"lane\" data-participant=\"$id\" data-kind=\"present\"[^>]*><rect class=\"span\" data-start-ms=\"[0-9]*\" data-end-ms=\"[0-9]*\"" "$WORK/report.html" \
     && grep -q ">${who#* }<title>$id</title>" "$WORK/report.html"; then
    pass "report: $id's timeline"; else fail "report: no timeline of $id"; fi
done
ETAG=$(grep -i '^etag: ' "$WORK/headers" | cut -d' ' -f2 | tr -d '\r')
expect "report unchanged (If-None-Match)" 304 "$(signed GET "/callrec/recordings/$REC/report" "" -H "If-None-Match: $ETAG")"
expect "report of an unknown recording" 404 \
  "$(signed GET "/callrec/recordings/00000000-0000-4000-8000-000000000000/report" "")" '"code":"RecordingNotFound"'
expect "report: traversal in the id" 400 "$(signed GET "/callrec/recordings/..%2F..%2Fkey/report" "")" '"code":"InvalidRecordingId"'
r=$(curl -s -o "$WORK/body" -w '%{http_code}' "http://127.0.0.1:$PORT/callrec/recordings/$REC/report"; printf ' '; cat "$WORK/body")
expect "report unsigned" 401 "$r" '"code":"Unauthorized"'

# Downloads: the chunk of the recording, whole, in a range, its metadata; then deleted.
DOC=$(ls "$WORK/storage/recordings/$REC" | grep -E '^[0-9a-f]{32}-[0-9]{6}\.mp4$' | head -1)
DOC=${DOC%.mp4}
[ -n "$DOC" ] && pass "the recording wrote a chunk" || fail "no chunk in $WORK/storage/recordings/$REC"
r=$(signed GET "/recording/download/$DOC" "" -D "$WORK/headers")
if [ "${r%% *}" = 200 ] && cmp -s "$WORK/body" "$WORK/storage/recordings/$REC/$DOC.mp4" && grep -qi '^content-type: video/mp4' "$WORK/headers" \
   && grep -qi '^etag: ' "$WORK/headers"; then pass "download (200, video/mp4, ETag, same bytes)"; else fail "download: ${r:0:200}"; fi
r=$(signed GET "/recording/download/$DOC" "" -H 'Range: bytes=10-19' -D "$WORK/headers")
if [ "${r%% *}" = 206 ] && grep -qi '^content-range: bytes 10-19/' "$WORK/headers" && grep -qi '^content-length: 10' "$WORK/headers" \
   && cmp -s "$WORK/body" <(tail -c +11 "$WORK/storage/recordings/$REC/$DOC.mp4" | head -c 10); then
  pass "range (206)"; else fail "range: $(cat "$WORK/headers")"; fi
expect "range past the end" 416 "$(signed GET "/recording/download/$DOC" "" -H 'Range: bytes=999999999-')" '"code":"RangeNotSatisfiable"'
expect "metadata" 200 "$(signed GET "/recording/download/$DOC/metadata" "")" "\"chunkDocumentId\": \"$DOC\""
expect "delete the chunk" 200 "$(signed DELETE "/recording/download/$DOC" "")"
expect "deleted chunk" 404 "$(signed GET "/recording/download/$DOC" "")" '"code":"DocumentNotFound"'
expect "deleted metadata" 404 "$(signed GET "/recording/download/$DOC/metadata" "")" '"code":"DocumentNotFound"'
[ ! -e "$WORK/storage/recordings/$REC/$DOC.mp4" ] && pass "the chunk's file is gone" || fail "the chunk's file is still there"
r=$(signed GET "/callrec/recordings/$REC/report" "" -H "If-None-Match: $ETAG" -D "$WORK/headers")
expect "report after the chunk was deleted" 200 "$r" "$DOC.mp4: missing"
grep -qi "^etag: $ETAG" "$WORK/headers" && fail "report: the same ETag after a chunk was deleted" || pass "report: a new ETag"

kill -TERM $SERVICE_PID
wait $SERVICE_PID && pass "SIGTERM: exit 0" || fail "SIGTERM: exit $?"

# With a certificate: HTTPS, and plain HTTP is refused.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
  -keyout tls.key -out tls.crt 2>/dev/null
start_service "$WORK/serve-tls.log" --tls-cert tls.crt --tls-key tls.key
SCHEME=https
CURL_TLS=(--cacert "$WORK/tls.crt")
expect "HTTPS" 200 "$(signed GET "/conversations/$CONV/recordings/$REC" "")" '"recordingState":"inactive"'
SCHEME=http
CURL_TLS=()
expect "plain HTTP to an HTTPS service" 400 "$(signed GET "/conversations/$CONV/recordings/$REC" "")" '"code":"TlsRequired"'
kill -TERM $SERVICE_PID
wait $SERVICE_PID || fail "SIGTERM (TLS): exit $?"
# Without a certificate it binds to loopback only.
if "$CALLREC" serve --listen 0.0.0.0:0 --storage "$WORK/storage" --access-key-file key 2>"$WORK/refused.log"; then
  fail "listening on 0.0.0.0 without TLS"
else
  grep -q "loopback only" "$WORK/refused.log" && pass "no TLS: loopback only" || fail "no TLS: $(cat "$WORK/refused.log")"
fi
trap - EXIT
echo "$failures failed"
[ "$failures" -eq 0 ]
