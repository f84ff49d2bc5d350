// FFmpeg's own log lines (av_log: "[rtsp @ 0x...] ..." on stderr) can quote the URL being opened, credentials
// included. This replaces FFmpeg's default log callback with one that prints the same lines through redact()
// (core/redact.h): URL userinfo and the registered secrets masked. The level FFmpeg is set to still applies.
#pragma once

namespace itscam::video {

// Installs the masking callback (once; later calls do nothing). Called before the first FFmpeg use by the readers
// and encoders.
void install_masked_ffmpeg_log();

// The text FFmpeg's callback would print for this line, masked. For tests: `level` and `fmt` as av_log takes them.
// Thread-safe.
void ffmpeg_log_for_test(int level, const char* fmt, ...);

}  // namespace itscam::video
