#include "analytics/tracker.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <utility>

#include "analytics/assignment.h"
#include "analytics/kalman_box.h"

namespace itscam::analytics {

namespace {

// Slack for comparisons of stream times that are sums of frame periods (6 x 1/30 is not exactly 0.2).
constexpr double kTimeEps = 1e-6;
// At most this many virtual observations when re-fitting a track after coasting (ORU); a longer gap is spread over
// them, which changes nothing on a straight path.
constexpr int kMaxVirtualSteps = 32;
// Observation history kept for the momentum term (entries within the window plus one older).
constexpr size_t kMaxHistory = 64;
// Momentum needs a real movement: at least this fraction of the box height over the window.
constexpr double kMinDirectionMove = 0.1;

// Coordinates beyond this are garbage, not pixels; refusing them keeps every box area and filter state finite.
constexpr float kMaxCoordinate = 1e6f;

bool valid_detection(const vision::Detection& d) {
    auto sane = [](float v) { return std::isfinite(v) && std::abs(v) <= kMaxCoordinate; };
    return std::isfinite(d.score) && sane(d.x1) && sane(d.y1) && sane(d.x2) && sane(d.y2) && d.x2 > d.x1 &&
           d.y2 > d.y1;
}

struct Observation {
    double t = 0, cx = 0, cy = 0;
};

struct Track {
    int64_t id = 0;
    KalmanBox kf;       // predicted to kf_t
    double kf_t = 0;
    BoxXyxy pred;       // the prediction at the current update's time
    KalmanBox kf_obs;   // the state right after the last observation: ORU restarts from here
    BoxXyah last_obs;   // last observed box
    BoxXyxy box;        // what is reported: the matched detection, or the prediction while coasting
    float score = 0;
    int raw_class = 0;
    int class_id = 0;
    std::vector<std::pair<int, float>> votes;  // class -> decayed score-weighted votes
    double votes_t = 0;
    std::vector<Observation> history;
    int hits = 0;
    int missed = 0;           // updates since the last match
    double first_seen = 0, last_seen = 0;
    bool confirmed = false;
    bool matched = false;     // in the current update
    int det_index = -1;       // the input detection matched in the current update
};

}  // namespace

struct Tracker::Impl {
    TrackerOptions opt;
    KalmanBoxOptions kopt;
    std::vector<Track> tracks;  // ascending id
    int64_t next_id = 1;
    bool has_time = false;
    double last_t = 0;

    // Per-update scratch, kept to avoid allocations.
    std::vector<BoxXyxy> det_boxes, row_boxes, col_boxes;
    std::vector<int> high, low, rows, cols, det_track, track_det, order;
    std::vector<AssignmentPair> pairs;

    explicit Impl(TrackerOptions o) : opt(std::move(o)) {}

    std::vector<TrackedObject> update(const std::vector<vision::Detection>& dets, double t);

    // Pairs (row, col) of row_boxes x col_boxes with IoU >= gate, by a sweep over the rows sorted by x1 (only boxes
    // that overlap in x can overlap at all). score_fn(row, col, iou) gives the pair's score or < 0 to skip it.
    template <typename ScoreFn>
    void overlapping_pairs(float gate, ScoreFn score_fn);
    // One association stage: matches rows (indices into tracks) to cols (indices into dets) through row_boxes and
    // col_boxes, and records them in track_det / det_track.
    template <typename ScoreFn>
    void associate(float gate, ScoreFn score_fn);

    void apply_match(Track& tr, const vision::Detection& d, double t);
    void vote(Track& tr, int cls, float score, double t);
    float momentum_bonus(const Track& tr, const BoxXyxy& det, float score) const;
    Track new_track(const vision::Detection& d, double t);
    static TrackedObject report(const Track& tr);
};

template <typename ScoreFn>
void Tracker::Impl::overlapping_pairs(float gate, ScoreFn score_fn) {
    pairs.clear();
    order.resize(row_boxes.size());
    float max_w = 0;
    for (size_t i = 0; i < row_boxes.size(); ++i) {
        order[i] = static_cast<int>(i);
        max_w = std::max(max_w, row_boxes[i].x2 - row_boxes[i].x1);
    }
    std::sort(order.begin(), order.end(), [&](int a, int b) { return row_boxes[a].x1 < row_boxes[b].x1; });
    for (size_t c = 0; c < col_boxes.size(); ++c) {
        const BoxXyxy& cb = col_boxes[c];
        // Rows with x1 > cb.x1 - max_w are the only ones whose x2 can pass cb.x1.
        auto it = std::lower_bound(order.begin(), order.end(), cb.x1 - max_w,
                                   [&](int r, float x) { return row_boxes[r].x1 < x; });
        for (; it != order.end() && row_boxes[*it].x1 < cb.x2; ++it) {
            const int r = *it;
            const float v = box_iou(row_boxes[r], cb);
            if (v <= 0 || v < gate) continue;
            const float s = score_fn(r, static_cast<int>(c), v);
            if (s >= 0) pairs.push_back({r, static_cast<int>(c), s});
        }
    }
}

template <typename ScoreFn>
void Tracker::Impl::associate(float gate, ScoreFn score_fn) {
    if (rows.empty() || cols.empty()) return;
    overlapping_pairs(gate, score_fn);
    // Scores are IoU plus a bounded bonus, so the gate on the score is 0 here: the IoU gate was applied above.
    auto res = assign_sparse(static_cast<int>(rows.size()), static_cast<int>(cols.size()), pairs, 0.f);
    if (!res) return;  // cannot happen: every pair is in range by construction
    for (const AssignmentMatch& m : res->matches) {
        track_det[rows[m.row]] = cols[m.col];
        det_track[cols[m.col]] = rows[m.row];
    }
}

float Tracker::Impl::momentum_bonus(const Track& tr, const BoxXyxy& det, float score) const {
    if (opt.ocm_weight <= 0 || tr.history.size() < 2) return 0;
    const Observation& ref = tr.history.front();
    const Observation& last = tr.history.back();
    const double min_move = kMinDirectionMove * tr.last_obs.h;
    const double tx = last.cx - ref.cx, ty = last.cy - ref.cy;
    const BoxXyah d = to_xyah(det);
    const double dx = d.cx - ref.cx, dy = d.cy - ref.cy;
    if (std::hypot(tx, ty) < min_move || std::hypot(dx, dy) < min_move) return 0;
    double diff = std::abs(std::atan2(ty, tx) - std::atan2(dy, dx));
    if (diff > std::numbers::pi) diff = 2 * std::numbers::pi - diff;
    return static_cast<float>(opt.ocm_weight * score * (std::numbers::pi / 2 - diff) / std::numbers::pi);
}

void Tracker::Impl::vote(Track& tr, int cls, float score, double t) {
    const double decay = opt.class_memory_s > 0 ? std::exp(-std::max(0.0, t - tr.votes_t) / opt.class_memory_s) : 0;
    tr.votes_t = t;
    bool found = false;
    float current = 0, best = 0;
    int best_cls = tr.class_id;
    for (auto& [c, w] : tr.votes) {
        w = static_cast<float>(w * decay);
        if (c == cls) {
            w += score;
            found = true;
        }
    }
    if (!found) tr.votes.emplace_back(cls, score);
    // Forget classes whose votes have faded away (keeps the list at the one or two classes a track flickers over).
    std::erase_if(tr.votes, [&](const auto& v) { return v.second < 1e-4f && v.first != cls; });
    for (const auto& [c, w] : tr.votes) {
        if (c == tr.class_id) current = w;
        if (w > best) {
            best = w;
            best_cls = c;
        }
    }
    if (best_cls != tr.class_id && best > opt.class_switch_ratio * current) tr.class_id = best_cls;
}

void Tracker::Impl::apply_match(Track& tr, const vision::Detection& d, double t) {
    const BoxXyxy box{d.x1, d.y1, d.x2, d.y2};
    const BoxXyah z = to_xyah(box);
    if (tr.missed > 0 && opt.observation_reupdate && t > tr.last_seen) {
        // ORU: from the state of the last observation, follow virtual observations on the straight path to the new
        // one, so the velocity comes out as the real displacement over the gap, not the stale one it coasted with.
        KalmanBox kf = tr.kf_obs;
        const int n = std::min(tr.missed, kMaxVirtualSteps);
        const double t0 = tr.last_seen, gap = t - t0;
        double prev = t0;
        for (int k = 1; k <= n; ++k) {
            const double f = static_cast<double>(k) / (n + 1);
            const double tk = t0 + f * gap;
            kf.predict(tk - prev);
            kf.update({tr.last_obs.cx + f * (z.cx - tr.last_obs.cx), tr.last_obs.cy + f * (z.cy - tr.last_obs.cy),
                       tr.last_obs.a + f * (z.a - tr.last_obs.a), tr.last_obs.h + f * (z.h - tr.last_obs.h)});
            prev = tk;
        }
        kf.predict(t - prev);
        tr.kf = kf;
    }
    tr.kf.update(z);
    tr.kf_obs = tr.kf;
    tr.last_obs = z;
    tr.box = box;
    tr.score = d.score;
    tr.raw_class = d.class_id;
    vote(tr, d.class_id, d.score, t);
    tr.history.push_back({t, z.cx, z.cy});
    // Keep one observation at or before the window's start as the reference of the direction.
    size_t drop = 0;
    while (drop + 1 < tr.history.size() && tr.history[drop + 1].t <= t - opt.ocm_window_s + kTimeEps) ++drop;
    if (tr.history.size() - drop > kMaxHistory) drop = tr.history.size() - kMaxHistory;
    tr.history.erase(tr.history.begin(), tr.history.begin() + static_cast<std::ptrdiff_t>(drop));
    ++tr.hits;
    tr.missed = 0;
    tr.last_seen = t;
    tr.matched = true;
    if (!tr.confirmed && tr.hits >= opt.confirm_hits && t - tr.first_seen >= opt.confirm_s - kTimeEps)
        tr.confirmed = true;
}

Track Tracker::Impl::new_track(const vision::Detection& d, double t) {
    Track tr;
    tr.id = next_id++;
    const BoxXyxy box{d.x1, d.y1, d.x2, d.y2};
    tr.last_obs = to_xyah(box);
    tr.kf = KalmanBox(tr.last_obs, kopt);
    tr.kf_obs = tr.kf;
    tr.kf_t = t;
    tr.box = tr.pred = box;
    tr.score = d.score;
    tr.raw_class = tr.class_id = d.class_id;
    tr.votes.emplace_back(d.class_id, d.score);
    tr.votes_t = t;
    tr.history.push_back({t, tr.last_obs.cx, tr.last_obs.cy});
    tr.hits = 1;
    tr.first_seen = tr.last_seen = t;
    tr.matched = true;
    tr.confirmed = opt.confirm_hits <= 1 && opt.confirm_s <= kTimeEps;
    return tr;
}

TrackedObject Tracker::Impl::report(const Track& tr) {
    TrackedObject o;
    o.track_id = tr.id;
    o.class_id = tr.class_id;
    o.raw_class_id = tr.raw_class;
    o.score = tr.score;
    o.x1 = tr.box.x1;
    o.y1 = tr.box.y1;
    o.x2 = tr.box.x2;
    o.y2 = tr.box.y2;
    o.matched = tr.matched;
    o.detection_index = tr.matched ? tr.det_index : -1;
    o.confirmed = tr.confirmed;
    o.first_seen_s = tr.first_seen;
    o.last_seen_s = tr.last_seen;
    return o;
}

std::vector<TrackedObject> Tracker::Impl::update(const std::vector<vision::Detection>& dets, double t) {
    if (!std::isfinite(t)) return {};  // a frame without a usable time cannot be placed on the tracks' timeline
    if (has_time && t < last_t) tracks.clear();  // a looped file or a restarted stream: ids keep increasing
    has_time = true;
    last_t = t;

    // The lost buffer: a track unmatched for lost_timeout_s can no longer be matched.
    std::erase_if(tracks, [&](const Track& tr) { return t - tr.last_seen >= opt.lost_timeout_s - kTimeEps; });
    for (Track& tr : tracks) {
        tr.kf.predict(t - tr.kf_t);
        tr.kf_t = t;
        tr.pred = to_xyxy(tr.kf.mean());
        tr.matched = false;
    }

    high.clear();
    low.clear();
    det_boxes.resize(dets.size());
    for (size_t i = 0; i < dets.size(); ++i) {
        const vision::Detection& d = dets[i];
        det_boxes[i] = {d.x1, d.y1, d.x2, d.y2};
        if (!valid_detection(d)) continue;
        if (d.score >= opt.high_score)
            high.push_back(static_cast<int>(i));
        else if (d.score >= opt.low_score)
            low.push_back(static_cast<int>(i));
    }
    det_track.assign(dets.size(), -1);
    track_det.assign(tracks.size(), -1);
    auto same_class = [&](int ti, int di) { return !opt.class_aware || tracks[ti].class_id == dets[di].class_id; };
    auto set_cols = [&](const std::vector<int>& candidates) {
        cols.clear();
        col_boxes.clear();
        for (int di : candidates)
            if (det_track[di] < 0) {
                cols.push_back(di);
                col_boxes.push_back(det_boxes[di]);
            }
    };

    // Stage 1: high-score detections against every track (confirmed, tentative and coasting) by the prediction.
    rows.clear();
    row_boxes.clear();
    for (size_t ti = 0; ti < tracks.size(); ++ti) {
        rows.push_back(static_cast<int>(ti));
        row_boxes.push_back(tracks[ti].pred);
    }
    set_cols(high);
    associate(opt.match_iou, [&](int r, int c, float v) {
        const int ti = rows[r], di = cols[c];
        if (!same_class(ti, di)) return -1.f;
        return v + momentum_bonus(tracks[ti], det_boxes[di], dets[di].score);
    });

    // Stage 2: low-score detections extend confirmed tracks that were being tracked (matched in the previous
    // update) and are still unmatched; they never start a track.
    rows.clear();
    row_boxes.clear();
    for (size_t ti = 0; ti < tracks.size(); ++ti) {
        const Track& tr = tracks[ti];
        if (track_det[ti] >= 0 || !tr.confirmed || tr.missed > 0) continue;
        rows.push_back(static_cast<int>(ti));
        row_boxes.push_back(tr.pred);
    }
    set_cols(low);
    associate(opt.low_match_iou, [&](int r, int c, float v) { return same_class(rows[r], cols[c]) ? v : -1.f; });

    // Stage 3 (OC-SORT's recovery): high detections left over against the tracks left over by their last observed
    // box, for a track whose prediction ran off while it was lost.
    if (opt.observation_recovery) {
        rows.clear();
        row_boxes.clear();
        for (size_t ti = 0; ti < tracks.size(); ++ti) {
            if (track_det[ti] >= 0) continue;
            rows.push_back(static_cast<int>(ti));
            row_boxes.push_back(to_xyxy(tracks[ti].last_obs));
        }
        set_cols(high);
        associate(opt.match_iou, [&](int r, int c, float v) { return same_class(rows[r], cols[c]) ? v : -1.f; });
    }

    for (size_t ti = 0; ti < tracks.size(); ++ti) {
        Track& tr = tracks[ti];
        if (track_det[ti] >= 0) {
            apply_match(tr, dets[track_det[ti]], t);
            tr.det_index = track_det[ti];
        } else {
            ++tr.missed;
            tr.box = tr.pred;
            tr.det_index = -1;
        }
    }
    for (int di : high)
        if (det_track[di] < 0 && dets[di].score >= opt.new_track_score) {
            tracks.push_back(new_track(dets[di], t));
            tracks.back().det_index = di;
        }

    std::vector<TrackedObject> out;
    out.reserve(tracks.size());
    for (const Track& tr : tracks) out.push_back(report(tr));
    return out;
}

Tracker::Tracker(TrackerOptions opt) : impl_(std::make_unique<Impl>(sanitized_tracker_options(std::move(opt)))) {}
Tracker::~Tracker() = default;
Tracker::Tracker(Tracker&&) noexcept = default;
Tracker& Tracker::operator=(Tracker&&) noexcept = default;

std::vector<TrackedObject> Tracker::update(const std::vector<vision::Detection>& detections, double t_s) {
    return impl_->update(detections, t_s);
}

void Tracker::reset() {
    impl_->tracks.clear();
    impl_->has_time = false;
}

const TrackerOptions& Tracker::options() const { return impl_->opt; }

}  // namespace itscam::analytics
