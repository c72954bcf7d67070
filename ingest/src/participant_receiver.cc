#include "callrec/ingest/participant_receiver.h"

#include <random>

namespace callrec::ingest {
namespace {
uint32_t random_ssrc() {
  std::random_device device;
  std::uniform_int_distribution<uint32_t> pick(1, 0xfffffffe);
  return pick(device);
}
}  // namespace

ParticipantReceiver::ParticipantReceiver(ParticipantMedia media, MediaSink& sink, RtcpSender& rtcp,
                                         ReceiverConfig config)
    : media_(std::move(media)), receiver_ssrc_(random_ssrc()), clock_(static_cast<int>(media_.streams.size())) {
  validate(media_, /*allow_any_port=*/true);
  for (size_t i = 0; i < media_.streams.size(); ++i)
    streams_.push_back(std::make_unique<RtpStreamReceiver>(static_cast<int>(i), media_.streams[i], config,
                                                           receiver_ssrc_, clock_, sink, rtcp));
}

void ParticipantReceiver::on_datagram(int stream, Channel channel, std::span<const uint8_t> data,
                                      const SourceAddress& from, int64_t arrival_us) {
  if (stream < 0 || stream >= stream_count()) return;
  streams_[static_cast<size_t>(stream)]->on_datagram(channel, data, from, arrival_us);
}

void ParticipantReceiver::on_timer(int64_t now_us) {
  for (auto& s : streams_) s->on_timer(now_us);
}

std::optional<int64_t> ParticipantReceiver::next_deadline_us() const {
  std::optional<int64_t> next;
  for (const auto& s : streams_) {
    const auto t = s->next_deadline_us();
    if (t && (!next || *t < *next)) next = t;
  }
  return next;
}

void ParticipantReceiver::request_keyframe(int stream, int64_t now_us) {
  if (stream < 0 || stream >= stream_count()) return;
  streams_[static_cast<size_t>(stream)]->request_keyframe(now_us);
}

}  // namespace callrec::ingest
