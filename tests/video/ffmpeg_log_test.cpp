// FFmpeg's own log lines go through the masking callback (src/video/ffmpeg_log.h).
#include <gtest/gtest.h>

#include <string>

#include "core/redact.h"
#include "video/ffmpeg_log.h"

namespace itscam::video {

#ifdef ITSCAM_HAVE_FFMPEG
TEST(FfmpegLog, UrlPasswordsAndRegisteredSecretsAreMasked) {
    install_masked_ffmpeg_log();
    register_secret("Registered-For-FFmpeg-Log");
    const std::string long_path(3000, 'p');  // beyond the first buffer: the line is not cut before the '@'
    testing::internal::CaptureStderr();
    // Level 0 (AV_LOG_PANIC) prints whatever level FFmpeg is set to.
    ffmpeg_log_for_test(0, "Opening 'rtsp://admin:%s@10.0.0.1:554/x' for reading\n", "PlantedFfmpegPass");
    ffmpeg_log_for_test(0, "%s rtsp://admin:PlantedLongLinePass@h/x and %s\n", long_path.c_str(),
                        "Registered-For-FFmpeg-Log");
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(err.find("PlantedFfmpegPass"), std::string::npos) << err;
    EXPECT_EQ(err.find("PlantedLongLinePass"), std::string::npos);
    EXPECT_EQ(err.find("Registered-For-FFmpeg-Log"), std::string::npos);
    EXPECT_NE(err.find("Opening 'rtsp://admin:***@10.0.0.1:554/x' for reading\n"), std::string::npos) << err;
    EXPECT_NE(err.find(long_path + " rtsp://admin:***@h/x and ***\n"), std::string::npos);
}
#endif

}  // namespace itscam::video
