#include "callrec/compositor/video_compositor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

#include "callrec/compositor/placeholder.h"
#include "callrec/core/av.h"
#include "callrec/core/error.h"
#include "frame_queue.h"

namespace callrec::compositor {
namespace {

// Dark grey (RGB 24,24,24) behind and between tiles, limited-range BT.601.
constexpr YuvColour kBackground{37, 128, 128};

void fill_rect(AVFrame& canvas, Rect r, YuvColour colour) {
  for (int y = 0; y < r.height; ++y) {
    std::memset(canvas.data[0] + static_cast<ptrdiff_t>(r.y + y) * canvas.linesize[0] + r.x, colour.y, r.width);
  }
  for (int y = 0; y < r.height / 2; ++y) {
    const ptrdiff_t row = static_cast<ptrdiff_t>(r.y / 2 + y);
    std::memset(canvas.data[1] + row * canvas.linesize[1] + r.x / 2, colour.u, r.width / 2);
    std::memset(canvas.data[2] + row * canvas.linesize[2] + r.x / 2, colour.v, r.width / 2);
  }
}

// Copies a yuv420p picture of exactly r's size into the canvas at r.
void copy_into(AVFrame& canvas, const AVFrame& picture, Rect r) {
  for (int plane = 0; plane < 3; ++plane) {
    const int shift = plane == 0 ? 0 : 1;
    for (int y = 0; y < (r.height >> shift); ++y) {
      std::memcpy(canvas.data[plane] + static_cast<ptrdiff_t>((r.y >> shift) + y) * canvas.linesize[plane] +
                      (r.x >> shift),
                  picture.data[plane] + static_cast<ptrdiff_t>(y) * picture.linesize[plane], r.width >> shift);
    }
  }
}

// The picture's display size: its pixel size corrected by the sample aspect ratio,
// so anamorphic inputs are not shown stretched either.
Size display_size(const AVFrame& frame) {
  Size size{frame.width, frame.height};
  if (frame.sample_aspect_ratio.num > 0 && frame.sample_aspect_ratio.den > 0 &&
      frame.sample_aspect_ratio.num != frame.sample_aspect_ratio.den) {
    size.width = static_cast<int>(int64_t{frame.width} * frame.sample_aspect_ratio.num / frame.sample_aspect_ratio.den);
  }
  return size;
}

struct ScalerKey {
  int src_width;
  int src_height;
  int src_format;
  bool src_full_range;
  int dst_width;
  int dst_height;
  friend bool operator==(const ScalerKey&, const ScalerKey&) = default;
};

}  // namespace

struct VideoCompositor::Impl {
  struct Participant {
    ParticipantId id;
    std::string participant_id;
    std::string display_name;
    bool screen_share;
    FrameQueue queue;
    std::optional<MediaTime> last_spoke;
    // One scaler per participant, rebuilt only when the input or tile size changes.
    av::SwsPtr scaler;
    std::optional<ScalerKey> scaler_key;
    av::FramePtr scaled;  // the scaler's output, at the tile's picture size
    // Placeholder picture, rendered once per tile size.
    av::FramePtr placeholder;
    bool shows_picture = false;  // the last compose() found a picture of theirs
  };

  // What a tile of the canvas shows now, to repaint only what changed.
  struct PaintedTile {
    ParticipantId who;
    Rect tile;
    std::optional<uint64_t> serial;  // shown picture; nullopt: not painted yet
    std::optional<Rect> picture;     // where the picture went; nullopt: placeholder
  };

  explicit Impl(const CompositorConfig& c)
      : config(c), painter(c.placeholder_font_path) {
    if (config.canvas.width < 2 || config.canvas.height < 2 || config.canvas.width % 2 || config.canvas.height % 2) {
      throw Error("compositor: the canvas must have an even size of at least 2x2, not " +
                  std::to_string(config.canvas.width) + "x" + std::to_string(config.canvas.height));
    }
    config.max_visible_tiles = std::clamp(config.max_visible_tiles, 1, kMaxGridTiles);
    canvases.reserve(kMaxCanvases);
    canvases.push_back(make_canvas());
    slots.reserve(kMaxGridTiles + 1);
    layout_rects.reserve(kMaxGridTiles + 1);
    visible.reserve(kMaxGridTiles);
  }

  // A canvas and what it shows: compose() paints only what changed since the canvas
  // last showed a picture.
  struct Canvas {
    av::FramePtr frame;
    std::vector<PaintedTile> painted;  // empty: nothing painted yet
  };

  Canvas make_canvas() const {
    Canvas made{av::make_frame(), {}};
    AVFrame& frame = *made.frame;
    frame.format = AV_PIX_FMT_YUV420P;
    frame.width = config.canvas.width;
    frame.height = config.canvas.height;
    frame.color_range = AVCOL_RANGE_MPEG;  // limited range, what H.264 players expect
    check_av(av_frame_get_buffer(&frame, 0), "compositor: allocating the 1920x1080 canvas");
    fill_rect(frame, Rect{0, 0, frame.width, frame.height}, kBackground);
    made.painted.reserve(kMaxGridTiles + 1);
    return made;
  }

  AVFrame& canvas() { return *canvases[current].frame; }
  std::vector<PaintedTile>& painted() { return canvases[current].painted; }
  const std::vector<PaintedTile>& painted() const { return canvases[current].painted; }

  // Makes the canvas to paint writable. The recording writer keeps a reference to each
  // composed canvas until its picture is encoded and written: painting the next one
  // over it would change a picture still to be coded, and copying it first (what
  // av_frame_make_writable does) costs a whole canvas per period, most of it to be
  // painted over again. So a canvas whose last reader let go is taken instead, and
  // repainted only where its tiles differ; a new one while fewer than kMaxCanvases
  // exist; a copy only beyond that (a writer holding many, such as one with a long
  // lookahead).
  void take_writable_canvas() {
    if (av_frame_is_writable(canvases[current].frame.get())) return;
    for (size_t i = 0; i < canvases.size(); ++i) {
      if (av_frame_is_writable(canvases[i].frame.get())) {
        current = i;
        return;
      }
    }
    if (canvases.size() < kMaxCanvases) {
      canvases.push_back(make_canvas());
      current = canvases.size() - 1;
      return;
    }
    check_av(av_frame_make_writable(canvases[current].frame.get()), "compositor: making the canvas writable");
  }

  Participant* find(ParticipantId id) {
    for (auto& p : participants) {
      if (p->id == id) return p.get();
    }
    return nullptr;
  }

  Participant& get(ParticipantId id, const char* doing) {
    Participant* p = find(id);
    if (p == nullptr) throw Error(std::string("compositor: ") + doing + ": no participant with handle " + std::to_string(id));
    return *p;
  }

  ParticipantId add(std::string participant_id, std::string display_name, bool screen_share) {
    const ParticipantId id = next_id++;
    participants.push_back(std::make_unique<Participant>(Participant{
        id, std::move(participant_id), std::move(display_name), screen_share,
        FrameQueue(config.max_queued_frames, FrameQueue::Timing{config.stall_timeout, config.default_frame_duration}),
        std::nullopt, nullptr, std::nullopt, nullptr, nullptr}));
    return id;
  }

  // The latest screen share still present, if any.
  Participant* active_share() {
    for (auto it = participants.rbegin(); it != participants.rend(); ++it) {
      if ((*it)->screen_share) return it->get();
    }
    return nullptr;
  }

  static bool more_recently_active(const Participant& a, const Participant& b) {
    if (a.last_spoke && b.last_spoke) return *a.last_spoke > *b.last_spoke;
    return a.last_spoke.has_value() && !b.last_spoke.has_value();
  }

  // Chooses who gets a tile. Everyone when they fit (in join order); otherwise the
  // most recently active speakers, keeping each shown participant in their tile
  // until a more recent speaker replaces the least recently active one.
  void choose_visible(size_t capacity) {
    size_t cameras = 0;
    for (const auto& p : participants) cameras += p->screen_share ? 0 : 1;
    if (cameras <= capacity) {
      visible.clear();
      for (const auto& p : participants) {
        if (!p->screen_share) visible.push_back(p->id);
      }
      return;
    }
    std::erase_if(visible, [&](ParticipantId id) {
      const Participant* p = find(id);
      return p == nullptr || p->screen_share;
    });
    if (visible.size() > capacity) visible.resize(capacity);
    auto is_visible = [&](ParticipantId id) { return std::find(visible.begin(), visible.end(), id) != visible.end(); };
    // Best hidden candidate first: most recently active, then earliest joined.
    auto best_hidden = [&]() -> Participant* {
      Participant* best = nullptr;
      for (const auto& p : participants) {
        if (p->screen_share || is_visible(p->id)) continue;
        if (best == nullptr || more_recently_active(*p, *best)) best = p.get();
      }
      return best;
    };
    while (visible.size() < capacity) visible.push_back(best_hidden()->id);
    for (;;) {
      Participant* candidate = best_hidden();
      if (candidate == nullptr) break;
      // The least recently active shown participant (latest joined on ties).
      size_t weakest = 0;
      for (size_t i = 1; i < visible.size(); ++i) {
        if (!more_recently_active(*find(visible[i]), *find(visible[weakest]))) weakest = i;
      }
      if (!more_recently_active(*candidate, *find(visible[weakest]))) break;
      visible[weakest] = candidate->id;  // takes over the same tile: others stay put
    }
  }

  void ensure_scaler(Participant& p, const AVFrame& frame, Rect target) {
    // Decoders may hand out full-range pictures in a plain yuv420p format (tagged
    // only by color_range); the yuvj formats imply full range themselves.
    const bool full_range = frame.color_range == AVCOL_RANGE_JPEG;
    const ScalerKey key{frame.width, frame.height, frame.format, full_range, target.width, target.height};
    if (p.scaler && p.scaler_key == key) return;
    p.scaler.reset(sws_getContext(frame.width, frame.height, static_cast<AVPixelFormat>(frame.format), target.width,
                                  target.height, AV_PIX_FMT_YUV420P, SWS_BILINEAR, nullptr, nullptr, nullptr));
    p.scaler_key.reset();
    if (!p.scaler) {
      const char* format_name = av_get_pix_fmt_name(static_cast<AVPixelFormat>(frame.format));
      throw Error("compositor: cannot scale participant " + p.participant_id + "'s " + std::to_string(frame.width) +
                  "x" + std::to_string(frame.height) + " " + (format_name ? format_name : "unknown-format") +
                  " picture to " + std::to_string(target.width) + "x" + std::to_string(target.height));
    }
    if (full_range) {
      int* inv_table = nullptr;
      int* table = nullptr;
      int src_range = 0, dst_range = 0, brightness = 0, contrast = 0, saturation = 0;
      if (sws_getColorspaceDetails(p.scaler.get(), &inv_table, &src_range, &table, &dst_range, &brightness, &contrast,
                                   &saturation) >= 0) {
        sws_setColorspaceDetails(p.scaler.get(), inv_table, 1, table, 0, brightness, contrast, saturation);
      }
    }
    p.scaler_key = key;
  }

  void paint_picture(Participant& p, const AVFrame& frame, PaintedTile& tile) {
    const Rect target = fit_inside(display_size(frame), tile.tile);
    // Bars only need painting when the picture's place changed.
    if (tile.picture != target) fill_rect(canvas(), tile.tile, kBackground);
    if (frame.format == AV_PIX_FMT_YUV420P && frame.color_range != AVCOL_RANGE_JPEG &&
        frame.width == target.width && frame.height == target.height) {
      // Already what the canvas holds (a 640x360 camera in a 3x3 tile): rows are
      // copied straight in, with nothing to scale or convert.
      copy_into(canvas(), frame, target);
      tile.picture = target;
      return;
    }
    ensure_scaler(p, frame, target);
    // swscale's SIMD paths write whole vectors, past the end of a row that is not a
    // multiple of their width, and want aligned rows; scaling straight into the
    // canvas would smear into the neighbouring tile. So scale into an aligned,
    // padded picture of the target size (kept per participant), then copy rows.
    if (!p.scaled || p.scaled->width != target.width || p.scaled->height != target.height) {
      p.scaled = av::make_frame();
      p.scaled->format = AV_PIX_FMT_YUV420P;
      p.scaled->width = target.width;
      p.scaled->height = target.height;
      check_av(av_frame_get_buffer(p.scaled.get(), 0),
               "compositor: allocating the scaled picture of " + p.participant_id);
    }
    sws_scale(p.scaler.get(), frame.data, frame.linesize, 0, frame.height, p.scaled->data, p.scaled->linesize);
    copy_into(canvas(), *p.scaled, target);
    tile.picture = target;
  }

  void paint_placeholder(Participant& p, PaintedTile& tile) {
    const Rect r = tile.tile;
    if (!p.placeholder || p.placeholder->width != r.width || p.placeholder->height != r.height) {
      av::FramePtr picture = av::make_frame();
      picture->format = AV_PIX_FMT_YUV420P;
      picture->width = r.width;
      picture->height = r.height;
      check_av(av_frame_get_buffer(picture.get(), 0), "compositor: allocating the placeholder of " + p.participant_id);
      // A share's placeholder shows the sharer: their camera entry has the name.
      std::string_view name = p.display_name;
      if (p.screen_share) {
        for (const auto& other : participants) {
          if (!other->screen_share && other->participant_id == p.participant_id) name = other->display_name;
        }
      }
      painter.paint(*picture, placeholder_colour(p.participant_id), initials_of(name, p.participant_id));
      p.placeholder = std::move(picture);
    }
    copy_into(canvas(), *p.placeholder, r);
    tile.picture.reset();
  }

  const AVFrame& compose(MediaTime t) {
    take_writable_canvas();
    std::vector<PaintedTile>& painted = this->painted();
    Participant* share = active_share();
    const size_t capacity = share ? static_cast<size_t>(std::min(config.max_visible_tiles,
                                                                  screen_share_strip_capacity(config.canvas)))
                                  : static_cast<size_t>(config.max_visible_tiles);
    choose_visible(capacity);

    // Geometry is recomputed only when the arrangement changes, so a steady call
    // allocates nothing here.
    const LayoutKey key{static_cast<int>(visible.size()), share ? std::optional<ParticipantId>(share->id) : std::nullopt};
    if (layout_key != key) {
      layout_rects.clear();
      if (share) {
        const ScreenShareLayout layout = screen_share_layout(key.tiles, config.canvas);
        layout_rects.push_back(layout.main);
        layout_rects.insert(layout_rects.end(), layout.strip.begin(), layout.strip.end());
      } else {
        const std::vector<Rect> tiles = tile_layout(key.tiles, config.canvas);
        layout_rects.insert(layout_rects.end(), tiles.begin(), tiles.end());
      }
      layout_key = key;
    }
    // Slots of this frame: the share's main area first, then the tiles.
    slots.clear();
    const size_t first_tile = share ? 1 : 0;
    if (share) slots.push_back(PaintedTile{share->id, layout_rects[0], std::nullopt, std::nullopt});
    for (size_t i = first_tile; i < layout_rects.size(); ++i) {
      slots.push_back(PaintedTile{visible[i - first_tile], layout_rects[i], std::nullopt, std::nullopt});
    }

    // A re-flow (any tile moved) clears the canvas and repaints everything; a new
    // participant in an unchanged tile repaints just that tile.
    bool reflow = slots.size() != painted.size();
    for (size_t i = 0; !reflow && i < slots.size(); ++i) reflow = slots[i].tile != painted[i].tile;
    if (reflow) {
      fill_rect(canvas(), Rect{0, 0, canvas().width, canvas().height}, kBackground);
      painted = slots;
    }
    for (size_t i = 0; i < slots.size(); ++i) {
      PaintedTile& tile = painted[i];
      if (tile.who != slots[i].who) tile = slots[i];
      Participant& p = get(tile.who, "composing");
      const FrameQueue::Selection shown = p.queue.select(t);
      p.shows_picture = shown.frame != nullptr;
      if (tile.serial == shown.serial) continue;  // unchanged since the last compose
      if (shown.frame) {
        try {
          paint_picture(p, *shown.frame, tile);
        } catch (const Error& e) {
          // One participant's picture never costs the others theirs: the tile shows the
          // placeholder until the next picture, and the failure is reported.
          note_problem(e.what());
          paint_placeholder(p, tile);
        }
      } else {
        paint_placeholder(p, tile);
      }
      tile.serial = shown.serial;
    }
    // Hidden participants still advance, so their queues do not pile up.
    for (auto& p : participants) {
      if (std::none_of(painted.begin(), painted.end(), [&](const PaintedTile& s) { return s.who == p->id; })) {
        p->shows_picture = p->queue.select(t).frame != nullptr;
      }
    }
    return canvas();
  }

  void note_problem(std::string text) {
    ++paint_failures;
    if (problems.size() < kMaxKeptProblems) problems.push_back(std::move(text));
  }
  static constexpr size_t kMaxKeptProblems = 16;

  CompositorConfig config;
  PlaceholderPainter painter;
  // Canvases composed into in turn ([current] now), at most kMaxCanvases.
  static constexpr size_t kMaxCanvases = 8;
  std::vector<Canvas> canvases;
  size_t current = 0;
  std::vector<std::unique_ptr<Participant>> participants;  // join order
  std::vector<ParticipantId> visible;                      // camera tiles, tile order
  struct LayoutKey {
    int tiles;
    std::optional<ParticipantId> share;
    friend bool operator==(const LayoutKey&, const LayoutKey&) = default;
  };
  std::optional<LayoutKey> layout_key;  // arrangement layout_rects was made for
  std::vector<Rect> layout_rects;       // share main area (if any), then tiles
  std::vector<PaintedTile> slots;                          // scratch, reused per compose
  ParticipantId next_id = 1;
  int64_t paint_failures = 0;
  std::vector<std::string> problems;  // not yet taken, at most kMaxKeptProblems
};

VideoCompositor::VideoCompositor(Size canvas) : VideoCompositor(CompositorConfig{.canvas = canvas}) {}
VideoCompositor::VideoCompositor(const CompositorConfig& config) : impl_(std::make_unique<Impl>(config)) {}
VideoCompositor::~VideoCompositor() = default;

ParticipantId VideoCompositor::join(std::string participant_id, std::string display_name) {
  return impl_->add(std::move(participant_id), std::move(display_name), false);
}

ParticipantId VideoCompositor::join_screen_share(std::string participant_id) {
  return impl_->add(std::move(participant_id), std::string(), true);
}

void VideoCompositor::leave(ParticipantId id) {
  auto& ps = impl_->participants;
  const auto it = std::find_if(ps.begin(), ps.end(), [&](const auto& p) { return p->id == id; });
  if (it == ps.end()) return;  // leaving twice is harmless
  ps.erase(it);
}

std::optional<std::string> VideoCompositor::picture_problem(const AVFrame& frame) {
  if (frame.width <= 0 || frame.height <= 0) {
    return "a picture of " + std::to_string(frame.width) + "x" + std::to_string(frame.height) + " has no size";
  }
  if (frame.width > kMaxPictureSide || frame.height > kMaxPictureSide) {
    return "a picture of " + std::to_string(frame.width) + "x" + std::to_string(frame.height) + " is larger than " +
           std::to_string(kMaxPictureSide) + "x" + std::to_string(kMaxPictureSide);
  }
  const auto format = static_cast<AVPixelFormat>(frame.format);
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
  if (desc == nullptr) return "pixel format " + std::to_string(frame.format) + " is not a pixel format";
  if (desc->flags & AV_PIX_FMT_FLAG_HWACCEL) {
    return std::string("a hardware surface (") + desc->name +
           ") cannot be composed; transfer it to memory first (av_hwframe_transfer_data)";
  }
  if (!sws_isSupportedInput(format)) return std::string("pixel format ") + desc->name + " cannot be converted";
  // Every plane present, with rows at least as long as the picture is wide.
  int min_linesize[4] = {};
  if (av_image_fill_linesizes(min_linesize, format, frame.width) < 0) {
    return std::string("pixel format ") + desc->name + " at width " + std::to_string(frame.width) + " is not valid";
  }
  for (int plane = 0; plane < av_pix_fmt_count_planes(format) && plane < 4; ++plane) {
    if (frame.data[plane] == nullptr || std::abs(frame.linesize[plane]) < min_linesize[plane]) {
      return std::string("the ") + desc->name + " picture has no data in plane " + std::to_string(plane) +
             " (or rows shorter than its width)";
    }
  }
  return std::nullopt;
}

void VideoCompositor::push_frame(ParticipantId id, const AVFrame& frame, MediaTime pts) {
  Impl::Participant& p = impl_->get(id, "pushing a video frame");
  if (const std::optional<std::string> problem = picture_problem(frame)) {
    throw Error("compositor: participant " + p.participant_id + ": " + *problem);
  }
  p.queue.push(frame, pts);
}

std::vector<std::string> VideoCompositor::take_problems() {
  std::vector<std::string> taken;
  taken.swap(impl_->problems);
  return taken;
}

int64_t VideoCompositor::paint_failures() const { return impl_->paint_failures; }

void VideoCompositor::end_video(ParticipantId id, std::optional<MediaTime> last_frame_duration) {
  impl_->get(id, "ending a video").queue.end_video(last_frame_duration);
}

void VideoCompositor::set_speaking(ParticipantId id, MediaTime at) {
  Impl::Participant& p = impl_->get(id, "noting a speaker");
  if (!p.last_spoke || *p.last_spoke < at) p.last_spoke = at;
}

std::vector<ParticipantId> VideoCompositor::visible_participants() const {
  std::vector<ParticipantId> shown;
  for (const auto& tile : impl_->painted()) shown.push_back(tile.who);
  return shown;
}

bool VideoCompositor::shows_picture(ParticipantId id) const {
  for (const auto& p : impl_->participants)
    if (p->id == id) return p->shows_picture;
  return false;
}

const AVFrame& VideoCompositor::compose(MediaTime t) { return impl_->compose(t); }

}  // namespace callrec::compositor
