// Writes the fuzzers' seed corpora from media the project generates (mediagen, libopus),
// so no binary blobs are committed:
//   callrec-fuzz-seeds OUT_DIR  ->  OUT_DIR/{manifest,media,opus,video,session,rtp,rtcp,sdp,
//                                          vp8_depacketizer,h264_depacketizer,rtp_receiver,http}/...
#include <opus/opus.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "callrec/core/error.h"
#include "callrec/ingest/rtcp_packets.h"
#include "callrec/mediagen/media_generator.h"
#include "rtp_packetizer.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
}

namespace {

namespace fs = std::filesystem;
namespace mg = callrec::mediagen;

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// One harness record: [flags u8][delta_ms i16 BE][length u16 BE][bytes].
void append_record(std::string& out, uint8_t flags, int16_t delta_ms, const uint8_t* data, size_t size) {
  out += static_cast<char>(flags);
  out += static_cast<char>((static_cast<uint16_t>(delta_ms) >> 8) & 0xff);
  out += static_cast<char>(static_cast<uint16_t>(delta_ms) & 0xff);
  out += static_cast<char>((size >> 8) & 0xff);
  out += static_cast<char>(size & 0xff);
  out.append(reinterpret_cast<const char*>(data), size);
}

void manifest_seeds(const fs::path& dir) {
  const std::string head = R"({"callId": "c0ffee", "recordingStartTime": "2026-11-27T10:00:00Z", )";
  write_file(dir / "full.json",
             head + R"("resourceId": "r", "recordingId": "rec", "maxChunkBytes": 1048576, "participants": [
  {"participantId": "8:acs:ada", "displayName": "Ada", "media": [{"file": "ada.webm", "offsetMs": 0},
     {"file": "ada-screen.mp4", "offsetMs": 42000, "role": "screen"}]},
  {"participantId": "8:acs:bob", "media": [{"file": "calls/bob.mp4", "offsetMs": 3000, "role": "camera"}]}],
  "timeline": [{"atMs": 0, "action": "start"}, {"atMs": 20000, "action": "pause"},
               {"atMs": 35000, "action": "resume"}, {"atMs": 60000, "action": "stop"}]})");
  write_file(dir / "minimal.json", head + R"("participants": [{"participantId": "a"}]})");
  write_file(dir / "paths.json", head + R"("participants": [{"participantId": "a", "media": [
  {"file": "../x.webm"}, {"file": "concat:a|b"}, {"file": "/etc/passwd"}, {"file": "x.m3u8"}, {"file": "i%03d.png"}]}]})");
  write_file(dir / "types.json", head + R"("maxChunkBytes": 1.5e9, "participants": [{"participantId": 7,
  "media": {"file": null}}], "timeline": [{"atMs": -1, "action": "rewind"}]})");
}

void media_seeds(const fs::path& dir) {
  const mg::AudioSpec opus{.tones = {{0, 400, 440, 0.3}}};
  const mg::VideoSpec vp8{.width = 64, .height = 48, .fps = 10, .moving_square = true};
  mg::write_media(dir / "vp8-opus.webm", {.duration_ms = 400, .video = vp8, .audio = opus});
  // A browser's simulcast VP8: pictures nothing refers to, which the renderer may skip.
  mg::write_media(dir / "vp8-layers.webm",
                  {.duration_ms = 400,
                   .video = mg::VideoSpec{.width = 64, .height = 48, .fps = 30, .temporal_layers = 3},
                   .audio = opus});
  mg::write_media(dir / "h264-aac.mp4",
                  {.duration_ms = 400, .video = mg::VideoSpec{.width = 64, .height = 48, .fps = 10, .encoder = "libx264"},
                   .audio = mg::AudioSpec{.sample_rate_hz = 16000, .tones = {{0, 400, 880, 0.3}}, .encoder = "aac"}});
  mg::write_media(dir / "opus.ogg", {.duration_ms = 300, .audio = opus});
  mg::write_media(dir / "pcm.wav", {.duration_ms = 100, .audio = mg::AudioSpec{.sample_rate_hz = 8000,
                                                                                .tones = {{0, 100, 440, 0.3}},
                                                                                .encoder = "pcm_s16le"}});
  mg::write_media(dir / "mpeg4.mkv", {.duration_ms = 300,
                                      .video = mg::VideoSpec{.width = 48, .height = 32, .fps = 10, .encoder = "mpeg4"}});
}

void opus_seeds(const fs::path& dir) {
  int error = 0;
  OpusEncoder* enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &error);
  if (enc == nullptr) throw callrec::Error("opus_encoder_create failed");
  opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(1));
  opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(20));
  std::vector<float> pcm(960);
  uint8_t packet[1500];
  std::string steady, lossy;
  for (int n = 0; n < 25; ++n) {
    for (size_t i = 0; i < pcm.size(); ++i)
      pcm[i] = 0.3f * static_cast<float>(std::sin(2 * M_PI * 440 * static_cast<double>(n * 960 + i) / 48000));
    const int bytes = opus_encode_float(enc, pcm.data(), 960, packet, sizeof packet);
    if (bytes < 0) continue;
    // Flags bit 0: the clock moves on with the sender's timestamps (fuzz/opus_push_fuzzer.cc).
    append_record(steady, 1, 20, packet, static_cast<size_t>(bytes));
    if (n % 3 != 1) append_record(lossy, 1, n % 3 == 2 ? 40 : 20, packet, static_cast<size_t>(bytes));
  }
  opus_encoder_destroy(enc);
  write_file(dir / "steady", steady);
  write_file(dir / "lossy", lossy);
}

// Packets of a generated file's video stream, as the video harness reads them.
void video_seed(const fs::path& media, const fs::path& out, uint8_t codec_byte, const char* bsf_name) {
  AVFormatContext* in = nullptr;
  if (avformat_open_input(&in, media.c_str(), nullptr, nullptr) < 0) throw callrec::Error("cannot read " + media.string());
  avformat_find_stream_info(in, nullptr);
  const int v = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  AVBSFContext* bsf = nullptr;
  av_bsf_alloc(av_bsf_get_by_name(bsf_name), &bsf);
  avcodec_parameters_copy(bsf->par_in, in->streams[v]->codecpar);
  av_bsf_init(bsf);
  std::string records(1, static_cast<char>(codec_byte));
  AVPacket* pkt = av_packet_alloc();
  int n = 0;
  while (av_read_frame(in, pkt) >= 0) {
    if (pkt->stream_index != v) {
      av_packet_unref(pkt);
      continue;
    }
    av_bsf_send_packet(bsf, pkt);
    while (av_bsf_receive_packet(bsf, pkt) >= 0) {
      // 10 fps; the clock moves on with the timestamps (fuzz/video_packet_fuzzer.cc).
      append_record(records, 1, 100, pkt->data, static_cast<size_t>(pkt->size));
      av_packet_unref(pkt);
      ++n;
    }
  }
  av_packet_free(&pkt);
  av_bsf_free(&bsf);
  avformat_close_input(&in);
  write_file(out, records);
}

// One live-session harness record: [op][a][b][c][t][length u16 BE][bytes]
// (fuzz/live_session_fuzzer.cc).
void append_op(std::string& out, uint8_t op, uint8_t a, uint8_t b, uint8_t c, int8_t t, const std::string& bytes = {}) {
  out += static_cast<char>(op);
  out += static_cast<char>(a);
  out += static_cast<char>(b);
  out += static_cast<char>(c);
  out += static_cast<char>(t);
  out += static_cast<char>((bytes.size() >> 8) & 0xff);
  out += static_cast<char>(bytes.size() & 0xff);
  out += bytes;
}

// A small call: three participants speak (PCM and 48 kHz s16 frames), show pictures,
// one leaves and comes back, a pause, a screen share; every 20 ms the clock moves on.
void session_seeds(const fs::path& dir) {
  std::string call;
  std::string tone(640, '\0');
  for (size_t i = 0; i + 1 < tone.size(); i += 2) {
    const auto v = static_cast<int16_t>(8000 * std::sin(2 * M_PI * 440 * static_cast<double>(i / 2) / 16000));
    tone[i] = static_cast<char>(v & 0xff);
    tone[i + 1] = static_cast<char>((v >> 8) & 0xff);
  }
  const std::string grey(64 * 4, static_cast<char>(128));
  for (int tick = 0; tick < 100; ++tick) {
    append_op(call, 2, 19, 1, 0, 0, tone);                 // 16 kHz mono PCM, participant 0
    append_op(call, 0, 5, 3, 7, 0, tone + tone);           // 48 kHz s16 7-channel frame, participant 1
    if (tick % 5 == 0) append_op(call, 1, 10, 0, 26, 0, grey);  // a 60x105 yuv420p picture, participant 2
    if (tick == 30) append_op(call, 4, 1, 0, 0, 0);         // participant 1 leaves...
    if (tick == 50) append_op(call, 4, 1, 0, 0, 0);         // ...and comes back
    if (tick == 60 || tick == 70) append_op(call, 5, 0, 0, 0, 0);  // pause, resume
    if (tick == 80) append_op(call, 6, 2, 1, 0, 0);         // participant 2 shares a screen
    append_op(call, 3, 5, 0, 0, 0);                         // 20 ms pass
  }
  write_file(dir / "call", call);
}

// The video packets of a generated file (Annex B for H.264), for the ingest seeds.
std::vector<std::vector<uint8_t>> video_packets(const fs::path& media, const char* bsf_name) {
  AVFormatContext* in = nullptr;
  if (avformat_open_input(&in, media.c_str(), nullptr, nullptr) < 0) throw callrec::Error("cannot read " + media.string());
  avformat_find_stream_info(in, nullptr);
  const int v = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  AVBSFContext* bsf = nullptr;
  av_bsf_alloc(av_bsf_get_by_name(bsf_name), &bsf);
  avcodec_parameters_copy(bsf->par_in, in->streams[v]->codecpar);
  av_bsf_init(bsf);
  std::vector<std::vector<uint8_t>> out;
  AVPacket* pkt = av_packet_alloc();
  while (av_read_frame(in, pkt) >= 0) {
    if (pkt->stream_index == v) {
      av_bsf_send_packet(bsf, pkt);
      while (av_bsf_receive_packet(bsf, pkt) >= 0) {
        out.emplace_back(pkt->data, pkt->data + pkt->size);
        av_packet_unref(pkt);
      }
    }
    av_packet_unref(pkt);
  }
  av_packet_free(&pkt);
  av_bsf_free(&bsf);
  avformat_close_input(&in);
  return out;
}

std::string bytes_of(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

// Seeds for the ingest harnesses: real VP8 and H.264 frames packetized as senders do,
// Opus packets, sender reports, and SDPs as ffmpeg and plain transports write them.
void ingest_seeds(const fs::path& out, const fs::path& media) {
  namespace in = callrec::ingest;
  namespace it = callrec::ingest::test;
  for (const char* sub : {"rtp", "rtcp", "sdp", "vp8_depacketizer", "h264_depacketizer", "rtp_receiver"})
    fs::create_directories(out / sub);
  const auto vp8 = video_packets(media / "vp8-opus.webm", "null");
  const auto h264 = video_packets(media / "h264-aac.mp4", "h264_mp4toannexb");

  // Depacketizer records: [flags][length u16][payload]; flags bit 0 marker, bit 1 new timestamp.
  auto depacketizer_records = [](const std::vector<std::vector<std::vector<uint8_t>>>& frames) {
    std::string records;
    for (const auto& payloads : frames) {
      for (size_t i = 0; i < payloads.size(); ++i) {
        const uint8_t flags = static_cast<uint8_t>((i + 1 == payloads.size() ? 1 : 0) | (i == 0 ? 2 : 0));
        records += static_cast<char>(flags);
        records += static_cast<char>(payloads[i].size() >> 8);
        records += static_cast<char>(payloads[i].size() & 0xff);
        records += bytes_of(payloads[i]);
      }
    }
    return records;
  };
  std::vector<std::vector<std::vector<uint8_t>>> vp8_frames, vp8_layered, h264_frames;
  for (size_t i = 0; i < vp8.size(); ++i) {
    vp8_frames.push_back(it::packetize_vp8(vp8[i], {.picture_id = static_cast<int>(i)}, 300));
    const int tid = std::vector<int>{0, 2, 1, 2}[i % 4];
    vp8_layered.push_back(it::packetize_vp8(vp8[i], {.picture_id = static_cast<int>(i), .tl0_pic_idx = static_cast<int>(i / 4),
                                                     .temporal_layer = tid, .layer_sync = i < 4},
                                            300));
  }
  for (const auto& au : h264) h264_frames.push_back(it::packetize_h264(au, 300));
  write_file(out / "vp8_depacketizer" / "frames", depacketizer_records(vp8_frames));
  write_file(out / "vp8_depacketizer" / "layers", depacketizer_records(vp8_layered));
  write_file(out / "h264_depacketizer" / "stap-fu", depacketizer_records(h264_frames));

  // Single datagrams.
  it::RtpSequenceWriter vp8_writer(96, 0xb0), h264_writer(102, 0xc0);
  const auto vp8_packets = vp8_writer.frame(vp8_frames.at(0), 3000);
  const auto h264_packets = h264_writer.frame(h264_frames.at(0), 3000);
  write_file(out / "rtp" / "vp8", bytes_of(vp8_packets.at(0)));
  write_file(out / "rtp" / "h264", bytes_of(h264_packets.at(0)));
  {
    std::vector<uint8_t> packet(64);
    const uint8_t level[] = {0x85};
    const uint8_t opus[] = {0xfc, 0xff, 0xfe};
    const std::pair<int, std::span<const uint8_t>> ext[] = {{1, level}};
    size_t written = 0;
    in::write_rtp_packet({.payload_type = 111, .sequence_number = 7, .timestamp = 960, .ssrc = 0xa0}, opus, packet,
                         written, ext);
    packet.resize(written);
    write_file(out / "rtp" / "opus-level", bytes_of(packet));
  }
  std::vector<uint8_t> rtcp(256);
  in::SenderReport sr{.ssrc = 0xa0, .ntp = in::NtpTime::from_us(3'900'000'000'000'000), .rtp_timestamp = 960,
                      .packet_count = 10, .octet_count = 1000, .blocks = {in::ReportBlock{.ssrc = 5, .cumulative_lost = -2}}};
  size_t n = sr.serialize(rtcp);
  n += in::serialize_sdes_cname(0xa0, "sender@example", std::span<uint8_t>(rtcp).subspan(n));
  n += in::FeedbackPli{1, 0xa0}.serialize(std::span<uint8_t>(rtcp).subspan(n));
  rtcp.resize(n);
  write_file(out / "rtcp" / "sr-sdes-pli", bytes_of(rtcp));

  write_file(out / "sdp" / "ffmpeg",
             "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
             "m=audio 5002 RTP/AVP 97\r\nb=AS:64\r\na=rtpmap:97 opus/48000/2\r\na=fmtp:97 sprop-stereo=1\r\n"
             "m=video 5004 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
             "a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z0LAHtkA,aMuDyyA=; profile-level-id=42C01E\r\n");
  write_file(out / "sdp" / "plain-transport",
             "v=0\nc=IN IP6 ::1\nm=audio 6000 RTP/AVPF 111\na=rtpmap:111 opus/48000/2\na=rtcp-mux\n"
             "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level vad=on\nm=video 6002 RTP/AVP 96 102\n"
             "a=rtcp:7000\na=rtpmap:96 VP8/90000\na=rtpmap:102 H264/90000\na=content:slides\n");

  // Receiver records: [select][delta_ms][length u16][datagram]; select bits 0-1 stream,
  // bit 2 RTCP port.
  std::string call;
  auto record = [&](int stream, bool rtcp_port, int delta_ms, const std::vector<uint8_t>& datagram) {
    call += static_cast<char>(stream | (rtcp_port ? 4 : 0));
    call += static_cast<char>(delta_ms);
    call += static_cast<char>(datagram.size() >> 8);
    call += static_cast<char>(datagram.size() & 0xff);
    call += bytes_of(datagram);
  };
  record(0, true, 0, rtcp);
  in::SenderReport video_sr{.ssrc = 0xb0, .ntp = in::NtpTime::from_us(3'900'000'000'000'000), .rtp_timestamp = 3000};
  std::vector<uint8_t> video_rtcp(64);
  video_rtcp.resize(video_sr.serialize(video_rtcp));
  record(1, true, 0, video_rtcp);
  it::RtpSequenceWriter opus_writer(111, 0xa0), vp8_call(96, 0xb0), h264_call(102, 0xc0);
  const std::vector<uint8_t> opus = {0xfc, 0x01, 0x02, 0x03};
  for (size_t i = 0; i < std::max(vp8_frames.size(), h264_frames.size()); ++i) {
    for (const auto& p : opus_writer.frame({opus}, static_cast<uint32_t>(960 * 5 * i))) record(0, false, 20, p);
    if (i < vp8_frames.size())
      for (const auto& p : vp8_call.frame(vp8_frames[i], static_cast<uint32_t>(3000 + 9000 * i))) record(1, false, 1, p);
    if (i < h264_frames.size())
      for (const auto& p : h264_call.frame(h264_frames[i], static_cast<uint32_t>(3000 + 9000 * i))) record(2, false, 1, p);
  }
  write_file(out / "rtp_receiver" / "call", call);
}

// HTTP requests for fuzz_service_http: [flags][request]; flags & 1 signs it.
void http_seeds(const fs::path& dir) {
  const std::string call = "aHR0cHM6Ly9jb252LmV4YW1wbGUvY29udmVyc2F0aW9ucy80Mg";
  auto request = [](const std::string& method, const std::string& target, const std::string& body,
                    const std::string& extra = "") {
    return method + " " + target + " HTTP/1.1\r\nHost: fuzz.example\r\nContent-Type: application/json\r\n" + extra +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  const std::string sdp = R"(v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n)"
                          R"(m=audio 5004 RTP/AVP 97\r\na=rtpmap:97 opus/48000/2\r\n)";
  const std::vector<std::pair<std::string, std::string>> seeds = {
      {"reference-start", request("POST", "/conversations/" + call + "/Recordings",
                                   R"({"operationContext":"op","recordingStateCallbackUri":"https://cb.example/x"})")},
      {"reference-state", request("GET", "/conversations/" + call + "/recordings/00000000-0000-4000-8000-000000000000", "")},
      {"reference-pause", request("POST", "/conversations/" + call + "/recordings/abc/Pause", R"({"operationContext":"p"})")},
      {"today-start", request("POST", "/calling/recordings?api-version=2023-10-15",
                              R"({"callLocator":{"kind":"serverCallLocator","serverCallId":")" + call +
                                  R"("},"recordingContentType":"audioVideo","recordingChannelType":"mixed","recordingFormatType":"mp4","pauseOnStart":false})",
                              "Repeatability-Request-ID: 6c1f2b3a-0000-4000-8000-000000000001\r\n")},
      {"today-pause", request("POST", "/calling/recordings/abc:pause?api-version=2023-10-15", "")},
      {"today-stop", request("DELETE", "/calling/recordings/abc?api-version=2023-10-15", "")},
      {"join", request("POST", "/calling/calls/" + call + "/participants",
                       R"({"participantId":"8:acs:ada","displayName":"Ada","sdp":")" + sdp + R"("})")},
      {"leave", request("DELETE", "/calling/calls/" + call + "/participants/8:acs:ada", "")},
      {"download", request("GET", "/recording/download/0123456789abcdef0123456789abcdef-000000", "",
                           "Range: bytes=10-20\r\nx-ms-host: fuzz.example\r\nOriginalUrl: https://x/y\r\n")},
      {"metadata", request("GET", "/recording/download/0123456789abcdef0123456789abcdef-000000/metadata", "")},
      {"traversal", request("GET", "/recording/download/..%2F..%2Fetc%2Fpasswd", "")},
      {"stats", request("GET", "/callrec/recordings/abc/stats", "")},
      {"chunked", "POST /calling/recordings?api-version=2023-10-15 HTTP/1.1\r\nHost: f\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n"},
  };
  for (const auto& [name, text] : seeds) {
    write_file(dir / (name + "-signed"), std::string(1, '\x01') + text);
    write_file(dir / (name + "-unsigned"), std::string(1, '\x00') + text);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  av_log_set_level(AV_LOG_ERROR);
  const fs::path out(argv[1]);
  try {
    for (const char* sub : {"manifest", "media", "opus", "video", "session", "http"}) fs::create_directories(out / sub);
    http_seeds(out / "http");
    manifest_seeds(out / "manifest");
    media_seeds(out / "media");
    opus_seeds(out / "opus");
    video_seed(out / "media" / "h264-aac.mp4", out / "video" / "h264", 0, "h264_mp4toannexb");
    video_seed(out / "media" / "vp8-opus.webm", out / "video" / "vp8", 1, "null");
    session_seeds(out / "session");
    ingest_seeds(out, out / "media");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "callrec-fuzz-seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
