// Constant-velocity Kalman filter of one box in image space over (cx, cy, aspect = w / h, h) and their velocities,
// with time in seconds (not frames) so that a dropped frame is just a longer step.
//
// The motion model is the continuous one: each coordinate p follows dp = v dt + white noise, dv = white noise, with
// noise densities proportional to the box height (a near, large vehicle moves more pixels than a far one). Its exact
// discretisation for a step dt gives Q = [[qp dt + qv dt^3/3, qv dt^2/2], [qv dt^2/2, qv dt]], so one step of 2 dt
// and two steps of dt give the same prediction: the filter does not depend on the frame rate. As F, Q, H and R never
// couple two coordinates, the 8x8 covariance stays block diagonal and is kept as four independent 2x2 blocks, which
// is exactly the full filter at a fraction of the cost.
#pragma once

#include <array>

namespace itscam::analytics {

// A box as centre, aspect ratio (w / h) and height, in pixels.
struct BoxXyah {
    double cx = 0, cy = 0, a = 1, h = 1;
};

// Corner form (x1, y1) top-left, (x2, y2) bottom-right, in pixels.
struct BoxXyxy {
    float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
};

BoxXyah to_xyah(const BoxXyxy& b);
BoxXyxy to_xyxy(const BoxXyah& b);
// Intersection over union; 0 for disjoint or empty boxes.
float box_iou(const BoxXyxy& a, const BoxXyxy& b);

// Noise levels as fractions of the box height (aspect terms are absolute: the aspect ratio has no pixel unit).
// The defaults are DeepSORT's / ByteTrack's per-frame values (position 1/20 h, velocity 1/160 h per frame) converted
// to densities per second at 30 fps, so a 30 fps camera behaves as those trackers do.
struct KalmanBoxOptions {
    double meas_pos = 0.05;       // measurement std of cx, cy, h: this x h [px]
    double meas_aspect = 0.1;     // measurement std of the aspect ratio
    double proc_pos = 0.27;       // position random walk: std (this x h) px after 1 s of prediction [1/sqrt(s)]
    double proc_vel = 1.0;        // velocity random walk: std (this x h) px/s after 1 s [1/s^1.5]
    double proc_aspect = 0.055;   // aspect random walk per sqrt(second)
    double proc_aspect_vel = 1e-4;  // aspect velocity random walk per s^1.5
    double init_pos = 0.1;        // initial std of cx, cy, h: this x h [px]
    double init_vel = 2.0;        // initial std of the velocities: this x h [px/s] (the first match sets them)
    double init_aspect = 0.1;
    double init_aspect_vel = 0.01;
    double min_h = 1.0;           // prediction floor for the height [px] (a long coast must not invert the box)
    double min_a = 0.05;          // and for the aspect ratio
};

class KalmanBox {
public:
    KalmanBox() = default;
    KalmanBox(const BoxXyah& first, const KalmanBoxOptions& opt);

    // Advances the state by dt seconds (dt <= 0 or not finite: no change).
    void predict(double dt);
    // Corrects with a measured box (h and a must be > 0; anything else is ignored).
    void update(const BoxXyah& z);

    BoxXyah mean() const;
    // Velocity of (cx, cy, a, h) per second.
    BoxXyah velocity() const;
    // Variance of coordinate i (0 cx, 1 cy, 2 a, 3 h) and of its velocity.
    double pos_var(int i) const { return dims_[i].ppp; }
    double vel_var(int i) const { return dims_[i].pvv; }

private:
    // One coordinate: value, velocity and the symmetric 2x2 covariance [[ppp, ppv], [ppv, pvv]].
    struct Dim {
        double p = 0, v = 0;
        double ppp = 0, ppv = 0, pvv = 0;
    };
    std::array<Dim, 4> dims_{};
    KalmanBoxOptions opt_{};
};

}  // namespace itscam::analytics
