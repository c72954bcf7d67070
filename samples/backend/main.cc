// callrec-sample-backend OUTDIR: a minimal recording backend. Two participants send
// generated media for about two seconds of wall time — Ada 16-bit PCM (440 Hz) with a red
// camera, Bob PCM (660 Hz) without video — with a short pause; the recording lands in
// OUTDIR. Prints each event.
#include <chrono>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>
#include <thread>
#include <vector>

#include <callrec/session.h>

extern "C" {
#include <libavutil/frame.h>
}

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  if (argc != 2) {
    std::fprintf(stderr, "usage: callrec-sample-backend OUTDIR\n");
    return 2;
  }
  callrec::Session session({.out_dir = argv[1],
                            .call_id = "sample-call",
                            .jitter_window = 100ms,
                            .on_event = [](const callrec::SessionEvent& e) {
                              switch (e.kind) {
                                case callrec::SessionEventKind::kStateChanged:
                                  std::printf("state: %s (%s)\n", e.operation.c_str(), e.operation_context.c_str());
                                  break;
                                case callrec::SessionEventKind::kChunkFinished:
                                  std::printf("chunk: %s\n", e.data["chunkDocumentId"].get<std::string>().c_str());
                                  break;
                                case callrec::SessionEventKind::kRecordingFinished:
                                  std::printf("finished: %s ms\n",
                                              e.data["data"]["recordingDurationMs"].dump().c_str());
                                  break;
                                case callrec::SessionEventKind::kError:
                                  std::fprintf(stderr, "error: %s\n", e.message.c_str());
                                  break;
                              }
                            },
                            // FFmpeg's warnings and callrec's own, routed where the
                            // backend logs; without this they are dropped.
                            .log = {.callback =
                                        [](callrec::LogLevel level, std::string_view line) {
                                          std::fprintf(stderr, "%s: %.*s\n", callrec::to_string(level),
                                                       static_cast<int>(line.size()), line.data());
                                        },
                                    .level = callrec::LogLevel::kWarning}});
  const auto started = session.start("backend-start");
  if (!started.status) {
    std::fprintf(stderr, "start: %s\n", started.status.message().c_str());
    return 1;
  }
  session.join("8:acs:ada", "Ada Lovelace");
  session.join("8:acs:bob", "Bob");

  AVFrame* picture = av_frame_alloc();
  picture->format = 0;  // AV_PIX_FMT_YUV420P
  picture->width = 320;
  picture->height = 180;
  av_frame_get_buffer(picture, 0);
  for (int y = 0; y < 180; ++y) std::fill_n(picture->data[0] + y * picture->linesize[0], 320, uint8_t(91));
  for (int y = 0; y < 90; ++y) {
    std::fill_n(picture->data[1] + y * picture->linesize[1], 160, uint8_t(110));
    std::fill_n(picture->data[2] + y * picture->linesize[2], 160, uint8_t(198));
  }

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<int16_t> ada(320), bob(320);  // 20 ms at 16 kHz
  for (int block = 0; block < 125; ++block) {  // 2.5 s
    std::this_thread::sleep_until(t0 + block * 20ms);
    const callrec::MediaTime at = callrec::MediaTime::from_ms(block * 20);
    for (int i = 0; i < 320; ++i) {
      const double t = (block * 320 + i) / 16000.0;
      ada[i] = int16_t(8000 * std::sin(2 * M_PI * 440 * t));
      bob[i] = int16_t(8000 * std::sin(2 * M_PI * 660 * t));
    }
    session.push_pcm("8:acs:ada", ada, 16000, 1, at);
    session.push_pcm("8:acs:bob", bob, 16000, 1, at);
    if (block % 4 == 0) session.push_video_frame("8:acs:ada", *picture, at);
    if (block == 50) session.pause("backend-pause");
    if (block == 62) session.resume("backend-resume");
  }
  av_frame_free(&picture);
  session.stop("backend-stop");
  const callrec::Status done = session.wait();
  if (!done) {
    std::fprintf(stderr, "recording failed: %s\n", done.message().c_str());
    return 1;
  }
  std::printf("recording %s written to %s\n", started.recording_id.c_str(), argv[1]);
  return 0;
}
