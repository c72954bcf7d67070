// Ownership of libav objects.
//
// Every libav object is held by one of these unique_ptr types, whose deleter calls the
// matching *_free. libav headers stay out of this header: the structs are only
// forward-declared, so stage headers can hold these pointers without pulling in FFmpeg.
#pragma once

#include <memory>

extern "C" {
struct AVFrame;
struct AVPacket;
struct AVCodecContext;
struct AVFormatContext;
struct SwrContext;
struct SwsContext;
struct AVAudioFifo;
}

namespace callrec::av {

struct FrameDeleter { void operator()(AVFrame* f) const; };
struct PacketDeleter { void operator()(AVPacket* p) const; };
struct CodecContextDeleter { void operator()(AVCodecContext* c) const; };
// For a demuxer opened with avformat_open_input (closes it).
struct InputFormatDeleter { void operator()(AVFormatContext* f) const; };
// For a muxer made with avformat_alloc_output_context2 (closes its AVIOContext too).
struct OutputFormatDeleter { void operator()(AVFormatContext* f) const; };
struct SwrDeleter { void operator()(SwrContext* s) const; };
struct SwsDeleter { void operator()(SwsContext* s) const; };
struct AudioFifoDeleter { void operator()(AVAudioFifo* f) const; };

using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
using InputFormatPtr = std::unique_ptr<AVFormatContext, InputFormatDeleter>;
using OutputFormatPtr = std::unique_ptr<AVFormatContext, OutputFormatDeleter>;
using SwrPtr = std::unique_ptr<SwrContext, SwrDeleter>;
using SwsPtr = std::unique_ptr<SwsContext, SwsDeleter>;
using AudioFifoPtr = std::unique_ptr<AVAudioFifo, AudioFifoDeleter>;

// Allocating constructors; they throw callrec::Error when out of memory.
FramePtr make_frame();
PacketPtr make_packet();

}  // namespace callrec::av
