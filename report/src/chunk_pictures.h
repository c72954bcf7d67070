// Pictures of a chunk for the contact sheet: decodes only the pictures shown (and the
// ones they are predicted from), scales them down, and encodes each as a JPEG.
//
// A wanted time near a keyframe (within `snap_ms`) shows that keyframe: it decodes on
// its own, so an hour-long chunk sampled every 20 s decodes one picture per sample.
// Other times are reached from the keyframe before them, skipping the pictures no other
// one refers to.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace callrec::report {

struct ChunkPicture {
  int64_t ms;        // chunk-relative time of the picture shown
  int64_t wanted_ms; // the time it was chosen for
  std::string jpeg;  // JPEG bytes
};

struct PictureOptions {
  int width = 256;   // even; the height keeps the chunk's aspect ratio
  int jpeg_quality = 7;  // MJPEG qscale, 2 (best) to 31
  int64_t snap_ms = 0;
};

struct ChunkPictures {
  std::vector<ChunkPicture> pictures;  // in time order, no picture twice
  int frames_decoded = 0;
  int damaged = 0;  // pictures the decoder could not decode
};

// `wanted_ms`: chunk-relative times, ascending. Throws callrec::Error naming the file
// when it cannot be read at all.
ChunkPictures sample_chunk_pictures(const std::filesystem::path& mp4, const std::vector<int64_t>& wanted_ms,
                                    const PictureOptions& options);

}  // namespace callrec::report
