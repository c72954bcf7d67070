// Test helpers: generated periods, a fake annotator, and an MP4 inspector that decodes
// what the muxer wrote with libavformat/libavcodec.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
}

#include "callrec/core/av.h"
#include "callrec/core/error.h"
#include "callrec/muxer/recording_writer.h"

namespace callrec::muxer::testing {

// A fresh directory under the system temp dir, removed at destruction.
class TempDir {
 public:
  // Named after the running test, or `name` (outside a test: a suite's set-up).
  explicit TempDir(std::string name = {}) {
    if (name.empty()) name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    path_ = std::filesystem::temp_directory_path() /
            ("callrec-muxer-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  // Set CALLREC_KEEP_TEST_OUTPUT=1 to keep the files for a hand check.
  ~TempDir() {
    if (std::getenv("CALLREC_KEEP_TEST_OUTPUT") != nullptr) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  static int& counter() {
    static int next = 0;
    return next;
  }

  std::filesystem::path path_;
};

// Generates periods: a coloured canvas whose colour changes with time, with a noisy
// block (or full-frame noise) so the encoder has real work, and a 440 Hz tone.
class PeriodSource {
 public:
  // noise_fraction: share of luma rows filled with noise (1.0 = whole frame). Fresh
  // noise every period (no picture predicts another), or with `moving` one noise
  // texture sliding 4 pixels a period (motion an encoder predicts, with B-frames from
  // both sides).
  explicit PeriodSource(double noise_fraction, bool moving = false)
      : noise_fraction_(noise_fraction), moving_(moving), canvas_(av::make_frame()) {
    if (moving_) {
      texture_.resize(static_cast<size_t>(kVideoWidth) * kVideoHeight);
      for (uint8_t& v : texture_) v = static_cast<uint8_t>(next_random());
    }
    canvas_->format = AV_PIX_FMT_YUV420P;
    canvas_->width = kVideoWidth;
    canvas_->height = kVideoHeight;
    check_av(av_frame_get_buffer(canvas_.get(), 0), "test canvas");
    audio_.resize(kSamplesPerPeriod);
  }

  // Fills the (reused) canvas and audio for period `k`.
  void fill(int64_t k) {
    check_av(av_frame_make_writable(canvas_.get()), "test canvas writable");
    const int noisy_rows = static_cast<int>(kVideoHeight * noise_fraction_);
    for (int y = 0; y < kVideoHeight; ++y) {
      uint8_t* row = canvas_->data[0] + static_cast<ptrdiff_t>(y) * canvas_->linesize[0];
      if (y < noisy_rows && moving_) {
        const uint8_t* texture = texture_.data() + static_cast<ptrdiff_t>(y) * kVideoWidth;
        for (int x = 0; x < kVideoWidth; ++x) row[x] = texture[(x + 4 * k) % kVideoWidth];
      } else if (y < noisy_rows) {
        for (int x = 0; x < kVideoWidth; ++x) row[x] = static_cast<uint8_t>(next_random());
      } else {
        std::fill(row, row + kVideoWidth, static_cast<uint8_t>(16 + (k * 7 + y / 8) % 200));
      }
    }
    for (int plane = 1; plane < 3; ++plane) {
      for (int y = 0; y < kVideoHeight / 2; ++y) {
        uint8_t* row = canvas_->data[plane] + static_cast<ptrdiff_t>(y) * canvas_->linesize[plane];
        std::fill(row, row + kVideoWidth / 2, static_cast<uint8_t>(64 + plane * 40 + (k * 3) % 64));
      }
    }
    for (int i = 0; i < kSamplesPerPeriod; ++i) {
      const double t = static_cast<double>(k * kSamplesPerPeriod + i) / kSampleRateHz;
      audio_[static_cast<size_t>(i)] = static_cast<float>(0.5 * std::sin(2 * M_PI * 440.0 * t));
    }
  }

  const AVFrame& canvas() const { return *canvas_; }
  std::span<const float> audio() const { return audio_; }

 private:
  uint32_t next_random() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return state_;
  }

  double noise_fraction_;
  bool moving_;
  std::vector<uint8_t> texture_;  // with moving_
  av::FramePtr canvas_;
  std::vector<float> audio_;
  uint32_t state_ = 2463534242u;
};

// Records every annotate() call; pauses are placed at output positions (in periods).
class FakeAnnotator : public ChunkAnnotator {
 public:
  struct Call {
    int64_t start_frames;
    int64_t end_frames;
    bool last;
  };

  WallClock start{1'795'000'000'000'000};  // 2026-11-18T...Z
  std::vector<int64_t> pause_positions_frames;
  std::vector<Call> calls;
  std::vector<nlohmann::json> written;

  ChunkAnnotation annotate(MediaTime output_start, MediaTime output_end, bool last_chunk) override {
    const int64_t s = output_start.rescaled(kVideoTimeBase).ticks();
    const int64_t e = output_end.rescaled(kVideoTimeBase).ticks();
    calls.push_back({s, e, last_chunk});
    ChunkAnnotation a;
    a.start_time = WallClock{start.unix_us + output_start.us()};
    for (int64_t p : pause_positions_frames) {
      if ((p >= s && p < e) || (last_chunk && p == e)) {
        a.pauses.push_back({WallClock{start.unix_us + p * 125'000}, 1500});
      }
    }
    a.participant_ids = {"8:acs:alice", "chunk-" + std::to_string(calls.size() - 1)};
    a.extra = {{"engineNote", "from-annotator"}};
    return a;
  }
  void chunk_written(const nlohmann::json& metadata) override { written.push_back(metadata); }
};

struct StreamReport {
  std::string codec;
  int width = 0, height = 0, format = -1;
  int sample_rate = 0, channels = 0, profile = -1;
  AVRational avg_frame_rate{0, 1};
  int64_t packets = 0;
  double bytes = 0;  // of the packets
  int64_t decoded_frames = 0;
  int64_t decoded_samples = 0;
  int64_t b_frames = 0;  // decoded pictures of type B
  int64_t first_pts = -1;
  int64_t last_frame_pts = -1;  // the latest decoded frame's pts (presentation end)
  AVRational time_base{0, 1};
  bool first_packet_key = false;
  int decoded_format = -1;
};

struct Mp4Report {
  std::vector<std::string> top_level_boxes;
  StreamReport video, audio;
};

inline std::vector<std::string> top_level_boxes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> boxes;
  const uint64_t file_size = std::filesystem::file_size(path);
  uint64_t offset = 0;
  while (offset + 8 <= file_size) {
    in.seekg(static_cast<std::streamoff>(offset));
    unsigned char header[16];
    in.read(reinterpret_cast<char*>(header), 8);
    uint64_t size = (uint64_t{header[0]} << 24) | (uint64_t{header[1]} << 16) | (uint64_t{header[2]} << 8) | header[3];
    boxes.emplace_back(reinterpret_cast<char*>(header + 4), 4);
    if (size == 1) {
      in.read(reinterpret_cast<char*>(header + 8), 8);
      size = 0;
      for (int i = 8; i < 16; ++i) size = (size << 8) | header[i];
    } else if (size == 0) {
      size = file_size - offset;
    }
    if (size < 8) break;
    offset += size;
  }
  return boxes;
}

// Demuxes and decodes every packet of the file; `on_picture` sees each decoded picture,
// in presentation order.
inline Mp4Report inspect_mp4(const std::filesystem::path& path,
                             const std::function<void(const AVFrame&)>& on_picture = {}) {
  Mp4Report report;
  report.top_level_boxes = top_level_boxes(path);
  AVFormatContext* raw = nullptr;
  check_av(avformat_open_input(&raw, path.c_str(), nullptr, nullptr), path.string() + ": open");
  av::InputFormatPtr input(raw);
  check_av(avformat_find_stream_info(input.get(), nullptr), "find_stream_info");
  std::vector<av::CodecContextPtr> decoders(input->nb_streams);
  std::vector<StreamReport*> reports(input->nb_streams, nullptr);
  for (unsigned i = 0; i < input->nb_streams; ++i) {
    const AVCodecParameters* par = input->streams[i]->codecpar;
    StreamReport* r = par->codec_type == AVMEDIA_TYPE_VIDEO ? &report.video : &report.audio;
    reports[i] = r;
    r->codec = avcodec_get_name(par->codec_id);
    r->width = par->width;
    r->height = par->height;
    r->format = par->format;
    r->sample_rate = par->sample_rate;
    r->channels = par->ch_layout.nb_channels;
    r->profile = par->profile;
    r->avg_frame_rate = input->streams[i]->avg_frame_rate;
    r->time_base = input->streams[i]->time_base;
    const AVCodec* codec = avcodec_find_decoder(par->codec_id);
    decoders[i].reset(avcodec_alloc_context3(codec));
    check_av(avcodec_parameters_to_context(decoders[i].get(), par), "decoder params");
    check_av(avcodec_open2(decoders[i].get(), codec, nullptr), "open decoder");
  }
  av::PacketPtr packet = av::make_packet();
  av::FramePtr frame = av::make_frame();
  auto drain = [&](unsigned i) {
    while (avcodec_receive_frame(decoders[i].get(), frame.get()) >= 0) {
      reports[i]->decoded_frames++;
      reports[i]->decoded_samples += frame->nb_samples;
      reports[i]->decoded_format = frame->format;
      if (frame->pict_type == AV_PICTURE_TYPE_B) reports[i]->b_frames++;
      if (on_picture && reports[i] == &report.video) on_picture(*frame);
      reports[i]->last_frame_pts = std::max(reports[i]->last_frame_pts, frame->best_effort_timestamp);
    }
  };
  while (av_read_frame(input.get(), packet.get()) >= 0) {
    const unsigned i = static_cast<unsigned>(packet->stream_index);
    StreamReport* r = reports[i];
    if (r->packets == 0) {
      r->first_pts = packet->pts;
      r->first_packet_key = (packet->flags & AV_PKT_FLAG_KEY) != 0;
    }
    r->packets++;
    r->bytes += packet->size;
    check_av(avcodec_send_packet(decoders[i].get(), packet.get()), "decode");
    av_packet_unref(packet.get());
    drain(i);
  }
  for (unsigned i = 0; i < input->nb_streams; ++i) {
    avcodec_send_packet(decoders[i].get(), nullptr);
    drain(i);
  }
  return report;
}

inline nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// Files in `dir` with `extension`, sorted by name, excluding recording.json and hidden
// (temporary or state) files.
inline std::vector<std::filesystem::path> files_with_extension(const std::filesystem::path& dir,
                                                               const std::string& extension) {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() == extension && name != "recording.json" && name.front() != '.') {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace callrec::muxer::testing
