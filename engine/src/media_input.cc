#include "media_input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "callrec/core/error.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libswscale/swscale.h>
}

namespace callrec::engine {

// Random-access bytes for the demuxer: read and seek as AVIOContext wants them.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Returns bytes read, 0 at the end, or an AVERROR.
  virtual int read(uint8_t* buf, int size) = 0;
  // Returns the new position or an AVERROR; `whence` is SEEK_SET, SEEK_CUR or SEEK_END.
  virtual int64_t seek(int64_t offset, int whence) = 0;
  virtual int64_t size() const = 0;
};

namespace {

constexpr AVRational kUs{1, 1'000'000};
constexpr int kMaxReportedDecodeErrors = 5;
constexpr int kIoBufferBytes = 64 * 1024;
// A frame duration outside this is a broken header, not a real frame rate.
constexpr int64_t kMaxFrameDurationUs = 1'000'000;
constexpr int64_t kEarlyEndToleranceUs = 500'000;

// How long a picture lasts: its packet's duration (in `time_base`), else one frame of
// the stream's rate.
int64_t picture_duration_us(int64_t duration, AVRational time_base, int64_t frame_duration_us) {
  return std::clamp<int64_t>(duration > 0 ? av_rescale_q(duration, time_base, kUs) : frame_duration_us, 0,
                             kMaxFrameDurationUs);
}

class FileSource final : public ByteSource {
 public:
  FileSource(const std::filesystem::path& path, const std::string& label) {
    // O_NONBLOCK: opening a FIFO must not hang; it is refused below as not a regular file.
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd_ < 0) throw Error(label + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      throw Error(label + ": not a regular file");
    }
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
    size_ = st.st_size;
  }
  ~FileSource() override { ::close(fd_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  int read(uint8_t* buf, int size) override {
    ssize_t n;
    do n = ::read(fd_, buf, static_cast<size_t>(size));
    while (n < 0 && errno == EINTR);
    if (n < 0) return AVERROR(errno);
    return static_cast<int>(n);
  }
  int64_t seek(int64_t offset, int whence) override {
    const off_t pos = ::lseek(fd_, offset, whence);
    return pos < 0 ? AVERROR(errno) : pos;
  }
  int64_t size() const override { return size_; }

 private:
  int fd_ = -1;
  int64_t size_ = 0;
};

class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  int read(uint8_t* buf, int size) override {
    const auto n = static_cast<int>(std::min<int64_t>(size, static_cast<int64_t>(bytes_.size()) - pos_));
    if (n <= 0) return 0;
    std::memcpy(buf, bytes_.data() + pos_, static_cast<size_t>(n));
    pos_ += n;
    return n;
  }
  int64_t seek(int64_t offset, int whence) override {
    int64_t base = 0;
    if (whence == SEEK_CUR) base = pos_;
    else if (whence == SEEK_END) base = static_cast<int64_t>(bytes_.size());
    else if (whence != SEEK_SET) return AVERROR(EINVAL);
    if (offset > INT64_MAX - base) return AVERROR(EINVAL);
    const int64_t pos = base + offset;
    if (pos < 0) return AVERROR(EINVAL);
    pos_ = std::min<int64_t>(pos, static_cast<int64_t>(bytes_.size()));
    return pos_;
  }
  int64_t size() const override { return static_cast<int64_t>(bytes_.size()); }

 private:
  std::span<const uint8_t> bytes_;
  int64_t pos_ = 0;
};

int read_packet(void* opaque, uint8_t* buf, int size) {
  const int n = static_cast<ByteSource*>(opaque)->read(buf, size);
  return n == 0 ? AVERROR_EOF : n;
}

int64_t seek_bytes(void* opaque, int64_t offset, int whence) {
  auto* source = static_cast<ByteSource*>(opaque);
  if (whence & AVSEEK_SIZE) return source->size();
  return source->seek(offset, whence & ~AVSEEK_FORCE);
}

// Demuxers open further files (playlists, references, image sequences) through io_open;
// a captured file must be self-contained, so every such open is refused.
int refuse_nested_open(AVFormatContext*, AVIOContext**, const char*, int, AVDictionary**) { return AVERROR(EPERM); }

// avformat_find_stream_info, decoding no pictures. FFmpeg decodes pictures to find a
// stream's parameters, with a decoder of its own that no PictureMemoryBudget bounds:
// seven 4:4:4 10-bit 8K pictures of a 16-reference H.264 stream held 1.4 GB. Its video
// decoders only read headers (skip_frame=all); the pictures are decoded by the stream's
// own decoder.
int find_stream_info(AVFormatContext& format) {
  std::vector<AVDictionary*> options(format.nb_streams, nullptr);
  for (unsigned i = 0; i < format.nb_streams; ++i)
    if (format.streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) av_dict_set(&options[i], "skip_frame", "all", 0);
  const int ret = avformat_find_stream_info(&format, options.data());
  for (AVDictionary*& o : options) av_dict_free(&o);
  return ret;
}

}  // namespace

void MediaInput::IoDeleter::operator()(AVIOContext* io) const {
  if (io == nullptr) return;
  av_freep(&io->buffer);
  avio_context_free(&io);
}

MediaInput::MediaInput(const std::filesystem::path& path, std::string label, int64_t offset_us,
                       int64_t max_index_entries)
    : label_(std::move(label)), offset_us_(offset_us), max_index_entries_(max_index_entries) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(label_ + ": no such file");
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(label_ + ": not a regular file");
  source_ = std::make_unique<FileSource>(path, label_);
  if (source_->size() == 0) throw Error(label_ + ": not a media file FFmpeg can read (the file is empty)");
  open(path.filename().string());
  path_ = path;
  may_reopen_ = av_match_list(format_->iformat->name, "matroska", ',') > 0;
}

void MediaInput::suspend() {
  if (path_.empty()) throw Error(label_ + ": internal error: only a file can be suspended");
  if (suspended_) return;
  if (eof_ || first_frame_seen_ || audio_.until_us != offset_us_ || video_.until_us != offset_us_)
    throw Error(label_ + ": internal error: suspended after reading began");
  close_file();
  suspended_ = true;
}

void MediaInput::resume() {
  if (!suspended_) return;
  suspended_ = false;
  const std::vector<std::string> known = problems_;
  const std::vector<int64_t> known_at = problem_at_us_;
  const bool had_audio = has_audio_, had_video = has_video_;
  try {
    source_ = std::make_unique<FileSource>(path_, label_);
    audio_ = Stream{};
    video_ = Stream{};
    open(path_.filename().string());
    if (has_audio_ != had_audio || has_video_ != had_video)
      throw Error(label_ + ": the file changed since the call was checked");
    problems_ = known;  // the same file says the same again
    problem_at_us_ = known_at;
  } catch (const Error& e) {
    close_file();
    has_audio_ = had_audio;
    has_video_ = had_video;
    audio_.until_us = video_.until_us = offset_us_;
    audio_.done = video_.done = true;
    eof_ = true;
    problems_ = known;
    problem_at_us_ = known_at;
    problem(std::string("cannot read the file again, media ends here (") + e.what() + ")");
  }
}

void MediaInput::close_file() {
  for (Stream* s : {&audio_, &video_}) {
    s->decoder.reset();
    s->stream = nullptr;
  }
  format_.reset();
  io_.reset();
  source_.reset();
  frame_.reset();
  scaled_.reset();
  scaler_.reset();
  packet_.reset();
  held_video_.reset();
}

MediaInput::MediaInput(std::unique_ptr<ByteSource> source, const std::string& url, std::string label,
                       int64_t offset_us)
    : label_(std::move(label)), offset_us_(offset_us), source_(std::move(source)) {
  if (source_->size() == 0) throw Error(label_ + ": not a media file FFmpeg can read (no data)");
  open(url);
}

MediaInput MediaInput::from_memory(std::span<const uint8_t> bytes, std::string label, int64_t offset_us,
                                   const std::string& format_hint) {
  return MediaInput(std::make_unique<MemorySource>(bytes), format_hint, std::move(label), offset_us);
}

std::unique_ptr<AVIOContext, MediaInput::IoDeleter> MediaInput::make_io(ByteSource& source) const {
  auto* buffer = static_cast<unsigned char*>(av_malloc(kIoBufferBytes));
  if (buffer == nullptr) throw Error(label_ + ": out of memory");
  std::unique_ptr<AVIOContext, IoDeleter> io(
      avio_alloc_context(buffer, kIoBufferBytes, 0, &source, read_packet, nullptr, seek_bytes));
  if (!io) {
    av_free(buffer);
    throw Error(label_ + ": out of memory");
  }
  return io;
}

av::InputFormatPtr MediaInput::open_format(AVIOContext& io, const std::string& url, const AVInputFormat* format) const {
  AVFormatContext* raw = avformat_alloc_context();
  if (raw == nullptr) throw Error(label_ + ": out of memory");
  raw->pb = &io;
  raw->flags |= AVFMT_FLAG_CUSTOM_IO;
  raw->io_open = refuse_nested_open;
  AVDictionary* options = nullptr;
  // No protocol at all: every byte comes through io.
  av_dict_set(&options, "protocol_whitelist", "none", 0);
  av_dict_set(&options, "format_whitelist", MediaLimits::kFormatWhitelist, 0);
  av_dict_set_int(&options, "max_streams", MediaLimits::kMaxStreams, 0);
  const int open_ret = avformat_open_input(&raw, url.c_str(), format, &options);  // frees raw on failure
  av_dict_free(&options);
  if (open_ret < 0) throw Error(label_ + ": not a media file FFmpeg can read (" + av_error_text(open_ret) + ")");
  return av::InputFormatPtr(raw);
}

void MediaInput::open(const std::string& url) {
  size_bytes_ = source_->size();
  io_ = make_io(*source_);
  // Probe first, so a refused format is named in the message.
  const AVInputFormat* format = nullptr;
  const int probe_ret = av_probe_input_buffer2(io_.get(), &format, url.c_str(), nullptr, 0, 0);
  if (probe_ret < 0 || format == nullptr)
    throw Error(label_ + ": not a media file FFmpeg can read (" + av_error_text(probe_ret) + ")");
  if (av_match_list(format->name, MediaLimits::kFormatWhitelist, ',') <= 0)
    throw Error(label_ + ": format \"" + format->name +
                "\" is refused (only single self-contained media files are read, no playlists, lists or "
                "image sequences)");
  format_ = open_format(*io_, url, format);
  if (format_->nb_streams > static_cast<unsigned>(MediaLimits::kMaxStreams))
    throw Error(label_ + ": more than " + std::to_string(MediaLimits::kMaxStreams) + " streams");
  // A picture size the container declares beyond the limits: the stream is not even
  // probed (FFmpeg would otherwise forget the declared size and fail on every packet).
  std::vector<std::pair<int, std::string>> oversized;
  for (unsigned i = 0; i < format_->nb_streams; ++i) {
    AVStream* st = format_->streams[i];
    const AVCodecParameters* par = st->codecpar;
    if (par->codec_type == AVMEDIA_TYPE_VIDEO &&
        (par->width > MediaLimits::kMaxPictureSide || par->height > MediaLimits::kMaxPictureSide ||
         int64_t{par->width} * par->height > MediaLimits::kMaxPicturePixels)) {
      st->discard = AVDISCARD_ALL;
      oversized.emplace_back(static_cast<int>(i), std::to_string(par->width) + "x" + std::to_string(par->height));
    }
  }
  const int info_ret = find_stream_info(*format_);
  if (info_ret < 0) throw Error(label_ + ": cannot read stream information (" + av_error_text(info_ret) + ")");

  audio_.index = av_find_best_stream(format_.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  video_.index = av_find_best_stream(format_.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (audio_.index >= 0) open_decoder(audio_, AVMEDIA_TYPE_AUDIO);
  for (const auto& [index, size] : oversized) {
    if (index != video_.index) continue;
    problem("video of " + size + " exceeds the " + std::to_string(MediaLimits::kMaxPictureSide) + "x" +
            std::to_string(MediaLimits::kMaxPictureSide) + " / " + std::to_string(MediaLimits::kMaxPicturePixels) +
            " pixel limit; stream ignored");
    video_.index = -1;
  }
  if (video_.index >= 0) open_decoder(video_, AVMEDIA_TYPE_VIDEO);
  has_audio_ = audio_.decoder != nullptr;
  has_video_ = video_.decoder != nullptr;
  if (!has_audio() && !has_video()) {
    std::string why;
    for (const std::string& p : problems_) why += (why.empty() ? " (" : "; ") + p.substr(label_.size() + 2);
    throw Error(label_ + ": no decodable audio or video stream" + (why.empty() ? "" : why + ")"));
  }

  // The file's first media lands at offset: timestamps count from the file's start.
  // Clamped: a hostile start time must not overflow the arithmetic on timestamps.
  if (format_->start_time != AV_NOPTS_VALUE)
    file_start_us_ = std::clamp(format_->start_time, -MediaLimits::kMaxCallUs, MediaLimits::kMaxCallUs);
  audio_.until_us = video_.until_us = offset_us_;
  if (format_->duration > 0 && format_->duration < MediaLimits::kMaxCallUs)
    probed_end_us_ = offset_us_ + format_->duration;
  packet_ = av::make_packet();
  frame_ = av::make_frame();
  index_entries_at_open_ = demuxer_index_entries();
}

int64_t MediaInput::demuxer_index_entries() const {
  if (!format_) return 0;
  int64_t entries = 0;
  for (unsigned i = 0; i < format_->nb_streams; ++i) entries += avformat_index_get_entries_count(format_->streams[i]);
  return entries;
}

// libavformat's Matroska demuxer adds an index entry for every keyframe it reads (for
// audio, every packet: 50 a second of Opus) and keeps them until the file is closed,
// 24 bytes each: a participant's hour-long WebM file would hold 4.3 MB of index that a
// render, which never seeks, does not need. So once a file's index has grown by
// max_index_entries_, the file is opened again and positioned on the packet reading
// had come to: memory stays bounded whatever the file's length. The new demuxer is
// used only once it gives exactly that packet (same stream, position, timestamps and
// bytes); if it cannot, reading goes on with the old one (more memory, nothing lost).
// Reads the next packet into packet_ and returns av_read_frame's result.
int MediaInput::read_next_packet() {
  const int ret = av_read_frame(format_.get(), packet_.get());
  if (ret >= 0 && packet_->pos >= 0) bytes_read_ = std::max(bytes_read_, packet_->pos + packet_->size);
  if (ret < 0 || !may_reopen_ || demuxer_index_entries() - index_entries_at_open_ < max_index_entries_) return ret;
  try {
    reopen_at(*packet_);  // the packet just read, not yet decoded, is where the new demuxer goes on
  } catch (const Error&) {
    may_reopen_ = false;  // e.g. the file changed or went: keep reading what is open
  }
  return ret;
}

void MediaInput::reopen_at(const AVPacket& next) {
  // Where to start: a cluster wholly before the one holding `next`, found in the old
  // demuxer's index (whose entries are cluster positions): the stream with the most
  // entries, its last entry before `next`, then the last one at an earlier position.
  AVStream* indexed = nullptr;
  for (unsigned i = 0; i < format_->nb_streams; ++i) {
    if (!indexed || avformat_index_get_entries_count(format_->streams[i]) > avformat_index_get_entries_count(indexed))
      indexed = format_->streams[i];
  }
  const int count = avformat_index_get_entries_count(indexed);
  int at = count - 1;
  while (at >= 0 && avformat_index_get_entry(indexed, at)->pos > next.pos) --at;
  if (at < 0) throw Error(label_ + ": no index entry before the next packet");
  const int64_t cluster_of_next = avformat_index_get_entry(indexed, at)->pos;
  while (at >= 0 && avformat_index_get_entry(indexed, at)->pos >= cluster_of_next) --at;
  if (at < 0) throw Error(label_ + ": no index entry before the next packet's cluster");
  const int64_t start_pos = avformat_index_get_entry(indexed, at)->pos;
  while (at > 0 && avformat_index_get_entry(indexed, at - 1)->pos == start_pos) --at;
  const int64_t start_ts = avformat_index_get_entry(indexed, at)->timestamp;

  auto source = std::make_unique<FileSource>(path_, label_);
  auto io = make_io(*source);
  av::InputFormatPtr fresh = open_format(*io, path_.filename().string(), format_->iformat);
  if (fresh->nb_streams != format_->nb_streams) throw Error(label_ + ": the file changed");
  for (unsigned i = 0; i < fresh->nb_streams; ++i) {
    const AVStream* was = format_->streams[i];
    const AVStream* is = fresh->streams[i];
    if (is->codecpar->codec_id != was->codecpar->codec_id || av_cmp_q(is->time_base, was->time_base) != 0)
      throw Error(label_ + ": the file changed");
  }
  // Probed as the first demuxer was, so it knows the same of its streams (reordering,
  // codec delays) when it fills in timestamps. (FFmpeg 5.1 gives the same packets
  // without it, H.264 B-frames included; a packet that came out otherwise would only
  // make the comparison below keep the first demuxer.)
  if (find_stream_info(*fresh) < 0) throw Error(label_ + ": cannot read the file again");
  // The demuxer seeks by its index: given the cluster's entry, it lands on that cluster
  // (AVSEEK_FLAG_ANY: from its first block at or after start_ts, whatever the type).
  const int stream = indexed->index;
  if (av_add_index_entry(fresh->streams[stream], start_pos, start_ts, 0, 0, AVINDEX_KEYFRAME) < 0 ||
      av_seek_frame(fresh.get(), stream, start_ts, AVSEEK_FLAG_BACKWARD | AVSEEK_FLAG_ANY) < 0)
    throw Error(label_ + ": cannot position the file again");
  // Past what was read, up to `next` itself.
  av::PacketPtr packet = av::make_packet();
  for (;;) {
    if (av_read_frame(fresh.get(), packet.get()) < 0) throw Error(label_ + ": the next packet was not found again");
    const bool same = packet->stream_index == next.stream_index && packet->pos == next.pos &&
                      packet->pts == next.pts && packet->dts == next.dts && packet->size == next.size &&
                      (next.size == 0 || std::memcmp(packet->data, next.data, static_cast<size_t>(next.size)) == 0);
    const bool past = packet->pos > next.pos;
    av_packet_unref(packet.get());
    if (same) break;
    if (past) throw Error(label_ + ": the next packet was not found again");
  }
  format_ = std::move(fresh);  // before the io and source it reads through
  io_ = std::move(io);
  source_ = std::move(source);
  for (Stream* s : {&audio_, &video_}) {
    if (s->index >= 0) s->stream = format_->streams[s->index];
  }
  index_entries_at_open_ = demuxer_index_entries();
  ++reopens_;
}

MediaInput::~MediaInput() = default;
MediaInput::MediaInput(MediaInput&&) noexcept = default;
MediaInput& MediaInput::operator=(MediaInput&&) noexcept = default;

void MediaInput::open_decoder(Stream& s, int media_type) {
  s.stream = format_->streams[s.index];
  const AVCodecParameters* par = s.stream->codecpar;
  const AVCodec* codec = avcodec_find_decoder(par->codec_id);
  const char* kind = media_type == AVMEDIA_TYPE_AUDIO ? "audio" : "video";
  if (codec == nullptr) {
    problem(std::string(kind) + " codec " + avcodec_get_name(par->codec_id) + " is not supported; stream ignored");
    s.index = -1;
    return;
  }
  if (media_type == AVMEDIA_TYPE_VIDEO &&
      (par->width > MediaLimits::kMaxPictureSide || par->height > MediaLimits::kMaxPictureSide ||
       int64_t{par->width} * par->height > MediaLimits::kMaxPicturePixels)) {
    problem("video of " + std::to_string(par->width) + "x" + std::to_string(par->height) + " exceeds the " +
            std::to_string(MediaLimits::kMaxPictureSide) + "x" + std::to_string(MediaLimits::kMaxPictureSide) +
            " / " + std::to_string(MediaLimits::kMaxPicturePixels) + " pixel limit; stream ignored");
    s.index = -1;
    return;
  }
  std::shared_ptr<PictureMemoryBudget> budget;  // declared first: outlives ctx
  av::CodecContextPtr ctx(avcodec_alloc_context3(codec));
  if (!ctx) throw Error(label_ + ": out of memory opening the " + kind + " decoder");
  check_av(avcodec_parameters_to_context(ctx.get(), par), label_ + ": " + kind + " decoder parameters");
  ctx->pkt_timebase = s.stream->time_base;
  // Many participants decode at once: one thread each keeps the cores for the encoder.
  ctx->thread_count = 1;
  // The bitstream may announce a larger picture than the header did: the decoder
  // refuses to allocate past the limit.
  ctx->max_pixels = MediaLimits::kMaxPicturePixels;
  // Nor may its pictures together hold more than this (references at 4:4:4 10-bit).
  if (media_type == AVMEDIA_TYPE_VIDEO) budget = PictureMemoryBudget::install(*ctx, MediaLimits::kMaxDecoderPictureBytes);
  const int ret = avcodec_open2(ctx.get(), codec, nullptr);
  if (ret < 0) {
    problem(std::string("cannot open the ") + kind + " decoder (" + av_error_text(ret) + "); stream ignored");
    s.index = -1;
    return;
  }
  if (media_type == AVMEDIA_TYPE_VIDEO) {
    const AVRational rate = av_guess_frame_rate(format_.get(), s.stream, nullptr);
    s.frame_duration_us = rate.num > 0 && rate.den > 0 ? av_rescale_q(1, av_inv_q(rate), kUs) : 40'000;
    s.frame_duration_us = std::clamp<int64_t>(s.frame_duration_us, 1'000, kMaxFrameDurationUs);
  }
  s.decoder = std::move(ctx);
  s.picture_budget = std::move(budget);
}

void MediaInput::problem(std::string text) {
  problems_.push_back(label_ + ": " + std::move(text));
  problem_at_us_.push_back(std::max(audio_.until_us, video_.until_us));
}

void MediaInput::end_stream(Stream& s, const std::string& why) {
  if (s.done) return;
  s.done = true;
  problem(std::string(&s == &audio_ ? "audio" : "video") + " ends here: " + why);
}

void MediaInput::close() {
  if (!eof_) throw Error(label_ + ": internal error: closed before the end of the file");
  close_file();
}

bool MediaInput::step(const FrameCallback& on_audio, const FrameCallback& on_video) {
  if (suspended_) throw Error(label_ + ": internal error: stepped while suspended");
  if (eof_) return false;
  const int ret = (audio_done() && video_done()) ? AVERROR_EOF : read_next_packet();
  if (ret < 0) {
    if (ret != AVERROR_EOF) problem("read error, media ends here (" + av_error_text(ret) + ")");
    if (has_audio() && !audio_.done) decode(audio_, nullptr, on_audio);
    if (has_video() && !video_.done) {
      decode_held_video(on_video, std::nullopt);
      decode(video_, nullptr, on_video);
    }
    audio_.done = video_.done = true;
    eof_ = true;
    // A container that states its duration tells a cut file from a short one.
    if (ret == AVERROR_EOF && probed_end_us_ && *probed_end_us_ - end_us() > kEarlyEndToleranceUs) {
      char text[160];
      std::snprintf(text, sizeof text, "the file ends early: media stops at %.1f s of the %.1f s its header states",
                    static_cast<double>(end_us() - offset_us_) / 1e6,
                    static_cast<double>(*probed_end_us_ - offset_us_) / 1e6);
      problem(text);
    } else if (ret == AVERROR_EOF && ogg_cut()) {
      problem("the file ends early: its last Ogg page is incomplete or not an end-of-stream page");
    }
    return false;
  }
  if (packet_->size > MediaLimits::kMaxPacketBytes) {
    if (++oversized_packets_ <= kMaxReportedDecodeErrors)
      problem("packet of " + std::to_string(packet_->size) + " bytes exceeds the " +
              std::to_string(MediaLimits::kMaxPacketBytes) + " byte limit; skipped");
  } else if (packet_->stream_index == audio_.index && has_audio() && !audio_.done) {
    decode(audio_, packet_.get(), on_audio);
  } else if (packet_->stream_index == video_.index && has_video() && !video_.done) {
    if (picture_filter_.may_show && video_.decoder->codec_id == AV_CODEC_ID_VP8) {
      hold_video(on_video);
    } else {
      decode(video_, packet_.get(), on_video);
    }
  }
  av_packet_unref(packet_.get());
  return true;
}

// Ogg states no duration a cut could be measured against, but a complete Ogg stream
// ends with a whole page flagged end-of-stream. Reads the file's tail (after EOF, when
// the demuxer is done with the source).
bool MediaInput::ogg_cut() {
  if (av_match_list(format_->iformat->name, "ogg", ',') <= 0) return false;
  constexpr int64_t kTail = 65536 + 27 + 255 + 255 * 255;
  const int64_t size = source_->size();
  const int64_t from = std::max<int64_t>(0, size - kTail);
  std::vector<uint8_t> tail(static_cast<size_t>(size - from));
  if (source_->seek(from, SEEK_SET) != from) return false;
  size_t got = 0;
  while (got < tail.size()) {
    const int n = source_->read(tail.data() + got, static_cast<int>(std::min<size_t>(tail.size() - got, 1 << 20)));
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  for (size_t at = tail.size() >= 27 ? tail.size() - 27 : 0;; --at) {
    if (tail.size() >= 27 && std::memcmp(tail.data() + at, "OggS", 4) == 0) {
      const size_t segments = tail[at + 26];
      if (at + 27 + segments > tail.size()) return true;
      size_t body = 0;
      for (size_t i = 0; i < segments; ++i) body += tail[at + 27 + i];
      const bool end_of_stream = (tail[at + 5] & 0x04) != 0;
      return at + 27 + segments + body != tail.size() || !end_of_stream;
    }
    if (at == 0) return false;
  }
}

bool MediaInput::frame_acceptable(const Stream& s, std::string* why) const {
  const AVFrame& f = *frame_;
  if (&s == &audio_) {
    if (f.sample_rate < MediaLimits::kMinSampleRateHz || f.sample_rate > MediaLimits::kMaxSampleRateHz) {
      *why = "sample rate " + std::to_string(f.sample_rate) + " Hz is out of range";
      return false;
    }
    if (f.ch_layout.nb_channels < 1 || f.ch_layout.nb_channels > MediaLimits::kMaxChannels) {
      *why = std::to_string(f.ch_layout.nb_channels) + " channels is out of range";
      return false;
    }
    return true;
  }
  if (f.width <= 0 || f.height <= 0 || f.width > MediaLimits::kMaxPictureSide ||
      f.height > MediaLimits::kMaxPictureSide || int64_t{f.width} * f.height > MediaLimits::kMaxPicturePixels) {
    *why = "picture of " + std::to_string(f.width) + "x" + std::to_string(f.height) + " is out of range";
    return false;
  }
  return true;
}

const AVFrame* MediaInput::fit_picture() {
  const AVFrame& f = *frame_;
  if (f.width <= MediaLimits::kMaxDeliveredWidth && f.height <= MediaLimits::kMaxDeliveredHeight) return &f;
  // Fit inside the canvas box, keeping the aspect ratio, even sizes for 4:2:0.
  const double scale = std::min(static_cast<double>(MediaLimits::kMaxDeliveredWidth) / f.width,
                                static_cast<double>(MediaLimits::kMaxDeliveredHeight) / f.height);
  const int w = std::max(2, static_cast<int>(f.width * scale) & ~1);
  const int h = std::max(2, static_cast<int>(f.height * scale) & ~1);
  scaler_.reset(sws_getCachedContext(scaler_.release(), f.width, f.height, static_cast<AVPixelFormat>(f.format), w,
                                     h, AV_PIX_FMT_YUV420P, SWS_AREA, nullptr, nullptr, nullptr));
  if (!scaler_) return nullptr;
  if (f.color_range == AVCOL_RANGE_JPEG) {
    int* inv = nullptr;
    int* table = nullptr;
    int src_range = 0, dst_range = 0, brightness = 0, contrast = 0, saturation = 0;
    if (sws_getColorspaceDetails(scaler_.get(), &inv, &src_range, &table, &dst_range, &brightness, &contrast,
                                 &saturation) >= 0)
      sws_setColorspaceDetails(scaler_.get(), inv, 1, table, 0, brightness, contrast, saturation);
  }
  if (!scaled_) scaled_ = av::make_frame();
  av_frame_unref(scaled_.get());
  scaled_->width = w;
  scaled_->height = h;
  scaled_->format = AV_PIX_FMT_YUV420P;
  if (av_frame_get_buffer(scaled_.get(), 0) < 0) return nullptr;
  av_frame_copy_props(scaled_.get(), &f);
  scaled_->color_range = AVCOL_RANGE_MPEG;
  if (sws_scale(scaler_.get(), f.data, f.linesize, 0, f.height, scaled_->data, scaled_->linesize) != h) return nullptr;
  return scaled_.get();
}

std::optional<int64_t> MediaInput::packet_call_us(const Stream& s, const AVPacket& packet) const {
  // As deliver_frame places a picture (its best-effort timestamp is the packet's when
  // timestamps only go forward), once the file's start is settled by its first frame.
  if (!first_frame_seen_ || packet.pts == AV_NOPTS_VALUE) return std::nullopt;
  const int64_t file_us = av_rescale_q(packet.pts, s.stream->time_base, kUs);
  if (file_us >= MediaLimits::kMaxCallUs || file_us <= -MediaLimits::kMaxCallUs) return std::nullopt;
  const int64_t call_us = offset_us_ + file_us - file_start_us_;
  if (call_us > MediaLimits::kMaxCallUs) return std::nullopt;
  return call_us;
}

void MediaInput::hold_video(const FrameCallback& on_video) {
  if (!held_video_) held_video_ = av::make_packet();
  decode_held_video(on_video, packet_call_us(video_, *packet_));
  av_packet_move_ref(held_video_.get(), packet_.get());
}

void MediaInput::decode_held_video(const FrameCallback& on_video, std::optional<int64_t> after_us) {
  if (!held_video_ || held_video_->data == nullptr) return;
  const std::optional<int64_t> held_us = packet_call_us(video_, *held_video_);
  // VP8's frame tag: bit 4 of its first byte is show_frame. A picture never shown (an
  // alternate reference) is decoded as always.
  const bool shown_picture = held_video_->size >= 3 && (held_video_->data[0] & 0x10) != 0;
  // Only between two neighbours, in order: the first and last pictures of a file meet
  // another file's pictures in the tile, and times going back are clamped when placed
  // (a picture placed later than its own time may lie past this one).
  const bool may_skip = shown_picture && held_us && after_us && before_held_us_ && *before_held_us_ < *held_us &&
                        *held_us < *after_us && (!video_.last_frame_us || *video_.last_frame_us < *held_us) &&
                        !picture_filter_.may_show(*before_held_us_, *held_us, *after_us);
  // The decoder itself knows whether anything refers to the picture: it skips it only
  // then, and decodes a reference picture as ever.
  video_.decoder->skip_frame = may_skip ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
  const DecodeResult result = decode(video_, held_video_.get(), on_video);
  if (video_.decoder) video_.decoder->skip_frame = AVDISCARD_DEFAULT;
  if (may_skip && result.status == DecodeStatus::kOk && result.frames == 0 && !video_.done) {
    ++pictures_not_decoded_;
    video_.last_frame_us = *held_us;
    video_.until_us = std::max(video_.until_us, *held_us + picture_duration_us(held_video_->duration,
                                                                               video_.stream->time_base,
                                                                               video_.frame_duration_us));
    if (picture_filter_.skipped) picture_filter_.skipped(MediaTime::from_us(*held_us));
  }
  before_held_us_ = held_us;
  av_packet_unref(held_video_.get());
}

DecodeResult MediaInput::decode(Stream& s, const AVPacket* packet, const FrameCallback& on_frame) {
  const bool audio = &s == &audio_;
  // Returns whether to go on receiving: false once the stream has ended here.
  const auto deliver_frame = [&](AVFrame& frame) {
    std::string why;
    if (!frame_acceptable(s, &why)) {
      if (++s.decode_errors <= kMaxReportedDecodeErrors) problem("frame skipped: " + why);
      return true;
    }
    const int64_t ts = frame.best_effort_timestamp;
    int64_t call_us = s.until_us;
    if (ts != AV_NOPTS_VALUE) {
      // Saturating: a hostile timestamp must not overflow into a plausible time.
      const int64_t file_us = av_rescale_q(ts, s.stream->time_base, kUs);
      if (!first_frame_seen_) {
        // The file's first media is its first *presented* sample. A container's start
        // time can include a codec delay the decoder drops (WebM Opus starts at -7 ms,
        // its first decoded sample is at 0): within kCodecDelayUs, the first decoded
        // frame defines the start. A larger difference is a stream that starts late,
        // and the container's start stays.
        first_frame_seen_ = true;
        constexpr int64_t kCodecDelayUs = 25'000;
        if (file_us > file_start_us_ && file_us <= file_start_us_ + kCodecDelayUs) file_start_us_ = file_us;
      }
      call_us = file_us >= MediaLimits::kMaxCallUs || file_us <= -MediaLimits::kMaxCallUs
                    ? (file_us > 0 ? MediaLimits::kMaxCallUs + 1 : offset_us_ - MediaLimits::kMaxCallUs)
                    : offset_us_ + file_us - file_start_us_;
    }
    if (call_us > MediaLimits::kMaxCallUs) {
      end_stream(s, "timestamps run past the 24 h limit of a call");
      return false;
    }
    int64_t duration_us = 0;
    if (audio) {
      duration_us = av_rescale(frame.nb_samples, 1'000'000, frame.sample_rate);
    } else {
      duration_us = picture_duration_us(frame.pkt_duration, s.stream->time_base, s.frame_duration_us);
      // Frames must reach the compositor in order; a timestamp going back is clamped.
      if (s.last_frame_us && call_us <= *s.last_frame_us) call_us = *s.last_frame_us + 1;
      s.last_frame_us = call_us;
    }
    s.until_us = std::max(s.until_us, call_us + duration_us);
    const AVFrame* deliver = audio ? &frame : fit_picture();
    if (deliver == nullptr) {
      end_stream(s, "cannot scale the " + std::to_string(frame.width) + "x" + std::to_string(frame.height) +
                        " picture down");
      return false;
    }
    try {
      on_frame(*deliver, MediaTime::from_us(call_us));
    } catch (const Error& e) {
      end_stream(s, e.what());
      return false;
    }
    return true;
  };
  const DecodeResult result = run_decoding_loop(*s.decoder, packet, *frame_, deliver_frame);
  if (std::optional<std::string> refused = s.picture_budget ? s.picture_budget->take_refusal() : std::nullopt) {
    // Every picture of the stream would be refused as well: it ends, and its decoder
    // goes with the pictures it holds.
    end_stream(s, *refused);
    s.decoder.reset();
    return result;
  }
  if (result.status == DecodeStatus::kSendFailed) {
    // A corrupt packet: skip it, the decoder conceals what it can from the next ones.
    if (++s.decode_errors <= kMaxReportedDecodeErrors)
      problem("corrupt packet skipped (" + av_error_text(result.averror) + ")");
  } else if (result.status == DecodeStatus::kReceiveFailed) {
    if (++s.decode_errors <= kMaxReportedDecodeErrors) problem("decoding error (" + av_error_text(result.averror) + ")");
  }
  return result;
}

int64_t MediaInput::end_us() const {
  int64_t end = offset_us_;
  if (has_audio()) end = std::max(end, audio_.until_us);
  if (has_video()) end = std::max(end, video_.until_us);
  return end;
}

}  // namespace callrec::engine
