// JSON Lines records and latency statistics.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "pipeline/latency.h"
#include "pipeline/sink.h"

using namespace itscam;
using namespace itscam::pipeline;

TEST(Latency, PercentilesOverTheWindowAndBucketsSinceStart) {
    LatencyRecorder r(100);
    for (int i = 1; i <= 100; ++i) r.record(i);
    LatencySummary s = r.summary();
    EXPECT_EQ(s.count, 100);
    EXPECT_DOUBLE_EQ(s.p50_ms, 50);
    EXPECT_DOUBLE_EQ(s.p99_ms, 99);
    EXPECT_DOUBLE_EQ(s.max_ms, 100);
    EXPECT_DOUBLE_EQ(s.mean_ms, 50.5);
    // The window slides: 100 more samples of 1 ms push the old ones out; the since-start counters keep them.
    for (int i = 0; i < 100; ++i) r.record(1);
    s = r.summary();
    EXPECT_EQ(s.count, 200);
    EXPECT_DOUBLE_EQ(s.p99_ms, 1);
    auto b = r.buckets();
    ASSERT_EQ(b.size(), LatencyRecorder::kBucketsMs.size() + 1);
    EXPECT_EQ(b.back(), 200);
    EXPECT_EQ(b[1], 101);  // <= 1 ms: the 100 ones and the first sample
    for (size_t i = 1; i < b.size(); ++i) EXPECT_GE(b[i], b[i - 1]);
    r.record(-5);  // garbage in: counted as 0, never negative
    EXPECT_GE(r.summary().p50_ms, 0);
}

TEST(Sink, JsonLineHasEveryFieldAndParses) {
    DetectionRecord r;
    r.camera = "cam-1";
    r.frame = 42;
    r.pts = 1.4;
    r.wall_time_us = 1790000000123456;
    r.width = 1280;
    r.height = 720;
    r.latency_ms = 33.3333;
    r.device = "cpu";
    std::vector<std::string> names = {"person", "bicycle", "car"};
    r.class_names = &names;
    r.detections.push_back({2, 0.87654f, 10.123f, 20.f, 110.f, 220.5f});
    const std::string line = detection_record_json(r);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_NE(line.find("[10.12,20.0,110.0,220.5]"), std::string::npos) << "boxes print rounded: " << line;
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["camera"], "cam-1");
    EXPECT_EQ(j["frame"], 42);
    EXPECT_NEAR(j["pts"].get<double>(), 1.4, 1e-9);
    EXPECT_EQ(j["time"], "2026-09-21T14:13:20.123Z");
    EXPECT_EQ(j["detections"][0]["class"], "car");
    EXPECT_EQ(j["detections"][0]["class_id"], 2);
    EXPECT_NEAR(j["detections"][0]["score"].get<double>(), 0.8765, 1e-6);
    EXPECT_NEAR(j["detections"][0]["box"][0].get<double>(), 10.12, 1e-6);
    EXPECT_EQ(j["degraded"], false);
}

TEST(Sink, JsonlFileAppendsWholeLinesAndBadPathIsAnError) {
    const auto dir = std::filesystem::temp_directory_path() / ("itscam_sink_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "d.jsonl").string();
    {
        auto s = JsonlSink::open(path);
        ASSERT_TRUE(s.is_ok()) << s.status().to_string();
        DetectionRecord r;
        r.camera = "a";
        for (int i = 0; i < 5; ++i) {
            r.frame = i;
            (*s)->write(r);
        }
    }
    {
        auto s = JsonlSink::open(path);  // appends: no lost data across restarts
        ASSERT_TRUE(s.is_ok());
        DetectionRecord r;
        r.camera = "b";
        (*s)->write(r);
    }
    std::ifstream f(path);
    std::string line;
    int n = 0;
    while (std::getline(f, line)) {
        auto j = nlohmann::json::parse(line);
        EXPECT_TRUE(j.contains("camera"));
        ++n;
    }
    EXPECT_EQ(n, 6);
    auto nested = JsonlSink::open((dir / "new" / "folder" / "d.jsonl").string());  // folders are created
    EXPECT_TRUE(nested.is_ok()) << nested.status().to_string();
    std::ofstream(dir / "plainfile") << "x";
    auto bad = JsonlSink::open((dir / "plainfile" / "d.jsonl").string());  // a file where a folder should be
    ASSERT_FALSE(bad.is_ok());
    EXPECT_NE(bad.status().message().find("plainfile/d.jsonl"), std::string::npos);
    std::filesystem::remove_all(dir);
}
