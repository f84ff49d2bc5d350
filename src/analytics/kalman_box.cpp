#include "analytics/kalman_box.h"

#include <algorithm>
#include <cmath>

namespace itscam::analytics {

BoxXyah to_xyah(const BoxXyxy& b) {
    const double w = static_cast<double>(b.x2) - b.x1, h = static_cast<double>(b.y2) - b.y1;
    return {0.5 * (static_cast<double>(b.x1) + b.x2), 0.5 * (static_cast<double>(b.y1) + b.y2), h > 0 ? w / h : 0, h};
}

float box_iou(const BoxXyxy& a, const BoxXyxy& b) {
    const float iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
    const float ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
    if (iw <= 0 || ih <= 0) return 0;
    const float inter = iw * ih;
    const float uni = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
    return uni > 0 ? inter / uni : 0;
}

BoxXyxy to_xyxy(const BoxXyah& b) {
    const double w = b.a * b.h;
    return {static_cast<float>(b.cx - 0.5 * w), static_cast<float>(b.cy - 0.5 * b.h),
            static_cast<float>(b.cx + 0.5 * w), static_cast<float>(b.cy + 0.5 * b.h)};
}

namespace {
double sq(double v) { return v * v; }
}  // namespace

KalmanBox::KalmanBox(const BoxXyah& first, const KalmanBoxOptions& opt) : opt_(opt) {
    const double h = std::max(first.h, opt.min_h);
    const double vals[4] = {first.cx, first.cy, std::max(first.a, opt.min_a), h};
    for (int i = 0; i < 4; ++i) {
        Dim& d = dims_[i];
        d.p = vals[i];
        d.v = 0;
        d.ppv = 0;
        if (i == 2) {
            d.ppp = sq(opt.init_aspect);
            d.pvv = sq(opt.init_aspect_vel);
        } else {
            d.ppp = sq(opt.init_pos * h);
            d.pvv = sq(opt.init_vel * h);
        }
    }
}

void KalmanBox::predict(double dt) {
    if (!(dt > 0) || !std::isfinite(dt)) return;
    const double h = std::max(dims_[3].p, opt_.min_h);
    for (int i = 0; i < 4; ++i) {
        Dim& d = dims_[i];
        const double qp = i == 2 ? sq(opt_.proc_aspect) : sq(opt_.proc_pos * h);
        const double qv = i == 2 ? sq(opt_.proc_aspect_vel) : sq(opt_.proc_vel * h);
        // x' = F x with F = [[1, dt], [0, 1]]; P' = F P F^T + Q (exact discretisation, see the header).
        d.p += d.v * dt;
        const double ppp = d.ppp + 2 * dt * d.ppv + dt * dt * d.pvv;
        const double ppv = d.ppv + dt * d.pvv;
        d.ppp = ppp + qp * dt + qv * dt * dt * dt / 3;
        d.ppv = ppv + qv * dt * dt / 2;
        d.pvv += qv * dt;
    }
    // A long coast with a shrinking box must not drive the size through zero; the velocity that would do so stops.
    if (dims_[3].p < opt_.min_h) {
        dims_[3].p = opt_.min_h;
        dims_[3].v = std::max(dims_[3].v, 0.0);
    }
    if (dims_[2].p < opt_.min_a) {
        dims_[2].p = opt_.min_a;
        dims_[2].v = std::max(dims_[2].v, 0.0);
    }
}

void KalmanBox::update(const BoxXyah& z) {
    const double zs[4] = {z.cx, z.cy, z.a, z.h};
    for (double v : zs)
        if (!std::isfinite(v)) return;
    if (!(z.h > 0) || !(z.a > 0)) return;
    const double h = std::max(dims_[3].p, opt_.min_h);
    for (int i = 0; i < 4; ++i) {
        Dim& d = dims_[i];
        const double r = i == 2 ? sq(opt_.meas_aspect) : sq(opt_.meas_pos * h);
        // H = [1, 0]: innovation variance s = ppp + r, gain K = [ppp, ppv] / s, P' = (I - K H) P.
        const double s = d.ppp + r;
        const double kp = d.ppp / s, kv = d.ppv / s;
        const double y = zs[i] - d.p;
        d.p += kp * y;
        d.v += kv * y;
        const double ppp = (1 - kp) * d.ppp;
        const double ppv = (1 - kp) * d.ppv;
        const double pvv = d.pvv - kv * d.ppv;
        d.ppp = ppp;
        d.ppv = ppv;
        d.pvv = pvv;
    }
}

BoxXyah KalmanBox::mean() const { return {dims_[0].p, dims_[1].p, dims_[2].p, dims_[3].p}; }

BoxXyah KalmanBox::velocity() const { return {dims_[0].v, dims_[1].v, dims_[2].v, dims_[3].v}; }

}  // namespace itscam::analytics
