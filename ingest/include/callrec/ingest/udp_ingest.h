// UdpIngest: the sockets. Owns one network thread (Boost.Asio) that receives every
// participant's RTP and RTCP datagrams, stamps them with the Clock, and feeds each
// participant's ParticipantReceiver; it sends the receivers' RTCP (receiver reports,
// PLIs) back from the same sockets, and runs their timers every kTickUs.
//
//   callrec::ingest::SteadyClock clock;
//   callrec::ingest::UdpIngest ingest(clock);
//   auto id = ingest.add(callrec::ingest::SdpDescription::parse(sdp_text), sink);
//   ...                                   // sink.on_audio()/on_video() on the network thread
//   ingest.remove(id);
//
// Threading. Every method may be called from any thread; each runs its work on the
// network thread and waits for it (so add() throws there-made errors to the caller,
// and after remove() returns the sink is never called again). The sink must not call
// back into UdpIngest from on_audio()/on_video() (it would wait on its own thread).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "callrec/ingest/clock.h"
#include "callrec/ingest/media_sink.h"
#include "callrec/ingest/rtp_stream_receiver.h"
#include "callrec/ingest/sdp_description.h"

namespace callrec::ingest {

class UdpIngest {
 public:
  static constexpr int64_t kTickUs = 10'000;

  explicit UdpIngest(const Clock& clock);
  // Closes every socket and joins the network thread.
  ~UdpIngest();
  UdpIngest(const UdpIngest&) = delete;
  UdpIngest& operator=(const UdpIngest&) = delete;

  using ParticipantId = int;
  // Opens the participant's sockets: each stream's RTP port, and its RTCP port unless
  // muxed, on the stream's address. Port 0 binds any free port (ports() tells which).
  // Throws callrec::Error naming the address and port that could not be bound, or what
  // is wrong with `media`.
  ParticipantId add(ParticipantMedia media, MediaSink& sink, ReceiverConfig config = {});
  // Closes the participant's sockets. Its sink is not called after this returns.
  void remove(ParticipantId id);
  // The consumer's decoder of `stream` needs a key frame: hold back frames until one
  // comes and send PLIs for it.
  void request_keyframe(ParticipantId id, int stream);

  struct StreamPorts {
    uint16_t rtp = 0;
    uint16_t rtcp = 0;  // == rtp with rtcp-mux
  };
  std::vector<StreamPorts> ports(ParticipantId id) const;
  std::vector<StreamStats> stats(ParticipantId id) const;
  // Datagrams whose RTCP could not be sent (socket errors).
  int64_t send_errors() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace callrec::ingest
