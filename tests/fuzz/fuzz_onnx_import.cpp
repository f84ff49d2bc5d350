// libFuzzer target: ONNX bytes -> onnx_import_bytes -> (when it imports) optimize_graph at batch 1.
// Every input must come back as a Status: no crash, no sanitizer report, no OOM, no hang.
//
//   fuzz_onnx_import -max_total_time=180 -rss_limit_mb=4096 -timeout=20 /tmp/fuzz-corpus
#include <cstddef>
#include <cstdint>

#include "onnx/onnx_importer.h"
#include "passes/passes.h"

namespace {

constexpr size_t kMaxInputBytes = size_t{32} << 20;  // larger than both YOLO11n exports
constexpr int64_t kMaxInputElements = int64_t{3} * 1024 * 1024;
constexpr int64_t kDynamicSide = 64;  // height/width used when the model leaves them dynamic

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > kMaxInputBytes) return 0;
    auto imported = itscam::onnx_import_bytes(data, size);
    if (!imported.is_ok()) {
        // A failure must explain itself.
        if (imported.status().message().empty()) __builtin_trap();
        return 0;
    }
    itscam::Graph& g = imported.value();
    // Size guard: bind a small input where the model leaves dims open, and skip models whose fixed input is huge
    // (optimize_graph only infers shapes and folds constants, but a giant input makes that slow for no new paths).
    int64_t h = 0, w = 0;
    if (g.inputs.size() == 1) {
        const itscam::ValueInfo* vi = g.info(g.inputs[0]);
        if (vi && vi->shape.size() == 4) {
            h = vi->shape[2] < 0 ? kDynamicSide : 0;
            w = vi->shape[3] < 0 ? kDynamicSide : 0;
            int64_t numel = 1;
            for (size_t i = 1; i < 4; ++i) {
                const int64_t d = vi->shape[i] < 0 ? kDynamicSide : vi->shape[i];
                if (d > kMaxInputElements) return 0;
                numel *= d;
                if (numel > kMaxInputElements) return 0;
            }
        }
    }
    itscam::Status st = itscam::optimize_graph(g, 1, h, w, itscam::PassOptions{});
    if (!st.is_ok() && st.message().empty()) __builtin_trap();
    return 0;
}
