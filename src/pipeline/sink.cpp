#include "pipeline/sink.h"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/time_format.h"

namespace itscam::pipeline {


namespace {
// Rounds to 1/scale (a power of ten); dividing (not multiplying by 0.01) keeps 219.7 printing as 219.7.
double round_to(double v, double scale) { return std::round(v * scale) / scale; }
}  // namespace

std::string detection_record_json(const DetectionRecord& r) {
    nlohmann::json j;
    j["camera"] = r.camera;
    if (r.epoch > 0) {
        j["epoch"] = r.epoch;
        j["node"] = r.node;
    }
    j["frame"] = r.frame;
    j["pts"] = round_to(r.pts, 1e6);
    j["time"] = iso8601_utc(std::chrono::system_clock::time_point(std::chrono::microseconds(r.wall_time_us)));
    j["wall_time_us"] = r.wall_time_us;
    j["width"] = r.width;
    j["height"] = r.height;
    j["latency_ms"] = round_to(r.latency_ms, 1e3);
    j["device"] = r.device;
    j["degraded"] = r.degraded;
    nlohmann::json dets = nlohmann::json::array();
    for (size_t i = 0; i < r.detections.size(); ++i) {
        const vision::Detection& d = r.detections[i];
        nlohmann::json o;
        // Cameras with analytics: the confirmed track the box belongs to, and its calibrated speed.
        if (i < r.track_ids.size() && r.track_ids[i] > 0) o["track_id"] = r.track_ids[i];
        if (i < r.speeds_kmh.size() && std::isfinite(r.speeds_kmh[i])) o["speed_kmh"] = round_to(r.speeds_kmh[i], 10);
        o["class_id"] = d.class_id;
        if (r.class_names && d.class_id >= 0 && d.class_id < static_cast<int>(r.class_names->size()))
            o["class"] = (*r.class_names)[d.class_id];
        o["score"] = round_to(d.score, 1e4);
        o["box"] = {round_to(d.x1, 100), round_to(d.y1, 100), round_to(d.x2, 100), round_to(d.y2, 100)};
        dets.push_back(std::move(o));
    }
    j["detections"] = std::move(dets);
    if (!r.events.empty()) {
        nlohmann::json ev = nlohmann::json::array();
        for (const auto& e : r.events) ev.push_back(nlohmann::json::parse(analytics::event_json(e)));
        j["events"] = std::move(ev);
    }
    return j.dump();
}

Result<std::unique_ptr<JsonlSink>> JsonlSink::open(const std::string& path) {
    std::unique_ptr<JsonlSink> s(new JsonlSink());
    if (path == "-") {
        s->f_ = stdout;
        return s;
    }
    // Create the folder (runs/...) like any output option would; a path that cannot be a folder is an error below.
    std::error_code ec;
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    s->f_ = std::fopen(path.c_str(), "ae");
    if (!s->f_) return io_error("cannot open detections sink '" + path + "': " + std::strerror(errno));
    s->owns_ = true;
    return s;
}

JsonlSink::~JsonlSink() {
    if (f_) std::fflush(f_);
    if (owns_ && f_) std::fclose(f_);
}

void JsonlSink::write(const DetectionRecord& r) {
    std::string line = detection_record_json(r);
    line.push_back('\n');
    std::lock_guard<std::mutex> lk(mu_);
    std::fwrite(line.data(), 1, line.size(), f_);
    ++lines_;
}

void JsonlSink::flush() {
    std::lock_guard<std::mutex> lk(mu_);
    std::fflush(f_);
}

}  // namespace itscam::pipeline
