#include "streaming/adaptive_quality.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace itscam::streaming {

ContentController::ContentController(ContentControllerOptions o) : opt_(std::move(o)) {}

QualityDecision ContentController::decide(const ContentSample& s) {
    QualityDecision d;
    d.motion = s.motion;
    const double fps = s.fps > 0 ? s.fps : opt_.fps;
    if (s.last_frame_bytes > 0) {
        const double bits = 8.0 * s.last_frame_bytes;
        // ~2 s time constant: keyframes must not swing the estimate.
        const double a = 1.0 / std::max(1.0, 2.0 * fps);
        ewma_bits_per_frame_ = ewma_bits_per_frame_ < 0 ? bits : ewma_bits_per_frame_ * (1 - a) + bits * a;
    }
    d.bitrate_kbps = ewma_bits_per_frame_ < 0 ? 0 : ewma_bits_per_frame_ * fps / 1000.0;
    if (!opt_.enabled) {
        d.crf = opt_.base_crf;
        return d;
    }
    const double m = std::clamp((s.motion - opt_.quiet_motion) / std::max(1e-6, opt_.busy_motion - opt_.quiet_motion),
                                0.0, 1.0);
    double covered = 0;
    int count = 0;
    const double area = std::max(1.0, double(s.width) * s.height);
    if (s.detections) {
        for (const auto& det : *s.detections) {
            covered += std::max(0.f, det.x2 - det.x1) * std::max(0.f, det.y2 - det.y1);
            count++;
        }
    }
    const double density = std::clamp(std::max(covered / area / opt_.dense_coverage,
                                                double(count) / std::max(1, opt_.dense_count)),
                                       0.0, 1.0);
    d.density = density;
    d.activity = std::max(m, density);

    // Budget integrator: +0.02 CRF per frame over budget (1 CRF step in ~1.7 s at 30 fps), -0.01 under.
    const double budget = opt_.baseline_kbps * (1.0 - opt_.target_reduction);
    if (budget > 0 && d.bitrate_kbps > 0) {
        if (d.bitrate_kbps > budget) correction_ = std::min(correction_ + 0.02, 12.0);
        else correction_ = std::max(correction_ - 0.01, 0.0);
    }
    d.budget_correction = correction_;
    d.crf = std::clamp(opt_.base_crf + opt_.quiet_crf_bonus * (1 - d.activity) - opt_.busy_crf_bonus * d.activity +
                           correction_,
                       opt_.min_crf, opt_.max_crf);
    d.crf = std::round(d.crf * 4) / 4;  // quarter steps: fewer x264 reconfigurations
    d.cap_kbps = opt_.cap_headroom > 0 && budget > 0 ? int(std::lround(budget * opt_.cap_headroom)) : 0;

    if (opt_.roi && s.detections && s.width > 0 && s.height > 0) {
        for (const auto& det : *s.detections) {
            if (std::find(opt_.roi_classes.begin(), opt_.roi_classes.end(), det.class_id) == opt_.roi_classes.end())
                continue;
            if (opt_.roi_min_area > 0 && double(det.x2 - det.x1) * (det.y2 - det.y1) < opt_.roi_min_area) continue;
            const int x1 = std::max(0, int(std::floor(det.x1)) - opt_.roi_margin);
            // Labels are drawn above the box: keep them sharp too.
            const int y1 = std::max(0, int(std::floor(det.y1)) - opt_.roi_margin - 16);
            const int x2 = std::min(s.width, int(std::ceil(det.x2)) + opt_.roi_margin);
            const int y2 = std::min(s.height, int(std::ceil(det.y2)) + opt_.roi_margin);
            if (x2 > x1 && y2 > y1) d.rois.push_back({x1, y1, x2 - x1, y2 - y1, opt_.object_qoffset});
        }
    }
    if (opt_.roi && s.width > 0 && s.height > 0) {
        d.key_rois = d.rois;  // objects first in both maps
        static_tiles(s, d);
        if (opt_.background_qoffset != 0) {
            d.rois.push_back({0, 0, s.width, s.height, opt_.background_qoffset});
            d.key_rois.push_back({0, 0, s.width, s.height, opt_.background_qoffset});
        }
        if (d.key_rois == d.rois) d.key_rois.clear();  // same map either way
    }
    return d;
}

void ContentController::static_tiles(const ContentSample& s, QualityDecision& d) {
    if (!s.thumb || s.thumb_w <= 0 || s.thumb_h <= 0 || s.thumb_step < 1 || opt_.tile_px < s.thumb_step) return;
    if (s.thumb->size() != size_t(s.thumb_w) * s.thumb_h) return;
    const int tt = std::max(1, opt_.tile_px / s.thumb_step);  // tile size in thumbnail pixels
    const int nx = (s.thumb_w + tt - 1) / tt, ny = (s.thumb_h + tt - 1) / tt;
    if (nx != tiles_x_ || ny != tiles_y_ || prev_thumb_.size() != s.thumb->size()) {
        tiles_x_ = nx;
        tiles_y_ = ny;
        still_.assign(size_t(nx) * ny, 0);
        prev_thumb_ = *s.thumb;
        return;
    }
    int n_static = 0;
    for (int ty = 0; ty < ny; ++ty) {
        for (int tx = 0; tx < nx; ++tx) {
            int64_t sum = 0, n = 0;
            for (int y = ty * tt; y < std::min(s.thumb_h, (ty + 1) * tt); ++y) {
                const uint8_t* a = s.thumb->data() + size_t(y) * s.thumb_w;
                const uint8_t* b = prev_thumb_.data() + size_t(y) * s.thumb_w;
                for (int x = tx * tt; x < std::min(s.thumb_w, (tx + 1) * tt); ++x, ++n) sum += std::abs(a[x] - b[x]);
            }
            int& st = still_[size_t(ty) * nx + tx];
            st = n > 0 && double(sum) / double(n) <= opt_.tile_motion ? st + 1 : 0;
            if (st >= opt_.static_frames) n_static++;
        }
    }
    prev_thumb_ = *s.thumb;
    d.static_share = double(n_static) / std::max(1, nx * ny);
    if (opt_.static_key_qoffset == 0 && opt_.static_qoffset == 0) return;
    // Runs of static tiles per tile row, as one region each (frame pixels).
    const int px = tt * s.thumb_step;
    for (int ty = 0; ty < ny; ++ty) {
        for (int tx = 0; tx < nx;) {
            if (still_[size_t(ty) * nx + tx] < opt_.static_frames) {
                ++tx;
                continue;
            }
            int end = tx;
            while (end < nx && still_[size_t(ty) * nx + end] >= opt_.static_frames) ++end;
            const int x = tx * px, y = ty * px;
            const int w = std::min(s.width, end * px) - x, h = std::min(s.height, (ty + 1) * px) - y;
            if (w > 0 && h > 0) {
                if (opt_.static_qoffset != 0) d.rois.push_back({x, y, w, h, opt_.static_qoffset});
                if (opt_.static_key_qoffset != 0) d.key_rois.push_back({x, y, w, h, opt_.static_key_qoffset});
            }
            tx = end;
        }
    }
}

std::vector<RoiRegion> scale_rois(const std::vector<RoiRegion>& r, int sw, int sh, int dw, int dh) {
    if (sw == dw && sh == dh) return r;
    std::vector<RoiRegion> out;
    out.reserve(r.size());
    const double fx = double(dw) / std::max(1, sw), fy = double(dh) / std::max(1, sh);
    for (const auto& x : r) {
        RoiRegion y = x;
        y.x = int(std::floor(x.x * fx));
        y.y = int(std::floor(x.y * fy));
        y.w = std::max(1, int(std::ceil(x.w * fx)));
        y.h = std::max(1, int(std::ceil(x.h * fy)));
        out.push_back(y);
    }
    return out;
}

std::vector<uint8_t> luma_thumbnail(const video::Frame& f, int step, int& tw, int& th) {
    std::vector<uint8_t> out;
    tw = th = 0;
    if (f.empty() || step < 1) return out;
    tw = f.width / step;
    th = f.height / step;
    out.resize(size_t(tw) * th);
    const uint8_t* p = f.data.get();
    for (int y = 0; y < th; ++y) {
        const uint8_t* row = p + size_t(y) * step * f.stride;
        for (int x = 0; x < tw; ++x) {
            if (f.format == video::PixelFormat::kNV12) {
                out[size_t(y) * tw + x] = row[size_t(x) * step];
            } else {
                const uint8_t* px = row + size_t(x) * step * 3;
                // BT.601 luma, integer: (29 B + 150 G + 77 R) / 256
                out[size_t(y) * tw + x] = uint8_t((29 * px[0] + 150 * px[1] + 77 * px[2]) >> 8);
            }
        }
    }
    return out;
}

double frame_motion(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
    if (a.empty() || a.size() != b.size()) return 0;
    int64_t sum = 0;
    for (size_t i = 0; i < a.size(); ++i) sum += std::abs(int(a[i]) - int(b[i]));
    return double(sum) / double(a.size());
}

NetworkController::NetworkController(NetworkControllerOptions o, int start_rung) : opt_(o), rung_(start_rung) {}

void NetworkController::on_write(double now_s, size_t bytes, double write_s) {
    writes_.push_back({now_s, std::max(0.0, write_s), bytes});
    while (!writes_.empty() && writes_.front().t < now_s - opt_.window_s) writes_.pop_front();
}

void NetworkController::on_skip(double now_s) {
    last_skip_s_ = now_s;
    skipped_ = true;
}

double NetworkController::throughput_kbps(double now_s) {
    while (!writes_.empty() && writes_.front().t < now_s - opt_.window_s) writes_.pop_front();
    double busy = 0;
    size_t bytes = 0;
    for (const auto& w : writes_) {
        busy += w.busy;
        bytes += w.bytes;
    }
    if (busy < opt_.min_busy_s) return -1;  // the link keeps up: capacity is above what is sent
    return bytes * 8.0 / busy / 1000.0;
}

NetworkDecision NetworkController::decide(double now_s, const std::vector<Rung>& rungs) {
    NetworkDecision d;
    const int n = static_cast<int>(rungs.size());
    rung_ = std::clamp(rung_, 0, std::max(0, n - 1));
    d.throughput_kbps = throughput_kbps(now_s);
    if (opt_.enabled && n > 1) {
        const double cur = rungs[rung_].bitrate_kbps;
        const bool congested = skipped_ || (d.throughput_kbps >= 0 && d.throughput_kbps < opt_.down_margin * cur);
        if (congested && rung_ + 1 < n && now_s - last_down_s_ >= opt_.down_hold_s) {
            rung_++;
            last_down_s_ = now_s;
            good_since_s_ = -1;
            d.changed = true;
            d.reason = skipped_ ? "skipped fragments" : "throughput below the rung's bitrate";
        } else if (!congested && rung_ > 0) {
            const double better = rungs[rung_ - 1].bitrate_kbps;
            const bool room = d.throughput_kbps < 0 || d.throughput_kbps > opt_.up_margin * better;
            if (!room || now_s - last_skip_s_ < opt_.up_hold_s) {
                good_since_s_ = -1;
            } else if (good_since_s_ < 0) {
                good_since_s_ = now_s;
            } else if (now_s - good_since_s_ >= opt_.up_hold_s) {
                rung_--;
                good_since_s_ = -1;
                d.changed = true;
                d.reason = "throughput has room for a better rung";
                writes_.clear();  // measure the new rung afresh
            }
        }
    }
    skipped_ = false;
    d.rung = rung_;
    d.fragment_ms = n > 0 ? rungs[rung_].fragment_ms : 0;
    return d;
}

}  // namespace itscam::streaming
