#include "analytics/tracker.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>

namespace itscam::analytics {
namespace {

using vision::Detection;

constexpr int kCar = 2, kTruck = 7;

// An object moving linearly in image space: top-left (x, y) at t = 0, velocity in px/s, size in px.
struct Mover {
    double x = 0, y = 0, vx = 0, vy = 0, w = 60, h = 45;
    int cls = kCar;
    float score = 0.9f;
    // Visible when t is in [from, to) and not inside any hidden interval.
    double from = 0, to = 1e9;
    std::vector<std::pair<double, double>> hidden;

    bool visible(double t) const {
        if (t < from - 1e-9 || t >= to - 1e-9) return false;
        for (auto [a, b] : hidden)
            if (t >= a - 1e-9 && t < b - 1e-9) return false;
        return true;
    }
    Detection at(double t, std::mt19937& rng, double noise) const {
        std::normal_distribution<double> n(0, noise);
        const double x1 = x + vx * t, y1 = y + vy * t;
        return {cls, score, static_cast<float>(x1 + n(rng)), static_cast<float>(y1 + n(rng)),
                static_cast<float>(x1 + w + n(rng)), static_cast<float>(y1 + h + n(rng))};
    }
};

// The track reported as matched to detection d (the tracker reports a matched track with the detection's box).
const TrackedObject* track_of(const std::vector<TrackedObject>& tracks, const Detection& d) {
    const TrackedObject* found = nullptr;
    for (const TrackedObject& t : tracks) {
        if (!t.matched || t.x1 != d.x1 || t.y1 != d.y1 || t.x2 != d.x2 || t.y2 != d.y2) continue;
        EXPECT_EQ(found, nullptr) << "two tracks report the same detection";
        found = &t;
    }
    return found;
}

const TrackedObject* by_id(const std::vector<TrackedObject>& tracks, int64_t id) {
    for (const TrackedObject& t : tracks)
        if (t.track_id == id) return &t;
    return nullptr;
}

// What one run of a scene gave: for each object, the track id of each frame it was detected in (0: none).
struct SceneRun {
    std::vector<std::vector<std::pair<double, int64_t>>> ids;  // per object: (t, id)
    int frames = 0;
};

// Runs movers through a tracker at fps, dropping each frame but the first with probability drop (dropped frames are
// never shown to the tracker: a frame-dropping pipeline). on_frame sees each frame's output.
SceneRun run_scene(const std::vector<Mover>& movers, double fps, double duration, double drop, uint32_t seed,
                   TrackerOptions opt = {}, double noise = 1.0,
                   const std::function<void(double, const std::vector<TrackedObject>&)>& on_frame = {}) {
    Tracker tracker(opt);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(0, 1);
    SceneRun run;
    run.ids.resize(movers.size());
    const int n = static_cast<int>(std::lround(duration * fps));
    for (int k = 0; k < n; ++k) {
        const double t = k / fps;
        if (k > 0 && u(rng) < drop) continue;
        std::vector<Detection> dets;
        std::vector<int> owner;
        for (size_t i = 0; i < movers.size(); ++i) {
            if (!movers[i].visible(t)) continue;
            dets.push_back(movers[i].at(t, rng, noise));
            owner.push_back(static_cast<int>(i));
        }
        const std::vector<TrackedObject> out = tracker.update(dets, t);
        for (size_t j = 1; j < out.size(); ++j) EXPECT_LT(out[j - 1].track_id, out[j].track_id) << "order by id";
        for (size_t j = 0; j < dets.size(); ++j) {
            const TrackedObject* tr = track_of(out, dets[j]);
            run.ids[owner[j]].emplace_back(t, tr ? tr->track_id : 0);
        }
        if (on_frame) on_frame(t, out);
        ++run.frames;
    }
    return run;
}

// The distinct ids an object had in [t0, t1).
std::set<int64_t> ids_between(const SceneRun& r, size_t obj, double t0, double t1) {
    std::set<int64_t> s;
    for (auto [t, id] : r.ids[obj])
        if (t >= t0 - 1e-9 && t < t1 - 1e-9) s.insert(id);
    return s;
}

TEST(Tracker, HundredLinearMoversKeepTheirIdsFor300Frames) {
    // 100 vehicles in 20 lanes (70 px apart, boxes 40-46 px high drifting 8 px at most: lanes never overlap), five per lane 350 px apart,
    // lanes alternating direction at 20-110 px/s.
    std::vector<Mover> movers;
    for (int lane = 0; lane < 20; ++lane)
        for (int k = 0; k < 5; ++k) {
            Mover m;
            m.x = 40 + 350 * k + 13 * lane;
            m.y = 20 + 70 * lane;
            m.vx = (lane % 2 ? -1 : 1) * (20 + 5 * lane);
            m.vy = 0.8 * ((lane % 3) - 1);
            m.w = 60 + 3 * k;
            m.h = 40 + lane % 7;
            movers.push_back(m);
        }
    int confirmed_frames = 0;
    const SceneRun r = run_scene(movers, 30, 10, 0, 1, {}, 1.0, [&](double t, const std::vector<TrackedObject>& out) {
        ASSERT_EQ(out.size(), 100u) << "t = " << t;
        bool all = true;
        for (const TrackedObject& o : out) all = all && o.confirmed;
        if (t >= 0.2 - 1e-9) {
            EXPECT_TRUE(all) << "t = " << t;
            ++confirmed_frames;
        }
    });
    EXPECT_EQ(r.frames, 300);
    EXPECT_EQ(confirmed_frames, 294);
    for (size_t i = 0; i < movers.size(); ++i) {
        ASSERT_EQ(r.ids[i].size(), 300u);
        // Ids in detection order of the first frame, one per object for the whole run.
        EXPECT_EQ(ids_between(r, i, 0, 1e9), std::set<int64_t>{static_cast<int64_t>(i) + 1}) << "object " << i;
    }
}

TEST(Tracker, CrossingObjectsKeepTheirIds) {
    // Two cars on nearly the same line in opposite directions; they overlap for about a second around t = 2.2 s.
    Mover a, b;
    a.x = 100, a.y = 200, a.vx = 90;
    b.x = 500, b.y = 212, b.vx = -90;
    const SceneRun r = run_scene({a, b}, 30, 5, 0, 2);
    EXPECT_EQ(ids_between(r, 0, 0, 1e9), std::set<int64_t>{1});
    EXPECT_EQ(ids_between(r, 1, 0, 1e9), std::set<int64_t>{2});

    // The same with the far one hidden behind the near one while they overlap most (no detection at all).
    b.hidden = {{1.9, 2.5}};
    const SceneRun r2 = run_scene({a, b}, 30, 5, 0, 3);
    EXPECT_EQ(ids_between(r2, 0, 0, 1e9), std::set<int64_t>{1});
    EXPECT_EQ(ids_between(r2, 1, 0, 1e9), std::set<int64_t>{2});
}

TEST(Tracker, OcclusionWithinTheLostBufferKeepsTheIdLongerGetsANewOne) {
    Mover a, b;
    a.x = 100, a.y = 100, a.vx = 60;
    a.hidden = {{1.0, 1.8}};  // 0.8 s
    b.x = 100, b.y = 300, b.vx = 60;
    b.hidden = {{1.0, 3.0}};  // 2 s > lost_timeout_s = 1.5
    bool a_coasted = false;
    const SceneRun r = run_scene({a, b}, 30, 5, 0, 4, {}, 1.0, [&](double t, const std::vector<TrackedObject>& out) {
        const TrackedObject* ta = by_id(out, 1);
        const TrackedObject* tb = by_id(out, 2);
        if (t > 1.0 && t < 1.8 - 1e-9) {
            // Coasting: reported unmatched with the predicted box, which keeps moving with the object.
            ASSERT_NE(ta, nullptr) << "t = " << t;
            EXPECT_FALSE(ta->matched);
            EXPECT_NEAR(ta->x1, 100 + 60 * t, 6) << "t = " << t;
            EXPECT_NEAR(ta->last_seen_s, 29 / 30.0, 1e-9);
            a_coasted = true;
        }
        // b was last seen at 29/30 s: gone from the output 1.5 s later.
        if (t < 29 / 30.0 + 1.5 - 1e-6) {
            EXPECT_NE(tb, nullptr) << "t = " << t;
        }
        if (t > 29 / 30.0 + 1.5 + 1e-6) {
            EXPECT_EQ(tb, nullptr) << "t = " << t;
        }
    });
    EXPECT_TRUE(a_coasted);
    EXPECT_EQ(ids_between(r, 0, 0, 1e9), std::set<int64_t>{1});
    EXPECT_EQ(ids_between(r, 1, 0, 1.0), std::set<int64_t>{2});
    EXPECT_EQ(ids_between(r, 1, 3.0, 1e9), std::set<int64_t>{3});
}

// A scene with both kinds of gap, run at several frame rates: the ids must come out the same.
std::vector<Mover> mixed_scene() {
    std::vector<Mover> v;
    for (int i = 0; i < 10; ++i) {
        Mover m;
        m.x = 50 + 40 * i;
        m.y = 30 + 80 * i;
        m.vx = (i % 2 ? -1 : 1) * (15 + 4 * i);
        m.vy = i % 3 == 0 ? 3 : 0;
        m.w = 65 + 2 * i;
        m.h = 45 + i;
        v.push_back(m);
    }
    v[3].hidden = {{2.0, 2.8}};  // within the lost buffer
    v[6].hidden = {{2.0, 4.5}};  // beyond it: a new id
    Mover late;                  // appears later: the next id
    late.x = 1500, late.y = 500, late.vx = -30, late.from = 1.0;
    v.push_back(late);
    return v;
}

void expect_mixed_scene_ids(const SceneRun& r, const char* what) {
    SCOPED_TRACE(what);
    for (size_t i = 0; i < 10; ++i) {
        if (i == 6) continue;
        EXPECT_EQ(ids_between(r, i, 0, 1e9), std::set<int64_t>{static_cast<int64_t>(i) + 1}) << "object " << i;
    }
    EXPECT_EQ(ids_between(r, 6, 0, 2.0), std::set<int64_t>{7});
    EXPECT_EQ(ids_between(r, 10, 0, 1e9), std::set<int64_t>{11});
    EXPECT_EQ(ids_between(r, 6, 4.5, 1e9), std::set<int64_t>{12});
}

TEST(Tracker, SameIdsAt30And3FpsAndWithDroppedFrames) {
    const std::vector<Mover> scene = mixed_scene();
    const SceneRun r30 = run_scene(scene, 30, 8, 0, 5);
    expect_mixed_scene_ids(r30, "30 fps");
    const SceneRun r3 = run_scene(scene, 3, 8, 0, 6);
    EXPECT_EQ(r3.frames, 24);
    expect_mixed_scene_ids(r3, "3 fps");
    for (uint32_t seed = 7; seed < 12; ++seed) {
        const SceneRun rd = run_scene(scene, 30, 8, 0.4, seed);
        EXPECT_LT(rd.frames, 180);
        expect_mixed_scene_ids(rd, "30 fps, 40% of the frames dropped");
    }
    const SceneRun r10 = run_scene(scene, 10, 8, 0.3, 13);
    expect_mixed_scene_ids(r10, "10 fps, 30% dropped");
}

TEST(Tracker, ClassFlickerDoesNotChangeTheReportedClass) {
    Tracker tracker;
    Mover m;
    m.x = 100, m.y = 100, m.vx = 40;
    std::mt19937 rng(8);
    int flickers = 0;
    for (int k = 0; k < 90; ++k) {
        Detection d = m.at(k / 30.0, rng, 1.0);
        d.class_id = k % 3 == 2 ? kTruck : kCar;  // a truck every third frame
        const auto out = tracker.update({d}, k / 30.0);
        ASSERT_EQ(out.size(), 1u);
        EXPECT_EQ(out[0].track_id, 1);
        EXPECT_EQ(out[0].class_id, kCar) << "frame " << k;
        EXPECT_EQ(out[0].raw_class_id, d.class_id);
        flickers += out[0].raw_class_id == kTruck;
    }
    EXPECT_EQ(flickers, 30);

    // Half and half from a truck start: the first class holds (a switch needs a clear majority) ...
    Tracker t2;
    for (int k = 0; k < 60; ++k) {
        Detection d = m.at(k / 30.0, rng, 1.0);
        d.class_id = k % 2 ? kCar : kTruck;
        const auto out = t2.update({d}, k / 30.0);
        ASSERT_EQ(out.size(), 1u);
        EXPECT_EQ(out[0].class_id, kTruck) << "frame " << k;
    }
    // ... and a lasting change does win, within a second.
    int switched_at = -1;
    for (int k = 60; k < 150; ++k) {
        Detection d = m.at(k / 30.0, rng, 1.0);
        d.class_id = kCar;
        const auto out = t2.update({d}, k / 30.0);
        ASSERT_EQ(out.size(), 1u);
        ASSERT_EQ(out[0].track_id, 1);
        if (switched_at < 0 && out[0].class_id == kCar) switched_at = k;
        if (switched_at >= 0) {
            EXPECT_EQ(out[0].class_id, kCar) << "frame " << k << ": switched back";
        }
    }
    EXPECT_GT(switched_at, 60);
    EXPECT_LT(switched_at, 90);

    // Mostly cars after a truck first detection: the class follows the majority after a few frames.
    Tracker t3;
    for (int k = 0; k < 30; ++k) {
        Detection d = m.at(k / 30.0, rng, 1.0);
        d.class_id = k == 0 || k % 4 == 3 ? kTruck : kCar;
        const auto out = t3.update({d}, k / 30.0);
        ASSERT_EQ(out.size(), 1u);
        if (k >= 3) {
            EXPECT_EQ(out[0].class_id, kCar) << "frame " << k;
        }
    }
}

TEST(Tracker, LowScoreDetectionsExtendTracksButNeverStartThem) {
    Mover m;
    m.x = 100, m.y = 100, m.vx = 50;
    std::mt19937 rng(9);
    {
        // Only low scores (and a high score below new_track_score): no track ever.
        Tracker tracker;
        for (int k = 0; k < 60; ++k) {
            Detection d = m.at(k / 30.0, rng, 1.0);
            d.score = k % 2 ? 0.3f : 0.55f;
            EXPECT_TRUE(tracker.update({d}, k / 30.0).empty()) << "frame " << k;
        }
    }
    {
        // Confident for a second, then low for a second, then confident: one track, matched every frame.
        Tracker tracker;
        for (int k = 0; k < 90; ++k) {
            Detection d = m.at(k / 30.0, rng, 1.0);
            d.score = k >= 30 && k < 60 ? 0.3f : 0.9f;
            const auto out = tracker.update({d}, k / 30.0);
            ASSERT_EQ(out.size(), 1u) << "frame " << k;
            EXPECT_EQ(out[0].track_id, 1);
            EXPECT_TRUE(out[0].matched) << "frame " << k;
            EXPECT_FLOAT_EQ(out[0].score, d.score);
            EXPECT_EQ(out[0].x1, d.x1);
        }
    }
    {
        // Below low_score: ignored, the track coasts.
        Tracker tracker;
        for (int k = 0; k < 20; ++k) {
            Detection d = m.at(k / 30.0, rng, 1.0);
            d.score = k < 10 ? 0.9f : 0.05f;
            const auto out = tracker.update({d}, k / 30.0);
            ASSERT_EQ(out.size(), 1u);
            EXPECT_EQ(out[0].matched, k < 10) << "frame " << k;
        }
    }
    {
        // A low detection does not extend an unconfirmed track.
        Tracker tracker;
        for (int k = 0; k < 5; ++k) {
            Detection d = m.at(k / 30.0, rng, 1.0);
            d.score = k == 0 ? 0.9f : 0.3f;
            const auto out = tracker.update({d}, k / 30.0);
            ASSERT_EQ(out.size(), 1u);
            EXPECT_EQ(out[0].matched, k == 0) << "frame " << k;
            EXPECT_FALSE(out[0].confirmed);
        }
    }
}

// The first frame at which track 1 is reported confirmed, for one object detected at fps.
int first_confirmed_frame(TrackerOptions opt, double fps, int frames, const std::set<int>& missing = {}) {
    Tracker tracker(opt);
    Mover m;
    m.x = 100, m.y = 100, m.vx = 30;
    std::mt19937 rng(10);
    for (int k = 0; k < frames; ++k) {
        std::vector<Detection> dets;
        if (!missing.count(k)) dets.push_back(m.at(k / fps, rng, 1.0));
        const auto out = tracker.update(dets, k / fps);
        if (!out.empty() && out[0].confirmed) {
            EXPECT_EQ(out[0].track_id, 1);
            return k;
        }
    }
    return -1;
}

TEST(Tracker, ConfirmationNeedsHitsOverTime) {
    TrackerOptions opt;  // 2 hits over >= 0.2 s
    EXPECT_EQ(first_confirmed_frame(opt, 30, 30), 6);  // 0.2 s, 7 hits
    EXPECT_EQ(first_confirmed_frame(opt, 3, 10), 1);   // 0.33 s, 2 hits
    EXPECT_EQ(first_confirmed_frame(opt, 30, 30, {1, 2, 3, 4, 5, 6, 7, 8, 9}), 10);  // hits need not be in a row
    opt.confirm_hits = 5;
    EXPECT_EQ(first_confirmed_frame(opt, 3, 10), 4);
    EXPECT_EQ(first_confirmed_frame(opt, 30, 30), 6);
    EXPECT_EQ(first_confirmed_frame(opt, 30, 30, {1, 2, 3, 4}), 8);  // the 5th hit, at 0.27 s
    opt.confirm_hits = 1;
    opt.confirm_s = 0;
    EXPECT_EQ(first_confirmed_frame(opt, 30, 30), 0);
    opt.confirm_s = 1.0;
    EXPECT_EQ(first_confirmed_frame(opt, 5, 10), 5);
    // Never confirmed when the only hit is the first: one detection, then nothing.
    opt = {};
    std::set<int> all_but_first;
    for (int k = 1; k < 30; ++k) all_but_first.insert(k);
    EXPECT_EQ(first_confirmed_frame(opt, 30, 30, all_but_first), -1);
}

TEST(Tracker, TimeGoingBackwardResetsAndIdsKeepIncreasing) {
    std::vector<Mover> movers(3);
    for (int i = 0; i < 3; ++i) movers[i].x = 100, movers[i].y = 100 + 100 * i, movers[i].vx = 30;
    Tracker tracker;
    std::mt19937 rng(11);
    auto frame = [&](double t) {
        std::vector<Detection> dets;
        for (const Mover& m : movers) dets.push_back(m.at(t, rng, 1.0));
        return tracker.update(dets, t);
    };
    for (int k = 0; k < 30; ++k) frame(k / 30.0);
    auto out = frame(1.0);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[2].track_id, 3);
    // A looped file: back to 0. The old tracks are gone, and the same objects get new ids.
    out = frame(0.0);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].track_id, 4);
    EXPECT_EQ(out[2].track_id, 6);
    EXPECT_FALSE(out[0].confirmed);
    // The same time again is not a step back.
    out = frame(0.0);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].track_id, 4);
    // reset(): the same, and a later time is fine afterwards.
    tracker.reset();
    out = frame(0.5);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].track_id, 7);
    // A time that is not a number: the frame is refused, nothing changes.
    EXPECT_TRUE(frame(std::numeric_limits<double>::quiet_NaN()).empty());
    out = frame(0.5 + 1 / 30.0);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].track_id, 7);
    EXPECT_TRUE(out[0].matched);
}

TEST(Tracker, IdsAreNeverReused) {
    Tracker tracker;
    Mover m;
    m.x = 100, m.y = 100;
    std::mt19937 rng(12);
    int64_t expected = 1;
    double t = 0;
    for (int round = 0; round < 4; ++round) {
        for (int k = 0; k < 10; ++k, t += 1 / 30.0) {
            const auto out = tracker.update({m.at(t, rng, 1.0)}, t);
            ASSERT_EQ(out.size(), 1u);
            EXPECT_EQ(out[0].track_id, expected);
        }
        for (int k = 0; k < 60; ++k, t += 1 / 30.0) tracker.update({}, t);  // 2 s without it: removed
        ++expected;
    }
}

TEST(Tracker, BadDetectionsAreIgnored) {
    Tracker tracker;
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<Detection> bad = {{kCar, 0.9f, nan, 0, 10, 10},  {kCar, 0.9f, 0, 0, inf, 10},
                                        {kCar, nan, 0, 0, 10, 10},     {kCar, 0.9f, 10, 0, 5, 10},
                                        {kCar, 0.9f, 0, 10, 10, 10},   {kCar, 0.9f, -3e38f, 0, 3e38f, 10},
                                        {kCar, 0.9f, 0, 0, 10, 10}};
    for (int k = 0; k < 10; ++k) {
        const auto out = tracker.update(bad, k / 30.0);
        ASSERT_EQ(out.size(), 1u);  // only the last, valid one
        EXPECT_EQ(out[0].track_id, 1);
        EXPECT_EQ(out[0].x2, 10.f);
    }
}

TEST(Tracker, ClassAwareKeepsClassesApart) {
    // A car and a truck at the same place alternate frames: class-agnostic, one track takes both; class-aware, two.
    auto run = [](bool aware) {
        TrackerOptions opt;
        opt.class_aware = aware;
        Tracker tracker(opt);
        std::set<int64_t> ids;
        for (int k = 0; k < 20; ++k) {
            const Detection d{k % 2 ? kTruck : kCar, 0.9f, 100, 100, 160, 145};
            for (const auto& o : tracker.update({d}, k / 30.0)) ids.insert(o.track_id);
        }
        return ids;
    };
    EXPECT_EQ(run(false), std::set<int64_t>{1});
    EXPECT_EQ(run(true), (std::set<int64_t>{1, 2}));
}

// Track 1's coasting boxes after an object that slows from 120 to 10 px/s at t = 1 s. With `virtual_path`, the
// frames 30..44 show the straight path from the frame-29 box to the frame-45 box (what ORU assumes); otherwise they
// show nothing. Frame 45 shows the object, later frames nothing.
std::vector<float> coast_after_gap(bool reupdate, bool virtual_path) {
    TrackerOptions opt;
    opt.observation_reupdate = reupdate;
    Tracker tracker(opt);
    auto x_at = [](int k) { return k < 30 ? 100 + 4.0 * k : 220 + (k - 30) / 3.0; };
    std::vector<float> coast;
    for (int k = 0; k < 60; ++k) {
        std::vector<Detection> dets;
        if (k < 30 || k == 45 || virtual_path) {
            const double x = k < 30 || k >= 45 ? x_at(k) : x_at(29) + (x_at(45) - x_at(29)) * (k - 29) / 16.0;
            if (k <= 45) dets.push_back({kCar, 0.9f, static_cast<float>(x), 100, static_cast<float>(x + 60), 145});
        }
        const auto out = tracker.update(dets, k / 30.0);
        const TrackedObject* tr = by_id(out, 1);
        EXPECT_NE(tr, nullptr) << "frame " << k;
        if (!tr) return {};
        if (k > 45) coast.push_back(tr->x1);
    }
    return coast;
}

TEST(Tracker, ObservationCentricReupdateRefitsAlongTheVirtualPath) {
    // ORU by definition: found again after coasting, the track ends up as if it had been observed along the straight
    // path between its last observation and the new one, not as a filter that coasted on the stale 120 px/s.
    const std::vector<float> oru = coast_after_gap(true, false);
    const std::vector<float> path = coast_after_gap(true, true);
    const std::vector<float> plain = coast_after_gap(false, false);
    ASSERT_EQ(oru.size(), 14u);
    ASSERT_EQ(path.size(), 14u);
    ASSERT_EQ(plain.size(), 14u);
    for (size_t i = 0; i < oru.size(); ++i) EXPECT_NEAR(oru[i], path[i], 0.02) << "coasting frame " << i;
    EXPECT_GT(std::abs(plain.back() - path.back()), 0.5) << "without ORU the filter should differ (by 1.3 px)";
}

TEST(TrackerOptions, ValidationNamesTheFieldAndTheTrackerFallsBackToDefaults) {
    EXPECT_TRUE(validate_tracker_options({}).is_ok());
    TrackerOptions o;
    o.lost_timeout_s = std::numeric_limits<double>::quiet_NaN();
    Status s = validate_tracker_options(o);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("tracker.lost_timeout_s"), std::string::npos) << s.message();
    o = {};
    o.low_score = 0.7f;
    s = validate_tracker_options(o);
    EXPECT_NE(s.message().find("tracker.low_score: must not exceed high_score"), std::string::npos) << s.message();
    o = {};
    o.confirm_hits = 0;
    EXPECT_NE(validate_tracker_options(o).message().find("confirm_hits"), std::string::npos);
    o = {};
    o.class_switch_ratio = 0.5f;
    EXPECT_FALSE(validate_tracker_options(o).is_ok());

    o = {};
    o.lost_timeout_s = -1;
    o.high_score = 2;
    o.low_score = 0.7f;
    o.confirm_hits = 3;  // valid: kept
    Tracker tracker(o);
    EXPECT_EQ(tracker.options().lost_timeout_s, TrackerOptions{}.lost_timeout_s);
    EXPECT_EQ(tracker.options().high_score, TrackerOptions{}.high_score);
    EXPECT_LE(tracker.options().low_score, tracker.options().high_score);
    EXPECT_EQ(tracker.options().confirm_hits, 3);
    EXPECT_TRUE(validate_tracker_options(tracker.options()).is_ok());
    // And the NaN buffer does not keep tracks forever: the default 1.5 s applies.
    o = {};
    o.lost_timeout_s = std::numeric_limits<double>::quiet_NaN();
    Tracker t2(o);
    t2.update({{kCar, 0.9f, 0, 0, 50, 40}}, 0);
    EXPECT_EQ(t2.update({}, 1.4).size(), 1u);
    EXPECT_TRUE(t2.update({}, 1.6).empty());
}

TEST(Tracker, DetectionIndexPointsAtTheMatchedInputDetection) {
    Tracker tr;
    std::vector<Detection> dets = {{kCar, 0.9f, 100, 100, 160, 145}, {kTruck, 0.8f, 400, 200, 480, 260},
                                   {kCar, 0.3f, 700, 100, 760, 145}};  // low score: never starts a track
    for (int f = 0; f < 10; ++f) {
        // Input order changes every frame; the index must follow it.
        std::vector<Detection> in = dets;
        if (f % 2) std::reverse(in.begin(), in.end());
        if (f == 9) in.erase(std::remove_if(in.begin(), in.end(), [](const Detection& d) { return d.score == 0.9f; }),
                             in.end());  // the first car is missed: its track coasts
        for (auto& d : dets) d.x1 += 2, d.x2 += 2;
        const auto out = tr.update(in, f / 30.0);
        int matched = 0;
        for (const TrackedObject& t : out) {
            if (!t.matched) {
                EXPECT_EQ(t.detection_index, -1);
                continue;
            }
            ++matched;
            ASSERT_GE(t.detection_index, 0);
            ASSERT_LT(t.detection_index, static_cast<int>(in.size()));
            const Detection& d = in[t.detection_index];
            EXPECT_EQ(d.x1, t.x1);
            EXPECT_EQ(d.y2, t.y2);
            EXPECT_GE(d.score, 0.5f);
        }
        EXPECT_EQ(matched, f == 9 ? 1 : 2) << "frame " << f;
    }
}

}  // namespace
}  // namespace itscam::analytics
