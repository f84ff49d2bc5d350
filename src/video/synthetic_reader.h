// Synthetic source: "synthetic://WIDTHxHEIGHT@FPS[?frames=N]". Deterministic moving colored rectangles on a
// gradient; pts = i / fps. Frames are generated as fast as they are asked for (CaptureLoop's realtime option paces
// them). Without ?frames the stream never ends.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "video/video_reader.h"

namespace itscam::video {

struct SyntheticSpec {
    int width = 0;
    int height = 0;
    double fps = 0;
    int64_t frames = -1;  // -1: endless
};

// Parses "synthetic://WxH@FPS[?frames=N]"; kInvalidArgument with a plain explanation when malformed.
Result<SyntheticSpec> parse_synthetic_url(const std::string& url);

class SyntheticReader final : public VideoReader {
  public:
    SyntheticReader(std::string url, SyntheticSpec spec, ReaderOptions opt);
    Status open() override;
    Result<bool> read(Frame& out) override;
    void interrupt() override { interrupted_ = true; }
    StreamInfo info() const override;

    // Renders frame `i` as BGR24 into `dst` (rows of `stride` bytes). Public for tests.
    static void render_bgr(const SyntheticSpec& spec, int64_t i, uint8_t* dst, size_t stride);

  private:
    std::string url_;
    SyntheticSpec spec_;
    ReaderOptions opt_;
    bool opened_ = false;
    int64_t next_ = 0;
    std::atomic<bool> interrupted_{false};
};

Result<std::unique_ptr<VideoReader>> make_synthetic_reader(const std::string& url, const ReaderOptions& opt);

}  // namespace itscam::video
