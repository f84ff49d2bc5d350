// The API's JSON never shows a credential: camera URLs with their userinfo masked, last_error redacted (URLs and
// the registered secrets), in the camera answers and in /health/performance.
#include <gtest/gtest.h>

#include "core/redact.h"
#include "service/api_json.h"

namespace itscam::service {

TEST(ApiJsonSecrets, CameraUrlAndLastErrorAreMasked) {
    register_secret("Registered-Api-Json-Secret");
    config::CameraConfig cfg;
    cfg.id = "cam";
    cfg.url = "rtsp://admin:PlantedApiPw@[::1]:554/x?u=a@b";
    const auto cj = camera_config_json(cfg);
    EXPECT_EQ(cj["url"], "rtsp://admin:***@[::1]:554/x?u=a@b");
    EXPECT_EQ(cfg.url, "rtsp://admin:PlantedApiPw@[::1]:554/x?u=a@b");  // the config itself is untouched

    pipeline::CameraSnapshot snap;
    snap.id = "cam";
    snap.last_error = "rtsp://admin:PlantedApiPw@h/x: server refused access (401/403); Registered-Api-Json-Secret";
    const std::string want = "rtsp://admin:***@h/x: server refused access (401/403); ***";
    EXPECT_EQ(camera_stats_json(snap)["last_error"], want);
    pipeline::PipelineSnapshot s;
    s.cameras.push_back(snap);
    const auto perf = performance_json(s, GpuSelection{});
    ASSERT_EQ(perf["cameras"].size(), 1u);
    EXPECT_EQ(perf["cameras"][0]["last_error"], want);
    EXPECT_EQ(perf.dump().find("PlantedApiPw"), std::string::npos);
    // A synthetic source is shown as it is.
    cfg.url = "synthetic://320x240@10";
    EXPECT_EQ(camera_config_json(cfg)["url"], "synthetic://320x240@10");
}

}  // namespace itscam::service
